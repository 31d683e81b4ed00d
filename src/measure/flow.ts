/**
 * The gradient-flow reference: the ODE θ'(t) = −∇L(θ), the continuous limit of gradient descent,
 * integrated with the Dormand–Prince 5(4) Runge–Kutta pair (the scheme of MATLAB's ode45 and
 * SciPy's RK45) with embedded error control, and the step also bounded by α/λ_max as in Cohen et
 * al.'s edge-of-stability code (λ_max re-estimated through a callback every `lambdaEvery` accepted
 * steps). Iterates are saved at the times GD reaches after k steps of rate η, t = η·k, so GD at
 * step k and the flow at time ηk can be compared directly ({@link trajectoryDistances}).
 *
 * For big models a {@link RandomProjection} stores p-dimensional sketches instead of full
 * iterates: a fixed-seed Rademacher matrix scaled by 1/√p, so E‖Pv‖² = ‖v‖² and distances are
 * kept to about ±√(2/p) relative (±6 % at p = 500; Johnson–Lindenstrauss, Achlioptas 2003).
 */
import type { Examples, Model } from '../model/model.js';
import { createProgress } from '../util/progress.js';
import { Rng } from '../util/random.js';
import { parseNamed } from '../util/schema.js';
import {
  batchNormChoice,
  batchNormMode,
  countExamples,
  positiveInteger,
  type BatchNormChoice,
  type BatchNormMode,
} from './hessian.js';
import { flowOptionsSchema, modelFlowOptionsSchema, type SameKeys } from './options.js';
import { topEigenvalue } from './sharpness.js';

/** Writes ∇L(θ) into `out` and returns L(θ). */
export type GradientFn = (theta: Float64Array, out: Float64Array) => number;

/** A fixed random linear map R^dim → R^p, P = S/√p with S a seeded ±1 matrix (stored as bits: p·dim/8 bytes). */
export class RandomProjection {
  readonly dim: number;
  readonly p: number;
  readonly seed: number;
  private readonly bits: Uint32Array;
  private readonly words: number;

  constructor(dim: number, p = 500, seed = 0) {
    this.dim = positiveInteger(dim, 'dim');
    this.p = positiveInteger(p, 'p');
    this.seed = seed;
    this.words = Math.ceil(this.p / 32);
    this.bits = new Uint32Array(this.dim * this.words);
    const rng = Rng.fromSeed(seed, 41);
    for (let i = 0; i < this.bits.length; i++) this.bits[i] = Math.floor(rng.uniform() * 4294967296) >>> 0;
  }

  /** P v (length p, double). */
  project(v: ArrayLike<number>): Float64Array {
    if (v.length !== this.dim) throw new RangeError(`v must have length ${this.dim} (got ${v.length})`);
    const acc = new Float64Array(this.p);
    const { p, words, bits } = this;
    for (let i = 0; i < this.dim; i++) {
      const x = v[i];
      if (x === 0) continue;
      const base = i * words;
      for (let w = 0; w < words; w++) {
        const word = bits[base + w];
        const end = Math.min(32, p - 32 * w);
        for (let b = 0; b < end; b++) acc[32 * w + b] += (word >>> b) & 1 ? x : -x;
      }
    }
    const s = 1 / Math.sqrt(p);
    for (let j = 0; j < p; j++) acc[j] *= s;
    return acc;
  }
}

