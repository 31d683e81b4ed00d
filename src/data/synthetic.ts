/**
 * Synthetic datasets generated from a seed, identical across runs and platforms (xoshiro256**
 * from util/random.ts, arithmetic in float64, stored as float32).
 *
 * Streams of the seed: 0 = the distribution's parameters (centres, teacher weights, separating
 * direction), 1 = the train split, 2 = the test split. Train and test therefore come from the same
 * distribution, and changing `nTest` never changes the train set (nor vice versa).
 */
import { z } from 'zod';

import { formatValue } from '../util/format.js';
import { kindUnionError, parseNamed } from '../util/schema.js';
import { Rng, type Seed } from '../util/random.js';
import type { Dataset, DatasetSplits } from './types.js';

// ---- The generators' options as zod schemas (messages name the option: `opts.k must be …`) ----------

/** A number with one message for a wrong type or value (`what`, e.g. "a positive integer"). */
const num = (what: string) => z.number({ error: (i) => `must be ${what}, got ${formatValue(i.input)}` });
const posInt = () =>
  num('a positive integer')
    .int({ error: (i) => `must be a positive integer, got ${String(i.input)}` })
    .min(1, { error: (i) => `must be a positive integer, got ${String(i.input)}` })
    .max(2 ** 31 - 1, { error: (i) => `must be a positive integer <= 2^31 - 1, got ${String(i.input)}` });
const finiteNonNeg = () =>
  num('a finite number >= 0').min(0, { error: (i) => `must be a finite number >= 0, got ${String(i.input)}` });
/** Examples of one split: a non-negative integer up to MAX_SYNTHETIC_EXAMPLES (the features must fit in memory). */
const splitSize = () =>
  num('a non-negative integer')
    .int({ error: (i) => `must be a non-negative integer, got ${String(i.input)}` })
    .min(0, { error: (i) => `must be a non-negative integer, got ${String(i.input)}` })
    .max(MAX_SYNTHETIC_EXAMPLES, {
      error: (i) => `must be at most ${MAX_SYNTHETIC_EXAMPLES} examples, got ${String(i.input)}`,
    });

/** Most examples a split may have (typed arrays hold at most 2^32 elements; the features of one split must fit). */
export const MAX_SYNTHETIC_EXAMPLES = 2 ** 26;

/** Sizes and seed: the seed is checked by Rng.fromSeed (a number or a bigint). */
const sizeShape = { nTrain: splitSize(), nTest: splitSize(), seed: z.unknown().optional() };
const teacherShape = {
  ...sizeShape,
  d: posInt(),
  hidden: posInt().optional(),
  activation: z
    .enum(['tanh', 'relu'], { error: (i) => `must be 'tanh' or 'relu', got ${formatValue(i.input)}` })
    .optional(),
};
/** Each generator's options by kind (zod shapes; experiment configs extend them with tighter limits). */
export const SYNTHETIC_OPTION_SHAPES = {
  'gaussian-mixture': {
    ...sizeShape,
    k: posInt().min(2, { error: (i) => `must be >= 2, got ${String(i.input)}` }),
    d: posInt(),
    separation: finiteNonNeg().optional(),
    noise: finiteNonNeg().optional(),
  },
  'two-spirals': { ...sizeShape, turns: finiteNonNeg().optional(), noise: finiteNonNeg().optional() },
  'teacher-regression': { ...teacherShape, targetDim: posInt().optional(), noise: finiteNonNeg().optional() },
  'teacher-classification': {
    ...teacherShape,
    numClasses: posInt()
      .min(2, { error: (i) => `must be >= 2, got ${String(i.input)}` })
      .optional(),
  },
  'linearly-separable': {
    ...sizeShape,
    d: posInt(),
    margin: finiteNonNeg()
      .max(2, { error: (i) => `must be <= 2, got ${String(i.input)}` })
      .optional(),
  },
} as const;
type Kind = keyof typeof SYNTHETIC_OPTION_SHAPES;

const objectError = (i: { input?: unknown }) => `must be an object, got ${formatValue(i.input)}`;
/** One generator's options, called directly (`kind` optional) or from {@link synthetic}. */
const generatorSchema = <K extends Kind>(kind: K) =>
  z.strictObject({ kind: z.literal(kind).optional(), ...SYNTHETIC_OPTION_SHAPES[kind] }, { error: objectError });
