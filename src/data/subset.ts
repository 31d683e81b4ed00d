/**
 * Subsets of a dataset, always copied into fresh contiguous arrays (in-place operations on a
 * subset never touch the parent). Selected examples keep their original relative order.
 */
import { Rng, type Seed } from '../util/random.js';
import type { Dataset } from './types.js';
import { exampleSize } from './types.js';

/**
 * Gathers the examples at `indices` (in that order) into a new dataset with contiguous arrays.
 */
export function take(ds: Dataset, indices: ArrayLike<number>, name = `${ds.name}[${indices.length}]`): Dataset {
  const per = exampleSize(ds.shape);
  const n = indices.length;
  const x = new Float32Array(n * per);
  const labels = ds.labels ? new Int32Array(n) : undefined;
  const td = ds.targets ? (ds.targetDim ?? ds.targets.length / ds.n) : 0;
  const targets = ds.targets ? new Float32Array(n * td) : undefined;
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new RangeError(`indices[${k}] must be an integer in [0, ${ds.n}), got ${i}`);
    }
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    if (labels) labels[k] = ds.labels![i]!;
    if (targets) targets.set(ds.targets!.subarray(i * td, (i + 1) * td), k * td);
  }
  const out: Dataset = { name, n, shape: [...ds.shape], x };
  if (labels) out.labels = labels;
  if (targets) out.targets = targets;
  if (ds.numClasses !== undefined) out.numClasses = ds.numClasses;
  if (ds.targetDim !== undefined) out.targetDim = ds.targetDim;
  return out;
}

/** Which examples {@link subset} keeps. */
export type SubsetOptions =
  /** The first `n` examples. */
  | { n: number; seed?: undefined; perClass?: undefined }
  /** `n` examples drawn uniformly without replacement with `seed`. */
  | { n: number; seed: Seed; perClass?: undefined }
  /** `perClass` examples of every class drawn with `seed` (classification datasets only). */
  | { perClass: number; seed: Seed; n?: undefined };

function checkCount(v: unknown, param: string, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new RangeError(`${param} must be a non-negative integer, got ${String(v)}`);
  }
  if (v > max) throw new RangeError(`${param} = ${v} exceeds ${what} (${max})`);
  return v;
}

/**
 * A subset: `{ n }` first n; `{ n, seed }` n at random; `{ perClass, seed }` n of each class.
 * Random draws use the xoshiro256** stream (seed, stream 0) and a partial Fisher–Yates shuffle;
 * the chosen indices are sorted, so the subset keeps the original order.
 */
export function subset(ds: Dataset, opts: SubsetOptions): Dataset {
  if (opts.perClass !== undefined) {
    if (!ds.labels || ds.numClasses === undefined) {
      throw new RangeError(`opts.perClass needs a classification dataset with labels; ${ds.name} has none`);
    }
    const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
    for (let i = 0; i < ds.n; i++) byClass[ds.labels[i]!]!.push(i);
    const minCount = Math.min(...byClass.map((c) => c.length));
    checkCount(opts.perClass, 'opts.perClass', minCount, `the smallest class size of ${ds.name}`);
    const rng = Rng.fromSeed(opts.seed, 0);
    const chosen: number[] = [];
    for (const members of byClass) {
      // partial Fisher–Yates: the first perClass slots become a uniform sample
      for (let i = 0; i < opts.perClass; i++) {
        const j = i + rng.below(members.length - i);
        const t = members[i]!;
        members[i] = members[j]!;
        members[j] = t;
        chosen.push(members[i]!);
      }
    }
    chosen.sort((a, b) => a - b);
    return take(ds, chosen, `${ds.name}[${opts.perClass}/class, seed ${opts.seed}]`);
  }
  const n = checkCount(opts.n, 'opts.n', ds.n, `the size of ${ds.name}`);
  if (opts.seed === undefined) {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    return take(ds, idx, `${ds.name}[:${n}]`);
  }
  const rng = Rng.fromSeed(opts.seed, 0);
  const perm = new Int32Array(ds.n);
  for (let i = 0; i < ds.n; i++) perm[i] = i;
  for (let i = 0; i < n; i++) {
    const j = i + rng.below(ds.n - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  const idx = perm.subarray(0, n).sort();
  return take(ds, idx, `${ds.name}[${n} random, seed ${opts.seed}]`);
}
