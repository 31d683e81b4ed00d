// worker_threads entry for the concurrency tests.
//   { mode: 'train', config, steps, chunkSize } → posts { params, loss } when done.
//   { mode: 'forever', models } → keeps long chunks running until terminated; posts 'started',
//     then 'chunk' after each completed chunk (the next one is already queued when it arrives).
import { parentPort, workerData } from 'node:worker_threads';

import { makeTrainer, train, CONFIGS } from './concurrency-configs.js';

interface Data {
  mode: 'train' | 'forever';
  config?: number;
  steps?: number;
  chunkSize?: number;
  models?: number;
}

async function main(): Promise<void> {
  const d = workerData as Data;
  if (d.mode === 'train') {
    const r = await train(d.config!, d.steps!, d.chunkSize!);
    parentPort!.postMessage(r);
    return;
  }
  const runs: Promise<unknown>[] = [];
  for (let k = 0; k < (d.models ?? 1); k++) {
    const t = makeTrainer(CONFIGS[k % CONFIGS.length]!);
    // Chunks of ~5-25 ms (longer under load or ASan): terminate() cannot cancel a chunk already
    // on the thread pool, it waits for it (Node drains pending work before tearing the environment
    // down). onChunk runs just before the next chunk is queued, in the same turn.
    runs.push(t.run({ steps: 1e7, chunkSize: 250, onChunk: () => parentPort!.postMessage('chunk') }));
  }
  parentPort!.postMessage('started');
  await Promise.all(runs);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