const GENERATOR_SCHEMAS = {
  'gaussian-mixture': generatorSchema('gaussian-mixture'),
  'two-spirals': generatorSchema('two-spirals'),
  'teacher-regression': generatorSchema('teacher-regression'),
  'teacher-classification': generatorSchema('teacher-classification'),
  'linearly-separable': generatorSchema('linearly-separable'),
};
/** A generator's checked options (named `opts.<key>` in messages). */
type Checked<K extends Kind> = z.infer<(typeof GENERATOR_SCHEMAS)[K]> & { seed: Seed };
const checked = <K extends Kind>(kind: K, opts: unknown, root: string): Checked<K> =>
  parseNamed(GENERATOR_SCHEMAS[kind], opts, root) as Checked<K>;

/** Sizes and seed shared by every generator. */
export interface SplitSizes {
  nTrain: number;
  nTest: number;
  seed: Seed;
}

/** Balanced labels 0..k-1 (i mod k), shuffled. */
function balancedLabels(n: number, k: number, rng: Rng): Int32Array {
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % k;
  return rng.shuffle(labels);
}

function splits(
  kind: string,
  opts: SplitSizes,
  root: string,
  make: (n: number, rng: Rng) => Omit<Dataset, 'name' | 'n'>,
): DatasetSplits {
  const build = (n: number, stream: number, key: string): Omit<Dataset, 'name' | 'n'> => {
    try {
      return make(n, Rng.fromSeed(opts.seed, stream));
    } catch (e) {
      // V8's "Array buffer allocation failed" / "Invalid typed array length": say which size.
      if (e instanceof RangeError && !e.message.startsWith(`${root}.`))
        throw new RangeError(`${root}.${key} = ${n}: the ${kind} split does not fit in memory (${e.message})`, {
          cause: e,
        });
      throw e;
    }
  };
  const train = build(opts.nTrain, 1, 'nTrain');
  const test = build(opts.nTest, 2, 'nTest');
  return {
    train: { name: `synthetic/${kind}/train`, n: opts.nTrain, ...train },
    test: { name: `synthetic/${kind}/test`, n: opts.nTest, ...test },
  };
}

/** Options of the `gaussian-mixture` synthetic data set (see {@link SyntheticSpec}). */
export interface GaussianMixtureOptions extends SplitSizes {
  /** Number of classes (components), ≥ 2. */
  k: number;
  /** Dimension. */
  d: number;
  /** Centres are N(0, separation²/d · I), so centres are ≈ separation·√2 apart. Default 3. */
  separation?: number;
  /** Within-class standard deviation. Default 1. */
  noise?: number;
}

/**
 * k isotropic Gaussian classes in d dimensions, balanced: x = c_y + noise·ε, ε ~ N(0, I).
 * Shape [d], labels in [0, k).
 */
export function gaussianMixture(opts: GaussianMixtureOptions): DatasetSplits {
  return makeGaussianMixture(checked('gaussian-mixture', opts, 'opts'), 'opts');
}

function makeGaussianMixture(opts: Checked<'gaussian-mixture'>, root: string): DatasetSplits {
  const { k, d } = opts;
  const sep = opts.separation ?? 3;
  const noise = opts.noise ?? 1;
  const prng = Rng.fromSeed(opts.seed, 0);
  const centres = new Float64Array(k * d);
  const cs = sep / Math.sqrt(d);
  for (let i = 0; i < k * d; i++) centres[i] = cs * prng.normal();
  return splits('gaussian-mixture', opts, root, (n, rng) => {
    const labels = balancedLabels(n, k, rng);
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const c = labels[i]! * d;
      for (let j = 0; j < d; j++) x[i * d + j] = centres[c + j]! + noise * rng.normal();
    }
    return { shape: [d], x, labels, numClasses: k };
  });
}

/** Options of the `two-spirals` synthetic data set (see {@link SyntheticSpec}). */
export interface TwoSpiralsOptions extends SplitSizes {
  /** Number of turns of each spiral. Default 1.5. */
  turns?: number;
  /** Gaussian noise added to each coordinate. Default 0.05. */
  noise?: number;
}

/**
 * Two interleaved spirals in the plane (radius ≤ 1), classes 0 and 1, balanced:
 * t ~ U(0,1), r = t, θ = 2π·turns·t + π·y, x = (r cos θ, r sin θ) + noise·ε. Shape [2].
 */
export function twoSpirals(opts: TwoSpiralsOptions): DatasetSplits {
  return makeTwoSpirals(checked('two-spirals', opts, 'opts'), 'opts');
}

function makeTwoSpirals(opts: Checked<'two-spirals'>, root: string): DatasetSplits {
  const turns = opts.turns ?? 1.5;
  const noise = opts.noise ?? 0.05;
  return splits('two-spirals', opts, root, (n, rng) => {
    const labels = balancedLabels(n, 2, rng);
    const x = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const t = rng.uniform();
      const th = 2 * Math.PI * turns * t + Math.PI * labels[i]!;
      x[2 * i] = t * Math.cos(th) + noise * rng.normal();
      x[2 * i + 1] = t * Math.sin(th) + noise * rng.normal();
    }
    return { shape: [2], x, labels, numClasses: 2 };
  });
}

