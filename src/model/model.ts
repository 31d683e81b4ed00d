import { native, showBlasNotice, type NativeLayout, type NativeModelHandle, type TensorEntry } from '../native/binding.js';
import type { ModelSpec } from './spec.js';

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
}

/** Flat layout of a spec (names, shapes, offsets), computed by the native core. */
export function describe(spec: ModelSpec): NativeLayout {
  return native.describe(spec);
}

/**
 * A network over one flat Float32Array of parameters. Gradients, optimizer state, snapshots and
 * checkpoints share this layout; `tensor(name)` returns a named view into it.
 */
export class Model {
  readonly spec: ModelSpec;
  readonly layout: NativeLayout;
  /** All trainable parameters, [layout.paramCount]. */
  readonly params: Float32Array;
  /** Gradient of the mean loss of the last batch, [layout.paramCount] (overwritten each call). */
  readonly grads: Float32Array;
  /** Non-trainable state (batch-norm running statistics), [layout.stateCount]. */
  readonly state: Float32Array;
  /** @internal */
  readonly handle: NativeModelHandle;
  private readonly entries: Map<string, TensorEntry>;

  /** Builds the network and initialises parameters from `seed` (He-normal weights, zero biases). */
  constructor(spec: ModelSpec, options: { seed?: number } = {}) {
    this.spec = structuredClone(spec);
    this.handle = new native.NativeModel(this.spec);
    showBlasNotice(); // once per process: training without a system BLAS is several times slower
    this.layout = this.handle.layout();
    this.params = new Float32Array(this.layout.paramCount);
    this.grads = new Float32Array(this.layout.paramCount);
    this.state = new Float32Array(this.layout.stateCount);
    this.entries = new Map(this.layout.params.map((e) => [e.name, e]));
    this.init(options.seed ?? 0);
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
    if (!entry) throw new RangeError(`tensor name "${name}" is not in the layout (have: ${[...this.entries.keys()].join(', ')})`);
    return this.params.subarray(entry.offset, entry.offset + entry.size);
  }

  /** Loss and gradient of the mean loss over the batch; writes `grads`. */
  lossAndGrad(batch: Examples, options: { training?: boolean } = {}): { loss: number; accuracy: number } {
    const n = this.countExamples(batch.x);
    const { loss, correct } = this.handle.lossAndGrad(
      this.params, this.stateOrNull(), batch.x, batch.y, n, this.grads, options.training ?? true,
    );
    return { loss, accuracy: this.isClassifier() ? correct / n : NaN };
  }

  /** Mean loss and accuracy over a data set, in chunks of `batchSize` (eval mode, no gradient). */
  evaluate(data: Examples, options: { batchSize?: number } = {}): Evaluation {
    const n = this.countExamples(data.x);
    const chunk = options.batchSize ?? 1000;
    if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`batchSize must be a positive integer (got ${chunk})`);
    const inSize = this.inputSize;
    const ySize = this.isClassifier() ? 1 : this.outputSize;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += chunk) {
      const end = Math.min(n, start + chunk);
      const r = this.handle.lossSum(
        this.params, this.stateOrNull(),
        data.x.subarray(start * inSize, end * inSize), data.y.subarray(start * ySize, end * ySize), end - start,
      );
      lossSum += r.lossSum;
      correct += r.correct;
    }
    return { loss: lossSum / n, accuracy: this.isClassifier() ? correct / n : NaN, n };
  }

  /** Network outputs (logits or regression values), [n, outputSize]. */
  predict(x: Float32Array): Float32Array {
    const n = this.countExamples(x);
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

  private countExamples(x: Float32Array): number {
    if (!(x instanceof Float32Array)) throw new TypeError('x must be a Float32Array');
    const n = x.length / this.inputSize;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`x must have length n*inputSize for n >= 1 (inputSize ${this.inputSize}, got length ${x.length})`);
    }
    return n;
  }
}
