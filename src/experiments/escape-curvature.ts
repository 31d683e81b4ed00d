/**
 * E2's curvature probes: λ_max (top Hessian eigenvalue) and λ_min (most negative, or smallest)
 * eigenvalue of the mean train loss, each with how it was computed (`method`), so that results
 * and the report say which curvature was used.
 *
 * λ_max comes from src/measure/sharpness.ts `topEigenvalue`. Until the exact-HVP branch lands
 * (with its `bottomEigenvalue`), λ_min is computed here by power iteration on the shifted
 * operator σI − H with σ = |λ_max|: its dominant eigenvalue is σ − λ_min, because every
 * eigenvalue of H lies in [λ_min, λ_max] ⊂ [−σ, σ] when |λ_min| ≤ σ. (When |λ_min| > σ the power
 * iteration of topEigenvalue would already have returned λ_min.) Same finite-difference HVPs.
 */
import type { Examples, Model } from '../model/model.js';
import { HessianOperator, topEigenvalue } from '../measure/sharpness.js';
import { Rng } from '../util/random.js';

export interface Eigen {
  value: number;
  iterations: number;
  converged: boolean;
  /** How the Hessian-vector products and the eigen-solver were computed. */
  method: string;
}

export interface CurvatureOptions {
  iterations: number;
  tolerance: number;
  seed: number;
}

export const CURVATURE_METHOD_TOP = 'power iteration on finite-difference Hessian-vector products (central differences, ε = 1e-3·(1 + ‖θ‖))';
export const CURVATURE_METHOD_BOTTOM = 'power iteration on σI − H, σ = |λ_max|, finite-difference Hessian-vector products';

export function lambdaMax(model: Model, data: Examples, o: CurvatureOptions): Eigen {
  const r = topEigenvalue(model, data, { iterations: o.iterations, tolerance: o.tolerance, seed: o.seed });
  return { value: r.value, iterations: r.iterations, converged: r.converged, method: CURVATURE_METHOD_TOP };
}

/**
 * λ_max by power iteration started from `start` (e.g. the top eigenvector of a nearby θ, as when
 * λ_max is followed every few GD steps: it then converges in a few products). Returns the final
 * unit vector to start the next call from. Same products and stopping rule as `topEigenvalue`.
 */
export function lambdaMaxFrom(model: Model, data: Examples, o: CurvatureOptions, start: Float64Array | null): Eigen & { vector: Float64Array } {
  if (start === null) {
    const r = topEigenvalue(model, data, { iterations: o.iterations, tolerance: o.tolerance, seed: o.seed });
    return { value: r.value, iterations: r.iterations, converged: r.converged, method: CURVATURE_METHOD_TOP, vector: r.vector };
  }
  const op = new HessianOperator(model, data, {});
  try {
    let v = Float64Array.from(start);
    normalize(v);
    let w = new Float64Array(op.dim);
    let value = NaN;
    for (let it = 1; it <= o.iterations; it++) {
      op.apply(v, w);
      let q = 0;
      for (let i = 0; i < w.length; i++) q += v[i] * w[i];
      const done = it > 1 && Math.abs(q - value) <= o.tolerance * Math.abs(q);
      value = q;
      if (done) return { value, iterations: it, converged: true, method: CURVATURE_METHOD_TOP, vector: v };
      if (normalize(w) === 0) return { value: 0, iterations: it, converged: true, method: CURVATURE_METHOD_TOP, vector: v };
      [v, w] = [w, v];
    }
    return { value, iterations: o.iterations, converged: false, method: CURVATURE_METHOD_TOP, vector: v };
  } finally {
    op.restore();
  }
}

/** The smallest Hessian eigenvalue (negative when θ is not a minimum), given λ_max (see the module note). */
export function lambdaMin(model: Model, data: Examples, top: number, o: CurvatureOptions): Eigen {
  const sigma = Math.abs(top);
  const op = new HessianOperator(model, data, {});
  try {
    const rng = Rng.fromSeed(o.seed, 13);
    let v = new Float64Array(op.dim);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    normalize(v);
    let w = new Float64Array(op.dim);
    let mu = NaN;
    for (let it = 1; it <= o.iterations; it++) {
      op.apply(v, w);
      let q = 0;
      for (let i = 0; i < w.length; i++) {
        w[i] = sigma * v[i] - w[i];
        q += v[i] * w[i];
      }
      const done = it > 1 && Math.abs(q - mu) <= o.tolerance * Math.max(Math.abs(q), 1e-12 * sigma);
      mu = q;
      if (done) return { value: sigma - mu, iterations: it, converged: true, method: CURVATURE_METHOD_BOTTOM };
      if (normalize(w) === 0) return { value: sigma, iterations: it, converged: true, method: CURVATURE_METHOD_BOTTOM };
      [v, w] = [w, v];
    }
    return { value: sigma - mu, iterations: o.iterations, converged: false, method: CURVATURE_METHOD_BOTTOM };
  } finally {
    op.restore();
  }
}

function normalize(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0 && Number.isFinite(n)) for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}
