// Child process of the concurrency test: starts workers whose async training chunks run for
// a while and terminates them mid-chunk (repeatedly, after a varying number of completed chunks,
// with several chunks in flight per worker), while the main thread keeps training and collecting
// garbage. The process must survive and a fresh worker must still train correctly. Prints
// "round r ok" per round and "terminate-child ok" at the end.
//
// Termination points are events, not timers: a worker posts 'chunk' from onChunk, right before it
// queues its next chunk, so terminating on that message always hits a chunk in flight however
// loaded the machine is.
import { Worker } from 'node:worker_threads';

import { train } from './concurrency-configs.js';

const workerUrl = new URL('./concurrency-worker.js', import.meta.url);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rounds = Number(process.argv[2] ?? 6);

interface Forever {
  worker: Worker;
  /** Resolves on the worker's next 'chunk' message (a chunk done, the next one in flight). */
  nextChunk: () => Promise<void>;
}

function startForever(models: number): Promise<Forever> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl, { workerData: { mode: 'forever', models } });
    let waiting: Array<() => void> = [];
    const nextChunk = (): Promise<void> => new Promise((res) => waiting.push(res));
    worker.on('message', (m: unknown) => {
      if (m !== 'chunk') return;
      const w = waiting;
      waiting = [];
      w.forEach((f) => f());
    });
    let started = false;
    worker.on('error', (e) => {
      if (!started) return reject(e);
      console.error('worker failed after start:', e);
      process.exit(1);
    });
    worker.once('exit', (code) => started || reject(new Error(`worker exited before its first chunk (code ${code})`)));
    // Running: its first chunk has completed and the next one is queued.
    nextChunk().then(() => {
      started = true;
      resolve({ worker, nextChunk });
    }, reject);
  });
}

async function main(): Promise<void> {
  const solo = await train(0, 100, 25);
  for (let r = 0; r < rounds; r++) {
    const [a, b] = await Promise.all([startForever(1 + (r % 3)), startForever(1)]);
    const mainRun = train(1, 60, 10);
    for (let k = 0; k < r % 3; k++) await a.nextChunk();
    // One worker terminated from outside mid-chunk; the other while the main thread is in a chunk.
    await a.worker.terminate();
    gc();
    await b.nextChunk();
    await Promise.all([b.worker.terminate(), mainRun]);
    gc();
    console.log(`round ${r} ok`);
  }
  // A fresh worker still trains, bit for bit like the main thread.
  const fresh = await new Promise<{ params: Float32Array }>((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: { mode: 'train', config: 0, steps: 100, chunkSize: 25 } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const x = new Uint8Array(solo.params.buffer);
  const y = new Uint8Array(fresh.params.buffer);
  if (x.length !== y.length || x.some((v, i) => v !== y[i]))
    throw new Error('a fresh worker after terminations trained different bits');
  console.log(`terminate-child ok (${rounds} rounds)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
