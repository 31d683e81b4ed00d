import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Keeps examples/ working: each compiled example runs at tiny size in a child process.
const dir = fileURLToPath(new URL('../examples/', import.meta.url));

describe('examples/', () => {
  const scripts = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'common.js') : [];

  it('are compiled (npm run build:ts builds examples/): MLP on Fashion-MNIST, LR sweep, GD vs SGD, noise amplification, sharpness tracking, edge of stability', () => {
    expect(scripts).to.include.members([
      'fashion-mnist-mlp.js',
      'lr-sweep.js',
      'gd-vs-sgd.js',
      'noise-amplification.js',
      'sharpness-tracking.js',
      'edge-of-stability.js',
    ]);
  });

  for (const script of scripts) {
    it(`${script} runs at tiny size and prints finite results`, () => {
      const r = spawnSync(process.execPath, [`${dir}${script}`], {
        encoding: 'utf8',
        env: { ...process.env, BIGSTEP_EXAMPLE_SIZE: 'tiny' },
        timeout: 60000,
      });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/\d/);
      expect(r.stdout).not.to.match(/NaN/);
    });
  }
});
