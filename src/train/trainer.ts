import { createHash } from 'node:crypto';
import * as os from 'node:os';

import { z } from 'zod';

import {
  native,
  type NativeStepLogs,
  type NativeTrainJob,
  type NativeTrainJobHandle,
  type NativeUpdatePath,
} from '../native/binding.js';
import { Model, checkExamples, sharedFloat32, type Examples } from '../model/model.js';
import { compilePlan, type OptimizerSpec } from '../optim/optimizer.js';
import { formatValue } from '../util/format.js';
import { kinds, type BatchModeName } from '../native/kinds.js';
import { assertNoSplitPassInFlight } from '../native/mpi.js';
import { boolean, finiteAtLeast, instanceOf, intBelow, kindName, parseNamed } from '../util/schema.js';
import { checkSameOnEveryRank, checkShardable, requireMpiWorld, type MpiWorld } from './data-parallel.js';
import { RNG_STREAM, seedRngState } from './rng.js';
import { sharedExamples } from './shared-data.js';
import { checkFields, exportFields, importFields, type StateField } from './state-fields.js';

/** How batches are drawn each step; see {@link BatchOptions}. */
export type BatchMode = BatchModeName;

/**
 * How each step's batch is drawn:
 * - `full`: all n examples every step (gradient descent);
 * - `sequential`: epochs in data-set order; `shuffle`: epochs of a fresh permutation;
 * - `replacement`: each batch drawn uniformly with replacement.
 * `amplify` = k > 1 uses g = g₁ + c(g₁ − g₂) with a second independent batch, (1+c)² + c² = k²:
 * the same mean gradient with k² times the mini-batch noise covariance, at the same learning rate.
 * `augment` applies image augmentation to every batch (see {@link AugmentOptions}).
 * `microBatch` = m computes each step's gradient in pieces of at most m examples (the
 * example-weighted mean of the pieces, summed in double): the same mean-loss gradient up to
 * rounding with the activation memory of m examples — for full-batch GD on large sets. With batch
 * norm in training mode each piece is normalised with its own statistics.
 * `shards` = s computes every batch of b examples as s pieces of ⌈b/s⌉ examples in order (the last
 * shorter), summed the same way: in one process, bitwise the arithmetic of an s-rank
 * `dataParallel` run — for every batch, an epoch's shorter last batch included (a fixed
 * `microBatch` = ⌈b/s⌉ cuts that one differently). Not together with `microBatch`; with
 * `dataParallel` it must equal the number of ranks (the split is then the ranks').
 */
export interface BatchOptions {
  mode?: BatchMode;
  size?: number;
  dropLast?: boolean;
  amplify?: number;
  augment?: AugmentOptions;
  microBatch?: number;
  shards?: number;
}

/**
 * Image augmentation, applied natively to each gathered batch (the data set itself is never
 * changed): a random crop with zero padding, then a random horizontal flip with probability ½ —
 * the standard CIFAR recipe is `{ cropPadding: 4, flip: true }`. Needs a model whose input shape
 * is [C, H, W]. Draws come from the trainer's own augmentation RNG stream (checkpointed).
 */
export interface AugmentOptions {
  /** Shift of up to ±p pixels along each axis, zeros outside the image (default 0: no crop). */
  cropPadding?: number;
  /** Mirror left-right with probability ½ (default false). */
  flip?: boolean;
}

/** The native augmentation of checked options; the checks that need the model's input shape. */
function augmentPlan(augment: AugmentOptions | undefined, model: Model): NativeTrainJob['batch']['augment'] {
  if (augment === undefined) return undefined;
  const cropPadding = augment.cropPadding ?? 0;
  const flip = augment.flip ?? false;
  const input = model.spec.input;
  if (input.length !== 3)
    throw new RangeError(
      `options.batch.augment needs a model with image input [C, H, W] (input is [${input.join(', ')}])`,
    );
  if (cropPadding > Math.min(input[1], input[2]))
    throw new RangeError(
      `options.batch.augment.cropPadding must be at most min(H, W) = ${Math.min(input[1], input[2])} (got ${cropPadding})`,
    );
  if (cropPadding === 0 && !flip) return undefined;
  return { shape: [input[0], input[1], input[2]], cropPadding, flip };
}

