// Child process of the concurrency test: starts workers whose async training chunks run for
// seconds and terminates them mid-chunk (repeatedly, at varying delays, with several chunks in
// flight per worker), while the main thread keeps training and collecting garbage. The process
// must survive and a fresh worker must still train correctly. Prints "terminate-child ok".
import { Worker } from 'node:worker_threads';

import { train } from './concurrency-configs.js';

const workerUrl = new URL('./concurrency-worker.js', import.meta.url);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rounds = Number(process.argv[2] ?? 6);

function startForever(models: number): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: { mode: 'forever', models } });
    w.once('message', () => resolve(w));
    w.once('error', reject);
  });
}

async function main(): Promise<void> {
  const solo = await train(0, 100, 25);
  for (let r = 0; r < rounds; r++) {
    const workers = await Promise.all([startForever(1 + (r % 3)), startForever(1)]);
    const mainRun = train(1, 60, 10);
    await new Promise((res) => setTimeout(res, (r * 7) % 40));
    // One worker terminated from outside; the other terminated while the main thread is in a chunk.
    await workers[0]!.terminate();
    gc();
    await Promise.all([workers[1]!.terminate(), mainRun]);
    gc();
  }
  // A fresh worker still trains, bit for bit like the main thread.
  const fresh = await new Promise<{ params: Float32Array }>((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: { mode: 'train', config: 0, steps: 100, chunkSize: 25 } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const a = new Uint8Array(solo.params.buffer);
  const b = new Uint8Array(fresh.params.buffer);
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error('a fresh worker after terminations trained different bits');
  console.log(`terminate-child ok (${rounds} rounds)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
