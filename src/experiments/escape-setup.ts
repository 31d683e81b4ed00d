/**
 * Shared by E2 (escape.ts) and E3 (noise.ts): the data and model parts of their configs, their
 * validation (errors name the field), loading the data set (with the synthetic fallback when a
 * named data set is not on this machine), building the model spec, and small numeric helpers.
 */
import {
  DatasetNotFoundError,
  loadDataset,
  normalize,
  subset,
  synthetic,
  type Dataset,
  type DatasetSplits,
  type SyntheticSpec,
} from '../data/index.js';
import type { Examples } from '../model/model.js';
import { mlp, resnet, smallCnn, type ModelSpec } from '../model/spec.js';
import { inSharedMemory } from '../train/shared-data.js';
import { parseNamed } from '../util/schema.js';
import { dataSchema, modelSchema, sharpnessSchema } from './setup-schema.js';

// ---- config parts ---------------------------------------------------------------------------------

/** A synthetic classification set (generated from its own seed; see src/data/synthetic.ts). */
export type SyntheticDataConfig =
  | {
      kind: 'gaussian-mixture';
      k: number;
      d: number;
      nTrain: number;
      nTest: number;
      seed: number;
      separation?: number;
      noise?: number;
    }
  | { kind: 'two-spirals'; nTrain: number; nTest: number; seed: number; noise?: number; turns?: number }
  | {
      kind: 'teacher-classification';
      d: number;
      nTrain: number;
      nTest: number;
      seed: number;
      numClasses?: number;
      hidden?: number;
      activation?: 'tanh' | 'relu';
    };

export interface DataConfig {
  /** 'synthetic' uses `synthetic`; a named data set is read from local files (see src/data/load.ts). */
  source: 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100' | 'synthetic';
  /** Training examples per class drawn from the train split (null: the whole split). Named sets only. */
  trainPerClass: number | null;
  /** Test examples drawn from the test split (null: the whole split). Named sets only. */
  testSize: number | null;
  /** Seed of the subset draws (defines the problem; `--seed` does not change it). */
  seed: number;
  /** Download a named set when it is not found locally (false on machines without network). */
  download: boolean;
  /** The synthetic set used when `source` is 'synthetic', or as a fallback when a named set is missing (null: no fallback, fail). */
  synthetic: SyntheticDataConfig | null;
}

export type ModelConfig =
  | { kind: 'mlp'; hidden: number[]; activation?: 'relu' | 'tanh' | 'gelu' }
  | { kind: 'small-cnn'; channels?: [number, number]; hidden?: number }
  | { kind: 'resnet'; width?: number; blocks?: number[]; batchnorm?: boolean };

export interface SharpnessConfig {
  /** Examples of the (fixed, seeded) train subset on which λ_max is measured. */
  subset: number;
  /** Power-iteration budget and relative tolerance of topEigenvalue. */
  iterations: number;
  tolerance: number;
}

// The data, model and sharpness parts are defined once, as zod schemas (setup-schema.ts).
export function validateData(v: unknown, field = 'config.data'): asserts v is DataConfig {
  parseNamed(dataSchema, v, field);
}

export function validateModel(v: unknown, field = 'config.model'): asserts v is ModelConfig {
  parseNamed(modelSchema, v, field);
}

export function validateSharpness(v: unknown, field = 'config.sharpness'): asserts v is SharpnessConfig {
  parseNamed(sharpnessSchema, v, field);
}

// ---- data -----------------------------------------------------------------------------------------

export interface LoadedData {
  train: Examples;
  test: Examples;
  nTrain: number;
  nTest: number;
  shape: number[];
  numClasses: number;
  /** Human-readable: what was actually used, e.g. "fashion-mnist (100/class = 1000 train, 10000 test, subset seed 1)". */
  description: string;
  /** The source actually used ('synthetic:<kind>' after a fallback). */
  source: string;
  /** Why the configured named set was not used (null when it was). */
  fallback: string | null;
  /** Per-channel normalisation statistics (from the train subset). */
  normalization: { mean: number[]; std: number[] };
}

function examples(ds: Dataset): Examples {
  if (!ds.labels) throw new RangeError(`data set ${ds.name} has no class labels; E2/E3 need a classification set`);
  return { x: ds.x, y: inSharedMemory(ds.labels) };
}

