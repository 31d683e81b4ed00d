/**
 * Loss landscapes around θ (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the loss
 * landscape of neural nets"): filter-normalised random directions, 1-D and 2-D surfaces along
 * random or given directions, the plane of a trajectory's top-2 principal directions with the
 * projected path on it, and the loss along the line between two solutions.
 *
 * Filter normalisation: for every filter of a weight tensor — a row of a dense weight
 * [units, in], one output channel [C, k, k] of a conv kernel [O, C, k, k] — the direction is
 * rescaled to the norm of the same filter in θ. Rank-1 tensors (biases, batch-norm scale and
 * shift) get 0 with `excludeBiasAndNorm` (the default, loss-landscape's `ignore='biasbn'`), else
 * a copy of θ's values (its convention for 1-D tensors). Batch-norm running statistics are kept
 * fixed unless `includeBatchNormState`, which moves them along a copy of themselves (scaled by the
 * same coordinate as the first direction), as loss-landscape's `dir_type='states'` does.
 *
 * Evaluation is the model's native mean loss with batch norm in eval mode (running statistics)
 * unless `batchNorm: 'train'` (batch statistics of each `batchSize` chunk, trajectory.ts
 * `meanLoss`), row by row with progress; every result states `batchNorm`. `model.params` and
 * `model.state` are restored bit for bit.
 */
import type { NativeLayout } from '../native/binding.js';
import type { Examples, Model } from '../model/model.js';
import { createProgress } from '../util/progress.js';
import { Rng } from '../util/random.js';
import { batchNormChoice, batchNormMode, countExamples, type BatchNormChoice, type BatchNormMode } from './hessian.js';
import {
  directionOptionsSchema,
  interpolationPathOptionsSchema,
  parseOptions,
  surface1dOptionsSchema,
  surface2dOptionsSchema,
  trajectorySurfaceOptionsSchema,
  type SameKeys,
} from './options.js';
import { interpolationLosses, meanLoss, projectTrajectory } from './trajectory.js';

/** How random directions are drawn and filter-normalised (biases / batch norm excluded or not). */
export interface DirectionOptions {
  /** Zero the direction on rank-1 tensors (biases, batch-norm scale/shift); default true. */
  excludeBiasAndNorm?: boolean;
}

/**
 * Filter-normalises `direction` in place of a copy: returns d with d_f ← d_f·‖θ_f‖/‖d_f‖ for every
 * filter f (rows of dense weights, output channels of conv kernels); rank-1 tensors as in the
 * module documentation. A zero filter in `direction` stays zero.
 */
export function filterNormalize(
  layout: NativeLayout,
  params: Float32Array,
  direction: Float32Array,
  options: DirectionOptions = {},
): Float32Array {
  parseOptions(directionOptionsSchema, options);
  if (params.length !== layout.paramCount)
    throw new RangeError(`params must have length ${layout.paramCount} (got ${params.length})`);
  if (direction.length !== layout.paramCount)
    throw new RangeError(`direction must have length ${layout.paramCount} (got ${direction.length})`);
  const exclude = options.excludeBiasAndNorm ?? true;
  const out = new Float32Array(layout.paramCount);
  for (const e of layout.params) {
    if (e.shape.length < 2) {
      if (!exclude) out.set(params.subarray(e.offset, e.offset + e.size), e.offset);
      continue;
    }
    const filters = e.shape[0];
    const size = e.size / filters;
    for (let f = 0; f < filters; f++) {
      const off = e.offset + f * size;
      let dn = 0;
      let pn = 0;
      for (let i = 0; i < size; i++) {
        dn += direction[off + i] ** 2;
        pn += params[off + i] ** 2;
      }
      const scale = dn > 0 ? Math.sqrt(pn / dn) : 0;
      for (let i = 0; i < size; i++) out[off + i] = direction[off + i] * scale;
    }
  }
  return out;
}

/** A seeded Gaussian direction, filter-normalised against `params`. */
export function randomFilterDirection(
  layout: NativeLayout,
  params: Float32Array,
  seed = 0,
  options: DirectionOptions = {},
): Float32Array {
  const rng = Rng.fromSeed(seed, 23);
  const raw = new Float32Array(layout.paramCount);
  for (let i = 0; i < raw.length; i++) raw[i] = rng.normal();
  return filterNormalize(layout, params, raw, options);
}

