// The strict-input battery of issue 20: each case in its own child process with a time limit.
// An API case passes when it throws the expected class with a message naming the parameter or
// file (or, for 'returns-true', resolves to true); a CLI case when bigstep exits with the expected
// code, says the expected thing on stderr and, where asked, leaves no new file behind.
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runNodeChild } from './spawn-child.js';
import { cliMain, HANG_MS, strictCases, type StrictCase } from './strict-cases.js';

const child = fileURLToPath(new URL('./strict-child.js', import.meta.url));

interface Outcome {
  ok: boolean;
  why: string;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

async function runApi(c: StrictCase, index: number, fifo: string): Promise<Outcome> {
  const r = await runNodeChild([child, String(index)], c.timeoutMs ?? 20000, { STRICT_FIFO: fifo });
  if (r.timedOut) return { ok: false, why: `hung: no result within ${c.timeoutMs ?? 20000} ms` };
  if (r.signal || r.status !== 0)
    return { ok: false, why: `child died (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(-400)}` };
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return { ok: false, why: `no result line; stderr: ${r.stderr.slice(-400)}` };
  const o = JSON.parse(line.slice(7)) as {
    threw: boolean;
    cls?: string;
    message?: string;
    value?: unknown;
    ms: number;
  };
  if (c.withinMs !== undefined && o.ms > c.withinMs)
    return { ok: false, why: `took ${o.ms.toFixed(0)} ms (limit ${c.withinMs})` };
  if (c.cls === 'returns-true')
    return o.threw
      ? { ok: false, why: `threw ${o.cls}: ${o.message}` }
      : { ok: o.value === true, why: `returned ${String(o.value)}` };
  if (!o.threw) return { ok: false, why: 'accepted silently (returned without an error)' };
  if (o.cls !== c.cls) return { ok: false, why: `threw ${o.cls} instead of ${c.cls}: ${o.message}` };
  if (!o.message?.includes(c.names!)) return { ok: false, why: `message does not name "${c.names}": ${o.message}` };
  return { ok: true, why: o.message };
}

function runCli(c: StrictCase): Promise<Outcome> {
  const spec = c.cli!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-cli-'));
  spec.setup?.(dir);
  const before = listFiles(dir);
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cliMain, ...spec.argv(dir)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    let signalledAt = 0;
    let armed = false;
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Signal once the command is running (its handlers installed), not while node starts.
      if (spec.signalAfterMs !== undefined && !armed && stdout.includes('running')) {
        armed = true;
        setTimeout(() => {
          signalledAt = performance.now();
          p.kill(spec.stderr === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
        }, spec.signalAfterMs);
      }
    });
    const limit = setTimeout(() => p.kill('SIGKILL'), c.timeoutMs ?? 30000);
    p.on('close', (code, signal) => {
      clearTimeout(limit);
      const stopMs = signalledAt ? performance.now() - signalledAt : 0;
      const after = listFiles(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      if (signal) return resolve({ ok: false, why: `killed by ${signal} (hung?); stderr: ${stderr.slice(-300)}` });
      if (code !== spec.code)
        return resolve({ ok: false, why: `exit ${code} instead of ${spec.code}; stderr: ${stderr.slice(-300)}` });
      if (!stderr.includes(spec.stderr))
        return resolve({ ok: false, why: `stderr does not say "${spec.stderr}": ${stderr.slice(-300)}` });
      // A hang guard (HANG_MS), not a speed check: a command that ignores the signal never stops.
      if (signalledAt && stopMs > HANG_MS)
        return resolve({ ok: false, why: `stopped ${stopMs.toFixed(0)} ms after the signal (limit ${HANG_MS})` });
      const added = after.filter((f) => !before.includes(f));
      if (spec.noNewFiles && added.length > 0)
        return resolve({ ok: false, why: `left new files: ${added.join(', ')}` });
      resolve({ ok: true, why: stderr.trim().split('\n').pop() ?? '' });
    });
  });
}

describe('hardening: strict-input battery (one child process per case)', function () {
  this.timeout(600000);
  const results = new Map<number, Promise<Outcome>>();
  let fifo = '';

  before(() => {
    fifo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-')), 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Two cases at a time (two cores); each `it` awaits its own.
    const lanes: Array<Promise<unknown>> = [Promise.resolve(), Promise.resolve()];
    strictCases.forEach((c, i) => {
      const lane = i % 2;
      const run = lanes[lane].then(() => (c.cli ? runCli(c) : runApi(c, i, fifo)));
      lanes[lane] = run.catch(() => undefined);
      results.set(i, run);
    });
  });

  it(`has at least 200 cases (${strictCases.length}) over every item of issue 20`, () => {
    expect(strictCases.length).to.be.at.least(200);
    const groups = new Set(strictCases.map((c) => c.group));
    expect([...groups]).to.include.members(['keys', 'ranges', 'data', 'files', 'limits', 'cli']);
  });

  strictCases.forEach((c, i) => {
    it(`${c.group}: ${c.name}`, async () => {
      const o = await results.get(i)!;
      expect(o.ok, o.why).to.equal(true);
    });
  });
});
