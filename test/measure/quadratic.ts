/**
 * A least-squares problem with a KNOWN Hessian spectrum: a bias-free linear model with MSE,
 * L(w) = (1/n)‖Xw − y‖² = ½(w − w*)ᵀH(w − w*), H = (2/n)XᵀX = Q diag(λ) Qᵀ, built from a random
 * orthogonal Q and the requested eigenvalues.
 */
import type { Examples, ModelSpec } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';

export interface KnownQuadratic {
  spec: ModelSpec;
  data: Examples & { y: Float32Array };
  /** Eigenvalues, descending. */
  lambdas: number[];
  /** Q (row i = eigenvector i), d×d row-major. */
  q: Float64Array;
  wStar: Float64Array;
  d: number;
  /** H v in double. */
  hv(v: ArrayLike<number>): Float64Array;
  /** ½(w − w*)ᵀH(w − w*) in double. */
  loss(w: ArrayLike<number>): number;
}

/** Random orthogonal d×d matrix (rows orthonormal), modified Gram–Schmidt on Gaussian rows. */
export function randomOrthogonal(d: number, rng: Rng): Float64Array {
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const row = q.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < d; j++) row[j] = rng.normal();
    for (let p = 0; p < i; p++) {
      const prev = q.subarray(p * d, (p + 1) * d);
      let c = 0;
      for (let j = 0; j < d; j++) c += row[j] * prev[j];
      for (let j = 0; j < d; j++) row[j] -= c * prev[j];
    }
    const n = Math.hypot(...row);
    for (let j = 0; j < d; j++) row[j] /= n;
  }
  return q;
}

export function knownQuadratic(lambdas: number[], seed = 1): KnownQuadratic {
  const sorted = [...lambdas].sort((a, b) => b - a);
  const d = sorted.length;
  const n = 2 * d;
  const rng = Rng.fromSeed(seed, 99);
  const q = randomOrthogonal(d, rng);
  // Rows i and d + i are ±√(n/2)·√(λᵢ/2)·qᵢ, so XᵀX = (n/2) Σ λᵢ qᵢqᵢᵀ and (2/n)XᵀX = H.
  const x = new Float32Array(n * d);
  for (let i = 0; i < d; i++) {
    const s = Math.sqrt(n / 2) * Math.sqrt(sorted[i] / 2);
    for (let j = 0; j < d; j++) {
      x[i * d + j] = s * q[i * d + j];
      x[(d + i) * d + j] = -s * q[i * d + j];
    }
  }
  const wStar = new Float64Array(d);
  for (let j = 0; j < d; j++) wStar[j] = rng.normal();
  const y = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j] * wStar[j];
    y[r] = s;
  }
  // The exact Hessian of the float32 data: (2/n) XᵀX (differs from Q diag(λ) Qᵀ by float32 rounding of X).
  const h = new Float64Array(d * d);
  for (let r = 0; r < n; r++)
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) h[a * d + b] += (2 / n) * x[r * d + a] * x[r * d + b];
  const hv = (v: ArrayLike<number>): Float64Array => {
    const out = new Float64Array(d);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) out[a] += h[a * d + b] * v[b];
    return out;
  };
  return {
    spec: { input: [d], layers: [{ type: 'dense', units: 1, bias: false }], loss: 'mse' },
    data: { x, y },
    lambdas: sorted,
    q,
    wStar,
    d,
    hv,
    loss(w) {
      const e = Array.from(w, (v, i) => v - wStar[i]);
      const he = hv(e);
      return 0.5 * e.reduce((s, v, i) => s + v * he[i], 0);
    },
  };
}

/** A spectrum with a clear top: [10, 7, 5, 4] then (d − 4) values spread over [0.1, 3]. */
export function testSpectrum(d: number): number[] {
  const rest = Array.from({ length: d - 4 }, (_, i) => 0.1 + (2.9 * i) / Math.max(1, d - 5));
  return [10, 7, 5, 4, ...rest];
}
