/**
 * Tools for comparing and picturing training trajectories in parameter space, all on flat
 * parameter vectors (any architecture): distances, the loss along the straight line between two
 * solutions (and its barrier), 2-D projections of a trajectory (PCA or random directions) and the
 * loss surface over a 2-D slice.
 *
 * Points on lines and planes are computed in double and rounded once to float32. Functions that
 * evaluate the model at other parameters write into `model.params` and restore it (and
 * `model.grads`) bit for bit before returning, also when they throw.
 */
import type { NativeLayout } from '../native/binding.js';
import type { Examples, Model } from '../model/model.js';
import { Rng } from '../util/random.js';
import { parseNamed } from '../util/schema.js';
import { batchNormChoice, type BatchNormChoice } from './hessian.js';
import {
  interpolationOptionsSchema,
  parseOptions,
  planeSurfaceOptionsSchema,
  projectionOptionsSchema,
} from './options.js';
import { countExamples, symmetricEigen } from './sharpness.js';

function checkVector(v: unknown, param: string, length?: number): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${param} must be a Float32Array`);
  if (length !== undefined && v.length !== length)
    throw new RangeError(`${param} must have length ${length} (got ${v.length})`);
  return v;
}

function positiveInteger(value: unknown, param: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${param} must be an integer >= ${min} (got ${String(value)})`);
  }
  return value;
}