/** Options of a 1-D or 2-D loss surface: directions, the grid and its range. */
export interface SurfaceOptions extends DirectionOptions {
  /** Directions (length paramCount); default: seeded filter-normalised random ones (seed, seed + 1). */
  d1?: Float32Array;
  d2?: Float32Array;
  seed?: number;
  /** [xMin, xMax, yMin, yMax] (2-D) or [min, max] (1-D); default ±1. */
  range?: number[];
  /** Points per axis (default 21). */
  resolution?: number;
  /** Move batch-norm running statistics along a copy of themselves with the x coordinate (default false). */
  includeBatchNormState?: boolean;
  batchSize?: number;
  /** Batch norm with running statistics ('eval', default) or each chunk's batch statistics ('train'). */
  batchNorm?: BatchNormChoice;
  /** Progress on stderr (default false). */
  progress?: boolean;
}

const sameKeys: SameKeys<SurfaceOptions, ReturnType<typeof surface2dOptionsSchema.parse>> = true;
void sameKeys;

/** A 2-D surface as data: loss[j][i] and accuracy[j][i] at (x[i], y[j]). */
export interface Surface2D {
  x: number[];
  y: number[];
  loss: number[][];
  accuracy: number[][];
  batchNorm: BatchNormMode;
  /** How the directions were made. */
  directions: 'filter-normalized random' | 'given';
  excludeBiasAndNorm: boolean;
  includeBatchNormState: boolean;
  examples: number;
}

