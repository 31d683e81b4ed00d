/**
 * The small training runs the MPI tests compare: built the same way by every rank of an
 * `mpirun` job (test/mpi/rank.ts) and by the single-process reference (data-parallel.test.ts).
 */
import { createHash } from 'node:crypto';

import { gaussianMixture } from '../../src/data/synthetic.js';
import { hessianVectorProduct } from '../../src/measure/hessian.js';
import { topEigenvalue } from '../../src/measure/sharpness.js';
import { Model, type Examples } from '../../src/model/model.js';
import { mlp, smallCnn, type ModelSpec } from '../../src/model/spec.js';
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
  /** Mini-batches: the amplified estimator (k), and random crops and flips (small CNN only). */
  amplify?: number;
  augment?: boolean;
}

function specOf(model: RunConfig['model']): ModelSpec {
  return model === 'mlp'
    ? mlp({ input: 64, hidden: [48], outputs: 4 })
    : smallCnn({ input: [1, 8, 8], channels: [4, 8], hidden: 16, outputs: 4 });
}

/** The run's trainer: data-parallel over the MPI ranks, or in one process with `microBatch`. */
export function buildTrainer(
  c: RunConfig,
  options: { dataParallel?: boolean; microBatch?: number; shards?: number },
): Trainer {
  const spec = specOf(c.model);
  const data = gaussianMixture({ k: 4, d: 64, nTrain: c.n, nTest: 1, seed: c.dataSeed ?? 5 }).train;
  const model = new Model(spec, { seed: 3 });
  const batch: BatchOptions =
    c.mode === 'full'
      ? { mode: 'full' }
      : {
          mode: 'shuffle',
          size: c.batch,
          ...(c.amplify ? { amplify: c.amplify } : {}),
          ...(c.augment ? { augment: { cropPadding: 2, flip: true } } : {}),
        };
  if (options.microBatch !== undefined) batch.microBatch = options.microBatch;
  if (options.shards !== undefined) batch.shards = options.shards;
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

/** A full-data measurement: n examples measured in chunks of batchSize. */
export interface MeasureConfig {
  model: 'mlp' | 'cnn';
  n: number;
  batchSize: number;
  /** Seed of θ (rank 1 changes it to provoke the mismatch error). */
  paramSeed?: number;
}

/** What a measurement is compared by (every double as JSON, which round-trips exactly). */
export interface MeasureOutcome {
  evaluation: { loss: number; accuracy: number; n: number };
  /** The same evaluation by Model#evaluateAsync. */
  evaluationAsync: { loss: number; accuracy: number; n: number };
  hvpSha256: string;
  hvpFirst: number[];
  lambdaMax: { value: number; iterations: number; residual: number };
}

/** The examples and model of a measurement. */
function measureSetup(c: MeasureConfig): { examples: Examples; model: Model } {
  const data = gaussianMixture({ k: 4, d: 64, nTrain: c.n, nTest: 1, seed: 5 }).train;
  const examples: Examples = { x: data.x, y: data.labels as Int32Array };
  return { examples, model: new Model(specOf(c.model), { seed: c.paramSeed ?? 3 }) };
}

/**
 * Model.evaluate and evaluateAsync, one Hessian-vector product and λ_max, in one process or split
 * over the ranks.
 */
export async function measure(c: MeasureConfig, dataParallel: boolean): Promise<MeasureOutcome> {
  const { examples, model } = measureSetup(c);
  const dp = dataParallel ? { dataParallel: true } : {};
  const e = model.evaluate(examples, { batchSize: c.batchSize, ...dp });
  const ea = await model.evaluateAsync(examples, { batchSize: c.batchSize, ...dp });
  const v = new Float64Array(model.params.length).map((_, i) => Math.sin(i + 1));
  const hv = hessianVectorProduct(model, examples, v, undefined, { batchSize: c.batchSize, ...dp });
  const top = topEigenvalue(model, examples, { batchSize: c.batchSize, iterations: 15, seed: 2, ...dp });
  model.close();
  return {
    evaluation: { loss: e.loss, accuracy: e.accuracy, n: e.n },
    evaluationAsync: { loss: ea.loss, accuracy: ea.accuracy, n: ea.n },
    hvpSha256: createHash('sha256').update(new Uint8Array(hv.buffer)).digest('hex'),
    hvpFirst: Array.from(hv.subarray(0, 3)),
    lambdaMax: { value: top.value, iterations: top.iterations, residual: top.residual },
  };
}

/** What each rank saw when it started a second split pass while one was in flight. */
export interface OverlapOutcome {
  evaluation: { loss: number; accuracy: number; n: number };
  /** Error codes of a second evaluateAsync, a sync evaluate and a Hessian product ({ dataParallel }) meanwhile. */
  refused: Array<string | undefined>;
}

/** Starts a split evaluateAsync and, while it is in flight, three more split calls (every one must be refused). */
export async function overlapSplitPasses(c: MeasureConfig): Promise<OverlapOutcome> {
  const { examples, model } = measureSetup(c);
  const other = new Model(specOf(c.model), { seed: 4 });
  const dp = { batchSize: c.batchSize, dataParallel: true };
  const pending = model.evaluateAsync(examples, dp);
  const code = async (f: () => unknown): Promise<string | undefined> => {
    try {
      await f();
      return undefined;
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  const refused = [
    await code(() => other.evaluateAsync(examples, dp)),
    await code(() => other.evaluate(examples, dp)),
    await code(() =>
      hessianVectorProduct(other, examples, new Float64Array(other.params.length).fill(1), undefined, dp),
    ),
  ];
  const e = await pending;
  model.close();
  other.close();
  return { evaluation: { loss: e.loss, accuracy: e.accuracy, n: e.n }, refused };
}
