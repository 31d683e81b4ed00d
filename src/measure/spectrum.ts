/**
 * The Hessian spectrum as a whole: eigenvalue density by stochastic Lanczos quadrature (SLQ;
 * Ubaru, Chen & Saad 2017, "Fast estimation of tr(f(A)) via stochastic Lanczos quadrature"; the
 * method of PyHessian's `density`), the Hutchinson trace checked against the density's first
 * moment, and per-tensor (per-layer) λ_max and trace.
 *
 * Everything is written against a symmetric operator `apply(v, out)` of dimension `dim`, so it is
 * tested on explicit matrices; {@link hessianSpectrum} and {@link layerCurvature} bind it to the
 * Hessian of a model's mean loss (exact HVPs by default, see hessian.ts), with batch norm in eval
 * mode (running statistics) unless `batchNorm: 'train'`; `model.state` is unchanged either way, and
 * every result states the mode in `batchNorm`.
 */
import type { Examples, Model } from '../model/model.js';
import { Rng } from '../util/random.js';
import { positiveInteger, withOperator, type BatchNormMode, type HessianOptions } from './hessian.js';
import { lanczos, symmetricEigen } from './lanczos.js';
import {
  densityOptionsSchema,
  layerCurvatureOptionsSchema,
  parseOptions,
  spectrumOptionsSchema,
  type SameKeys,
} from './options.js';

/** out ← A v for a symmetric A (both of length dim). */
export type SymmetricApply = (v: Float64Array, out: Float64Array) => void;

export type { BatchNormMode } from './hessian.js';

/** One SLQ probe: m-step Lanczos tridiagonal's Ritz values (nodes) and squared first components (weights, sum 1). */
export interface QuadratureNodes {
  nodes: number[];
  weights: number[];
}

/** Options of the stochastic Lanczos quadrature density: probes, Lanczos steps, grid and broadening. */
export interface DensityOptions {
  /** Random probe vectors (default 10). */
  probes?: number;
  /** Lanczos steps per probe (default 80, capped at dim). */
  steps?: number;
  /** Probe distribution (default 'rademacher', as PyHessian). */
  distribution?: 'rademacher' | 'gaussian';
  /** Grid points of the smoothed density (default 1000). */
  gridPoints?: number;
  /** Gaussian broadening σ as a fraction of the spectrum's width max − min (default 1e-2). */
  sigma?: number;
  seed?: number;
}

const DENSITY_KEYS = ['probes', 'steps', 'distribution', 'gridPoints', 'sigma', 'seed'] as const;
const sameKeys: [
  SameKeys<DensityOptions, ReturnType<typeof densityOptionsSchema.parse>>,
  SameKeys<HessianSpectrumOptions, ReturnType<typeof spectrumOptionsSchema.parse>>,
] = [true, true];
void sameKeys;

