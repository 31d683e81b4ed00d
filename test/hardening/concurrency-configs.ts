// Training configurations shared by the concurrency test, its worker and the termination child.
import { Model } from '../../src/model/model.js';
import { mlp, smallCnn, type ModelSpec } from '../../src/model/spec.js';
import { sgd, type OptimizerSpec } from '../../src/optim/optimizer.js';
import { Trainer, type BatchOptions } from '../../src/train/trainer.js';
import { separableBlobs } from '../engine/helpers.js';

export interface Config {
  spec: ModelSpec;
  optimizer: OptimizerSpec;
  batch: BatchOptions;
  seed: number;
  n: number;
  regression?: boolean;
}

export const CONFIGS: Config[] = [
  {
    spec: mlp({ input: 32, hidden: [64], outputs: 4 }),
    optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 32 },
    seed: 1,
    n: 256,
  },
  {
    spec: smallCnn({ input: [1, 8, 8], channels: [4, 8], hidden: 16, outputs: 4 }),
    optimizer: sgd({ lr: 0.05 }),
    batch: { mode: 'sequential', size: 16 },
    seed: 2,
    n: 128,
  },
  {
    spec: mlp({ input: 32, hidden: [48, 48], outputs: 4, activation: 'tanh' }),
    optimizer: sgd({ lr: 0.02, weightDecay: 1e-3 }),
    batch: { mode: 'replacement', size: 16, amplify: 2 },
    seed: 3,
    n: 256,
  },
  {
    spec: mlp({ input: 32, hidden: [32], outputs: 3, loss: 'mse' }),
    optimizer: sgd({ lr: 0.01, momentum: 0.5, nesterov: true }),
    batch: { mode: 'full' },
    seed: 4,
    n: 64,
    regression: true,
  },
];

export function makeTrainer(c: Config): Trainer {
  const model = new Model(c.spec, { seed: c.seed });
  const d = model.inputSize;
  const blobs = separableBlobs(c.n, d, 4, c.seed + 100);
  const y = c.regression ? new Float32Array(c.n * model.outputSize).map((_, i) => Math.sin(i * 0.37)) : blobs.y;
  return new Trainer(model, { data: { x: blobs.x, y }, optimizer: c.optimizer, batch: c.batch, seed: c.seed });
}

/** Trains config `i` for `steps` steps in async chunks; returns the final parameters and losses. */
export async function train(
  i: number,
  steps: number,
  chunkSize: number,
): Promise<{ params: Float32Array; loss: Float64Array }> {
  const t = makeTrainer(CONFIGS[i]!);
  const r = await t.run({ steps, chunkSize });
  const params = t.model.params.slice();
  t.model.close();
  return { params, loss: r.loss };
}
