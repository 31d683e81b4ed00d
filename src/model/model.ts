import { z } from 'zod';

import {
  native,
  showBlasNotice,
  type NativeLayout,
  type NativeModelHandle,
  type TensorEntry,
} from '../native/binding.js';
import {
  allGatherFloat64,
  checkSamePass,
  chunkShare,
  inOneSplitPassAtATime,
  requireMpiWorld,
  type ChunkShare,
} from '../native/mpi.js';
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

/** Options of {@link Model.evaluate} and {@link Model.evaluateAsync}. */
export interface EvaluateOptions {
  /** Examples per forward pass (default 1000); the result depends on it only by rounding. */
  batchSize?: number;
  /** Split the pass over the ranks of an MPI job (a collective call; see {@link Model.evaluate}). */
  dataParallel?: boolean;
}

/**
 * Every chunk's [lossSum, correct] in chunk order, from each rank's own chunks (`mine`, chunks
 * [share.first, share.end)): padded to share.perRank chunks and gathered (a collective call).
 */
function gatherChunkSums(mine: Float64Array, share: ChunkShare): Float64Array {
  const padded = new Float64Array(2 * share.perRank); // rank r's chunk t is chunk r·perRank + t
  padded.set(mine);
  return allGatherFloat64(padded).subarray(0, 2 * share.count);
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

  /**
   * Loss and gradient of the mean loss over the batch; writes `grads` (and, with `training` and
   * batch norm, the running statistics in `state`). `training` defaults to true.
   */
  lossAndGrad(batch: Examples, options: { training?: boolean } = {}): { loss: number; accuracy: number } {
    const { n, training } = this.checkGradientCall(batch, options);
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
   * {@link lossAndGrad} on a worker thread: the same loss and the same `grads` bit for bit, while
   * the event loop stays free. The model is busy until the promise settles (ERR_BIGSTEP_BUSY for
   * its trainers, evaluations, `init` and `close`); `grads` holds the new gradient once it has.
   */
  async lossAndGradAsync(
    batch: Examples,
    options: { training?: boolean } = {},
  ): Promise<{ loss: number; accuracy: number }> {
    const { n, training } = this.checkGradientCall(batch, options);
    const { loss, correct } = await this.handle.lossAndGradAsync(
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

  /** Checks the arguments of lossAndGrad / lossAndGradAsync: the batch size and the options. */
  private checkGradientCall(batch: Examples, options: unknown): { n: number; training?: boolean } {
    const n = checkExamples(this, batch, 'batch');
    const { training } = parseNamed(lossAndGradOptionsSchema, options, 'options');
    return { n, training };
  }

  /**
   * Mean loss and accuracy over a data set, in chunks of `batchSize` (default 1000; eval mode, no
   * gradient), the chunks' sums added in double in chunk order. Synchronous: the pass runs on the
   * calling thread; {@link evaluateAsync} runs the same pass on a worker thread.
   *
   * `dataParallel: true` splits the pass over the ranks of an MPI job (after `initMpi()`): a
   * collective call, every rank passes the same θ, data set and options (checked: an Error with
   * code ERR_BIGSTEP_RANKS_DIFFER names what differs). The chunks are dealt to the ranks in rank
   * order (⌈C/N⌉ whole chunks each, docs/cluster.md) and their sums added in chunk order on every
   * rank, so the result is bitwise the one-process evaluation with the same `batchSize`, for any N.
   */
  evaluate(data: Examples, options: EvaluateOptions = {}): Evaluation {
    const pass = this.evaluationPass(data, options);
    const { x, y } = data;
    if (!pass.dataParallel)
      return this.evaluation(
        this.handle.lossSums(this.params, this.stateOrNull(), x, y, pass.piece, 0, pass.count),
        pass.n,
      );
    const share = this.beginSplitPass(data, pass);
    const mine = this.handle.lossSums(this.params, this.stateOrNull(), x, y, pass.piece, share.first, share.end);
    return this.evaluation(gatherChunkSums(mine, share), pass.n);
  }

  /**
   * {@link evaluate} on a worker thread: the same pass and the same numbers bit for bit, while the
   * event loop stays free (so, e.g., other models' training chunks keep the other cores busy).
   *
   * Until the promise settles the model is busy: a training chunk, another evaluation, `init` or
   * `close` of this model throws an Error with code ERR_BIGSTEP_BUSY (so a Trainer of it cannot
   * run meanwhile). Do not write `model.params` yourself meanwhile: the pass reads them in place.
   * Examples in SharedArrayBuffers (as a Trainer keeps its data set) are read in place; others are
   * copied when the pass starts (they may be detached meanwhile). Bad input rejects with a
   * TypeError / RangeError naming it, as `evaluate` throws.
   *
   * `dataParallel: true` as in `evaluate` (a collective call): the ranks' agreement check runs and
   * the pass starts when called; the chunk sums are gathered when this rank's chunks are done.
   * Until it settles, another split call in this process (evaluate or evaluateAsync, a Hessian
   * operator, a data-parallel training step) throws ERR_BIGSTEP_BUSY: otherwise the ranks could
   * pair up the collective calls of two operations differently. Await it before the next one.
   */
  async evaluateAsync(data: Examples, options: EvaluateOptions = {}): Promise<Evaluation> {
    const pass = this.evaluationPass(data, options);
    const { x, y } = data;
    if (!pass.dataParallel)
      return this.evaluation(
        await this.handle.lossSumsAsync(this.params, this.stateOrNull(), x, y, pass.piece, 0, pass.count),
        pass.n,
      );
    return inOneSplitPassAtATime('evaluateAsync options.dataParallel', async () => {
      const share = this.beginSplitPass(data, pass);
      const mine = await this.handle.lossSumsAsync(
        this.params,
        this.stateOrNull(),
        x,
        y,
        pass.piece,
        share.first,
        share.end,
      );
      return this.evaluation(gatherChunkSums(mine, share), pass.n);
    });
  }

  /** Checks the arguments of evaluate / evaluateAsync: n, the chunk size and count, the split. */
  private evaluationPass(
    data: Examples,
    options: EvaluateOptions,
  ): { n: number; chunk: number; piece: number; count: number; dataParallel: boolean } {
    const n = checkExamples(this, data, 'data');
    const o = parseNamed(evaluateOptionsSchema, options, 'options');
    const chunk = o.batchSize ?? 1000;
    // The chunks are min(chunk, n) examples (what the native pass is given; batchSize may exceed n).
    const piece = Math.min(chunk, n);
    return { n, chunk, piece, count: Math.ceil(n / piece), dataParallel: o.dataParallel === true };
  }

  /** The collective start of a split pass: the ranks agree on θ, data and settings; this rank's chunks. */
  private beginSplitPass(data: Examples, pass: { n: number; chunk: number }): ChunkShare {
    const world = requireMpiWorld('options.dataParallel');
    checkSamePass(this.params, data, { evaluate: pass.n, batchSize: pass.chunk }, 'evaluate options.dataParallel');
    return chunkShare(pass.n, pass.chunk, world.rank, world.size);
  }

  /** Mean loss and accuracy from the chunks' [lossSum, correct] pairs, added in chunk order. */
  private evaluation(sums: Float64Array, n: number): Evaluation {
    let lossSum = 0;
    let correct = 0;
    for (let i = 0; i < sums.length; i += 2) {
      lossSum += sums[i];
      correct += sums[i + 1];
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
