/**
 * Curvature of the training loss: the top eigenvalue (sharpness λ_max) and the most negative one,
 * the top-k eigenvalues, and the trace, of the Hessian H of the mean loss over the whole data set
 * `data` (batch norm in eval mode unless `batchNorm: 'train'`; see src/measure/hessian.ts for the
 * operator, its `method`, its batch-norm modes and its cost). Every result states `batchNorm`.
 *
 * Eigenvalues come from the Lanczos method with full reorthogonalisation (src/measure/lanczos.ts)
 * from a seeded random start; λ_max and λ_min restart it every `restart` steps (default 20, from the
 * current Ritz vector) so memory stays at `restart` vectors. A Ritz value θ counts as converged
 * when its error bound min(r, r²/gap) is at most `tolerance`·max(|θ|, 1e-2·max|Ritz|), r the
 * Lanczos residual. Every result reports how it got there: `iterations` (Lanczos steps, one
 * Hessian-vector product each), `converged`, `method`, and `residual` = ‖Hv − λv‖/|λ| MEASURED
 * with one more product at the returned unit vector v.
 *
 * `model.params`, `model.grads` and `model.state` are unchanged afterwards, bit for bit (also
 * when a probe throws). The model must not be in use by a running trainer.
 */
import type { Examples, Model } from '../model/model.js';
import { Rng } from '../util/random.js';
import {
  type BatchNormMode,
  type HessianMethod,
  type HessianOperator,
  type HessianOptions,
  positiveInteger,
  withOperator,
} from './hessian.js';
import { LanczosWorkspace, type RitzPair, lanczos } from './lanczos.js';
import { parseOptions, sharpnessOptionsSchema, traceOptionsSchema, type SameKeys } from './options.js';

export {
  countExamples,
  hessianVectorProduct,
  HessianOperator,
  type HessianMethod,
  type HessianOptions,
  type BatchNormChoice,
} from './hessian.js';
export { symmetricEigen, symmetricEigenvalues } from './lanczos.js';

/** Options shared by the curvature probes. */
export interface SharpnessOptions extends HessianOptions {
  /**
   * Lanczos steps at most (Hessian-vector products, not counting the final residual check):
   * default 200 for topEigenvalue / bottomEigenvalue / extremeEigenvalues, max(4k, 30) for
   * topEigenvalues; capped at paramCount.
   */
  iterations?: number;
  /** Relative eigenvalue accuracy that counts as converged (default 1e-4; see the module documentation). */
  tolerance?: number;
  /** Seed of the random start vector / probe vectors (default 0). */
  seed?: number;
  /** λ_max / λ_min: Lanczos restart length, i.e. basis vectors kept (default 20; memory 4·paramCount bytes each). */
  restart?: number;
  /**
   * λ_max / λ_min: start vector (length paramCount, normalised here) instead of a seeded random
   * one, e.g. the previous eigenvector when λ_max is followed along training (fewer products).
   */
  start?: Float64Array;
}

/** One eigenvalue of the Hessian with its unit eigenvector and how it converged. */
export interface EigenResult {
  value: number;
  /** Lanczos steps (Hessian-vector products) used, over all restarts. */
  iterations: number;
  converged: boolean;
  /** ‖Hv − λv‖/|λ| at the returned unit vector, measured with one extra product. */
  residual: number;
  method: HessianMethod;
  /** How batch norm was evaluated ('none': the model has none). */
  batchNorm: BatchNormMode;
  vector: Float64Array;
}

const sameKeys: SameKeys<SharpnessOptions, ReturnType<typeof sharpnessOptionsSchema.parse>> = true;
void sameKeys;

/** RNG stream of the probes (independent of the trainer's streams). */
const PROBE_STREAM = 11;

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function randomUnit(dim: number, seed: number): Float64Array {
  const rng = Rng.fromSeed(seed, PROBE_STREAM);
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = rng.normal();
  const n = Math.sqrt(dot(v, v));
  for (let i = 0; i < dim; i++) v[i] /= n;
  return v;
}

