/**
 * Curvature of the training loss: Hessian-vector products, the top eigenvalue (sharpness λ_max,
 * by power iteration), the top-k eigenvalues (Lanczos) and the trace (Hutchinson).
 *
 * The loss is the MEAN loss over the whole data set `data`, L(θ) = (1/n) Σᵢ ℓ(θ; xᵢ, yᵢ), in eval
 * mode (batch norm uses its running statistics; `model.state` is not changed). Its gradient is
 * accumulated over chunks of `batchSize` examples in double, so the result does not depend on
 * `batchSize` beyond float32 rounding inside a chunk.
 *
 * Hessian-vector products use central finite differences of full-data gradients:
 *
 *   Hv ≈ (∇L(θ + εv) − ∇L(θ − εv)) / (2ε),   ε = epsilon · (1 + ‖θ‖₂) / ‖v‖₂,   epsilon = 1e-3 by default,
 *
 * i.e. the perturbation has norm epsilon·(1 + ‖θ‖) whatever the scale of v. The truncation error
 * is O(ε²·‖∇³L‖) (zero on a quadratic); the rounding error comes from float32 gradients and from
 * rounding θ ± εv to float32, roughly 1e-7·‖∇L‖/ε + 6e-8·max|θᵢ|/(ε|vᵢ|) relative. On the tests'
 * quadratic and tanh networks this gives Hv to ~1e-4 relative and λ_max to well under 1%. For
 * ReLU networks the loss is only piecewise smooth and the product is a (useful) smoothed
 * curvature at scale ε. Each product costs two passes of loss-and-gradient over the data.
 *
 * Every function here perturbs `model.params` and overwrites `model.grads` while it works and
 * restores both bit for bit before returning (also when it throws). The model must not be in use
 * by a running trainer.
 */
import type { Examples, Model } from '../model/model.js';
import { Rng } from '../util/random.js';

/** Options shared by the curvature probes. */
export interface SharpnessOptions {
  /** Power-iteration steps (topEigenvalue, default 100) or Lanczos steps (topEigenvalues, default max(4k, 30) capped at the dimension). */
  iterations?: number;
  /** Relative change of the estimate(s) between iterations that counts as converged (default 1e-4). */
  tolerance?: number;
  /** Seed of the random start vector / probe vectors (default 0). */
  seed?: number;
  /** Examples per loss-and-gradient call when accumulating the full-data gradient (default 1000). */
  batchSize?: number;
  /** Relative finite-difference step: ε = epsilon·(1 + ‖θ‖)/‖v‖ (default 1e-3). */
  epsilon?: number;
}

/** RNG stream of the probes (independent of the trainer's streams). */
const PROBE_STREAM = 11;