/** What a {@link Trainer} trains on and how: data set, optimizer, batching, seed. */
export interface TrainerOptions {
  /**
   * The data set. The trainer keeps it in SharedArrayBuffer-backed arrays, which an async chunk
   * reads without copying and JS cannot detach under it: arrays already backed by a
   * SharedArrayBuffer are used as they are, others are copied once here (later writes to the
   * originals are not seen).
   */
  data: Examples;
  optimizer: OptimizerSpec;
  batch?: BatchOptions;
  /** Seeds the data-order and noise streams (parameter init is the model's own seed). */
  seed?: number;
  /**
   * Split every step's gradient over the ranks of an MPI job (default false; see
   * `src/train/data-parallel.ts` and docs/cluster.md). Every rank builds the same Trainer; each
   * computes its shard of the batch (⌈b/N⌉ examples in rank order) and the pieces are added in rank
   * order in double: bitwise the single-process run with `batch.microBatch` = ⌈b/N⌉. Needs
   * `initMpi()` first; the constructor then checks (collectively) that all ranks have the same
   * configuration, data and initial parameters. Not with batch norm.
   */
  dataParallel?: boolean;
}

/** Result of one synchronous {@link Trainer.step}. */
export interface StepResult {
  /** Mean loss of the batch, before the update. */
  loss: number;
  /** Learning rate used for the update. */
  lr: number;
  accuracy: number;
  diverged: boolean;
}

/** Result of {@link Trainer.run}: steps done, divergence (a result, never an exception) and per-step logs. */
export interface RunResult {
  stepsDone: number;
  diverged: boolean;
  /** Global step index whose loss or gradient was non-finite (null if none). */
  divergedAt: number | null;
  aborted: boolean;
  /** Per-step batch loss, learning rate and batch accuracy for the steps done. */
  loss: Float64Array;
  lr: Float64Array;
  accuracy: Float64Array;
  /** How the native chunks applied the updates (the last chunk's; null if no chunk ran), see {@link NativeUpdatePath}. */
  update: NativeUpdatePath | null;
}

/** Options of {@link Trainer.run}. */
export interface RunOptions {
  steps: number;
  /** Steps per native async call (default 50): progress, logging and cancellation happen between chunks. */
  chunkSize?: number;
  signal?: AbortSignal;
  /** Called after each chunk with the steps done in this run, the global step and the last batch loss. */
  onChunk?: (progress: { stepsDone: number; steps: number; step: number; loss: number }) => void;
}

/**
 * Everything a Trainer needs to continue bit for bit (a copy, in the flat layout): see
 * {@link Trainer.exportState} / {@link Trainer.importState} and `saveCheckpoint`.
 */
export interface TrainerState {
  /** θ, [paramCount]. */
  params: Float32Array;
  /** Last gradient estimator, [paramCount] (overwritten by the next step; kept for exact round trips). */
  grads: Float32Array;
  /** Batch-norm running statistics, [stateCount] (empty without batch norm). */
  modelState: Float32Array;
  /** Optimizer buffers (momentum), [plan.stateCount]. */
  optState: Float32Array;
  /** xoshiro256** states of the data-order, noise and augmentation streams, 4 words each. */
  dataRng: BigUint64Array;
  noiseRng: BigUint64Array;
  augmentRng: BigUint64Array;
  /** Current epoch order, [n]. */
  perm: Int32Array;
  /** [step, cursor within epoch, epoch]. */
  counters: Float64Array;
}

// ---- The option kinds, as zod schemas (messages name the parameter; see src/util/schema.ts) ------

const object = <T extends z.ZodRawShape>(shape: T, what: string) =>
  z.strictObject(shape, { error: (i) => `must be ${what} (got ${formatValue(i.input)})` });

/** A positive integer below 2^53 (a size or a count). */
const positiveSize = () => intBelow(1, 2 ** 53, '2^53');

const augmentSchema = object(
  {
    cropPadding: intBelow(0, 2 ** 31, '2^31').optional(),
    flip: boolean().optional(),
  },
  'an object such as { cropPadding: 4, flip: true }',
);