function unitStart(v: unknown, dim: number): Float64Array {
  if (!(v instanceof Float64Array)) throw new TypeError('options.start must be a Float64Array');
  if (v.length !== dim) throw new RangeError(`options.start must have length paramCount ${dim} (got ${v.length})`);
  const n = Math.sqrt(dot(v, v));
  if (!Number.isFinite(n) || n === 0) throw new RangeError('options.start must be finite and non-zero');
  return v.map((x) => x / n);
}

/** ‖Hv − λv‖/|λ| by one product (|λ| = 0 gives the absolute residual). */
function measuredResidual(op: HessianOperator, v: Float64Array, lambda: number): number {
  const hv = new Float64Array(op.dim);
  op.apply(v, hv);
  let s = 0;
  for (let i = 0; i < hv.length; i++) s += (hv[i] - lambda * v[i]) ** 2;
  return Math.sqrt(s) / (Math.abs(lambda) || 1);
}

/** Restarted Lanczos for one end (or both) of the spectrum. */
function extremes(
  op: HessianOperator,
  options: SharpnessOptions | undefined,
  which: 'largest' | 'smallest' | 'both',
): { top: RitzPair | null; bottom: RitzPair | null; iterations: number; converged: boolean } {
  const budget = Math.min(op.dim, options?.iterations ?? 200);
  const tolerance = options?.tolerance ?? 1e-4;
  const restart = options?.restart ?? 20;
  if (restart < 2 && op.dim > 1) throw new RangeError(`options.restart must be >= 2 (got ${restart})`);
  let start = options?.start === undefined ? randomUnit(op.dim, options?.seed ?? 0) : unitStart(options.start, op.dim);
  let used = 0;
  const workspace = new LanczosWorkspace(op.dim); // one basis for every restart
  const apply = (v: Float64Array, out: Float64Array) => op.apply(v, out);
  for (;;) {
    const steps = Math.min(restart, budget - used);
    const r = lanczos(apply, op.dim, { k: 1, which, maxIterations: steps, tolerance, start, vectors: true }, workspace);
    used += r.iterations;
    const top: RitzPair | null = r.largest[0] ?? null;
    const bottom: RitzPair | null = r.smallest[0] ?? null;
    const done = (top?.converged ?? true) && (bottom?.converged ?? true);
    if (done || used >= budget || r.iterations < steps) return { top, bottom, iterations: used, converged: done };
    // Restart from the Ritz vector(s): for both ends, their sum keeps both directions in the new space.
    start = which === 'smallest' ? bottom!.vector! : Float64Array.from(top!.vector!);
    if (which === 'both') {
      for (let i = 0; i < start.length; i++) start[i] += bottom!.vector![i];
      const n = Math.sqrt(dot(start, start));
      for (let i = 0; i < start.length; i++) start[i] /= n;
    }
  }
}

function result(op: HessianOperator, pair: RitzPair, iterations: number, converged: boolean): EigenResult {
  const vector = pair.vector!;
  return {
    value: pair.value,
    iterations,
    converged,
    residual: measuredResidual(op, vector, pair.value),
    method: op.method,
    batchNorm: op.batchNorm,
    vector,
  };
}

/**
 * Sharpness λ_max: the largest (algebraic) eigenvalue of the Hessian of the mean loss over
 * `data`, with its unit eigenvector, by restarted Lanczos. Exact Hessian-vector products unless
 * `options.method` is `'finite-difference'`.
 */
export function topEigenvalue(model: Model, data: Examples, options?: SharpnessOptions): EigenResult {
  parseOptions(sharpnessOptionsSchema, options);
  return withOperator(model, data, options, (op) => {
    const r = extremes(op, options, 'largest');
    return result(op, r.top!, r.iterations, r.converged);
  });
}

