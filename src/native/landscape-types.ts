/**
 * TypeScript signatures of the E1 landscape functions of the native addon (binding/landscape.cpp,
 * native/landscape.h). Merged into `NativeAddon` by `src/native/binding.ts`.
 *
 * The function family is
 *   f(x) = μ/2·‖x‖² − Σᵢ aᵢ·exp(−‖x − cᵢ‖² / (2σᵢ²)),  x ∈ ℝᵈ.
 * Every array is float64 and row-major. Typed-array arguments are copied on the calling thread, so
 * the caller may reuse them as soon as a function returns (even before a Promise settles).
 */

/**
 * Dip shape: 'gaussian' aᵢ·exp(−r²/(2wᵢ²)) (beyond the paper's class), 'compact'
 * aᵢ·(1 − r²/wᵢ²)³ for r < wᵢ (C², the bowl is untouched outside the ball), 'paper-1d' the paper's
 * fixed 1-D illustration (20x², except on [6, 7] where the quintic
 * p(t) = −4160t⁵ − 13520t⁴ + 2080t³ + 6780t², t = x − 6.5, applies).
 */
export type NativeLandscapeKind = 'gaussian' | 'compact' | 'paper-1d';

/** One instance of the family (plain data: can be saved as JSON after `Array.from`). */
export interface NativeLandscapeInstance {
  /** Default 'gaussian'. */
  kind?: NativeLandscapeKind;
  dim: number;
  mu: number;
  /** Number of dips; equals `depths.length`. Informational on input. */
  dips?: number;
  /** Dip centres cᵢ, [dips, dim]. */
  centers: Float64Array;
  /** Dip depths aᵢ > 0, [dips]. */
  depths: Float64Array;
  /** Dip widths σᵢ > 0, [dips]. */
  widths: Float64Array;
}

/**
 * Generator options (see native/landscape.h for the rule). Per dip: radius ρ ~ U[radiusMin, radiusMax],
 * relative depth δ ~ U[depthMin, depthMax] (aᵢ = δ·μρ²/2), sharpness κ ~ logU[sharpnessMin, sharpnessMax]
 * (curvature at the centre μ + aᵢ/σᵢ² = κμ); dips at least separation·(σᵢ + σⱼ) apart.
 */
export interface NativeLandscapeCreateOptions {
  /** 'gaussian' (default) or 'compact' (width w = √(6a/(μ(κ − 1)))). */
  kind?: 'gaussian' | 'compact';
  dim: number;
  dips: number;
  seed?: number;
  mu?: number;
  radiusMin?: number;
  radiusMax?: number;
  depthMin?: number;
  depthMax?: number;
  sharpnessMin?: number;
  sharpnessMax?: number;
  separation?: number;
}

export interface NativeLandscapeEvalResult {
  /** f at each point, [n]. */
  value: Float64Array;
  /** ∇f at each point, [n, dim]. */
  grad: Float64Array;
  /** ∇²f at each point, [n, dim, dim] (only with `{ hessian: true }`). */
  hessian?: Float64Array;
  /** Hessian eigenvalues, ascending per point, [n, dim] (only with `{ eigenvalues: true }`). */
  eigenvalues?: Float64Array;
}

export interface NativeLandscapeMinimaOptions {
  seed?: number;
  /** Random starts, uniform in the search ball (default 2000). */
  randomStarts?: number;
  /** d ≤ 2: spacing of the start grid (0 = auto: min σ / 2; negative: no grid). */
  gridSpacing?: number;
  gradTol?: number;
  maxIters?: number;
}

/**
 * Every local minimum found, sorted by value (so `globalIndex` is 0), and the GD thresholds:
 * etaSharp = 2 / max L_loc, etaLocal = 2 / min L_loc (L_loc = λ_max of the Hessian at a local,
 * non-global minimum), etaGlobal = 2 / λ_max(∇²f(x*)), etaMu = 2 / μ. NaN thresholds if there is no
 * local minimum.
 */