function sharedCopy(a: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

function syntheticSplits(s: SyntheticDataConfig): DatasetSplits {
  return synthetic(s as unknown as SyntheticSpec);
}

function describeSynthetic(s: SyntheticDataConfig): string {
  const extra = 'd' in s ? `, d = ${s.d}` : '';
  return `synthetic ${s.kind} (${s.nTrain} train, ${s.nTest} test${extra}, generator seed ${s.seed})`;
}

/**
 * Loads the configured data set: a named set from local files (subset of `trainPerClass` per
 * class and `testSize` test examples, seeded), or the synthetic set. A named set that is not on
 * this machine falls back to `synthetic` when given (the reason is returned in `fallback`);
 * other errors (bad files) are thrown. Inputs are standardised per channel with train statistics.
 */
export async function loadData(c: DataConfig): Promise<LoadedData> {
  let splits: DatasetSplits;
  let description: string;
  let source: string;
  let fallback: string | null = null;
  if (c.source === 'synthetic') {
    splits = syntheticSplits(c.synthetic!);
    description = describeSynthetic(c.synthetic!);
    source = `synthetic:${c.synthetic!.kind}`;
  } else {
    let full: DatasetSplits | null = null;
    try {
      full = await loadDataset(c.source, { download: c.download, progress: false });
    } catch (e) {
      if (!(e instanceof DatasetNotFoundError) || c.synthetic === null) throw e;
      const fix = (e as DatasetNotFoundError).howToFix[0];
      fallback =
        `${c.source} was not found on this machine (${(e as Error).message.split('\n')[0]}); using ${describeSynthetic(c.synthetic)} instead` +
        (fix ? `. To use the real data: ${fix}` : '');
    }
    if (full) {
      const train =
        c.trainPerClass === null ? full.train : subset(full.train, { perClass: c.trainPerClass, seed: c.seed });
      const test =
        c.testSize === null || c.testSize >= full.test.n
          ? full.test
          : subset(full.test, { n: c.testSize, seed: c.seed + 1 });
      splits = { train, test };
      description =
        `${c.source} (${c.trainPerClass === null ? 'all' : `${c.trainPerClass}/class =`} ${train.n} train, ${test.n} test` +
        `${c.trainPerClass === null && test === full.test ? '' : `, subset seed ${c.seed}`})`;
      source = c.source;
    } else {
      splits = syntheticSplits(c.synthetic!);
      description = `${describeSynthetic(c.synthetic!)} — FALLBACK: ${c.source} not found`;
      source = `synthetic:${c.synthetic!.kind}`;
    }
  }
  // The loaded splits may be shared objects (a full split); normalise copies only. The copies go
  // to shared memory once here, so every Trainer of the experiment borrows them instead of taking
  // its own copy (see train/shared-data.ts).
  if (splits.train.x === undefined) throw new Error('data set has no inputs');
  const train = { ...splits.train, x: sharedCopy(splits.train.x) };
  const test = { ...splits.test, x: sharedCopy(splits.test.x) };
  const stats = normalize({ train, test });
  const numClasses = train.numClasses ?? (train.labels ? Math.max(...train.labels) + 1 : 0);
  return {
    train: examples(train),
    test: examples(test),
    nTrain: train.n,
    nTest: test.n,
    shape: [...train.shape],
    numClasses,
    description,
    source,
    fallback,
    normalization: stats,
  };
}

/** The first `n` examples after a seeded draw (a fixed subset, e.g. for sharpness). */
export function trainSubset(data: LoadedData, n: number, seed: number): Examples {
  if (n >= data.nTrain) return data.train;
  const ds: Dataset = {
    name: 'train',
    n: data.nTrain,
    shape: data.shape,
    x: data.train.x,
    labels: data.train.y as Int32Array,
    numClasses: data.numClasses,
  };
  const s = subset(ds, { n, seed });
  return { x: s.x, y: s.labels! };
}

// ---- model ----------------------------------------------------------------------------------------

export function buildSpec(m: ModelConfig, shape: number[], outputs: number): ModelSpec {
  // The MLP keeps the image shape as its input shape (dense layers flatten it) so that image
  // augmentation, which needs [C, H, W], applies to it too.
  if (m.kind === 'mlp') return mlp({ input: shape, hidden: m.hidden, outputs, activation: m.activation });
  if (m.kind === 'small-cnn') return smallCnn({ input: shape, channels: m.channels, hidden: m.hidden, outputs });
  return resnet({ input: shape, width: m.width, blocks: m.blocks, outputs, batchnorm: m.batchnorm ?? false });
}

export function describeModel(m: ModelConfig, paramCount?: number): string {
  const p = paramCount === undefined ? '' : `, ${paramCount.toLocaleString('en-US')} parameters`;
  if (m.kind === 'mlp') return `MLP ${m.hidden.join('-')} (${m.activation ?? 'relu'}${p})`;
  if (m.kind === 'small-cnn')
    return `small CNN (${(m.channels ?? [32, 64]).join('/')} channels, hidden ${m.hidden ?? 128}${p})`;
  return `ResNet width ${m.width ?? 64}, blocks [${(m.blocks ?? [2, 2, 2, 2]).join(',')}], ${m.batchnorm ? 'with' : 'without'} batch norm${p}`;
}

// ---- numeric helpers ------------------------------------------------------------------------------

/** n points log-spaced from a to b inclusive. */
export function logGrid(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => (i === 0 ? a : i === n - 1 ? b : a * Math.pow(b / a, i / (n - 1))));
}

export function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) * (b - m), 0) / (xs.length - 1));
}

export const fmt = (x: number | null | undefined, p = 3): string =>
  x === null || x === undefined ? 'n/a' : Number.isFinite(x) ? Number(x.toPrecision(p)).toString() : String(x);