/** The random teacher network shared by the `teacher-*` synthetic data sets. */
export interface TeacherOptions extends SplitSizes {
  /** Input dimension; inputs are x ~ N(0, I_d). */
  d: number;
  /** Teacher hidden width. Default 32. */
  hidden?: number;
  /** Teacher activation. Default 'tanh'. */
  activation?: 'tanh' | 'relu';
}

/** A random one-hidden-layer teacher f(x) = W2 σ(W1 x + b1) + b2, W1 ~ N(0, 1/d), W2 ~ N(0, 1/h), b ~ N(0, 0.1²). */
function makeTeacher(
  opts: Checked<'teacher-regression' | 'teacher-classification'>,
  out: number,
): { d: number; forward: (x: Float32Array, off: number, y: Float64Array) => void } {
  const d = opts.d;
  const h = opts.hidden ?? 32;
  const act = opts.activation ?? 'tanh';
  const rng = Rng.fromSeed(opts.seed, 0);
  const w1 = new Float64Array(h * d);
  const b1 = new Float64Array(h);
  const w2 = new Float64Array(out * h);
  const b2 = new Float64Array(out);
  for (let i = 0; i < w1.length; i++) w1[i] = rng.normal() / Math.sqrt(d);
  for (let i = 0; i < h; i++) b1[i] = 0.1 * rng.normal();
  for (let i = 0; i < w2.length; i++) w2[i] = rng.normal() / Math.sqrt(h);
  for (let i = 0; i < out; i++) b2[i] = 0.1 * rng.normal();
  const hid = new Float64Array(h);
  return {
    d,
    forward(x, off, y) {
      for (let a = 0; a < h; a++) {
        let s = b1[a]!;
        for (let j = 0; j < d; j++) s += w1[a * d + j]! * x[off + j]!;
        hid[a] = act === 'tanh' ? Math.tanh(s) : Math.max(0, s);
      }
      for (let o = 0; o < out; o++) {
        let s = b2[o]!;
        for (let a = 0; a < h; a++) s += w2[o * h + a]! * hid[a]!;
        y[o] = s;
      }
    },
  };
}

function gaussianInputs(n: number, d: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) x[i] = rng.normal();
  return x;
}

/** Options of the `teacher-regression` synthetic data set (see {@link SyntheticSpec}). */
export interface TeacherRegressionOptions extends TeacherOptions {
  /** Output dimension. Default 1. */
  targetDim?: number;
  /** Std of Gaussian label noise added to the teacher's output. Default 0. */
  noise?: number;
}

/** Teacher–student regression: targets = teacher(x) + noise·ε. Shape [d], targets [n, targetDim]. */
export function teacherRegression(opts: TeacherRegressionOptions): DatasetSplits {
  return makeTeacherRegression(checked('teacher-regression', opts, 'opts'), 'opts');
}

function makeTeacherRegression(opts: Checked<'teacher-regression'>, root: string): DatasetSplits {
  const td = opts.targetDim ?? 1;
  const noise = opts.noise ?? 0;
  const teacher = makeTeacher(opts, td);
  const d = teacher.d;
  return splits('teacher-regression', opts, root, (n, rng) => {
    const x = gaussianInputs(n, d, rng);
    const targets = new Float32Array(n * td);
    const y = new Float64Array(td);
    for (let i = 0; i < n; i++) {
      teacher.forward(x, i * d, y);
      for (let o = 0; o < td; o++) targets[i * td + o] = y[o]! + noise * rng.normal();
    }
    return { shape: [d], x, targets, targetDim: td };
  });
}

/** Options of the `teacher-classification` synthetic data set (see {@link SyntheticSpec}). */
export interface TeacherClassificationOptions extends TeacherOptions {
  /** Number of classes (teacher outputs); label = argmax. Default 2. */
  numClasses?: number;
}

/** Teacher–student classification: label = argmax teacher(x). Classes need not be balanced. */
export function teacherClassification(opts: TeacherClassificationOptions): DatasetSplits {
  return makeTeacherClassification(checked('teacher-classification', opts, 'opts'), 'opts');
}

function makeTeacherClassification(opts: Checked<'teacher-classification'>, root: string): DatasetSplits {
  const k = opts.numClasses ?? 2;
  const teacher = makeTeacher(opts, k);
  const d = teacher.d;
  return splits('teacher-classification', opts, root, (n, rng) => {
    const x = gaussianInputs(n, d, rng);
    const labels = new Int32Array(n);
    const y = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      teacher.forward(x, i * d, y);
      let best = 0;
      for (let o = 1; o < k; o++) if (y[o]! > y[best]!) best = o;
      labels[i] = best;
    }
    return { shape: [d], x, labels, numClasses: k };
  });
}