/** {@link BatchOptions}; a batch size is needed by every mode but 'full'. */
const batchSchema = object(
  {
    mode: kindName(kinds.batchModes).optional(),
    size: positiveSize().optional(),
    dropLast: boolean().optional(),
    amplify: finiteAtLeast(1).optional(),
    augment: augmentSchema.optional(),
    microBatch: positiveSize().optional(),
    shards: positiveSize().optional(),
  },
  'an object',
).superRefine((b, ctx) => {
  if (b.shards !== undefined && b.microBatch !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['shards'],
      message: 'cuts each batch into pieces itself: set options.batch.shards or options.batch.microBatch, not both',
    });
  if ((b.mode ?? 'full') !== 'full' && b.size === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['size'],
      params: { typeError: true },
      message: `must be a number: batch mode '${b.mode}' needs a batch size`,
    });
});

/** {@link TrainerOptions}: the data are checked against the model ({@link checkExamples}), the optimizer by compilePlan. */
const trainerOptionsSchema = object(
  {
    data: z.unknown().optional(),
    optimizer: z.unknown().optional(),
    batch: batchSchema.optional(),
    seed: intBelow(0, 2 ** 53, '2^53').optional(),
    dataParallel: boolean().optional(),
  },
  'an object { data, optimizer, batch?, seed? }',
);

/** {@link RunOptions}, checked once per run() call (not per chunk or step). */
const runOptionsSchema = object(
  {
    steps: intBelow(0, 2 ** 53, '2^53'),
    chunkSize: positiveSize().optional(),
    signal: instanceOf(AbortSignal, 'an AbortSignal').optional(),
    onChunk: (
      instanceOf(Function, 'a function') as unknown as z.ZodType<NonNullable<RunOptions['onChunk']>>
    ).optional(),
  },
  'an object such as { steps: 100 }',
);

// The schemas and the documented option interfaces describe the same objects (a compile-time check).
const sameShape: [
  z.infer<typeof batchSchema> extends BatchOptions ? true : false,
  BatchOptions extends z.infer<typeof batchSchema> ? true : false,
  AugmentOptions extends z.infer<typeof augmentSchema> ? true : false,
  RunOptions extends z.infer<typeof runOptionsSchema> ? true : false,
] = [true, true, true, true];
void sameShape;

/** Bytes of per-step logs (loss, lr, accuracy as float64) a run may allocate: a quarter of the machine's memory. */
export function maxStepLogBytes(): number {
  return Math.floor(os.totalmem() / 4);
}

/** A RangeError (instead of V8's "Array buffer allocation failed") when the logs of `steps` steps cannot fit. */
export function checkStepLogs(steps: number, param = 'options.steps'): void {
  const bytes = 24 * steps;
  if (bytes > maxStepLogBytes())
    throw new RangeError(
      `${param} = ${steps} needs ${(bytes / 2 ** 30).toFixed(1)} GiB of per-step logs, above a quarter of this machine's memory ` +
        `(${(maxStepLogBytes() / 2 ** 30).toFixed(1)} GiB); run it in several calls`,
    );
}

/** The ranks to split over when options.dataParallel is on (else null), after the checks it needs. */
function dataParallelWorld(
  on: boolean | undefined,
  model: Model,
  n: number,
  mode: BatchMode,
  batch: BatchOptions,
): MpiWorld | null {
  if (!on) return null;
  const world = requireMpiWorld('options.dataParallel');
  if (batch.shards !== undefined && batch.shards !== world.size)
    throw new RangeError(
      `options.batch.shards must equal the number of data-parallel ranks (${world.size}) or be unset (got ${batch.shards}): the ranks' split is the shards`,
    );
  if (model.layout.stateCount > 0)
    throw new RangeError(
      'options.dataParallel does not support batch norm: each rank would update the running statistics from its own shard, and the models would drift apart',
    );
  if (mode === 'full') checkShardable(n, world.size, 'options.data (full batch)');
  else {
    const size = batch.size as number;
    checkShardable(size, world.size, 'options.batch.size');
    if ((mode === 'sequential' || mode === 'shuffle') && !batch.dropLast && n % size !== 0)
      checkShardable(n % size, world.size, "options.batch.size (the epoch's last batch, n mod size)");
  }
  return world;
}

