/**
 * The fixed cost of one training chunk: a 0-step chunk on the Trainer's native job, sync and
 * async, for an MNIST-sized MLP (784-256-10, 203,530 parameters, momentum, n = 60,000, shuffled
 * batches of 128). Prints best / median / mean microseconds over `calls` calls of each:
 *   node dist/bench/chunk-overhead.js [calls=3000]
 * What it times is what every chunk of Trainer.run pays besides its steps: the checks of the model,
 * of the arrays and of the counters and RNG states, and (async) the thread-pool round trip. A third
 * line times `trainer.run({ steps: 0 })`: what every run() call pays once in TypeScript (its
 * options checked by their schema, the logs allocated), with no chunk.
 */
import { native } from '../src/native/binding.js';
import { Model, Trainer, mlp, sgd } from '../src/index.js';

const calls = Number(process.argv[2] ?? 3000);
if (!Number.isSafeInteger(calls) || calls < 1)
  throw new RangeError(`calls must be a positive integer (got ${process.argv[2]})`);
const n = 60000;
const model = new Model(mlp({ input: 784, hidden: [256], outputs: 10 }), { seed: 1 });
const x = new Float32Array(n * 784).map((_, i) => (i % 97) / 97);
const y = new Int32Array(n).map((_, i) => i % 10);
const trainer = new Trainer(model, {
  data: { x, y },
  optimizer: sgd({ lr: 0.01, momentum: 0.9 }),
  batch: { mode: 'shuffle', size: 128 },
});
// The same native job the Trainer makes at construction (its own is private).
const job = new native.TrainJob(model.handle, trainer.job);

function summary(us: number[]): { best: number; median: number; mean: number } {
  us.sort((a, b) => a - b);
  const round = (v: number): number => Math.round(v * 10) / 10;
  return {
    best: round(us[0]),
    median: round(us[us.length >> 1]),
    mean: round(us.reduce((a, b) => a + b, 0) / us.length),
  };
}

for (const kind of ['sync', 'async'] as const) {
  const us: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    if (kind === 'sync') job.runSync(0);
    else await job.runAsync(0);
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  console.log(JSON.stringify({ chunk: kind, steps: 0, calls, microseconds: summary(us) }));
}
{
  const us: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    await trainer.run({ steps: 0 });
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  console.log(JSON.stringify({ call: 'Trainer.run', steps: 0, calls, microseconds: summary(us) }));
}
