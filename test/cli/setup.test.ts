/**
 * scripts/setup.sh (npm run setup) in --check mode, with `id`, `sudo` and `dpkg-query` replaced by
 * shims on PATH: which packages it finds missing, whether it would install them (root, sudo
 * without a password) or names the command that does, without installing or running anything.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { tempDir } from '../run/helpers.js';

const SETUP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scripts/setup.sh');
const ALL = 'g++ make cmake pkg-config libopenblas-dev dataset-fashion-mnist';

describe('scripts/setup.sh --check', function () {
  this.timeout(20000);
  const root = tempDir('bigstep-setup-');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Runs the script with shims: uid, whether `sudo -n` works, and which packages dpkg reports installed. */
  function setup(
    opts: { uid: number; sudo: 'none' | 'password' | 'ok'; installed: string[] },
    args = ['--check'],
  ): { code: number | null; out: string } {
    const bin = fs.mkdtempSync(path.join(root, 'bin-'));
    const shim = (name: string, body: string): void =>
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    shim('id', `echo ${opts.uid}`);
    if (opts.sudo !== 'none')
      shim('sudo', opts.sudo === 'ok' ? 'exit 0' : 'echo "sudo: a password is required" >&2; exit 1');
    fs.writeFileSync(path.join(bin, 'installed.txt'), opts.installed.map((p) => `${p}\n`).join(''));
    shim(
      'dpkg-query',
      `for p; do :; done; grep -qxF -- "$p" "${path.join(bin, 'installed.txt')}" && echo "install ok installed" || exit 1`,
    ); // the last argument is the package
    // sudo lives in /usr/bin; a PATH without it needs the basic tools from somewhere else.
    const tools = fs.mkdtempSync(path.join(root, 'tools-'));
    for (const t of ['bash', 'sed', 'grep', 'dirname', 'cat', 'pkg-config', 'g++', 'cmake', 'make'])
      for (const dir of ['/usr/bin', '/bin'])
        if (fs.existsSync(path.join(dir, t)) && !fs.existsSync(path.join(tools, t)))
          fs.symlinkSync(path.join(dir, t), path.join(tools, t));
    const r = spawnSync('/bin/bash', [SETUP, ...args], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${tools}`, HOME: root },
    });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  it('without root or a working sudo: names each missing package and the command that installs them, and goes on', () => {
    for (const sudo of ['none', 'password'] as const) {
      const r = setup({ uid: 1000, sudo, installed: ['g++', 'make', 'cmake'] });
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.contain('cannot install system packages');
      for (const p of ['pkg-config', 'libopenblas-dev', 'dataset-fashion-mnist'])
        expect(r.out).to.match(new RegExp(`setup:   ${p}: `));
      expect(r.out).to.not.match(/setup: {3}g\+\+:/);
      expect(r.out).to.contain(
        'install them with:  sudo apt-get update && sudo apt-get install -y pkg-config libopenblas-dev dataset-fashion-mnist',
      );
      expect(r.out).to.contain('Going on with what is there');
      expect(r.out).to.contain('would run: npm install, then npm start');
    }
  });

  it('as root, or with sudo that needs no password: would install exactly the missing packages with apt-get', () => {
    expect(setup({ uid: 0, sudo: 'none', installed: [] }).out).to.contain(`would install with root apt-get: ${ALL}`);
    expect(setup({ uid: 1000, sudo: 'ok', installed: ['g++', 'make'] }).out).to.contain(
      'would install with sudo apt-get: cmake pkg-config libopenblas-dev dataset-fashion-mnist',
    );
  });

  it('with everything installed: installs nothing', () => {
    const r = setup({ uid: 1000, sudo: 'none', installed: ALL.split(' ') });
    expect(r.out).to.contain(`system packages: all there (${ALL})`);
    expect(r.out).to.not.match(/would install|cannot install/);
  });

  it('--no-start is passed on; an unknown option exits 2 naming it', () => {
    expect(setup({ uid: 0, sudo: 'none', installed: ALL.split(' ') }, ['--check', '--no-start']).out).to.contain(
      'would run: npm install, then nothing else (--no-start)',
    );
    const bad = setup({ uid: 0, sudo: 'none', installed: [] }, ['--chek']);
    expect(bad.code).to.equal(2);
    expect(bad.out).to.contain('setup: unknown option --chek (options: --check, --no-start)');
  });
});