/** Options of the gradient-flow reference run (integrator tolerances, step cap α/λ_max, saved times). */
export interface FlowOptions {
  /** GD learning rate whose times t = η·k the flow is saved at. */
  eta: number;
  /** Integrate to t = η·steps (required unless `times` is given). */
  steps?: number;
  /** Save every `saveEvery` GD-steps' worth of time (default 1). */
  saveEvery?: number;
  /**
   * Instead of `steps`/`saveEvery`: save at exactly these times (ascending, > 0; t = 0 is always
   * saved first), e.g. the union of several GD runs' times η_a·k at different rates. Then
   * `matchedSteps[i]` = times[i]/eta, not necessarily an integer.
   */
  times?: number[];
  /** Error control: relative and absolute tolerance per coordinate (defaults 1e-6, 1e-9). */
  rtol?: number;
  atol?: number;
  /** Stability bound h ≤ alpha/λ_max (default 1; only with `sharpness`). */
  alpha?: number;
  /** λ_max(θ) callback for the step bound (e.g. topEigenvalue); none: error control only. */
  sharpness?: (theta: Float64Array) => number;
  /** Accepted steps between λ_max re-estimates (default 20). */
  lambdaEvery?: number;
  /** Largest step (default η·saveEvery; η with `times`). */
  maxStep?: number;
  /** Store P·θ instead of θ. */
  projection?: RandomProjection;
  /** Show progress on stderr (default false). */
  progress?: boolean;
}

const sameKeys: SameKeys<FlowOptions, ReturnType<typeof flowOptionsSchema.parse>> = true;
void sameKeys;

/** A gradient-flow run: the iterates at the requested times and how the integrator got there. */
export interface FlowResult {
  /** Saved times η·k and the GD step counts k they match (times/η with the `times` option). */
  times: number[];
  matchedSteps: number[];
  /** θ(t) (or P·θ(t) with a projection) at each saved time. */
  iterates: Float64Array[];
  loss: number[];
  /** λ_max estimates and the times they were taken at. */
  lambdas: Array<{ t: number; value: number }>;
  accepted: number;
  rejected: number;
  gradients: number;
  /** Largest accepted step. */
  maxStepTaken: number;
  /** True if θ or L became non-finite (the run stops there; later times are absent). */
  diverged: boolean;
}

// Dormand–Prince 5(4) tableau (the ODE is autonomous, so the stage times c are not needed).
const A: number[][] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
const B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
const E = B5.map((b, i) => b - B4[i]);

/** The saved times of a flow run and the GD step counts k = t/η they match, from `steps`/`saveEvery` or `times`. */
function savedTimes(options: FlowOptions, eta: number): { t: number[]; k: number[] } {
  if (options.times === undefined) {
    if (options.steps === undefined) throw new RangeError('options.steps must be given (or options.times)');
    const steps = options.steps;
    const saveEvery = options.saveEvery ?? 1;
    const saveK = [];
    for (let s = 0; s <= steps; s += saveEvery) saveK.push(s);
    if (saveK[saveK.length - 1] !== steps) saveK.push(steps);
    return { t: saveK.map((k) => eta * k), k: saveK };
  }
  if (options.steps !== undefined || options.saveEvery !== undefined)
    throw new RangeError('options.times replaces options.steps and options.saveEvery: give one or the other');
  const times = options.times;
  times.forEach((t, i) => {
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= (i > 0 ? times[i - 1] : 0))
      throw new RangeError(
        `options.times must be finite, > 0 and strictly ascending (element ${i} is ${String(t)}${i > 0 ? ` after ${times[i - 1]}` : ''})`,
      );
  });
  return { t: [0, ...times], k: [0, ...times.map((t) => t / eta)] };
}

/**
 * Integrates θ' = −∇L(θ) from θ₀ and saves θ at t = η·k for k = 0, saveEvery, 2·saveEvery, …, steps
 * (the last saved time is always η·steps), or at the given `times`. Steps land exactly on the saved
 * times.
 */
