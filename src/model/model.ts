import { z } from 'zod';

import {
  native,
  showBlasNotice,
  type NativeLayout,
  type NativeModelHandle,
  type TensorEntry,
} from '../native/binding.js';
import { allGatherFloat64, checkSamePass, chunkShare, requireMpiWorld } from '../native/mpi.js';
import { formatValue } from '../util/format.js';
import { boolean, intBelow, parseNamed } from '../util/schema.js';
import { checkModelSpec, type ModelSpec } from './spec.js';

/** Inputs and targets of a batch or a data set: x [n, ...inputShape] and labels [n] or targets [n, outputs]. */
export interface Examples {
  x: Float32Array;
  /** Int32Array class indices for softmax cross-entropy; Float32Array [n, outputs] for MSE. */
  y: Int32Array | Float32Array;
}

/** Result of {@link Model.evaluate}: mean loss and accuracy over `n` examples. */
export interface Evaluation {
  /** Mean loss over the examples. */
  loss: number;
  /** Fraction of argmax == label (NaN for regression). */
  accuracy: number;
  /** Number of examples evaluated. */
  n: number;
  /** False when the loss is NaN or ±Infinity (non-finite inputs or parameters): never a silent NaN. */
  finite: boolean;
}

/** A zeroed Float32Array of `length` in a new SharedArrayBuffer. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * length));
}

/** A typed array whose buffer was detached (transferred): its length reads 0. */
function detached(a: ArrayBufferView): boolean {
  return a.byteLength === 0 && a.buffer.byteLength === 0 && !(a.buffer instanceof SharedArrayBuffer);
}

/**
 * Checks a data set against a model as every consumer (Trainer, evaluate, lossAndGrad) needs it:
 * an object { x, y } with x a non-empty, attached Float32Array of n·inputSize numbers, and y an
 * Int32Array of n labels in [0, outputs) (softmax cross-entropy) or a Float32Array of n·outputs
 * targets (MSE). Returns n. Messages start with `where` (e.g. `options.data.y`).
 */
export function checkExamples(model: Model, data: unknown, where: string): number {
  if (typeof data !== 'object' || data === null)
    throw new TypeError(`${where} must be an object { x, y } (got ${formatValue(data)})`);
  const { x, y } = data as { x?: unknown; y?: unknown };
  if (!(x instanceof Float32Array)) throw new TypeError(`${where}.x must be a Float32Array (got ${formatValue(x)})`);
  if (detached(x)) throw new TypeError(`${where}.x is empty or its buffer was detached (transferred)`);
  const n = model.countExamples(x, `${where}.x`);
  if (model.isClassifier()) {
    if (!(y instanceof Int32Array))
      throw new TypeError(`${where}.y must be an Int32Array of class indices (got ${formatValue(y)})`);
    if (detached(y)) throw new TypeError(`${where}.y is empty or its buffer was detached (transferred)`);
    if (y.length !== n)
      throw new RangeError(
        `${where}.y must hold one label per example: ${n} (x has ${n} examples of ${model.inputSize}), got ${y.length}`,
      );
    const k = model.outputSize;
    for (let i = 0; i < n; i++)
      if (y[i] < 0 || y[i] >= k)
        throw new RangeError(`${where}.y[${i}] must be a class index in [0, ${k}) (got ${y[i]})`);
  } else {
    if (!(y instanceof Float32Array))
      throw new TypeError(`${where}.y must be a Float32Array of regression targets (got ${formatValue(y)})`);
    if (detached(y)) throw new TypeError(`${where}.y is empty or its buffer was detached (transferred)`);
    if (y.length !== n * model.outputSize)
      throw new RangeError(`${where}.y must hold n*outputs = ${n * model.outputSize} targets (got ${y.length})`);
  }
  return n;
}

/** Flat layout of a spec (names, shapes, offsets), computed by the native core. */
export function describe(spec: ModelSpec): NativeLayout {
  return native.describe(spec);
}