/** An eigenvalue density of the Hessian on a grid, with its moments and the Ritz nodes it came from. */
export interface SpectralDensity {
  /** Quadrature nodes and weights per probe: the density is Σ_probes Σ_j weight·δ(λ − node) / probes. */
  quadrature: QuadratureNodes[];
  /** Grid and Gaussian-broadened density on it (integrates to 1 over the grid). */
  grid: number[];
  density: number[];
  /** σ used for the broadening, in eigenvalue units. */
  sigma: number;
  /** dim · E[Σ_j w_j θ_j]: the trace from the density's first moment (equals Hutchinson on the same probes). */
  trace: number;
  /** Standard error of `trace` over the probes. */
  traceStderr: number;
  /** Extreme Ritz values over all probes (Lanczos converges to the ends first). */
  min: number;
  max: number;
  dim: number;
  /** Operator applications used. */
  products: number;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * m steps of Lanczos from the unit vector `start` with full reorthogonalisation, returning the
 * Gauss quadrature of the spectral measure of `start`: nodes = eigenvalues θ_j of the tridiagonal
 * T_m, weights = (first component of T_m's eigenvector j)². Separate from lanczos.ts's solver
 * because SLQ needs every Ritz value at a fixed m with its weight, not converged end pairs. Stops
 * early (fewer nodes, still exact) when the Krylov space is exhausted.
 */
export function lanczosQuadrature(apply: SymmetricApply, dim: number, start: Float64Array, m: number): QuadratureNodes {
  const steps = Math.min(m, dim);
  const basis: Float64Array[] = [Float64Array.from(start)];
  const alpha: number[] = [];
  const beta: number[] = [];
  const w = new Float64Array(dim);
  for (let j = 0; j < steps; j++) {
    const q = basis[j];
    apply(q, w);
    alpha.push(dot(q, w));
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        const c = dot(b, w);
        for (let i = 0; i < dim; i++) w[i] -= c * b[i];
      }
    }
    const bn = Math.sqrt(dot(w, w));
    const scale = Math.max(...alpha.map(Math.abs), ...beta.map(Math.abs), 1e-300);
    if (j === steps - 1 || bn <= 1e-10 * scale) break;
    beta.push(bn);
    const next = new Float64Array(dim);
    for (let i = 0; i < dim; i++) next[i] = w[i] / bn;
    basis.push(next);
  }
  const k = alpha.length;
  const t = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    t[i * k + i] = alpha[i];
    if (i + 1 < k) t[i * k + i + 1] = t[(i + 1) * k + i] = beta[i];
  }
  const eig = symmetricEigen(t, k, true);
  return { nodes: eig.values, weights: eig.values.map((_, j) => eig.vectors![j] ** 2) };
}

/**
 * Eigenvalue density of a symmetric operator by SLQ: `probes` random unit vectors (Rademacher or
 * Gaussian, normalised), `steps` Lanczos steps each; the density is the average of the probes'
 * quadratures broadened by Gaussians of width σ = sigma·(max − min) on a grid spanning
 * [min − 5σ, max + 5σ], normalised to integrate to 1 on the grid (as PyHessian's density).
 */
export function spectralDensity(apply: SymmetricApply, dim: number, options: DensityOptions = {}): SpectralDensity {
  parseOptions(densityOptionsSchema, options);
  positiveInteger(dim, 'dim');
  const probes = options.probes ?? 10;
  const steps = options.steps ?? 80;
  const gridPoints = options.gridPoints ?? 1000;
  const sigmaRel = options.sigma ?? 1e-2;
  const distribution = options.distribution ?? 'rademacher';
  const rng = Rng.fromSeed(options.seed ?? 0, 31);
  let products = 0;
  const counted: SymmetricApply = (v, out) => {
    products++;
    apply(v, out);
  };
  const quadrature: QuadratureNodes[] = [];
  const traces: number[] = [];
  for (let p = 0; p < probes; p++) {
    const v = new Float64Array(dim);
    for (let i = 0; i < dim; i++) v[i] = distribution === 'rademacher' ? (rng.uniform() < 0.5 ? -1 : 1) : rng.normal();
    const n = Math.sqrt(dot(v, v));
    for (let i = 0; i < dim; i++) v[i] /= n;
    const q = lanczosQuadrature(counted, dim, v, steps);
    quadrature.push(q);
    traces.push(dim * q.nodes.reduce((s, x, j) => s + x * q.weights[j], 0));
  }
  const all = quadrature.flatMap((q) => q.nodes);
  const min = Math.min(...all);
  const max = Math.max(...all);
  const sigma = sigmaRel * Math.max(max - min, 1e-12 * Math.max(Math.abs(max), 1));
  const lo = min - 5 * sigma;
  const hi = max + 5 * sigma;
  const grid = Array.from({ length: gridPoints }, (_, i) => lo + ((hi - lo) * i) / Math.max(gridPoints - 1, 1));
  const density = grid.map((x) => {
    let s = 0;
    for (const q of quadrature) {
      for (let j = 0; j < q.nodes.length; j++)
        s += q.weights[j] * Math.exp(-((x - q.nodes[j]) ** 2) / (2 * sigma * sigma));
    }
    return s / (probes * sigma * Math.sqrt(2 * Math.PI));
  });
  const dx = gridPoints > 1 ? (hi - lo) / (gridPoints - 1) : 1;
  const mass = density.reduce((a, b) => a + b, 0) * dx;
  if (mass > 0) for (let i = 0; i < density.length; i++) density[i] /= mass;
  const trace = traces.reduce((a, b) => a + b, 0) / probes;
  const sd = probes > 1 ? Math.sqrt(traces.reduce((a, b) => a + (b - trace) ** 2, 0) / (probes - 1)) : NaN;
  return { quadrature, grid, density, sigma, trace, traceStderr: sd / Math.sqrt(probes), min, max, dim, products };
}