function axis(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

/**
 * The mean loss (and accuracy) over `data` on the plane θ + x·d1 + y·d2 around the model's θ, on
 * a resolution × resolution grid, evaluated row by row with progress.
 */
export function lossSurface2d(model: Model, data: Examples, options: SurfaceOptions = {}): Surface2D {
  parseOptions(surface2dOptionsSchema, options);
  const examples = countExamples(model, data);
  const res = options.resolution ?? 21;
  const range = options.range ?? [-1, 1, -1, 1];
  const center = model.params.slice();
  const state = model.state.slice();
  const given = options.d1 !== undefined || options.d2 !== undefined;
  if (given && (!(options.d1 instanceof Float32Array) || !(options.d2 instanceof Float32Array)))
    throw new TypeError('options.d1 and options.d2 must both be Float32Arrays');
  const seed = options.seed ?? 0;
  const dirOptions = { excludeBiasAndNorm: options.excludeBiasAndNorm };
  const d1 = options.d1 ?? randomFilterDirection(model.layout, center, seed, dirOptions);
  const d2 = options.d2 ?? randomFilterDirection(model.layout, center, seed + 1, dirOptions);
  if (d1.length !== center.length || d2.length !== center.length)
    throw new RangeError(`options.d1/d2 must have length paramCount ${center.length}`);
  const xs = axis(range[0], range[1], res);
  const ys = axis(range[2], range[3], res);
  const moveState = options.includeBatchNormState ?? false;
  const mode = batchNormChoice(options.batchNorm);
  const progress = createProgress({ label: 'loss surface', total: res * res, quiet: !options.progress });
  const loss: number[][] = [];
  const accuracy: number[][] = [];
  const p = model.params;
  try {
    for (const y of ys) {
      const row: number[] = [];
      const accRow: number[] = [];
      for (const x of xs) {
        for (let i = 0; i < p.length; i++) p[i] = center[i] + x * d1[i] + y * d2[i];
        if (moveState) for (let i = 0; i < state.length; i++) model.state[i] = state[i] * (1 + x);
        const e = meanLoss(model, data, options.batchSize, mode);
        row.push(e.loss);
        accRow.push(e.accuracy);
      }
      loss.push(row);
      accuracy.push(accRow);
      progress.increment(res);
    }
  } finally {
    model.params.set(center);
    model.state.set(state);
    progress.done();
  }
  return {
    x: xs,
    y: ys,
    loss,
    accuracy,
    batchNorm: batchNormMode(model, mode),
    directions: given ? 'given' : 'filter-normalized random',
    excludeBiasAndNorm: options.excludeBiasAndNorm ?? true,
    includeBatchNormState: moveState,
    examples,
  };
}

/** The 1-D slice θ + α·d (d given or filter-normalised random), `resolution` points over range [min, max]. */
export function lossSurface1d(
  model: Model,
  data: Examples,
  options: Omit<SurfaceOptions, 'd2'> = {},
): { alpha: number[]; loss: number[]; accuracy: number[]; batchNorm: BatchNormMode; examples: number } {
  parseOptions(surface1dOptionsSchema, options);
  const examples = countExamples(model, data);
  const res = options.resolution ?? 21;
  const range = options.range ?? [-1, 1];
  const center = model.params.slice();
  const state = model.state.slice();
  const d =
    options.d1 ??
    randomFilterDirection(model.layout, center, options.seed ?? 0, { excludeBiasAndNorm: options.excludeBiasAndNorm });
  if (!(d instanceof Float32Array) || d.length !== center.length)
    throw new RangeError(`options.d1 must be a Float32Array of length paramCount ${center.length}`);
  const alpha = axis(range[0], range[1], res);
  const mode = batchNormChoice(options.batchNorm);
  const loss: number[] = [];
  const accuracy: number[] = [];
  try {
    for (const a of alpha) {
      for (let i = 0; i < center.length; i++) model.params[i] = center[i] + a * d[i];
      if (options.includeBatchNormState) for (let i = 0; i < state.length; i++) model.state[i] = state[i] * (1 + a);
      const e = meanLoss(model, data, options.batchSize, mode);
      loss.push(e.loss);
      accuracy.push(e.accuracy);
    }
  } finally {
    model.params.set(center);
    model.state.set(state);
  }
  return { alpha, loss, accuracy, batchNorm: batchNormMode(model, mode), examples };
}

/**
 * The loss between two solutions a and b (and its barrier): trajectory.ts's
 * {@link interpolationLosses}, with the batch-norm mode stated.
 */
export function interpolationPath(
  model: Model,
  a: Float32Array,
  b: Float32Array,
  data: Examples,
  options: { points?: number; batchSize?: number; batchNorm?: BatchNormChoice } = {},
): ReturnType<typeof interpolationLosses> & { batchNorm: BatchNormMode } {
  parseOptions(interpolationPathOptionsSchema, options);
  const mode = batchNormChoice(options.batchNorm);
  return { ...interpolationLosses(model, a, b, data, options), batchNorm: batchNormMode(model, mode) };
}

/**
 * The plane of a trajectory (Li et al. §7): its top-2 principal directions of the iterates minus
 * the final point, the path projected on them, and the loss surface on that plane around the
 * final point, over the path's extent plus `margin` (fraction, default 0.25) on each side. The
 * model's θ is ignored (the surface is centred on the last snapshot) and restored.
 */
export function trajectorySurface(
  model: Model,
  snapshots: Float32Array[],
  data: Examples,
  options: {
    resolution?: number;
    margin?: number;
    batchSize?: number;
    batchNorm?: BatchNormChoice;
    progress?: boolean;
  } = {},
): {
  surface: Surface2D;
  path: Array<[number, number]>;
  explained: [number, number];
  d1: Float32Array;
  d2: Float32Array;
} {
  parseOptions(trajectorySurfaceOptionsSchema, options);
  const proj = projectTrajectory(snapshots, { directions: 'pca' });
  const margin = options.margin ?? 0.25;
  const xs = proj.coords.map((c) => c[0]);
  const ys = proj.coords.map((c) => c[1]);
  const span = (v: number[]): [number, number] => {
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    const pad = margin * Math.max(hi - lo, 1e-6);
    return [lo - pad, hi + pad];
  };
  const saved = model.params.slice();
  model.params.set(snapshots[snapshots.length - 1]);
  try {
    const surface = lossSurface2d(model, data, {
      d1: proj.d1,
      d2: proj.d2,
      range: [...span(xs), ...span(ys)],
      resolution: options.resolution,
      batchSize: options.batchSize,
      batchNorm: options.batchNorm,
      progress: options.progress,
    });
    return { surface, path: proj.coords, explained: proj.explained!, d1: proj.d1, d2: proj.d2 };
  } finally {
    model.params.set(saved);
  }
}
