/**
 * One process of the strong-scaling bench (bench/scaling.ts): full-batch GD on the first n
 * Fashion-MNIST training images, one warm-up step, then `steps` timed steps. Under mpirun the
 * trainer is data-parallel; alone it runs with `microBatch` (the single-process twin of a 2-rank
 * run). Rank 0 prints one line `SCALING {json}`.
 */
import { createHash } from 'node:crypto';

import { initMpi, launchedByMpi, loadDataset, Model, sgd, subset, Trainer } from '../src/index.js';
import { trainCases } from '../src/bench/cases.js';

interface Args {
  case: string;
  n: number;
  steps: number;
  microBatch?: number;
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as Args;
  const world = launchedByMpi() ? initMpi() : { rank: 0, size: 1 };
  const bench = trainCases.find((c) => c.name === a.case);
  if (!bench) throw new RangeError(`case must be one of ${trainCases.map((c) => c.name).join(', ')} (got ${a.case})`);
  const { train } = await loadDataset('fashion-mnist', { download: false });
  const data = subset(train, { n: a.n });
  const model = new Model(bench.spec, { seed: 1 });
  const trainer = new Trainer(model, {
    data: { x: data.x, y: data.labels as Int32Array },
    optimizer: sgd({ lr: 0.01 }),
    batch: { mode: 'full', ...(a.microBatch ? { microBatch: a.microBatch } : {}) },
    ...(world.size > 1 ? { dataParallel: true } : {}),
  });
  await trainer.run({ steps: 1 });
  const t0 = process.hrtime.bigint();
  await trainer.run({ steps: a.steps, chunkSize: a.steps });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const p = model.params;
  const sha = createHash('sha256')
    .update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength))
    .digest('hex');
  if (world.rank === 0)
    process.stdout.write(
      `SCALING ${JSON.stringify({ case: a.case, ranks: world.size, paramCount: model.layout.paramCount, secondsPerStep: seconds / a.steps, paramsSha256: sha })}\n`,
    );
}

void main();