// The options of Model's constructor and methods (zod schemas; messages name the parameter).
const optionsObject = <T extends z.ZodRawShape>(shape: T, what: string) =>
  z.strictObject(shape, { error: (i) => `must be an object such as ${what} (got ${formatValue(i.input)})` });
const modelOptionsSchema = optionsObject({ seed: intBelow(0, 2 ** 53, '2^53').optional() }, '{ seed: 1 }');
const lossAndGradOptionsSchema = optionsObject({ training: boolean().optional() }, '{ training: false }');
const evaluateOptionsSchema = optionsObject(
  { batchSize: intBelow(1, 2 ** 53, '2^53').optional(), dataParallel: boolean().optional() },
  '{ batchSize: 1000, dataParallel: false }',
);

/**
 * A network over one flat Float32Array of parameters. Gradients, optimizer state, snapshots and
 * checkpoints share this layout; `tensor(name)` returns a named view into it.
 */
export class Model {
  readonly spec: ModelSpec;
  readonly layout: NativeLayout;
  /** All trainable parameters, [layout.paramCount] (SharedArrayBuffer-backed: native training chunks borrow it). */
  readonly params: Float32Array;
  /** Gradient of the mean loss of the last batch, [layout.paramCount] (overwritten each call; shared memory). */
  readonly grads: Float32Array;
  /** Non-trainable state (batch-norm running statistics), [layout.stateCount] (shared memory). */
  readonly state: Float32Array;
  /** @internal */
  readonly handle: NativeModelHandle;
  private readonly entries: Map<string, TensorEntry>;

  /** Builds the network and initialises parameters from `seed` (He-normal weights, zero biases). */
  constructor(spec: ModelSpec, options: { seed?: number } = {}) {
    const { seed } = parseNamed(modelOptionsSchema, options, 'options');
    this.spec = checkModelSpec(spec, 'spec');
    this.handle = new native.NativeModel(this.spec);
    showBlasNotice(); // once per process: training without a system BLAS is several times slower
    this.layout = this.handle.layout();
    // In shared memory, which cannot be detached: an async training chunk borrows these arrays
    // instead of copying them in and out (binding/job.h).
    this.params = sharedFloat32(this.layout.paramCount);
    this.grads = sharedFloat32(this.layout.paramCount);
    this.state = sharedFloat32(this.layout.stateCount);
    this.entries = new Map(this.layout.params.map((e) => [e.name, e]));
    this.init(seed ?? 0);
  }

  /** Numbers per example (the product of `spec.input`). */
  get inputSize(): number {
    return this.layout.inputSize;
  }

  /** Network outputs per example (classes, or regression targets). */
  get outputSize(): number {
    return this.layout.outputSize;
  }

  /** Re-initialises parameters (and batch-norm state) from `seed`; same seed ⇒ same bits. */
  init(seed: number): void {
    this.handle.init(this.params, this.stateOrNull(), seed);
  }

  /** A view of one named parameter tensor (e.g. "0.weight"), sharing memory with `params`. */
  tensor(name: string): Float32Array {
    const entry = this.entries.get(name);
    if (!entry)
      throw new RangeError(`tensor name "${name}" is not in the layout (have: ${[...this.entries.keys()].join(', ')})`);
    return this.params.subarray(entry.offset, entry.offset + entry.size);
  }

  /** Loss and gradient of the mean loss over the batch; writes `grads`. */
  lossAndGrad(batch: Examples, options: { training?: boolean } = {}): { loss: number; accuracy: number } {
    const n = checkExamples(this, batch, 'batch');
    const { training } = parseNamed(lossAndGradOptionsSchema, options, 'options');
    const { loss, correct } = this.handle.lossAndGrad(
      this.params,
      this.stateOrNull(),
      batch.x,
      batch.y,
      n,
      this.grads,
      training ?? true,
    );
    return { loss, accuracy: this.isClassifier() ? correct / n : NaN };
  }