/** Collective: every rank must have the same configuration, data set, initial parameters and numerics. */
function checkRanksAgree(job: NativeTrainJob, model: Model, seed: number): void {
  const build = native.info();
  const hex = (v: ArrayBufferView) =>
    createHash('sha256')
      .update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
      .digest('hex');
  const config = JSON.stringify(
    { spec: model.spec, batch: job.batch, optimizer: job.optimizer, seed },
    (_key, v: unknown) => (ArrayBuffer.isView(v) ? hex(v) : v),
  );
  checkSameOnEveryRank(
    [
      { name: 'configuration (model spec, batch, optimizer, seed)', bytes: [new TextEncoder().encode(config)] },
      { name: 'data set (x, y)', bytes: [job.x, job.y] },
      { name: 'initial parameters', bytes: [job.params, ...(job.modelState ? [job.modelState] : [])] },
      // Each rank applies the update to θ itself: a different ISA path or BLAS would round differently and the ranks' θ would drift apart.
      {
        name: 'numerics (ISA path, BLAS vendor, kernels and threads)',
        bytes: [
          new TextEncoder().encode(JSON.stringify([build.simd, build.blasVendor, build.blasCore, build.blasThreads])),
        ],
      },
    ],
    'options.dataParallel',
  );
}

/**
 * Trains a model on one data set with an optimizer chain. All persistent state (parameters,
 * optimizer buffers, RNG states, epoch order, step counter) lives in TS-owned typed arrays.
 * `step()` is synchronous; `run()` executes chunks of whole steps on a worker thread. A chunk of
 * k steps is bitwise equal to k calls of `step()`.
 */
export class Trainer {
  readonly model: Model;
  /** @internal The plain-data job the native loop runs (TS-owned buffers). */
  readonly job: NativeTrainJob;
  /** The MPI ranks this trainer's steps are split over (`dataParallel`), else null. */
  readonly world: MpiWorld | null;
  /** The native job made from {@link job} once; every chunk runs on it. */
  private readonly nativeJob: NativeTrainJobHandle;
  private running = false;

  constructor(model: Model, options: TrainerOptions) {
    if (!(model instanceof Model)) throw new TypeError(`model must be a Model (got ${formatValue(model)})`);
    const o = parseNamed(trainerOptionsSchema, options, 'options');
    const n = checkExamples(model, o.data, 'options.data');
    // The data set in shared memory, which async chunks borrow without a copy (see shared-data.ts).
    const data = sharedExamples(o.data as Examples);
    const batch = o.batch ?? {};
    const mode = batch.mode ?? 'full';
    const seed = o.seed ?? 0;
    const plan = compilePlan(o.optimizer as OptimizerSpec, model.layout.paramCount);
    this.world = dataParallelWorld(o.dataParallel, model, n, mode, batch);
    this.model = model;
    this.job = {
      x: data.x,
      y: data.y,
      batch: {
        mode,
        size: batch.size,
        dropLast: batch.dropLast ?? false,
        amplify: batch.amplify ?? 1,
        ...(batch.microBatch !== undefined ? { microBatch: batch.microBatch } : {}),
        ...(batch.shards !== undefined ? { shards: batch.shards } : {}),
        augment: augmentPlan(batch.augment, model),
        ...(this.world ? { dataParallel: true } : {}),
      },
      optimizer: plan,
      params: model.params,
      grads: model.grads,
      modelState: model.layout.stateCount > 0 ? model.state : undefined,
      optState: sharedFloat32(plan.stateCount),
      dataRng: seedRngState(seed, RNG_STREAM.data),
      noiseRng: seedRngState(seed, RNG_STREAM.noise),
      augmentRng: seedRngState(seed, RNG_STREAM.augment),
      perm: new Int32Array(new SharedArrayBuffer(4 * (Number.isInteger(n) ? n : 0))),
      counters: new Float64Array(3),
    };
    if (this.world) checkRanksAgree(this.job, model, seed);
    this.nativeJob = new native.TrainJob(model.handle, this.job);
  }

  /** Number of updates applied so far. */
  get stepCount(): number {
    return this.job.counters[0];
  }

  /** Completed passes over the data (batch modes `sequential` and `shuffle`). */
  get epoch(): number {
    return this.job.counters[2];
  }

  /** One synchronous step. A diverged step (non-finite loss or gradient) leaves θ unchanged. */
  step(): StepResult {
    this.assertIdle();
    if (this.world) assertNoSplitPassInFlight('trainer options.dataParallel');
    const logs = { loss: new Float64Array(1), lr: new Float64Array(1), accuracy: new Float64Array(1) };
    const r = this.nativeJob.runSync(1, logs);
    return { loss: logs.loss[0], lr: logs.lr[0], accuracy: logs.accuracy[0], diverged: r.diverged };
  }

