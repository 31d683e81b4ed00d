/**
 * The Hessian of the mean training loss as an operator v ↦ Hv, H = ∇²L(θ),
 * L(θ) = (1/n) Σᵢ ℓ(θ; xᵢ, yᵢ) over the whole data set, with batch norm in eval mode (running
 * statistics; `model.state` is never changed) unless `batchNorm: 'train'` asks for batch statistics.
 *
 * Two methods:
 *
 * - `'exact'` (default): forward-over-reverse (Pearlmutter's R-operator) in native code through
 *   every layer kind (native/hvp.h). float32 arithmetic per chunk of `batchSize` examples, chunks
 *   summed in double; exact up to float rounding, also at ReLU and max-pool kinks (where the
 *   Hessian of the piecewise-smooth loss is that of the active piece). Reads θ, writes nothing but
 *   the output. One product costs about 2–3 loss-and-gradient passes; when all n examples fit one
 *   chunk (n ≤ batchSize), a product at the same θ, state and data as the previous one reuses its
 *   primal pass (bitwise the same result) and runs the tangent pass alone (0.7–0.9 of a cold
 *   product on the bench MLP, docs/measurement.md).
 * - `'finite-difference'` (approximate): central differences of full-data gradients,
 *   Hv ≈ (∇L(θ + εv) − ∇L(θ − εv)) / (2ε), ε = epsilon·(1 + ‖θ‖₂)/‖v‖₂ (epsilon 1e-3 by default).
 *   Truncation error O(ε²‖∇³L‖); rounding from float32 gradients and from rounding θ ± εv to
 *   float32. Fine on smooth (tanh) networks; on ReLU / max-pool networks it is a smoothed curvature
 *   at scale ε, wrong by several percent in λ_max (docs/measurement.md). It perturbs `model.params`
 *   and overwrites `model.grads` while it works and restores both bit for bit.
 *
 * Either way the model must not be held by a running trainer (ERR_BIGSTEP_BUSY) and its
 * parameters must be finite (RangeError naming `model.params`).
 *
 * `dataParallel: true` (exact method only) splits every product over the ranks of an MPI job
 * (after `initMpi()`): the chunks of `batchSize` are dealt to the ranks in rank order and their
 * pieces added in double in chunk order (native/data_parallel_hvp.h), so every product, and with it
 * every probe built on the operator (λ_max, λ_min, spectra, traces), is bitwise the one-process
 * result with the same `batchSize`, for any number of ranks. Every rank must make the same calls
 * with the same θ, data and options (checked once per operator: ERR_BIGSTEP_RANKS_DIFFER).
 */
import type { Examples, Model } from '../model/model.js';
import { checkSamePass, requireMpiWorld } from '../native/mpi.js';
import { hessianOptionsSchema, parseOptions, type SameKeys } from './options.js';

/** How Hessian-vector products are computed (see the module documentation). */
export type HessianMethod = 'exact' | 'finite-difference';

/** Options of the Hessian operator, shared by every curvature probe. */
export interface HessianOptions {
  /** `'exact'` (default, R-operator) or `'finite-difference'` (approximate). */
  method?: HessianMethod;
  /** Examples per float pass over the data, summed in double (default 1000). */
  batchSize?: number;
  /** finite-difference only: relative step, ε = epsilon·(1 + ‖θ‖)/‖v‖ (default 1e-3). */
  epsilon?: number;
  /**
   * Batch norm: `'eval'` (default) uses the running statistics; `'train'` uses batch statistics,
   * as a training step does. The train-mode loss is the n-weighted mean over chunks of `batchSize`
   * of each chunk's batch-statistics loss, so it depends on `batchSize`; running statistics are
   * never changed. Without batch-norm layers both are the same (results say `'none'`).
   */
  batchNorm?: BatchNormChoice;
  /**
   * Split every product over the ranks of an MPI job (default false; exact method only): a
   * collective call, bitwise the one-process product (see the module documentation).
   */
  dataParallel?: boolean;
}

/** How a curvature or landscape measurement evaluates batch norm (see {@link HessianOptions.batchNorm}). */
export type BatchNormChoice = 'train' | 'eval';

/** How batch norm was evaluated in a result ('none': the model has no batch norm). */
export type BatchNormMode = BatchNormChoice | 'none';

const sameKeys: SameKeys<HessianOptions, ReturnType<typeof hessianOptionsSchema.parse>> = true;
void sameKeys;

/** Checks a `batchNorm` option (default 'eval'); `param` names it in the error. @internal */
export function batchNormChoice(value: unknown, param = 'options.batchNorm'): BatchNormChoice {
  if (value === undefined) return 'eval';
  if (value !== 'train' && value !== 'eval')
    throw new RangeError(`${param} must be 'train' or 'eval' (got ${String(value)})`);
  return value;
}

