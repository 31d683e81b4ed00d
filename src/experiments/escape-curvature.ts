/**
 * E2's curvature probes: λ_max (top Hessian eigenvalue) and λ_min (most negative, or smallest)
 * eigenvalue of the mean train loss, each with how it was computed (`method`), so that results
 * and the report say which curvature was used.
 *
 * λ_max comes from src/measure/sharpness.ts `topEigenvalue` (power iteration). Until the
 * exact-HVP branch lands (with its `bottomEigenvalue`), λ_min is computed here by Lanczos on the
 * same finite-difference Hessian-vector products (src/measure/sharpness.ts `HessianOperator`).
 */
import type { Examples, Model } from '../model/model.js';
import { HessianOperator, symmetricEigenvalues, topEigenvalue } from '../measure/sharpness.js';
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
export const CURVATURE_METHOD_BOTTOM = 'Lanczos (full reorthogonalisation, smallest Ritz value) on finite-difference Hessian-vector products';

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

/**
 * The smallest Hessian eigenvalue (negative when θ is not a minimum) by the Lanczos method with
 * full reorthogonalisation from a seeded random start: the smallest Ritz value after at most
 * `steps` Hessian-vector products (memory: 8·paramCount bytes per step). A Ritz value is never
 * below the true λ_min, so the value is an upper bound that falls with more steps. All `steps`
 * are taken (a tolerance relative to |λ_max| could not resolve a λ_min near 0), unless the Krylov
 * space is exhausted; `converged` = the last step changed it by ≤ tolerance·|λ_min| (or the space
 * was exhausted).
 */
export function lambdaMin(model: Model, data: Examples, top: number, o: CurvatureOptions & { steps: number }): Eigen {
  const op = new HessianOperator(model, data, {});
  try {
    const dim = op.dim;
    const steps = Math.min(o.steps, dim);
    const rng = Rng.fromSeed(o.seed, 13);
    const q0 = new Float64Array(dim);
    for (let i = 0; i < dim; i++) q0[i] = rng.normal();
    normalize(q0);
    const basis: Float64Array[] = [q0];
    const alpha: number[] = [];
    const beta: number[] = [];
    const scale = Math.max(Math.abs(top), 1e-300);
    let value = NaN;
    let change = Infinity;
    for (let j = 0; j < steps; j++) {
      const q = basis[j];
      const w = new Float64Array(dim);
      op.apply(q, w);
      let a = 0;
      for (let i = 0; i < dim; i++) a += q[i] * w[i];
      alpha.push(a);
      for (let pass = 0; pass < 2; pass++) {
        for (const b of basis) {
          let c = 0;
          for (let i = 0; i < dim; i++) c += b[i] * w[i];
          for (let i = 0; i < dim; i++) w[i] -= c * b[i];
        }
      }
      const smallest = tridiagonalEigenvalues(alpha, beta)[0];
      change = Math.abs(smallest - value);
      value = smallest;
      const bn = normalize(w);
      if (bn <= 1e-10 * scale) return { value, iterations: j + 1, converged: true, method: CURVATURE_METHOD_BOTTOM };
      beta.push(bn);
      basis.push(w);
    }
    return { value, iterations: steps, converged: change <= o.tolerance * Math.abs(value), method: CURVATURE_METHOD_BOTTOM };
  } finally {
    op.restore();
  }
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

function normalize(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0 && Number.isFinite(n)) for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}