/**
 * The spectral CDF F(λ) = (fraction of eigenvalues ≤ λ) estimated from the quadratures (a step
 * function; no broadening), for comparing against an exact spectrum.
 */
export function densityCdf(d: Pick<SpectralDensity, 'quadrature'>, lambda: number): number {
  let s = 0;
  for (const q of d.quadrature) for (let j = 0; j < q.nodes.length; j++) if (q.nodes[j] <= lambda) s += q.weights[j];
  return s / d.quadrature.length;
}

/** The k-th moment E[λ^k] of the estimated spectral measure (k = 1: trace/dim). */
export function densityMoment(d: Pick<SpectralDensity, 'quadrature'>, k: number): number {
  let s = 0;
  for (const q of d.quadrature) for (let j = 0; j < q.nodes.length; j++) s += q.weights[j] * q.nodes[j] ** k;
  return s / d.quadrature.length;
}

/** The operator restricted to the coordinates [offset, offset + size): the diagonal block H[S, S]. */
export function restrictOperator(apply: SymmetricApply, dim: number, offset: number, size: number): SymmetricApply {
  if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 1 || offset + size > dim) {
    throw new RangeError(`offset/size must select a slice of [0, ${dim}) (got offset ${offset}, size ${size})`);
  }
  const full = new Float64Array(dim);
  const fullOut = new Float64Array(dim);
  return (v, out) => {
    full.fill(0);
    full.set(v, offset);
    apply(full, fullOut);
    out.set(fullOut.subarray(offset, offset + size));
  };
}

/** Hutchinson trace of a symmetric operator: mean of zᵀAz over Rademacher z, with its standard error. */
export function hutchinsonTrace(
  apply: SymmetricApply,
  dim: number,
  samples: number,
  seed = 0,
): { value: number; stderr: number } {
  positiveInteger(samples, 'samples');
  const rng = Rng.fromSeed(seed, 32);
  const z = new Float64Array(dim);
  const az = new Float64Array(dim);
  const est: number[] = [];
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < dim; i++) z[i] = rng.uniform() < 0.5 ? -1 : 1;
    apply(z, az);
    est.push(dot(z, az));
  }
  const mean = est.reduce((a, b) => a + b, 0) / samples;
  const sd = samples > 1 ? Math.sqrt(est.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples - 1)) : NaN;
  return { value: mean, stderr: sd / Math.sqrt(samples) };
}

/** Extreme eigenvalues of a symmetric operator by Lanczos (lanczos.ts) from a seeded random start. */
export function extremes(
  apply: SymmetricApply,
  dim: number,
  options: { steps?: number; tolerance?: number; seed?: number } = {},
) {
  const rng = Rng.fromSeed(options.seed ?? 0, 33);
  const start = new Float64Array(dim);
  for (let i = 0; i < dim; i++) start[i] = rng.normal();
  const n = Math.sqrt(dot(start, start));
  for (let i = 0; i < dim; i++) start[i] /= n;
  const r = lanczos(apply, dim, {
    k: 1,
    which: 'both',
    maxIterations: options.steps ?? 100,
    tolerance: options.tolerance ?? 1e-4,
    start,
    vectors: false,
  });
  return {
    max: r.largest[0].value,
    min: r.smallest[0].value,
    converged: r.largest[0].converged && r.smallest[0].converged,
    iterations: r.iterations,
  };
}

