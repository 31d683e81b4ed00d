import { native, type NativeLayout, type NativeOptimizerPlan } from '../native/binding.js';
import { Model, type Examples } from '../model/model.js';
import type { ModelSpec } from '../model/spec.js';
import { compilePlan, type OptimizerSpec } from '../optim/optimizer.js';
import { RNG_STREAM, seedRngState } from './rng.js';
import type { BatchMode } from './trainer.js';
import { formatValue } from '../util/format.js';
import { sharedExamples } from './shared-data.js';
import { checkFields, exportFields, importFields, type StateField } from './state-fields.js';

/** One model of a batched run. */
export interface MultiModelOptions {
  optimizer: OptimizerSpec;
  /** Initial parameters: a seed for the model initialiser (default 0) or a Float32Array [paramCount] to copy. */
  init?: number | Float32Array;
  /** Seeds this model's noise stream (default: the run `seed`, as a solo Trainer with that seed). */
  noiseSeed?: number;
}

/** What a {@link MultiTrainer} trains: one data set and batching shared by K models, each with its own optimizer. */
export interface MultiTrainerOptions {
  data: Examples;
  /** K ≥ 1 models of the same architecture; each gets its own optimizer (learning rate, schedule, noise). */
  models: MultiModelOptions[];
  /** Batching shared by all models (no `amplify`: each model would need its own second batch). */
  batch?: { mode?: BatchMode; size?: number; dropLast?: boolean };
  /** Seeds the shared data-order stream (and, by default, each model's noise stream). */
  seed?: number;
}

/** Options of {@link MultiTrainer.run}. */
export interface MultiRunOptions {
  steps: number;
  /** Steps per native async call (default 50): progress and cancellation happen between chunks. */
  chunkSize?: number;
  signal?: AbortSignal;
  /** Called after each chunk with the shared steps done and the number of models not diverged. */
  onChunk?: (progress: { stepsDone: number; steps: number; alive: number }) => void;
}

/** One model's part of a {@link MultiRunResult}. */
export interface MultiModelResult {
  /** Per-step batch loss / learning rate / accuracy for the updates this model applied (as a solo Trainer's RunResult). */
  loss: Float64Array;
  lr: Float64Array;
  accuracy: Float64Array;
  diverged: boolean;
  /** Global step index whose loss or gradient was non-finite (null if none); the model is frozen from then on. */
  divergedAt: number | null;
}

/** Result of {@link MultiTrainer.run}: shared steps and one {@link MultiModelResult} per model. */
export interface MultiRunResult {
  /** Shared steps taken (stops early only when every model has diverged, or on abort). */
  stepsDone: number;
  aborted: boolean;
  models: MultiModelResult[];
}

/**
 * Everything a {@link MultiTrainer} needs to continue bit for bit (copies, in the trainer's
 * [K, ·] layouts): see {@link MultiTrainer.exportState} / {@link MultiTrainer.importState} and
 * `saveMultiCheckpoint`.
 */
export interface MultiTrainerState {
  /** θ of every model, [K·paramCount] (model k at k·paramCount). */
  params: Float32Array;
  /** Last gradient of every model, [K·paramCount] (kept for exact round trips). */
  grads: Float32Array;
  /** Batch-norm running statistics of every model, [K·stateCount] (empty without batch norm). */
  modelState: Float32Array;
  /** Optimizer buffers (momentum), [K·optStride]: model k's at k·optStride, optStride = the largest plan's state. */
  optState: Float32Array;
  /** xoshiro256** states of each model's noise stream, 4 words per model, [4K]. */
  noiseRng: BigUint64Array;
  /** xoshiro256** state of the shared data-order stream, 4 words. */
  dataRng: BigUint64Array;
  /** Current epoch order, [n]. */
  perm: Int32Array;
  /** [shared step, cursor within epoch, epoch]. */
  counters: Float64Array;
  /** Per model: the step it diverged at, or −1 while it trains, [K]. */
  divergedAt: Float64Array;
}

/** @internal The plain-data job the native multi loop runs (TS-owned buffers). */
export interface NativeMultiJob {
  x: Float32Array;
  y: Int32Array | Float32Array;
  batch: { mode: BatchMode; size?: number; dropLast?: boolean };
  optimizers: NativeOptimizerPlan[];
  optStride: number;
  params: Float32Array;
  grads: Float32Array;
  modelState?: Float32Array;
  optState: Float32Array;
  noiseRng: BigUint64Array;
  dataRng: BigUint64Array;
  perm: Int32Array;
  counters: Float64Array;
  divergedAt: Float64Array;
}

type MultiLogs = { loss: Float64Array; lr: Float64Array; accuracy: Float64Array };