/** Options of the `linearly-separable` synthetic data set (see {@link SyntheticSpec}). */
export interface LinearlySeparableOptions extends SplitSizes {
  d: number;
  /** Points with |w·x| < margin are redrawn (w a unit vector), so the classes are separated by a gap of 2·margin. Default 0.1, at most 2. */
  margin?: number;
}

/** Linearly separable binary classes: x ~ N(0, I_d) conditioned on |w·x| ≥ margin, label = [w·x > 0]. Shape [d]. */
export function linearlySeparable(opts: LinearlySeparableOptions): DatasetSplits {
  return makeLinearlySeparable(checked('linearly-separable', opts, 'opts'), 'opts');
}

function makeLinearlySeparable(opts: Checked<'linearly-separable'>, root: string): DatasetSplits {
  const d = opts.d;
  const margin = opts.margin ?? 0.1;
  const prng = Rng.fromSeed(opts.seed, 0);
  const w = new Float64Array(d);
  let norm = 0;
  while (norm === 0) {
    norm = 0;
    for (let j = 0; j < d; j++) {
      w[j] = prng.normal();
      norm += w[j]! * w[j]!;
    }
  }
  norm = Math.sqrt(norm);
  for (let j = 0; j < d; j++) w[j]! /= norm;
  return splits('linearly-separable', opts, root, (n, rng) => {
    const x = new Float32Array(n * d);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let s: number;
      do {
        s = 0;
        for (let j = 0; j < d; j++) {
          const v = Math.fround(rng.normal());
          x[i * d + j] = v;
          s += w[j]! * v;
        }
      } while (Math.abs(s) < margin);
      labels[i] = s > 0 ? 1 : 0;
    }
    return { shape: [d], x, labels, numClasses: 2 };
  });
}

/** A JSON-able description of a synthetic dataset, for experiment specs. */
export type SyntheticSpec =
  | ({ kind: 'gaussian-mixture' } & GaussianMixtureOptions)
  | ({ kind: 'two-spirals' } & TwoSpiralsOptions)
  | ({ kind: 'teacher-regression' } & TeacherRegressionOptions)
  | ({ kind: 'teacher-classification' } & TeacherClassificationOptions)
  | ({ kind: 'linearly-separable' } & LinearlySeparableOptions);

/** The `kind`s of {@link SyntheticSpec}. */
export const SYNTHETIC_KINDS = [
  'gaussian-mixture',
  'two-spirals',
  'teacher-regression',
  'teacher-classification',
  'linearly-separable',
] as const;

/** {@link SyntheticSpec}: one strict object per kind. */
const syntheticSpecSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('gaussian-mixture'), ...SYNTHETIC_OPTION_SHAPES['gaussian-mixture'] }),
    z.strictObject({ kind: z.literal('two-spirals'), ...SYNTHETIC_OPTION_SHAPES['two-spirals'] }),
    z.strictObject({ kind: z.literal('teacher-regression'), ...SYNTHETIC_OPTION_SHAPES['teacher-regression'] }),
    z.strictObject({ kind: z.literal('teacher-classification'), ...SYNTHETIC_OPTION_SHAPES['teacher-classification'] }),
    z.strictObject({ kind: z.literal('linearly-separable'), ...SYNTHETIC_OPTION_SHAPES['linearly-separable'] }),
  ],
  { error: kindUnionError("an object such as { kind: 'two-spirals', nTrain, nTest, seed }", SYNTHETIC_KINDS) },
);

/** Generates the synthetic dataset described by `spec`. */
export function synthetic(spec: SyntheticSpec): DatasetSplits {
  const checkedSpec = parseNamed(syntheticSpecSchema, spec, 'spec') as Checked<Kind> & { kind: Kind };
  switch (checkedSpec.kind) {
    case 'gaussian-mixture':
      return makeGaussianMixture(checkedSpec as Checked<'gaussian-mixture'>, 'spec');
    case 'two-spirals':
      return makeTwoSpirals(checkedSpec as Checked<'two-spirals'>, 'spec');
    case 'teacher-regression':
      return makeTeacherRegression(checkedSpec as Checked<'teacher-regression'>, 'spec');
    case 'teacher-classification':
      return makeTeacherClassification(checkedSpec as Checked<'teacher-classification'>, 'spec');
    case 'linearly-separable':
      return makeLinearlySeparable(checkedSpec as Checked<'linearly-separable'>, 'spec');
  }
}
