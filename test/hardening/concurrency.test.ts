import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { bitwiseEqual } from '../engine/helpers.js';
import { CONFIGS, train } from './concurrency-configs.js';
import { runNodeChild } from './spawn-child.js';

const STEPS = 120;
const CHUNK = 20;
const workerUrl = new URL('./concurrency-worker.js', import.meta.url);

function trainInWorker(config: number): Promise<{ params: Float32Array; loss: Float64Array }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: { mode: 'train', config, steps: STEPS, chunkSize: CHUNK } });
    w.once('message', (m: { params: Float32Array; loss: Float64Array }) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

describe('hardening: concurrency', function () {
  this.timeout(120000);
  const solo: Array<{ params: Float32Array; loss: Float64Array }> = [];

  before(async () => {
    for (let i = 0; i < CONFIGS.length; i++) solo.push(await train(i, STEPS, CHUNK));
  });

  it('two trainings in worker_threads and two in the main thread at once give the solo bits', async () => {
    const [w0, w1, m2, m3] = await Promise.all([
      trainInWorker(0),
      trainInWorker(1),
      train(2, STEPS, CHUNK),
      train(3, STEPS, CHUNK),
    ]);
    const got = [w0, w1, m2, m3];
    got.forEach((g, i) => {
      expect(bitwiseEqual(g.params, solo[i]!.params), `config ${i} params`).to.equal(true);
      expect(bitwiseEqual(g.loss, solo[i]!.loss), `config ${i} losses`).to.equal(true);
    });
  });

  it('the same configuration in two workers and the main thread at once gives the solo bits', async () => {
    const got = await Promise.all([trainInWorker(1), trainInWorker(1), train(1, STEPS, CHUNK)]);
    for (const g of got) expect(bitwiseEqual(g.params, solo[1]!.params)).to.equal(true);
  });

  it('terminating workers mid-chunk does not crash the process (child process)', async function () {
    // ~20 s on 2 busy cores, longer under ASan: the child terminates on worker events, not
    // timers, so load only slows it down; the budget is for a hang, and a crash (signal, non-zero
    // exit) fails at once.
    this.timeout(300000);
    const script = fileURLToPath(new URL('./terminate-child.js', import.meta.url));
    const r = await runNodeChild(['--expose-gc', script, '6'], 280000);
    const progress = `rounds done: ${r.stdout.match(/round \d+ ok/g)?.length ?? 0}/6\n${r.stderr.slice(-3000)}`;
    expect(r.timedOut, `no progress within 280 s (hang?); ${progress}`).to.equal(false);
    expect(r.signal, `child killed by ${r.signal}; ${progress}`).to.equal(null);
    expect(r.status, progress).to.equal(0);
    expect(r.stdout).to.contain('terminate-child ok');
  });
});