export function gradientFlow(gradient: GradientFn, theta0: ArrayLike<number>, options: FlowOptions): FlowResult {
  parseNamed(flowOptionsSchema, options, 'options');
  const eta = options.eta;
  const { t: saveT, k: saveK } = savedTimes(options, eta);
  const steps = saveK[saveK.length - 1];
  const rtol = options.rtol ?? 1e-6;
  const atol = options.atol ?? 1e-9;
  const alpha = options.alpha ?? 1;
  const lambdaEvery = options.lambdaEvery ?? 20;
  const maxStep = options.maxStep ?? eta * (options.times ? 1 : (options.saveEvery ?? 1));
  const dim = theta0.length;
  const y = Float64Array.from(theta0);
  const k = Array.from({ length: 7 }, () => new Float64Array(dim));
  const stage = new Float64Array(dim);
  const yNew = new Float64Array(dim);
  const result: FlowResult = {
    times: [],
    matchedSteps: [],
    iterates: [],
    loss: [],
    lambdas: [],
    accepted: 0,
    rejected: 0,
    gradients: 0,
    maxStepTaken: 0,
    diverged: false,
  };
  // f(θ) = −∇L(θ); returns L.
  const f = (theta: Float64Array, out: Float64Array): number => {
    result.gradients++;
    const l = gradient(theta, out);
    for (let i = 0; i < dim; i++) out[i] = -out[i];
    return l;
  };
  const save = (t: number, kk: number, l: number) => {
    result.times.push(t);
    result.matchedSteps.push(kk);
    result.loss.push(l);
    result.iterates.push(options.projection ? options.projection.project(y) : Float64Array.from(y));
  };
  const progress = createProgress({ label: 'gradient flow', total: steps, quiet: !options.progress });
  let loss = f(y, k[0]);
  save(0, 0, loss);
  let t = 0;
  let lambdaBound = Infinity;
  const refreshLambda = () => {
    if (!options.sharpness) return;
    const lam = options.sharpness(y);
    result.lambdas.push({ t, value: lam });
    lambdaBound = lam > 0 && Number.isFinite(lam) ? alpha / lam : Infinity;
  };
  refreshLambda();
  let h = Math.min(maxStep, lambdaBound, eta);
  for (let next = 1; next < saveK.length; next++) {
    const tTarget = saveT[next];
    while (t < tTarget) {
      const remaining = tTarget - t;
      let hh = Math.min(h, lambdaBound, maxStep);
      const landing = hh >= remaining * (1 - 1e-12);
      if (landing) hh = remaining;
      for (let s = 1; s < 7; s++) {
        for (let i = 0; i < dim; i++) {
          let acc = 0;
          for (let j = 0; j < s; j++) acc += A[s][j] * k[j][i];
          stage[i] = y[i] + hh * acc;
        }
        if (s === 6) yNew.set(stage); // row 7 of the tableau is the 5th-order solution (FSAL)
        const l = f(stage, k[s]);
        if (s === 6) loss = l;
      }
      let errSq = 0;
      for (let i = 0; i < dim; i++) {
        let e = 0;
        for (let j = 0; j < 7; j++) e += E[j] * k[j][i];
        const sc = atol + rtol * Math.max(Math.abs(y[i]), Math.abs(yNew[i]));
        errSq += ((hh * e) / sc) ** 2;
      }
      const err = Math.sqrt(errSq / dim);
      if (!Number.isFinite(loss) || !yNew.every(Number.isFinite)) {
        result.diverged = true; // divergence is a result: the saved times so far are returned
        progress.done();
        return result;
      }
      if (err <= 1) {
        t = landing ? tTarget : t + hh;
        y.set(yNew);
        k[0].set(k[6]);
        result.accepted++;
        result.maxStepTaken = Math.max(result.maxStepTaken, hh);
        if (result.accepted % lambdaEvery === 0) refreshLambda();
      } else {
        result.rejected++;
      }
      // Standard controller: safety 0.9, growth in [0.2, 5], exponent 1/5.
      const factor = err === 0 ? 5 : Math.min(5, Math.max(0.2, 0.9 * err ** -0.2));
      // A landing step is shortened artificially; do not let it shrink the next one.
      h = err <= 1 && landing ? Math.max(h, hh * factor) : hh * factor;
      if (h < 1e-14 * Math.max(tTarget, 1))
        throw new RangeError(
          'gradient flow: step size underflow (the gradient is not smooth enough for the tolerances)',
        );
    }
    save(t, saveK[next], loss);
    progress.update(saveK[next]);
  }
  progress.done();
  return result;
}