/**
 * The most negative (smallest algebraic) eigenvalue λ_min of the Hessian of the mean loss over
 * `data`, with its unit eigenvector (at a minimum it is ≥ 0 up to noise; clearly negative means a
 * saddle or non-convex region). Same method and options as {@link topEigenvalue}; `residual` is
 * relative to |λ_min|, which can be small, so read it together with λ_max.
 */
export function bottomEigenvalue(model: Model, data: Examples, options?: SharpnessOptions): EigenResult {
  parseOptions(sharpnessOptionsSchema, options);
  return withOperator(model, data, options, (op) => {
    const r = extremes(op, options, 'smallest');
    return result(op, r.bottom!, r.iterations, r.converged);
  });
}

/** λ_max and λ_min from one Lanczos run (cheaper than two calls). */
export function extremeEigenvalues(
  model: Model,
  data: Examples,
  options?: SharpnessOptions,
): {
  top: EigenResult;
  bottom: EigenResult;
  iterations: number;
  converged: boolean;
  method: HessianMethod;
  batchNorm: BatchNormMode;
} {
  parseOptions(sharpnessOptionsSchema, options);
  return withOperator(model, data, options, (op) => {
    const r = extremes(op, options, 'both');
    return {
      top: result(op, r.top!, r.iterations, r.top!.converged),
      bottom: result(op, r.bottom!, r.iterations, r.bottom!.converged),
      iterations: r.iterations,
      converged: r.converged,
      method: op.method,
      batchNorm: op.batchNorm,
    };
  });
}

/**
 * The k algebraically largest eigenvalues of the Hessian of the mean loss over `data`, descending,
 * by Lanczos with full reorthogonalisation (no restart: memory 4·paramCount bytes per step) from a
 * seeded random start. Runs up to `iterations` steps (default max(4k, 30), at most paramCount) and
 * stops once all k Ritz values are converged (see the module documentation) or the Krylov space is
 * exhausted. `residuals[i]` = ‖Hvᵢ − λᵢvᵢ‖/|λᵢ|, measured (k extra products).
 */
export function topEigenvalues(
  model: Model,
  data: Examples,
  k: number,
  options?: SharpnessOptions,
): {
  values: number[];
  iterations: number;
  converged: boolean;
  residuals: number[];
  method: HessianMethod;
  batchNorm: BatchNormMode;
} {
  positiveInteger(k, 'k');
  parseOptions(sharpnessOptionsSchema, options);
  const tolerance = options?.tolerance ?? 1e-4;
  const seed = options?.seed ?? 0;
  const dim = model.params.length;
  if (k > dim) throw new RangeError(`k must be at most paramCount ${dim} (got ${k})`);
  const steps = Math.min(dim, options?.iterations ?? Math.max(4 * k, 30));
  if (steps < k) throw new RangeError(`options.iterations must be >= k (got ${steps} < ${k})`);
  return withOperator(model, data, options, (op) => {
    const r = lanczos((v, out) => op.apply(v, out), dim, {
      k,
      which: 'largest',
      maxIterations: steps,
      tolerance,
      start: randomUnit(dim, seed),
      vectors: true,
    });
    const pairs = r.largest;
    return {
      values: pairs.map((p) => p.value),
      iterations: r.iterations,
      converged: pairs.length === k && pairs.every((p) => p.converged),
      residuals: pairs.map((p) => measuredResidual(op, p.vector!, p.value)),
      method: op.method,
      batchNorm: op.batchNorm,
    };
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
): { value: number; stderr: number; samples: number; method: HessianMethod; batchNorm: BatchNormMode } {
  parseOptions(traceOptionsSchema, options);
  const samples = options?.samples ?? 30;
  const seed = options?.seed ?? 0;
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
    return {
      value: mean,
      stderr: Math.sqrt(variance / samples),
      samples,
      method: op.method,
      batchNorm: op.batchNorm,
    };
  });
}