  /**
   * Mean loss and accuracy over a data set, in chunks of `batchSize` (default 1000; eval mode, no
   * gradient), the chunks' sums added in double in chunk order.
   *
   * `dataParallel: true` splits the pass over the ranks of an MPI job (after `initMpi()`): a
   * collective call, every rank passes the same θ, data set and options (checked: an Error with
   * code ERR_BIGSTEP_RANKS_DIFFER names what differs). The chunks are dealt to the ranks in rank
   * order (⌈C/N⌉ whole chunks each, docs/cluster.md) and their sums added in chunk order on every
   * rank, so the result is bitwise the one-process evaluation with the same `batchSize`, for any N.
   */
  evaluate(data: Examples, options: { batchSize?: number; dataParallel?: boolean } = {}): Evaluation {
    const n = checkExamples(this, data, 'data');
    const o = parseNamed(evaluateOptionsSchema, options, 'options');
    const chunk = o.batchSize ?? 1000;
    const inSize = this.inputSize;
    const ySize = this.isClassifier() ? 1 : this.outputSize;
    const chunkSum = (start: number): { lossSum: number; correct: number } => {
      const end = Math.min(n, start + chunk);
      return this.handle.lossSum(
        this.params,
        this.stateOrNull(),
        data.x.subarray(start * inSize, end * inSize),
        data.y.subarray(start * ySize, end * ySize),
        end - start,
      );
    };
    let lossSum = 0;
    let correct = 0;
    if (o.dataParallel) {
      const world = requireMpiWorld('options.dataParallel');
      checkSamePass(this.params, data, { evaluate: n, batchSize: chunk }, 'evaluate options.dataParallel');
      const share = chunkShare(n, chunk, world.rank, world.size);
      // This rank's chunks' [lossSum, correct], padded to perRank chunks; rank r's chunk t is chunk r·perRank + t.
      const mine = new Float64Array(2 * share.perRank);
      for (let g = share.first; g < share.end; g++) {
        const r = chunkSum(g * share.chunk);
        mine[2 * (g - share.first)] = r.lossSum;
        mine[2 * (g - share.first) + 1] = r.correct;
      }
      const all = allGatherFloat64(mine);
      for (let g = 0; g < share.count; g++) {
        lossSum += all[2 * g];
        correct += all[2 * g + 1];
      }
    } else {
      for (let start = 0; start < n; start += chunk) {
        const r = chunkSum(start);
        lossSum += r.lossSum;
        correct += r.correct;
      }
    }
    const loss = lossSum / n;
    return { loss, accuracy: this.isClassifier() ? correct / n : NaN, n, finite: Number.isFinite(loss) };
  }

  /** Network outputs (logits or regression values), [n, outputSize]. */
  predict(x: Float32Array): Float32Array {
    if (x instanceof Float32Array && detached(x))
      throw new TypeError('x is empty or its buffer was detached (transferred)');
    const n = this.countExamples(x, 'x');
    const out = new Float32Array(n * this.outputSize);
    this.handle.forward(this.params, this.stateOrNull(), x, n, out);
    return out;
  }

  /** A new model with the same spec and a copy of the parameters and state. */
  clone(): Model {
    const copy = new Model(this.spec);
    copy.params.set(this.params);
    copy.state.set(this.state);
    return copy;
  }

  /** True for softmax cross-entropy (labels are class indices), false for MSE regression. */
  isClassifier(): boolean {
    return (this.spec.loss ?? 'softmax-cross-entropy') === 'softmax-cross-entropy';
  }

  /** Frees native scratch memory; the model cannot be used afterwards. */
  close(): void {
    this.handle.close();
  }

  /** @internal */
  stateOrNull(): Float32Array | null {
    return this.layout.stateCount > 0 ? this.state : null;
  }

  /** @internal The example count n of x ([n, inputSize]); `param` names x in messages. */
  countExamples(x: unknown, param = 'x'): number {
    if (!(x instanceof Float32Array)) throw new TypeError(`${param} must be a Float32Array (got ${formatValue(x)})`);
    const n = x.length / this.inputSize;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(
        `${param} must have length n*inputSize for n >= 1 (inputSize ${this.inputSize}, got length ${x.length})`,
      );
    }
    return n;
  }
}