function positiveInteger(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${param} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

function positiveNumber(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${param} must be a finite number > 0 (got ${String(value)})`);
  }
  return value;
}

function seedOf(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`options.seed must be a non-negative safe integer (got ${String(value)})`);
  }
  return value;
}

/** Number of examples in `data` for `model` (validates shapes; errors name the parameter). */
export function countExamples(model: Model, data: Examples): number {
  if (!data || typeof data !== 'object') throw new TypeError('data must be an object { x, y }');
  if (!(data.x instanceof Float32Array)) throw new TypeError('data.x must be a Float32Array');
  const n = data.x.length / model.inputSize;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`data.x must have length n*inputSize for n >= 1 (inputSize ${model.inputSize}, got length ${data.x.length})`);
  }
  const ySize = model.isClassifier() ? 1 : model.outputSize;
  if (model.isClassifier() && !(data.y instanceof Int32Array)) throw new TypeError('data.y must be an Int32Array of labels for a classifier');
  if (!model.isClassifier() && !(data.y instanceof Float32Array)) throw new TypeError('data.y must be a Float32Array of targets for MSE');
  if (data.y.length !== n * ySize) throw new RangeError(`data.y must have length ${n * ySize} (got ${data.y.length})`);
  return n;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * The Hessian of the mean data loss at the model's current θ as an operator. Saves θ, the
 * gradient buffer and the model state on construction; `restore()` puts them back bitwise.
 * @internal
 */
export class HessianOperator {
  readonly dim: number;
  private readonly theta: Float32Array;
  private readonly savedGrads: Float32Array;
  private readonly savedState: Float32Array;
  private readonly thetaNorm: number;
  private readonly gPlus: Float64Array;
  private readonly gMinus: Float64Array;
  private readonly n: number;
  private readonly batchSize: number;
  private readonly epsilon: number;
  /** Hessian-vector products computed so far. */
  products = 0;

  constructor(private readonly model: Model, private readonly data: Examples, options: SharpnessOptions = {}) {
    this.n = countExamples(model, data);
    this.batchSize = positiveInteger(options.batchSize ?? 1000, 'options.batchSize');
    this.epsilon = positiveNumber(options.epsilon ?? 1e-3, 'options.epsilon');
    this.dim = model.params.length;
    this.theta = model.params.slice();
    this.savedGrads = model.grads.slice();
    this.savedState = model.state.slice();
    this.thetaNorm = norm(this.theta);
    this.gPlus = new Float64Array(this.dim);
    this.gMinus = new Float64Array(this.dim);
  }

  /** Mean loss and gradient over the data at the model's current params, gradient into `out` (double). */
  gradient(out: Float64Array): number {
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
        { training: false },
      );
      loss += w * r.loss;
      const g = model.grads;
      for (let i = 0; i < out.length; i++) out[i] += w * g[i];
    }
    return loss;
  }

  /** out ← H v by central differences (see the module documentation for ε). */
  apply(v: Float64Array, out: Float64Array): void {
    if (v.length !== this.dim) throw new RangeError(`v must have length paramCount ${this.dim} (got ${v.length})`);
    if (out.length !== this.dim) throw new RangeError(`out must have length paramCount ${this.dim} (got ${out.length})`);
    const vn = norm(v);
    if (!Number.isFinite(vn)) throw new RangeError('v must be finite');
    if (vn === 0) {
      out.fill(0);
      return;
    }
    const eps = (this.epsilon * (1 + this.thetaNorm)) / vn;
    const p = this.model.params;
    const th = this.theta;
    for (let i = 0; i < p.length; i++) p[i] = th[i] + eps * v[i];
    this.gradient(this.gPlus);
    for (let i = 0; i < p.length; i++) p[i] = th[i] - eps * v[i];
    this.gradient(this.gMinus);
    p.set(th);
    const inv = 1 / (2 * eps);
    for (let i = 0; i < out.length; i++) out[i] = (this.gPlus[i] - this.gMinus[i]) * inv;
    this.products++;
  }

  /** Puts θ, the gradient buffer and the model state back, bit for bit. */
  restore(): void {
    this.model.params.set(this.theta);
    this.model.grads.set(this.savedGrads);
    this.model.state.set(this.savedState);
  }
}

function withOperator<T>(model: Model, data: Examples, options: SharpnessOptions | undefined, body: (op: HessianOperator) => T): T {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeError('options must be an object');
  const op = new HessianOperator(model, data, options ?? {});
  try {
    return body(op);
  } finally {
    op.restore();
  }
}

/**
 * out ← H v, the Hessian of the mean loss over `data` at the model's θ times `v`
 * (central finite differences of full-data gradients; see the module documentation).
 * `v` and `out` have length paramCount. `model.params` and `model.grads` are restored bitwise.
 */
export function hessianVectorProduct(model: Model, data: Examples, v: Float64Array, out: Float64Array, options?: SharpnessOptions): void {
  if (!(v instanceof Float64Array)) throw new TypeError('v must be a Float64Array');
  if (!(out instanceof Float64Array)) throw new TypeError('out must be a Float64Array');
  withOperator(model, data, options, (op) => op.apply(v, out));
}

function randomUnit(dim: number, seed: number): Float64Array {
  const rng = Rng.fromSeed(seed, PROBE_STREAM);
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = rng.normal();
  const n = norm(v);
  for (let i = 0; i < dim; i++) v[i] /= n;
  return v;
}

/**
 * Sharpness: the dominant eigenvalue of the Hessian of the mean loss over `data` (largest in
 * magnitude — for the loss at a trained or training network, the top eigenvalue λ_max), by power
 * iteration from a seeded random unit vector. Each iteration is one Hessian-vector product; the
 * Rayleigh quotient vᵀHv is the estimate, converged when it changes by less than
 * `tolerance`·|λ| between iterations. `vector` is the final unit vector.
 */
export function topEigenvalue(
  model: Model,
  data: Examples,
  options?: SharpnessOptions,
): { value: number; iterations: number; converged: boolean; vector: Float64Array } {
  const maxIter = positiveInteger(options?.iterations ?? 100, 'options.iterations');
  const tol = positiveNumber(options?.tolerance ?? 1e-4, 'options.tolerance');
  const seed = seedOf(options?.seed);
  return withOperator(model, data, options, (op) => {
    let v: Float64Array = randomUnit(op.dim, seed);
    let w: Float64Array = new Float64Array(op.dim);
    let value = NaN;
    for (let it = 1; it <= maxIter; it++) {
      op.apply(v, w);
      const lambda = dot(v, w);
      const wn = norm(w);
      if (wn === 0 || !Number.isFinite(wn)) return { value: wn === 0 ? 0 : NaN, iterations: it, converged: wn === 0, vector: v };
      const converged = it > 1 && Math.abs(lambda - value) <= tol * Math.abs(lambda);
      value = lambda;
      if (converged) return { value, iterations: it, converged: true, vector: v };
      for (let i = 0; i < w.length; i++) w[i] /= wn;
      [v, w] = [w, v];
    }
    return { value, iterations: maxIter, converged: false, vector: v };
  });
}

/** Eigenvalues of a symmetric matrix (row-major m×m, destroyed) by cyclic Jacobi rotations, ascending. */
export function symmetricEigenvalues(a: Float64Array, m: number): number[] {
  return symmetricEigen(a, m, false).values;
}

/**
 * Eigen-decomposition of a symmetric matrix (row-major m×m, destroyed) by cyclic Jacobi:
 * values ascending; with `vectors`, column j of the returned row-major matrix is the eigenvector of values[j].
 * @internal
 */
export function symmetricEigen(a: Float64Array, m: number, vectors: boolean): { values: number[]; vectors: Float64Array | null } {
  const V = vectors ? new Float64Array(m * m) : null;
  if (V) for (let i = 0; i < m; i++) V[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < m; i++) {
      diag += a[i * m + i] * a[i * m + i];
      for (let j = i + 1; j < m; j++) off += a[i * m + j] * a[i * m + j];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (apq === 0) continue;
        const app = a[p * m + p];
        const aqq = a[q * m + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = a[k * m + p];
          const akq = a[k * m + q];
          a[k * m + p] = c * akp - s * akq;
          a[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = a[p * m + k];
          const aqk = a[q * m + k];
          a[p * m + k] = c * apk - s * aqk;
          a[q * m + k] = s * apk + c * aqk;
        }
        if (V) {
          for (let k = 0; k < m; k++) {
            const vkp = V[k * m + p];
            const vkq = V[k * m + q];
            V[k * m + p] = c * vkp - s * vkq;
            V[k * m + q] = s * vkp + c * vkq;
          }
        }
      }
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => a[i * m + i] - a[j * m + j]);
  const values = order.map((i) => a[i * m + i]);
  let vecs: Float64Array | null = null;
  if (V) {
    vecs = new Float64Array(m * m);
    for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) vecs[k * m + j] = V[k * m + order[j]];
  }
  return { values, vectors: vecs };
}

function tridiagonalEigenvalues(alpha: number[], beta: number[]): number[] {
  const m = alpha.length;
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    a[i * m + i] = alpha[i];
    if (i + 1 < m) a[i * m + i + 1] = a[(i + 1) * m + i] = beta[i];
  }
  return symmetricEigenvalues(a, m);
}

/**
 * The k algebraically largest eigenvalues of the Hessian of the mean loss over `data`, descending,
 * by the Lanczos method with full reorthogonalisation from a seeded random start. Runs up to
 * `iterations` Lanczos steps (default max(4k, 30), at most paramCount) and stops earlier once every
 * one of the top-k Ritz values changes by less than `tolerance` (relative, default 1e-4) in a step,
 * or when the Krylov space is exhausted. One Hessian-vector product per step; memory
 * 8·paramCount bytes per step for the Lanczos basis.
 */
export function topEigenvalues(
  model: Model,
  data: Examples,
  k: number,
  options?: SharpnessOptions,
): { values: number[]; iterations: number; converged: boolean } {
  positiveInteger(k, 'k');
  const tol = positiveNumber(options?.tolerance ?? 1e-4, 'options.tolerance');
  const seed = seedOf(options?.seed);
  const dim = model.params.length;
  if (k > dim) throw new RangeError(`k must be at most paramCount ${dim} (got ${k})`);
  const steps = Math.min(dim, positiveInteger(options?.iterations ?? Math.max(4 * k, 30), 'options.iterations'));
  if (steps < k) throw new RangeError(`options.iterations must be >= k (got ${steps} < ${k})`);
  return withOperator(model, data, options, (op) => {
    const basis: Float64Array[] = [randomUnit(dim, seed)];
    const alpha: number[] = [];
    const beta: number[] = [];
    let previous: number[] | null = null;
    let values: number[] = [];
    let converged = false;
    for (let j = 0; j < steps; j++) {
      const q = basis[j];
      const w = new Float64Array(dim);
      op.apply(q, w);
      const a = dot(q, w);
      alpha.push(a);
      // Full reorthogonalisation, twice ("twice is enough"), against every basis vector.
      for (let pass = 0; pass < 2; pass++) {
        for (const b of basis) {
          const c = dot(b, w);
          for (let i = 0; i < dim; i++) w[i] -= c * b[i];
        }
      }
      const ritz = tridiagonalEigenvalues(alpha, beta).reverse();
      values = ritz.slice(0, k);
      const bn = norm(w);
      const scale = Math.max(...alpha.map(Math.abs), ...beta.map(Math.abs), 1e-300);
      if (alpha.length >= k && previous && previous.length === k) {
        converged = values.every((v, i) => Math.abs(v - previous![i]) <= tol * Math.max(Math.abs(v), 1e-12 * scale));
      }
      if (bn <= 1e-10 * scale) {
        converged = alpha.length >= k; // invariant subspace found: the Ritz values are exact
        break;
      }
      if (converged) break;
      previous = alpha.length >= k ? values : null;
      beta.push(bn);
      for (let i = 0; i < dim; i++) w[i] /= bn;
      basis.push(w);
    }
    return { values, iterations: alpha.length, converged };
  });
}

/**
 * Hutchinson's estimate of the Hessian trace tr(H) = E[zᵀHz] over Rademacher vectors z (entries
 * ±1, seeded), with `samples` probes (default 30; one Hessian-vector product each). `stderr` is
 * the standard error of the mean over the probes.
 */
export function hessianTrace(
  model: Model,
  data: Examples,
  options?: SharpnessOptions & { samples?: number },
): { value: number; stderr: number } {
  const samples = positiveInteger(options?.samples ?? 30, 'options.samples');
  const seed = seedOf(options?.seed);
  return withOperator(model, data, options, (op) => {
    const rng = Rng.fromSeed(seed, PROBE_STREAM + 1);
    const z = new Float64Array(op.dim);
    const hz = new Float64Array(op.dim);
    const est: number[] = [];
    for (let s = 0; s < samples; s++) {
      for (let i = 0; i < z.length; i++) z[i] = rng.uniform() < 0.5 ? -1 : 1;
      op.apply(z, hz);
      est.push(dot(z, hz));
    }
    const mean = est.reduce((a, b) => a + b, 0) / samples;
    const variance = samples > 1 ? est.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples - 1) : NaN;
    return { value: mean, stderr: Math.sqrt(variance / samples) };
  });
}