export interface NativeLandscapeMinima {
  count: number;
  /** [count, dim] */
  points: Float64Array;
  values: Float64Array;
  /** Hessian eigenvalues, ascending per minimum, [count, dim]. */
  eigenvalues: Float64Array;
  lambdaMin: Float64Array;
  lambdaMax: Float64Array;
  /** How many starts flowed to each minimum. */
  hits: Int32Array;
  /** Index of the dip whose centre is within 6σ of the minimum, −1 if none (the bowl's minimum). */
  nearestDip: Int32Array;
  globalIndex: number;
  rBound: number;
  starts: number;
  unconverged: number;
  saddles: number;
  /** min over other minima of f(m) − f(x*). */
  gap: number;
  /** d ≤ 2: minimum of f over a fine verification grid (NaN otherwise). */
  gridMin: number;
  verified: boolean;
  dipsWithoutMinimum: number;
  etaSharp: number;
  etaLocal: number;
  etaGlobal: number;
  etaMu: number;
  minSeparation: number;
}

export type NativeLandscapeAnneal = 'none' | 'linear' | 'inverse';

/**
 * One GD cell: xₜ₊₁ = xₜ − η(∇f(xₜ) + sₜ ξₜ), ξₜ ~ N(0, I), for `steps` steps from every start.
 * sₜ = s ('none'), s·(1 − t/T) ('linear'), s/(1 + 10t/T) ('inverse'). Point k draws its noise from
 * RNG stream (seed, k).
 */
export interface NativeLandscapeRunOptions {
  eta: number;
  steps: number;
  noiseStd?: number;
  anneal?: NativeLandscapeAnneal;
  seed?: number;
  /** `converged` flag: ‖∇f(x_T)‖ ≤ gradTol (default 1e-6). */
  gradTol?: number;
  /** x_T within this distance of a minimum ⇒ ends at that minimum. */
  classifyRadius: number;
  /** Non-finite or ‖x‖ > divergeRadius at any step ⇒ diverged (default 1e6). */
  divergeRadius?: number;
  /** Record the trajectories of the first recordCount starts. */
  recordCount?: number;
  recordEvery?: number;
  /** Also find the basin of x_T under gradient flow (default true). */
  basin?: boolean;
  basinMaxMove?: number;
  /** Noise distribution: 'gaussian' (default, noiseStd is the std) or 'uniform' on [−noiseStd, noiseStd]^d. */
  noise?: 'gaussian' | 'uniform';
  /** Settled fraction: share of the last ⌈steps/10⌉ iterates within this distance of x* (0 = off). */
  settleRadius?: number;
}

/** Position classes: 0 global, 1 local, 2 oscillating (not within classifyRadius of any minimum), 3 diverged. */
export interface NativeLandscapeRunResult {
  finalX: Float64Array;
  finalValue: Float64Array;
  gradNorm: Float64Array;
  cls: Int32Array;
  /** Index of the minimum x_T is at, −1 if none. */
  minimum: Int32Array;
  /** Index of the minimum gradient flow from x_T reaches, −1 if diverged/unresolved. */
  basin: Int32Array;
  /** Step at which the run diverged, −1 if it did not. */
  divergeStep: Int32Array;
  converged: Uint8Array;
  /** Per start: share of the last ⌈steps/10⌉ iterates within settleRadius of x* (0 if off or diverged). */
  settled: Float64Array;
  /** [recordCount, frames, dim] */
  trajectories: Float64Array;
  frames: number;
  counts: { global: number; local: number; oscillating: number; diverged: number };
  convergedCount: number;
  basinGlobal: number;
}

export interface LandscapeNative {
  landscapeCreate(options: NativeLandscapeCreateOptions): NativeLandscapeInstance & { dips: number };
  /** The paper's 1-D illustration: x* = 0, x† = 6.5 (kind 'paper-1d'). */
  landscapePaper1d(): NativeLandscapeInstance & { dips: number };
  /** Analytic upper bound on ‖∇²f(x)‖₂ over all x (native curvature_bound). */
  landscapeCurvatureBound(instance: NativeLandscapeInstance): number;
  /** Uniform points in the ball ‖x‖ ≤ radius, [count, dim]; point k from RNG stream (seed, k). */
  landscapeSample(options: { dim: number; count: number; radius: number; seed?: number }): Float64Array;
  landscapeEval(
    instance: NativeLandscapeInstance,
    points: Float64Array,
    options?: { hessian?: boolean; eigenvalues?: boolean },
  ): NativeLandscapeEvalResult;
  landscapeMinima(
    instance: NativeLandscapeInstance,
    options?: NativeLandscapeMinimaOptions,
  ): Promise<NativeLandscapeMinima>;
  landscapeRun(
    instance: NativeLandscapeInstance,
    minima: { points: Float64Array; globalIndex: number },
    starts: Float64Array,
    options: NativeLandscapeRunOptions,
  ): Promise<NativeLandscapeRunResult>;
}