interface NativeMultiHandle {
  layout(): NativeLayout;
  count(): number;
  runSync(job: NativeMultiJob, steps: number, logs?: MultiLogs): { stepsDone: number; alive: number };
  runAsync(job: NativeMultiJob, steps: number, logs?: MultiLogs): Promise<{ stepsDone: number; alive: number }>;
  workspaceBytes(): number;
  close(): void;
  isBusy(): boolean;
}

interface MultiAddon {
  NativeMultiTrainer: new (spec: ModelSpec, count: number) => NativeMultiHandle;
  /** Best seconds per sgemm call for each [M, N, K, transA, transB, beta] shape, at the current thread count. */
  gemmBench(shapes: Float64Array, seconds: number): Float64Array;
}

const addon = native as unknown as MultiAddon;

/**
 * Times sgemm on the given shapes ([M, N, K, transA(0|1), transB(0|1), beta(0|1)?] each; beta = 1
 * accumulates into C, as the fused SGD update does; default 0); best seconds per call.
 */
export function gemmBench(
  shapes: Array<[number, number, number, number, number] | [number, number, number, number, number, number]>,
  seconds = 1,
): number[] {
  const flat = shapes.flatMap((s) => (s.length === 5 ? [...s, 0] : [...s]));
  return Array.from(addon.gemmBench(Float64Array.from(flat), seconds));
}