/** ‖a − b‖₂, accumulated in double. */
export function distance(a: Float32Array, b: Float32Array): number {
  checkVector(a, 'a');
  checkVector(b, 'b', a.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Runs `body` with the model's params free to overwrite; restores params and grads bitwise afterwards. */
function withSavedParams<T>(model: Model, body: () => T): T {
  const params = model.params.slice();
  const grads = model.grads.slice();
  try {
    return body();
  } finally {
    model.params.set(params);
    model.grads.set(grads);
  }
}

/**
 * Mean loss and accuracy over `data` at the model's θ with batch norm in `batchNorm` mode: 'eval'
 * is `model.evaluate` (running statistics; `dataParallel` splits it over the MPI ranks); 'train'
 * uses each chunk of `batchSize` (default 1000) examples' batch statistics, as a training step
 * does, and puts back the running statistics the step updates and the gradient buffer (one
 * process: train mode is not split over ranks). @internal
 */
export function meanLoss(
  model: Model,
  data: Examples,
  batchSize: number | undefined,
  batchNorm: BatchNormChoice,
  dataParallel?: boolean,
): { loss: number; accuracy: number } {
  if (batchNorm === 'eval') return model.evaluate(data, { batchSize, dataParallel });
  if (dataParallel)
    throw new RangeError(
      "options.dataParallel works with batchNorm 'eval' only: train-mode losses are not split over MPI ranks",
    );
  const n = countExamples(model, data);
  const chunk = positiveInteger(batchSize ?? 1000, 'options.batchSize');
  const inSize = model.inputSize;
  const ySize = model.isClassifier() ? 1 : model.outputSize;
  const state = model.state.slice();
  const grads = model.grads.slice();
  let loss = 0;
  let accuracy = 0;
  try {
    for (let start = 0; start < n; start += chunk) {
      const end = Math.min(n, start + chunk);
      const w = (end - start) / n;
      const r = model.lossAndGrad(
        { x: data.x.subarray(start * inSize, end * inSize), y: data.y.subarray(start * ySize, end * ySize) },
        { training: true },
      );
      model.state.set(state);
      loss += w * r.loss;
      accuracy += w * r.accuracy;
    }
  } finally {
    model.state.set(state);
    model.grads.set(grads);
  }
  return { loss, accuracy };
}

/**
 * Mean loss and accuracy over `data` at θ(α) = (1−α)a + αb for `points` evenly spaced α in [0, 1]
 * (default 21, endpoints included), and the loss barrier
 *
 *   barrier = max_α [ L(θ(α)) − ((1−α)L(a) + αL(b)) ]  (≥ 0, since the endpoints are included),
 *
 * the height of the loss above the straight line between the endpoint losses (linear mode
 * connectivity: ≈ 0 when a and b lie in one convex-looking basin). `dataParallel`: every
 * evaluation split over the MPI ranks ({@link Model.evaluate}).
 */
export function interpolationLosses(
  model: Model,
  a: Float32Array,
  b: Float32Array,
  data: Examples,
  options: { points?: number; batchSize?: number; batchNorm?: BatchNormChoice; dataParallel?: boolean } = {},
): { alpha: number[]; loss: number[]; accuracy: number[]; barrier: number } {
  const d = model.params.length;
  checkVector(a, 'a', d);
  checkVector(b, 'b', d);
  countExamples(model, data);
  parseOptions(interpolationOptionsSchema, options);
  const points = options.points ?? 21;
  const mode = batchNormChoice(options.batchNorm);
  return withSavedParams(model, () => {
    const alpha: number[] = [];
    const loss: number[] = [];
    const accuracy: number[] = [];
    for (let k = 0; k < points; k++) {
      const t = k / (points - 1);
      const p = model.params;
      for (let i = 0; i < d; i++) p[i] = (1 - t) * a[i] + t * b[i];
      const e = meanLoss(model, data, options.batchSize, mode, options.dataParallel);
      alpha.push(t);
      loss.push(e.loss);
      accuracy.push(e.accuracy);
    }
    const l0 = loss[0];
    const l1 = loss[points - 1];
    let barrier = -Infinity;
    for (let k = 0; k < points; k++) barrier = Math.max(barrier, loss[k] - ((1 - alpha[k]) * l0 + alpha[k] * l1));
    return { alpha, loss, accuracy, barrier };
  });
}

function randomGaussian(d: number, rng: Rng): Float64Array {
  const v = new Float64Array(d);
  for (let i = 0; i < d; i++) v[i] = rng.normal();
  return v;
}

function normalize(v: Float64Array): Float64Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

function orthogonalize(v: Float64Array, against: Float64Array): void {
  let c = 0;
  for (let i = 0; i < v.length; i++) c += v[i] * against[i];
  for (let i = 0; i < v.length; i++) v[i] -= c * against[i];
}

/**
 * Projects a trajectory (snapshots θ₀ … θ_T of one flat layout) onto two orthonormal directions
 * through `center` (default: the last snapshot), coords[t] = ((θ_t − c)·d1, (θ_t − c)·d2):
 * - `'pca'`: the top two principal components of the differences θ_t − c (mean-centred, as in
 *   sklearn's PCA; Li et al. 2018, "Visualizing the loss landscape of neural nets", §7), computed
 *   from the T×T Gram matrix in double (cost T²·paramCount); `explained` gives the fraction of the
 *   variance each direction captures;
 * - `'random'`: two seeded Gaussian directions, orthonormalised (for filter-normalised directions
 *   for {@link lossSurface}, see {@link filterNormalizedDirection}).
 * d1 and d2 are unit vectors, so distances in the plane are distances in parameter space.
 */
export function projectTrajectory(
  snapshots: Float32Array[],
  options: { directions: 'pca' | 'random'; seed?: number; center?: Float32Array },
): { d1: Float32Array; d2: Float32Array; coords: Array<[number, number]>; explained?: [number, number] } {
  if (!Array.isArray(snapshots) || snapshots.length < 1)
    throw new TypeError('snapshots must be a non-empty array of Float32Array');
  const d = checkVector(snapshots[0], 'snapshots[0]').length;
  snapshots.forEach((s, i) => checkVector(s, `snapshots[${i}]`, d));
  parseNamed(projectionOptionsSchema, options, 'options');
  const center =
    options.center === undefined ? snapshots[snapshots.length - 1] : checkVector(options.center, 'options.center', d);
  const T = snapshots.length;
  let u1: Float64Array;
  let u2: Float64Array;
  let explained: [number, number] | undefined;
  if (options.directions === 'random') {
    const rng = Rng.fromSeed(options.seed ?? 0, 21);
    u1 = normalize(randomGaussian(d, rng));
    u2 = randomGaussian(d, rng);
    orthogonalize(u2, u1);
    normalize(u2);
  } else {
    if (T < 3) throw new RangeError(`snapshots must hold at least 3 snapshots for 'pca' directions (got ${T})`);
    // Rows m_t = (θ_t − c) − mean; Gram G = M Mᵀ; top eigenvectors of G give the PCs Mᵀe/‖Mᵀe‖.
    const mean = new Float64Array(d);
    for (const s of snapshots) for (let i = 0; i < d; i++) mean[i] += (s[i] - center[i]) / T;
    const rows = snapshots.map((s) => {
      const r = new Float64Array(d);
      for (let i = 0; i < d; i++) r[i] = s[i] - center[i] - mean[i];
      return r;
    });
    const G = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      for (let j = i; j < T; j++) {
        let s = 0;
        const ri = rows[i];
        const rj = rows[j];
        for (let k = 0; k < d; k++) s += ri[k] * rj[k];
        G[i * T + j] = G[j * T + i] = s;
      }
    }
    const eig = symmetricEigen(G, T, true);
    const total = eig.values.reduce((a, b) => a + Math.max(b, 0), 0);
    const pc = (j: number): Float64Array => {
      const u = new Float64Array(d);
      for (let t = 0; t < T; t++) {
        const e = eig.vectors![t * T + j];
        if (e === 0) continue;
        const r = rows[t];
        for (let k = 0; k < d; k++) u[k] += e * r[k];
      }
      return normalize(u);
    };
    u1 = pc(T - 1);
    u2 = pc(T - 2);
    orthogonalize(u2, u1); // exact in theory; removes rounding
    normalize(u2);
    explained = total > 0 ? [Math.max(eig.values[T - 1], 0) / total, Math.max(eig.values[T - 2], 0) / total] : [0, 0];
  }
  const coords: Array<[number, number]> = snapshots.map((s) => {
    let x = 0;
    let y = 0;
    for (let i = 0; i < d; i++) {
      const diff = s[i] - center[i];
      x += diff * u1[i];
      y += diff * u2[i];
    }
    return [x, y];
  });
  const result: { d1: Float32Array; d2: Float32Array; coords: Array<[number, number]>; explained?: [number, number] } =
    {
      d1: Float32Array.from(u1),
      d2: Float32Array.from(u2),
      coords,
    };
  if (explained) result.explained = explained;
  return result;
}

/**
 * A filter-normalised random direction (Li et al. 2018): Gaussian entries, then for every filter
 * (a row of a dense weight [units, in], one output channel of a conv kernel [O, C, k, k]) the
 * direction is rescaled to the norm of the same filter in `params`. Rank-1 tensors (biases,
 * norm scales) get 0 (their "ignore biasbn" setting). Seeded; independent streams per seed.
 */
export function filterNormalizedDirection(layout: NativeLayout, params: Float32Array, seed = 0): Float32Array {
  if (!layout || !Array.isArray(layout.params)) throw new TypeError('layout must be a model layout (model.layout)');
  checkVector(params, 'params', layout.paramCount);
  const rng = Rng.fromSeed(seed, 22);
  const out = new Float32Array(layout.paramCount);
  for (const e of layout.params) {
    if (e.shape.length < 2) continue;
    const rowsCount = e.shape[0];
    const rowSize = e.size / rowsCount;
    for (let r = 0; r < rowsCount; r++) {
      const off = e.offset + r * rowSize;
      const dir = new Float64Array(rowSize);
      let dn = 0;
      let pn = 0;
      for (let i = 0; i < rowSize; i++) {
        dir[i] = rng.normal();
        dn += dir[i] * dir[i];
        pn += params[off + i] * params[off + i];
      }
      const scale = dn > 0 ? Math.sqrt(pn) / Math.sqrt(dn) : 0;
      for (let i = 0; i < rowSize; i++) out[off + i] = dir[i] * scale;
    }
  }
  return out;
}

/**
 * Mean loss over `data` on the plane θ(x, y) = center + x·d1 + y·d2, on a resolution × resolution
 * grid over range = [xMin, xMax, yMin, yMax] (endpoints included). `loss[j][i]` is the loss at
 * (x[i], y[j]) — one row per y, as contour plotters expect.
 */
export function lossSurface(
  model: Model,
  center: Float32Array,
  d1: Float32Array,
  d2: Float32Array,
  data: Examples,
  options: { range: [number, number, number, number]; resolution: number; batchSize?: number },
): { x: number[]; y: number[]; loss: number[][] } {
  const d = model.params.length;
  checkVector(center, 'center', d);
  checkVector(d1, 'd1', d);
  checkVector(d2, 'd2', d);
  countExamples(model, data);
  parseNamed(planeSurfaceOptionsSchema, options, 'options');
  const range = options.range;
  const res = options.resolution;
  const axis = (lo: number, hi: number) => Array.from({ length: res }, (_, i) => lo + ((hi - lo) * i) / (res - 1));
  const xs = axis(range[0], range[1]);
  const ys = axis(range[2], range[3]);
  return withSavedParams(model, () => {
    const loss: number[][] = [];
    const p = model.params;
    for (const y of ys) {
      const row: number[] = [];
      for (const x of xs) {
        for (let i = 0; i < d; i++) p[i] = center[i] + x * d1[i] + y * d2[i];
        row.push(model.evaluate(data, { batchSize: options.batchSize }).loss);
      }
      loss.push(row);
    }
    return { x: xs, y: ys, loss };
  });
}
