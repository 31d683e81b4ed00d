/**
 * E2's curvature probes: λ_max (top Hessian eigenvalue) and λ_min (smallest, negative when θ is not
 * a minimum) of the mean train loss, each with how it was computed (`method`), so that results and
 * the report say which curvature was used. Both are src/measure/sharpness.ts's restarted Lanczos on
 * exact Hessian-vector products (the R-operator, native/hvp.cpp).
 */
import type { Examples, Model } from '../model/model.js';
import type { BatchNormMode } from '../measure/hessian.js';
import { bottomEigenvalue, topEigenvalue, type EigenResult } from '../measure/sharpness.js';
import { hessianSpectrum } from '../measure/spectrum.js';

export interface Eigen {
  value: number;
  iterations: number;
  converged: boolean;
  /** ‖Hv − λv‖/|λ| at the returned vector */
  residual: number;
  /** How the Hessian-vector products and the eigen-solver were computed. */
  method: string;
}

export interface CurvatureOptions {
  iterations: number;
  tolerance: number;
  seed: number;
  /** Split the Hessian-vector products over the MPI ranks (bitwise the one-process values). */
  dataParallel?: boolean;
}

export const CURVATURE_METHOD_TOP =
  'restarted Lanczos (largest Ritz value) on exact Hessian-vector products (R-operator)';
export const CURVATURE_METHOD_BOTTOM =
  'restarted Lanczos (smallest Ritz value) on exact Hessian-vector products (R-operator)';

const eigen = (r: EigenResult, method: string): Eigen => ({
  value: r.value,
  iterations: r.iterations,
  converged: r.converged,
  residual: r.residual,
  method: r.method === 'exact' ? method : `${method} [${r.method}]`,
});

export function lambdaMax(model: Model, data: Examples, o: CurvatureOptions): Eigen {
  const { vector: _vector, ...e } = lambdaMaxFrom(model, data, o, null);
  return e;
}

/**
 * λ_max started from `start` (e.g. the top eigenvector of a nearby θ, as when λ_max is followed
 * every few GD steps: it then converges in a few products). Returns the final unit vector to start
 * the next call from.
 */
export function lambdaMaxFrom(
  model: Model,
  data: Examples,
  o: CurvatureOptions,
  start: Float64Array | null,
): Eigen & { vector: Float64Array } {
  const r = topEigenvalue(model, data, {
    iterations: o.iterations,
    tolerance: o.tolerance,
    seed: o.seed,
    dataParallel: o.dataParallel === true,
    ...(start ? { start } : {}),
  });
  return { ...eigen(r, CURVATURE_METHOD_TOP), vector: r.vector };
}

/**
 * The smallest Hessian eigenvalue, by at most `steps` Lanczos products. Near a minimum it sits in
 * the cluster of eigenvalues around 0 and is resolved to about 1e-3·λ_max (docs/measurement.md),
 * which is why E2's acceptance tolerance on λ_min/λ_max is 1 %, not less.
 */
export function lambdaMin(model: Model, data: Examples, o: CurvatureOptions & { steps: number }): Eigen {
  return eigen(
    bottomEigenvalue(model, data, {
      iterations: o.steps,
      tolerance: o.tolerance,
      seed: o.seed,
      dataParallel: o.dataParallel === true,
    }),
    CURVATURE_METHOD_BOTTOM,
  );
}

/** The eigenvalue-density part of the E2 config (stochastic Lanczos quadrature, measure/spectrum.ts). */
export interface SpectrumConfig {
  /** The first `seeds` seeds get the density at θ_s and after the switch (0: none). */
  seeds: number;
  /** Random probe vectors and Lanczos steps per probe. */
  probes: number;
  steps: number;
  /** Probes of the independent Hutchinson trace that checks the density's first moment. */
  traceSamples: number;
}

/** The Hessian spectrum at one point, as E2 stores it. */
export interface SpectrumAt {
  /** Where: 'thetaS', or the switch arm whose end point it is. */
  at: string;
  /** Did that arm escape by the rule (null at θ_s)? */
  escaped: boolean | null;
  lambdaMax: number;
  lambdaMin: number;
  /** dim × (first moment of the density), with its standard error over probes. */
  trace: number;
  traceStderr: number;
  /** The independent Hutchinson trace, and (density − Hutchinson)/(combined s.e.). */
  hutchinson: number;
  hutchinsonStderr: number;
  traceAgreement: number;
  /** Gaussian-broadened density on a grid (integrates to 1), broadening σ in eigenvalue units. */
  grid: number[];
  density: number[];
  sigma: number;
  probes: number;
  steps: number;
  products: number;
  method: string;
  batchNorm: BatchNormMode;
}

/**
 * SLQ density, λ_max, λ_min and trace of the Hessian of the mean loss over `data` at the model's θ
 * (`dataParallel`: every product split over the MPI ranks, bitwise the one-process values).
 */
export function spectrumAt(
  model: Model,
  data: Examples,
  c: SpectrumConfig,
  at: string,
  escaped: boolean | null,
  seed: number,
  dataParallel = false,
): SpectrumAt {
  const s = hessianSpectrum(model, data, {
    probes: c.probes,
    steps: c.steps,
    traceSamples: c.traceSamples,
    gridPoints: 200,
    seed,
    dataParallel,
  });
  return {
    at,
    escaped,
    lambdaMax: s.lambdaMax,
    lambdaMin: s.lambdaMin,
    trace: s.density.trace,
    traceStderr: s.density.traceStderr,
    hutchinson: s.hutchinson.value,
    hutchinsonStderr: s.hutchinson.stderr,
    traceAgreement: s.traceAgreement,
    grid: s.density.grid,
    density: s.density.density,
    sigma: s.density.sigma,
    probes: c.probes,
    steps: c.steps,
    products: s.products,
    method: `stochastic Lanczos quadrature (${c.probes} Rademacher probes × ${c.steps} steps) on ${s.method} Hessian-vector products`,
    batchNorm: s.batchNorm,
  };
}
