/**
 * The small training runs the MPI tests compare: built the same way by every rank of an
 * `mpirun` job (test/mpi/rank.ts) and by the single-process reference (data-parallel.test.ts).
 */
import { createHash } from 'node:crypto';

import { gaussianMixture } from '../../src/data/synthetic.js';
import { Model } from '../../src/model/model.js';
import { mlp, smallCnn } from '../../src/model/spec.js';
import { momentum, chain } from '../../src/optim/optimizer.js';
import { Trainer, type BatchOptions } from '../../src/train/trainer.js';

export interface RunConfig {
  model: 'mlp' | 'cnn';
  /** Full-batch GD, or shuffled mini-batches of `batch`. */
  mode: 'full' | 'shuffle';
  n: number;
  batch?: number;
  steps: number;
  /** Seed of the data set (the tests change it on one rank to provoke the mismatch error). */
  dataSeed?: number;
}

/** The run's trainer: data-parallel over the MPI ranks, or in one process with `microBatch`. */
export function buildTrainer(c: RunConfig, options: { dataParallel?: boolean; microBatch?: number }): Trainer {
  const spec =
    c.model === 'mlp'
      ? mlp({ input: 64, hidden: [48], outputs: 4 })
      : smallCnn({ input: [1, 8, 8], channels: [4, 8], hidden: 16, outputs: 4 });
  const data = gaussianMixture({ k: 4, d: 64, nTrain: c.n, nTest: 1, seed: c.dataSeed ?? 5 }).train;
  const model = new Model(spec, { seed: 3 });
  const batch: BatchOptions = c.mode === 'full' ? { mode: 'full' } : { mode: 'shuffle', size: c.batch };
  if (options.microBatch !== undefined) batch.microBatch = options.microBatch;
  return new Trainer(model, {
    data: { x: data.x, y: data.labels as Int32Array },
    optimizer: chain(0.01, momentum(0.9)),
    batch,
    seed: 11,
    ...(options.dataParallel ? { dataParallel: true } : {}),
  });
}

/** What a run is compared by: SHA-256 of the final parameters, and every step's loss. */
export interface RunOutcome {
  paramsSha256: string;
  loss: number[];
  stepsDone: number;
}

export async function runToEnd(trainer: Trainer, steps: number, onChunk?: () => void): Promise<RunOutcome> {
  const r = await trainer.run({ steps, chunkSize: 2, onChunk });
  const p = trainer.model.params;
  return {
    paramsSha256: createHash('sha256')
      .update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength))
      .digest('hex'),
    loss: Array.from(r.loss),
    stepsDone: r.stepsDone,
  };
}
