/**
 * Per-channel standardisation. The channel axis is the first per-example axis: C for CHW images
 * ([C, H, W]), and each feature for vectors ([d]). Statistics are accumulated in float64.
 */
import { z } from 'zod';

import type { Dataset, DatasetSplits } from './types.js';
import { exampleSize } from './types.js';
import { formatValue } from '../util/format.js';
import { parseNamed, positiveNumber } from '../util/schema.js';

/** Per-channel mean and (population) standard deviation. Plain arrays, so they can be recorded as JSON. */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

function channels(ds: Dataset): { c: number; spatial: number } {
  if (ds.shape.length === 0) return { c: 1, spatial: 1 };
  const c = ds.shape[0]!;
  return { c, spatial: exampleSize(ds.shape) / c };
}

/** Computes per-channel mean and population std of `ds.x` (two passes, float64). */
export function channelStats(ds: Dataset): ChannelStats {
  const { c, spatial } = channels(ds);
  const per = c * spatial;
  const sum = new Float64Array(c);
  const x = ds.x;
  for (let i = 0; i < ds.n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = i * per + ch * spatial;
      let s = 0;
      for (let j = 0; j < spatial; j++) s += x[base + j]!;
      sum[ch]! += s;
    }
  }
  const count = ds.n * spatial;
  const mean = Array.from(sum, (s) => s / count);
  const sq = new Float64Array(c);
  for (let i = 0; i < ds.n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = i * per + ch * spatial;
      const m = mean[ch]!;
      let s = 0;
      for (let j = 0; j < spatial; j++) {
        const d = x[base + j]! - m;
        s += d * d;
      }
      sq[ch]! += s;
    }
  }
  const std = Array.from(sq, (s) => Math.sqrt(s / count));
  return { mean, std };
}

/**
 * Applies x ← (x − mean[c]) / std[c] to `ds.x` **in place** and returns `ds`. A channel whose std
 * is below `eps` (constant channel) is only centred (divided by 1), so no NaN/Inf can appear.
 */
export function applyNormalization(ds: Dataset, stats: ChannelStats, eps = 1e-8): Dataset {
  const { c, spatial } = channels(ds);
  if (stats.mean.length !== c || stats.std.length !== c) {
    throw new RangeError(
      `stats must have ${c} channels for ${ds.name} (shape [${ds.shape.join(', ')}]); got ${stats.mean.length}`,
    );
  }
  const per = c * spatial;
  const x = ds.x;
  for (let ch = 0; ch < c; ch++) {
    const m = stats.mean[ch]!;
    const s = stats.std[ch]!;
    const inv = s >= eps ? 1 / s : 1;
    for (let i = 0; i < ds.n; i++) {
      const base = i * per + ch * spatial;
      for (let j = 0; j < spatial; j++) x[base + j] = (x[base + j]! - m) * inv;
    }
  }
  return ds;
}

/** The options of {@link normalize}. */
const normalizeOptionsSchema = z.strictObject(
  { eps: positiveNumber().optional() },
  { error: (i) => `must be an object such as { eps: 1e-8 } (got ${formatValue(i.input)})` },
);

/**
 * Standardises both splits **in place** with per-channel statistics computed on the training
 * split only (so no test information leaks into training). Returns the statistics used, to be
 * recorded with a run. After this, each train channel has mean ≈ 0 and std ≈ 1.
 */
export function normalize(splits: DatasetSplits, opts: { eps?: number } = {}): ChannelStats {
  if (typeof splits !== 'object' || splits === null)
    throw new TypeError(`splits must be an object { train, test } (got ${formatValue(splits)})`);
  for (const key of ['train', 'test'] as const) {
    const ds = (splits as unknown as Record<string, unknown>)[key] as Partial<Dataset> | undefined;
    if (
      typeof ds !== 'object' ||
      ds === null ||
      !(ds.x instanceof Float32Array) ||
      !Array.isArray(ds.shape) ||
      typeof ds.n !== 'number'
    )
      throw new TypeError(`splits.${key} must be a data set { x: Float32Array, n, shape } (got ${formatValue(ds)})`);
  }
  const { eps } = parseNamed(normalizeOptionsSchema, opts, 'opts');
  const stats = channelStats(splits.train);
  applyNormalization(splits.train, stats, eps);
  applyNormalization(splits.test, stats, eps);
  return stats;
}