/** ‖a_k − b_k‖₂ for paired iterates (full or projected). */
export function trajectoryDistances(a: ArrayLike<number>[], b: ArrayLike<number>[]): number[] {
  if (a.length !== b.length)
    throw new RangeError(`trajectories must have the same number of iterates (got ${a.length} and ${b.length})`);
  return a.map((x, k) => {
    if (x.length !== b[k].length) throw new RangeError(`iterate ${k} has lengths ${x.length} and ${b[k].length}`);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += (x[i] - b[k][i]) ** 2;
    return Math.sqrt(s);
  });
}

/**
 * The full-data mean-loss gradient of `model` as a {@link GradientFn} (θ rounded to float32 for
 * the model, chunks of `batchSize` summed in double). Batch norm in eval mode uses the running
 * statistics; in train mode each chunk's batch statistics, and the running statistics the step
 * updates are put back after every chunk. Restores `model.params`/`grads` only through
 * {@link modelGradientFlow}.
 */
function modelGradient(model: Model, data: Examples, batchSize: number, batchNorm: BatchNormChoice): GradientFn {
  const n = countExamples(model, data);
  const inSize = model.inputSize;
  const ySize = model.isClassifier() ? 1 : model.outputSize;
  const training = batchNorm === 'train';
  const state = model.state.slice();
  return (theta, out) => {
    model.params.set(theta);
    out.fill(0);
    let loss = 0;
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const w = (end - start) / n;
      const r = model.lossAndGrad(
        { x: data.x.subarray(start * inSize, end * inSize), y: data.y.subarray(start * ySize, end * ySize) },
        { training },
      );
      if (training) model.state.set(state);
      loss += w * r.loss;
      const g = model.grads;
      for (let i = 0; i < out.length; i++) out[i] += w * g[i];
    }
    return loss;
  };
}

/**
 * Gradient flow of `model`'s mean loss over `data` from its current θ, with the step bounded by
 * alpha/λ_max unless `sharpness` is given: exact-HVP Lanczos (tolerance 1e-3), each estimate
 * started from the previous one's eigenvector. Batch norm in `batchNorm` mode (default 'eval'),
 * stated in the result. `model.params`, `grads` and `state` are restored afterwards.
 */
export function modelGradientFlow(
  model: Model,
  data: Examples,
  options: Omit<FlowOptions, 'sharpness'> & {
    sharpness?: FlowOptions['sharpness'] | false;
    batchSize?: number;
    batchNorm?: BatchNormChoice;
  },
): FlowResult & { batchNorm: BatchNormMode } {
  parseNamed(modelFlowOptionsSchema, options, 'options');
  const { batchSize, batchNorm, ...rest } = options;
  const bs = batchSize ?? 1000;
  const mode = batchNormChoice(batchNorm);
  const saved = { params: model.params.slice(), grads: model.grads.slice(), state: model.state.slice() };
  try {
    const theta0 = Float64Array.from(saved.params);
    let vector: Float64Array | undefined;
    const sharpness =
      rest.sharpness === false
        ? undefined
        : (rest.sharpness ??
          ((theta: Float64Array) => {
            model.params.set(theta);
            const r = topEigenvalue(model, data, {
              tolerance: 1e-3,
              iterations: 100,
              batchSize: bs,
              batchNorm: mode,
              ...(vector ? { start: vector } : {}),
            });
            vector = r.vector;
            return r.value;
          }));
    const r = gradientFlow(modelGradient(model, data, bs, mode), theta0, { ...rest, sharpness });
    return { ...r, batchNorm: batchNormMode(model, mode) };
  } finally {
    model.params.set(saved.params);
    model.grads.set(saved.grads);
    model.state.set(saved.state);
  }
}