  /**
   * Runs `steps` steps in chunks on a worker thread; the event loop stays free. Stops early on
   * divergence (reported, not thrown) or when `signal` aborts (checked between chunks).
   */
  async run(options: RunOptions): Promise<RunResult> {
    this.assertIdle();
    const { steps, chunkSize = 50, signal, onChunk } = parseNamed(runOptionsSchema, options, 'options');
    checkStepLogs(steps);
    const logs = { loss: new Float64Array(steps), lr: new Float64Array(steps), accuracy: new Float64Array(steps) };
    const result: RunResult = {
      stepsDone: 0,
      diverged: false,
      divergedAt: null,
      aborted: false,
      ...logs,
      update: null,
    };
    this.running = true;
    try {
      while (result.stepsDone < steps) {
        if (signal?.aborted) {
          result.aborted = true;
          break;
        }
        const k = Math.min(chunkSize, steps - result.stepsDone);
        const from = result.stepsDone;
        const view: NativeStepLogs = {
          loss: logs.loss.subarray(from, from + k),
          lr: logs.lr.subarray(from, from + k),
          accuracy: logs.accuracy.subarray(from, from + k),
        };
        if (this.world) assertNoSplitPassInFlight('trainer options.dataParallel');
        const r = await this.nativeJob.runAsync(k, view);
        result.stepsDone += r.stepsDone;
        result.update = r.update;
        if (r.diverged) {
          result.diverged = true;
          result.divergedAt = r.divergedAt;
          break;
        }
        onChunk?.({
          stepsDone: result.stepsDone,
          steps,
          step: this.stepCount,
          loss: logs.loss[result.stepsDone - 1],
        });
      }
    } finally {
      this.running = false;
    }
    result.loss = logs.loss.slice(0, result.stepsDone);
    result.lr = logs.lr.slice(0, result.stepsDone);
    result.accuracy = logs.accuracy.slice(0, result.stepsDone);
    return result;
  }

  /** True while a `run()` is in progress (the state must not be read or replaced then). */
  get busy(): boolean {
    return this.running;
  }

  /** A copy of all persistent state (parameters, gradients, model and optimizer state, RNGs, order, counters). */
  exportState(): TrainerState {
    this.assertIdle();
    return exportFields(this.stateFields()) as unknown as TrainerState;
  }

  /**
   * Copies `state` (from {@link exportState} of a trainer with the same model, data and optimizer)
   * into this trainer's buffers in place (model.params etc. stay the same objects). All lengths
   * are checked before anything is written; a RangeError names the mismatching field.
   */
  importState(state: TrainerState): void {
    this.assertIdle();
    if (!state || typeof state !== 'object') throw new TypeError('state must be an object');
    const fields = this.stateFields();
    checkFields(state, fields);
    for (const rng of ['dataRng', 'noiseRng', 'augmentRng'] as const) {
      if (state[rng].every((w) => w === 0n))
        throw new RangeError(`state.${rng} must not be all zero (not a valid xoshiro256** state)`);
    }
    importFields(state, fields);
  }

  /** The buffers exportState / importState copy, in TrainerState's order. */
  private stateFields(): Array<StateField<keyof TrainerState>> {
    const j = this.job;
    return [
      ['params', j.params, Float32Array],
      ['grads', j.grads, Float32Array],
      ['modelState', j.modelState ?? new Float32Array(0), Float32Array],
      ['optState', j.optState, Float32Array],
      ['dataRng', j.dataRng, BigUint64Array],
      ['noiseRng', j.noiseRng, BigUint64Array],
      ['augmentRng', this.augmentRng, BigUint64Array],
      ['perm', j.perm, Int32Array],
      ['counters', j.counters, Float64Array],
    ];
  }

  private get augmentRng(): BigUint64Array {
    return this.job.augmentRng as BigUint64Array; // always set by the constructor
  }

  private assertIdle(): void {
    if (this.running) {
      const error = new Error('trainer is busy: a run() is in progress; await it first') as Error & { code: string };
      error.code = 'ERR_BIGSTEP_BUSY';
      throw error;
    }
  }
}