export interface HessianSpectrumOptions extends HessianOptions, DensityOptions {
  /** Probes of the independent Hutchinson trace (default 30). */
  traceSamples?: number;
}

/**
 * The spectrum of the Hessian of the mean loss over `data`: SLQ density, λ_max and the most
 * negative eigenvalue λ_min (Lanczos), and an independent Hutchinson trace to check the
 * density's first moment (`traceAgreement` = difference in units of the combined standard error).
 */
export function hessianSpectrum(model: Model, data: Examples, options: HessianSpectrumOptions = {}) {
  parseOptions(spectrumOptionsSchema, options);
  const hOpts: HessianOptions = {
    method: options.method,
    batchSize: options.batchSize,
    epsilon: options.epsilon,
    batchNorm: options.batchNorm,
    dataParallel: options.dataParallel,
  };
  const dOpts: DensityOptions = {};
  for (const key of DENSITY_KEYS)
    if (options[key] !== undefined) (dOpts as Record<string, unknown>)[key] = options[key];
  return withOperator(model, data, hOpts, (op) => {
    const apply: SymmetricApply = (v, out) => op.apply(v, out);
    const density = spectralDensity(apply, op.dim, dOpts);
    const ext = extremes(apply, op.dim, { seed: options.seed });
    const hutchinson = hutchinsonTrace(apply, op.dim, options.traceSamples ?? 30, (options.seed ?? 0) + 1);
    const se = Math.hypot(density.traceStderr, hutchinson.stderr);
    return {
      density,
      lambdaMax: ext.max,
      lambdaMin: ext.min,
      extremesConverged: ext.converged,
      hutchinson,
      traceAgreement: se > 0 ? (density.trace - hutchinson.value) / se : 0,
      products: op.products,
      method: op.method,
      batchNorm: op.batchNorm,
    };
  });
}

/** λ_max, λ_min and trace of the diagonal block of the Hessian belonging to each parameter tensor. */
export interface LayerCurvature {
  tensor: string;
  size: number;
  lambdaMax: number;
  lambdaMin: number;
  trace: number;
  traceStderr: number;
  converged: boolean;
}

/**
 * Per-tensor curvature (PyHessian's per-layer view): for each tensor of `model.layout` (or only
 * those named in `tensors`), the block H[S, S] of the full-loss Hessian restricted to that
 * tensor's slice S of θ: its extreme eigenvalues by Lanczos and its Hutchinson trace.
 */
export function layerCurvature(
  model: Model,
  data: Examples,
  options: HessianOptions & { tensors?: string[]; traceSamples?: number; steps?: number; seed?: number } = {},
): { layers: LayerCurvature[]; products: number; method: string; batchNorm: BatchNormMode } {
  parseOptions(layerCurvatureOptionsSchema, options);
  const entries = model.layout.params.filter((e) => !options.tensors || options.tensors.includes(e.name));
  if (options.tensors) {
    for (const name of options.tensors) {
      if (!entries.some((e) => e.name === name))
        throw new RangeError(
          `options.tensors: "${name}" is not in the layout (have: ${model.layout.params.map((e) => e.name).join(', ')})`,
        );
    }
  }
  const hOpts: HessianOptions = {
    method: options.method,
    batchSize: options.batchSize,
    epsilon: options.epsilon,
    batchNorm: options.batchNorm,
    dataParallel: options.dataParallel,
  };
  return withOperator(model, data, hOpts, (op) => {
    const full: SymmetricApply = (v, out) => op.apply(v, out);
    const layers = entries.map((e) => {
      const block = restrictOperator(full, op.dim, e.offset, e.size);
      const ext = extremes(block, e.size, { steps: options.steps, seed: options.seed });
      const tr = hutchinsonTrace(block, e.size, options.traceSamples ?? 30, options.seed ?? 0);
      return {
        tensor: e.name,
        size: e.size,
        lambdaMax: ext.max,
        lambdaMin: ext.min,
        trace: tr.value,
        traceStderr: tr.stderr,
        converged: ext.converged,
      };
    });
    return { layers, products: op.products, method: op.method, batchNorm: op.batchNorm };
  });
}