/** The batch-norm mode a result states: the choice, or 'none' for a model without batch norm. @internal */
export function batchNormMode(model: Model, choice: BatchNormChoice): BatchNormMode {
  return model.layout.stateCount > 0 ? choice : 'none'; // only batch norm keeps running state
}

/** @internal */
export function positiveInteger(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${param} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

/** @internal */
export function positiveNumber(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${param} must be a finite number > 0 (got ${String(value)})`);
  }
  return value;
}

/** Number of examples in `data` for `model` (validates shapes; errors name the parameter). */
export function countExamples(model: Model, data: Examples): number {
  if (!data || typeof data !== 'object') throw new TypeError('data must be an object { x, y }');
  if (!(data.x instanceof Float32Array)) throw new TypeError('data.x must be a Float32Array');
  const n = data.x.length / model.inputSize;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `data.x must have length n*inputSize for n >= 1 (inputSize ${model.inputSize}, got length ${data.x.length})`,
    );
  }
  const ySize = model.isClassifier() ? 1 : model.outputSize;
  if (model.isClassifier() && !(data.y instanceof Int32Array))
    throw new TypeError('data.y must be an Int32Array of labels for a classifier');
  if (!model.isClassifier() && !(data.y instanceof Float32Array))
    throw new TypeError('data.y must be a Float32Array of targets for MSE');
  if (data.y.length !== n * ySize) throw new RangeError(`data.y must have length ${n * ySize} (got ${data.y.length})`);
  return n;
}

// One function per array type: a loop shared by Float32Array and Float64Array callers turns
// polymorphic in V8 and runs several times slower over paramCount elements.
function norm32(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}
function norm64(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Throws RangeError naming the first non-finite parameter. */
function checkFiniteParams(model: Model): void {
  const p = model.params;
  for (let i = 0; i < p.length; i++) {
    if (!Number.isFinite(p[i])) {
      throw new RangeError(
        `model.params must be finite (element ${i} is ${p[i]}): the curvature of a diverged model is undefined`,
      );
    }
  }
}

/**
 * The Hessian of the mean data loss at the model's current θ. Saves θ, the gradient buffer and
 * the model state on construction; `restore()` puts them back bitwise.
 * @internal
 */
export class HessianOperator {
  readonly dim: number;
  readonly method: HessianMethod;
  /** How batch norm is evaluated, as results state it ('none' without batch-norm layers). */
  readonly batchNorm: BatchNormMode;
  /** Hessian-vector products computed so far. */
  products = 0;
  private readonly theta: Float32Array;
  private readonly savedGrads: Float32Array;
  private readonly savedState: Float32Array;
  private readonly thetaNorm: number;
  private readonly n: number;
  private readonly batchSize: number;
  private readonly epsilon: number;
  private readonly training: boolean;
  private readonly dataParallel: boolean;
  private gPlus: Float64Array | null = null;
  private gMinus: Float64Array | null = null;

  constructor(
    private readonly model: Model,
    private readonly data: Examples,
    options: HessianOptions = {},
  ) {
    // Any native call on a model held by a running trainer throws ERR_BIGSTEP_BUSY: ask before
    // touching params (the finite-difference path writes them).
    model.handle.workspaceBytes();
    this.n = countExamples(model, data);
    const method = options.method ?? 'exact';
    if (method !== 'exact' && method !== 'finite-difference') {
      throw new RangeError(`options.method must be 'exact' or 'finite-difference' (got ${String(method)})`);
    }
    this.method = method;
    this.batchSize = positiveInteger(options.batchSize ?? 1000, 'options.batchSize');
    this.epsilon = positiveNumber(options.epsilon ?? 1e-3, 'options.epsilon');
    const choice = batchNormChoice(options.batchNorm);
    this.batchNorm = batchNormMode(model, choice);
    this.training = choice === 'train';
    if (options.dataParallel !== undefined && typeof options.dataParallel !== 'boolean')
      throw new TypeError(`options.dataParallel must be a boolean (got ${String(options.dataParallel)})`);
    this.dataParallel = options.dataParallel ?? false;
    if (this.dataParallel && method !== 'exact')
      throw new RangeError(
        `options.dataParallel works with method 'exact' only (got '${method}'): finite differences are not split over ranks`,
      );
    checkFiniteParams(model);
    if (this.dataParallel) {
      requireMpiWorld('options.dataParallel');
      checkSamePass(
        model.params,
        data,
        { hessian: this.n, batchSize: this.batchSize, training: this.training },
        'Hessian options.dataParallel',
      );
    }
    this.dim = model.params.length;
    this.theta = model.params.slice();
    this.savedGrads = model.grads.slice();
    this.savedState = model.state.slice();
    this.thetaNorm = norm32(this.theta);
  }

  /** out ← H v (validates lengths and finiteness of v). */
  apply(v: Float64Array, out: Float64Array): void {
    if (!(v instanceof Float64Array)) throw new TypeError('v must be a Float64Array');
    if (!(out instanceof Float64Array)) throw new TypeError('out must be a Float64Array');
    if (v.length !== this.dim) throw new RangeError(`v must have length paramCount ${this.dim} (got ${v.length})`);
    if (out.length !== this.dim)
      throw new RangeError(`out must have length paramCount ${this.dim} (got ${out.length})`);
    const vn = norm64(v);
    if (!Number.isFinite(vn)) throw new RangeError('v must be finite');
    if (vn === 0) {
      out.fill(0);
    } else if (this.method === 'exact') {
      const m = this.model;
      m.handle.hvp(
        m.params,
        m.stateOrNull(),
        this.data.x,
        this.data.y,
        this.n,
        this.batchSize,
        v,
        out,
        this.training,
        this.dataParallel,
      );
    } else {
      this.finiteDifference(v, vn, out);
    }
    this.products++;
  }

  /** Puts θ, the gradient buffer and the model state back, bit for bit. */
  restore(): void {
    this.model.params.set(this.theta);
    this.model.grads.set(this.savedGrads);
    this.model.state.set(this.savedState);
  }

  /** Mean loss and gradient over the data at the model's current params, gradient into `out` (double). */
  private gradient(out: Float64Array): number {
    const { model, data, n } = this;
    const inSize = model.inputSize;
    const ySize = model.isClassifier() ? 1 : model.outputSize;
    out.fill(0);
    let loss = 0;
    for (let start = 0; start < n; start += this.batchSize) {
      const end = Math.min(n, start + this.batchSize);
      const w = (end - start) / n;
      const r = model.lossAndGrad(
        { x: data.x.subarray(start * inSize, end * inSize), y: data.y.subarray(start * ySize, end * ySize) },
        { training: this.training },
      );
      // training mode also updates the running statistics: put them back (restore() does at the end too)
      if (this.training) model.state.set(this.savedState);
      loss += w * r.loss;
      const g = model.grads;
      for (let i = 0; i < out.length; i++) out[i] += w * g[i];
    }
    return loss;
  }

  private finiteDifference(v: Float64Array, vn: number, out: Float64Array): void {
    this.gPlus ??= new Float64Array(this.dim);
    this.gMinus ??= new Float64Array(this.dim);
    const eps = (this.epsilon * (1 + this.thetaNorm)) / vn;
    const p = this.model.params;
    const th = this.theta;
    try {
      for (let i = 0; i < p.length; i++) p[i] = th[i] + eps * v[i];
      this.gradient(this.gPlus);
      for (let i = 0; i < p.length; i++) p[i] = th[i] - eps * v[i];
      this.gradient(this.gMinus);
    } finally {
      p.set(th);
    }
    const inv = 1 / (2 * eps);
    for (let i = 0; i < out.length; i++) out[i] = (this.gPlus[i] - this.gMinus[i]) * inv;
  }
}

/** Runs `body` with a Hessian operator at the model's θ and restores θ, grads and state afterwards. @internal */
export function withOperator<T>(
  model: Model,
  data: Examples,
  options: HessianOptions | undefined,
  body: (op: HessianOperator) => T,
): T {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new TypeError('options must be an object');
  const op = new HessianOperator(model, data, options ?? {});
  try {
    return body(op);
  } finally {
    op.restore();
  }
}

/**
 * out ← H v, the Hessian of the mean loss over `data` at the model's θ times `v` (exact by default;
 * see the module documentation). `v` and `out` are Float64Arrays of length paramCount; `out`
 * defaults to a new one and is returned. `model.params`, `model.grads` and `model.state` are
 * unchanged afterwards, bit for bit.
 */
export function hessianVectorProduct(
  model: Model,
  data: Examples,
  v: Float64Array,
  out?: Float64Array,
  options?: HessianOptions,
): Float64Array {
  if (!(v instanceof Float64Array)) throw new TypeError('v must be a Float64Array');
  parseOptions(hessianOptionsSchema, options);
  const result = out ?? new Float64Array(model.params.length);
  if (!(result instanceof Float64Array)) throw new TypeError('out must be a Float64Array');
  withOperator(model, data, options, (op) => op.apply(v, result));
  return result;
}