function checkPositiveInteger(value: unknown, param: string): number {
  if (typeof value !== 'number') throw new TypeError(`${param} must be a number`);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${param} must be a positive integer (got ${value})`);
  return value;
}

function prefixError(e: unknown, prefix: string): unknown {
  if (e instanceof Error && !e.message.startsWith(prefix)) e.message = `${prefix}${e.message}`;
  return e;
}

/**
 * Trains K copies of one architecture on the same batches in one native loop: parameters live in
 * one [K, P] buffer, each model has its own optimizer chain (learning rate / schedule, noise,
 * momentum), and a model whose loss or gradient becomes non-finite is frozen and reported with its
 * step while the others continue.
 *
 * Model k's trajectory is bitwise identical to a solo `Trainer` run with the same spec, initial
 * parameters, optimizer, batching, `seed` and thread count (each model runs exactly the solo step;
 * with threads = T the models are spread over the T workers).
 */
export class MultiTrainer {
  readonly spec: ModelSpec;
  readonly count: number;
  readonly paramCount: number;
  /** Shape (K, paramCount): model k's parameters at k·paramCount (see `paramsOf`). */
  readonly params: Float32Array;
  /** Shape (K, paramCount): each model's last gradient. */
  readonly grads: Float32Array;
  private readonly handle: NativeMultiHandle;
  /** @internal The plain-data job the native loop runs (TS-owned buffers). */
  readonly job: NativeMultiJob;
  private running = false;

  constructor(spec: ModelSpec, options: MultiTrainerOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
    const { models } = options;
    if (!options.data || !(options.data.x instanceof Float32Array)) throw new TypeError('options.data.x must be a Float32Array');
    // The data set in shared memory, which async chunks borrow without a copy (see shared-data.ts).
    const data = sharedExamples(options.data);
    if (!Array.isArray(models)) throw new TypeError('options.models must be an array of { optimizer, init?, noiseSeed? }');
    if (models.length < 1) throw new RangeError('options.models must contain at least one model (got 0)');
    const batch = options.batch ?? {};
    if ((batch as { amplify?: unknown }).amplify !== undefined && (batch as { amplify?: unknown }).amplify !== 1) {
      throw new RangeError('options.batch.amplify is not supported by MultiTrainer (each model would need its own second batch); use Trainer');
    }
    if ((batch as { augment?: unknown }).augment !== undefined) {
      throw new RangeError('options.batch.augment is not supported by MultiTrainer (it shares one batch between models); use Trainer');
    }
    const mode = batch.mode ?? 'full';
    if (!['full', 'sequential', 'shuffle', 'replacement'].includes(mode)) {
      throw new RangeError(`options.batch.mode must be one of full, sequential, shuffle, replacement (got ${formatValue(mode)})`);
    }
    if (mode !== 'full') checkPositiveInteger(batch.size, 'options.batch.size');
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`options.seed must be a non-negative safe integer (got ${seed})`);

    const K = models.length;
    const handle = new addon.NativeMultiTrainer(spec, K);
    const layout = handle.layout();
    const P = layout.paramCount;
    const S = layout.stateCount;
    const plans = models.map((m, k) => {
      if (!m || typeof m !== 'object') throw new TypeError(`options.models[${k}] must be an object`);
      try {
        return compilePlan(m.optimizer, P);
      } catch (e) {
        throw prefixError(e, `options.models[${k}].`);
      }
    });
    const optStride = Math.max(0, ...plans.map((p) => p.stateCount));
    const params = new Float32Array(K * P);
    const state = new Float32Array(K * S);
    const noiseRng = new BigUint64Array(4 * K);
    models.forEach((m, k) => {
      const init = m.init ?? 0;
      if (init instanceof Float32Array) {
        if (init.length !== P) throw new RangeError(`options.models[${k}].init must have length paramCount ${P} (got ${init.length})`);
        params.set(init, k * P);
        if (S > 0) {
          const fresh = new Model(spec, { seed: 0 });
          state.set(fresh.state, k * S);
          fresh.close();
        }
      } else if (typeof init === 'number') {
        if (!Number.isSafeInteger(init) || init < 0) throw new RangeError(`options.models[${k}].init must be a non-negative integer seed or a Float32Array (got ${init})`);
        const fresh = new Model(spec, { seed: init });
        params.set(fresh.params, k * P);
        state.set(fresh.state, k * S);
        fresh.close();
      } else {
        throw new TypeError(`options.models[${k}].init must be a seed number or a Float32Array`);
      }
      const noiseSeed = m.noiseSeed ?? seed;
      if (!Number.isSafeInteger(noiseSeed) || noiseSeed < 0) throw new RangeError(`options.models[${k}].noiseSeed must be a non-negative safe integer (got ${noiseSeed})`);
      noiseRng.set(seedRngState(noiseSeed, RNG_STREAM.noise), 4 * k);
    });
    const n = data.x.length / layout.inputSize;
    this.spec = structuredClone(spec);
    this.count = K;
    this.paramCount = P;
    this.params = params;
    this.grads = new Float32Array(K * P);
    this.handle = handle;
    this.job = {
      x: data.x,
      y: data.y,
      batch: { mode, size: batch.size, dropLast: batch.dropLast ?? false },
      optimizers: plans,
      optStride,
      params,
      grads: this.grads,
      modelState: S > 0 ? state : undefined,
      optState: new Float32Array(K * optStride),
      noiseRng,
      dataRng: seedRngState(seed, RNG_STREAM.data),
      perm: new Int32Array(Number.isInteger(n) ? n : 0),
      counters: new Float64Array(3),
      divergedAt: new Float64Array(K).fill(-1),
    };
  }

  /** Model k's parameters: a view into `params`. */
  paramsOf(k: number): Float32Array {
    if (!Number.isInteger(k) || k < 0 || k >= this.count) throw new RangeError(`k must be an integer in [0, ${this.count}) (got ${k})`);
    return this.params.subarray(k * this.paramCount, (k + 1) * this.paramCount);
  }

  /**
   * Model k's batch-norm running statistics: a view into the trainer's model state (empty without
   * batch norm). With `paramsOf(k)` it is what a solo `Model` needs to evaluate model k.
   */
  modelStateOf(k: number): Float32Array {
    if (!Number.isInteger(k) || k < 0 || k >= this.count) throw new RangeError(`k must be an integer in [0, ${this.count}) (got ${k})`);
    const state = this.job.modelState;
    if (!state) return new Float32Array(0);
    const S = state.length / this.count;
    return state.subarray(k * S, (k + 1) * S);
  }

  /** Shared step counter (updates applied to every model still training). */
  get stepCount(): number {
    return this.job.counters[0];
  }

  /** Per model: the step it diverged at, or null while it trains. */
  get divergedAt(): Array<number | null> {
    return Array.from(this.job.divergedAt, (d) => (d < 0 ? null : d));
  }

  /**
   * Runs `steps` shared steps in chunks on a worker thread. Diverged models are frozen and
   * reported; the run stops early only when all of them diverged or `signal` aborts.
   */
  async run(options: MultiRunOptions): Promise<MultiRunResult> {
    this.assertIdle();
    if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
    const steps = options.steps === 0 ? 0 : checkPositiveInteger(options.steps, 'options.steps');
    const chunkSize = checkPositiveInteger(options.chunkSize ?? 50, 'options.chunkSize');
    const K = this.count;
    const full = Array.from({ length: K }, () => ({
      loss: new Float64Array(steps).fill(NaN),
      lr: new Float64Array(steps).fill(NaN),
      accuracy: new Float64Array(steps).fill(NaN),
    }));
    const startDiverged = Array.from(this.job.divergedAt);
    const logs: MultiLogs = {
      loss: new Float64Array(K * chunkSize),
      lr: new Float64Array(K * chunkSize),
      accuracy: new Float64Array(K * chunkSize),
    };
    let stepsDone = 0;
    let aborted = false;
    this.running = true;
    try {
      while (stepsDone < steps) {
        if (options.signal?.aborted) {
          aborted = true;
          break;
        }
        const k = Math.min(chunkSize, steps - stepsDone);
        const view: MultiLogs = { loss: logs.loss.subarray(0, K * k), lr: logs.lr.subarray(0, K * k), accuracy: logs.accuracy.subarray(0, K * k) };
        const r = await this.handle.runAsync(this.job, k, view);
        for (let m = 0; m < K; m++) {
          for (const key of ['loss', 'lr', 'accuracy'] as const) {
            full[m][key].set(view[key].subarray(m * k, m * k + r.stepsDone), stepsDone);
          }
        }
        stepsDone += r.stepsDone;
        if (r.alive === 0) break;
        options.onChunk?.({ stepsDone, steps, alive: r.alive });
      }
    } finally {
      this.running = false;
    }
    const models = full.map((logsOf, m): MultiModelResult => {
      const d = this.job.divergedAt[m];
      const diverged = d >= 0;
      // Updates this model applied in this run (as a solo RunResult: the diverged step is not counted).
      const trained = startDiverged[m] >= 0 ? 0 : diverged ? Math.min(stepsDone, d - (this.job.counters[0] - stepsDone)) : stepsDone;
      return {
        loss: logsOf.loss.slice(0, trained),
        lr: logsOf.lr.slice(0, trained),
        accuracy: logsOf.accuracy.slice(0, trained),
        diverged,
        divergedAt: diverged ? d : null,
      };
    });
    return { stepsDone, aborted, models };
  }

  /** True while a `run()` is in progress (the state must not be read or replaced then). */
  get busy(): boolean {
    return this.running;
  }

  /**
   * A copy of all persistent state: every model's parameters, gradients, batch-norm and optimizer
   * state, noise RNG and divergence step, and the shared data-order RNG, epoch order and counters.
   */
  exportState(): MultiTrainerState {
    this.assertIdle();
    return exportFields(this.stateFields()) as unknown as MultiTrainerState;
  }

  /**
   * Copies `state` (from {@link exportState} of a multi-trainer with the same spec, data, model
   * count and optimizers) into this trainer's buffers in place (`params` etc. stay the same
   * objects). Every field is checked before anything is written; an error names the field.
   */
  importState(state: MultiTrainerState): void {
    this.assertIdle();
    if (!state || typeof state !== 'object') throw new TypeError('state must be an object');
    const fields = this.stateFields();
    checkFields(state, fields);
    if (state.dataRng.every((w) => w === 0n)) throw new RangeError('state.dataRng must not be all zero (not a valid xoshiro256** state)');
    for (let k = 0; k < this.count; k++) {
      if (state.noiseRng.subarray(4 * k, 4 * k + 4).every((w) => w === 0n))
        throw new RangeError(`state.noiseRng words ${4 * k}..${4 * k + 3} (model ${k}) must not be all zero (not a valid xoshiro256** state)`);
    }
    const step = state.counters[0];
    if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`state.counters[0] must be a non-negative integer step (got ${step})`);
    state.divergedAt.forEach((d, k) => {
      if (!(d === -1 || (Number.isSafeInteger(d) && d >= 0 && d <= step)))
        throw new RangeError(`state.divergedAt[${k}] must be -1 or a step in [0, ${step}] (got ${d})`);
    });
    importFields(state, fields);
  }

  /** The buffers exportState / importState copy, in MultiTrainerState's order. */
  private stateFields(): Array<StateField<keyof MultiTrainerState>> {
    const j = this.job;
    return [
      ['params', j.params, Float32Array],
      ['grads', j.grads, Float32Array],
      ['modelState', j.modelState ?? new Float32Array(0), Float32Array],
      ['optState', j.optState, Float32Array],
      ['noiseRng', j.noiseRng, BigUint64Array],
      ['dataRng', j.dataRng, BigUint64Array],
      ['perm', j.perm, Int32Array],
      ['counters', j.counters, Float64Array],
      ['divergedAt', j.divergedAt, Float64Array],
    ];
  }

  private assertIdle(): void {
    if (this.running) {
      const error = new Error('multi-trainer is busy: a run() is in progress; await it first') as Error & { code: string };
      error.code = 'ERR_BIGSTEP_BUSY';
      throw error;
    }
  }

  /** Bytes of native scratch memory (K model workspaces and update buffers). */
  workspaceBytes(): number {
    return this.handle.workspaceBytes();
  }

  /** Frees native scratch memory; the trainer cannot be used afterwards. */
  close(): void {
    this.handle.close();
  }
}
