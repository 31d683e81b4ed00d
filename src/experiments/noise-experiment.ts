/**
 * E3 — noise is not enough: the definition (presets, config validation, the claim verdicts, the
 * headline and table). The computation is noise.ts, the figures noise-figures.ts.
 *
 * Claim verdicts (rules fixed before any run; docs/experiments.md, E3). For each budget b in
 * config.budgets, the "noise arms" are the small-η arms with extra noise at that budget
 * (amplified at every level, isotropic, and small-batch, whose one run has both budgets):
 *  - inconclusive when sgd-small at budget b is not shown worse than sgd-large (its 95 % paired
 *    interval does not lie below 0): there is no large-rate advantage for noise to explain;
 *  - not-reproduced when some noise arm reaches sgd-large (TOST equivalence at the configured margin)
 *    or is better than it (interval above 0);
 *  - supported when every noise arm is worse than sgd-large (interval below 0);
 *  - inconclusive otherwise (some noise arm can be neither told apart from nor shown equal to it).
 * A run on fallback data gets "uninformative" from src/run (the experiment reports data.fallback).
 */
import type { ReportTable, TableCell } from '../run/schema.js';
import type { Verdict } from '../run/verdict.js';
import { z } from 'zod';

import { SCALES } from '../run/experiment.js';
import { boolean, nonNegativeInt, oneOf, parseNamed, positiveInt, positiveNumber } from '../util/schema.js';
import { validatorOf } from './common.js';
import { mean } from './escape-setup.js';
import { dataSchema, modelSchema, sharpnessSchema } from './setup-schema.js';
import { noiseFigures } from './noise-figures.js';
import {
  fmtNum,
  NOISE_ARM_KINDS,
  NOISE_BUDGETS,
  runNoise,
  type NoiseArm,
  type NoiseArmSummary,
  type NoiseBudget,
  type NoiseConfig,
  type NoiseResult,
} from './noise.js';
import type { ExperimentDefinition, Headline, Scale } from './types.js';

// ---- presets --------------------------------------------------------------------------------------

const ALL_ARMS = [...NOISE_ARM_KINDS];
const COMMON = {
  lrSmall: 'auto' as const,
  lrLarge: 'auto' as const,
  arms: ALL_ARMS,
  budgets: ['epochs', 'flow'] as NoiseBudget[],
  decay: { at: [0.5, 0.75], factor: 0.1 },
  augment: null,
  microBatch: null,
  shards: null,
  equivalenceMargin: 0.005,
  alpha: 0.05,
};

export const noisePresets: Record<Scale, NoiseConfig> = {
  /** Seconds, for tests: a 4-class Gaussian mixture (d = 16, 256 train), MLP 16, 3 seeds, 3 epochs, k = 4. */
  tiny: {
    scale: 'tiny',
    data: {
      source: 'synthetic',
      trainPerClass: null,
      testSize: null,
      seed: 1,
      download: false,
      synthetic: { kind: 'gaussian-mixture', k: 4, d: 16, nTrain: 256, nTest: 512, seed: 1, separation: 2, noise: 1 },
    },
    model: { kind: 'mlp', hidden: [16] },
    seeds: [1, 2, 3],
    ...COMMON,
    smallFactor: 0.5,
    lrRatio: 4,
    batchSize: 32,
    epochs: 3,
    amplifyPowers: [0.5, 1],
    lrSweep: [0.125, 0.25, 0.5, 1, 2, 4],
    noiseEstimateBatches: 8,
    evalEvery: 1,
    sharpness: { subset: 128, iterations: 20, tolerance: 1e-3 },
    concurrency: 2,
  },
  /**
   * `npm start`, a few minutes on two cores: Fashion-MNIST 200/class (2000 train, the full 10k test
   * set), MLP 784-128-10, 5 seeds, 20 epochs of B = 64, k = 4 (η_large = 8/λ₀, η_small = 2/λ₀).
   */
  quick: {
    scale: 'quick',
    data: {
      source: 'fashion-mnist',
      trainPerClass: 200,
      testSize: null,
      seed: 1,
      download: false,
      synthetic: {
        kind: 'gaussian-mixture',
        k: 10,
        d: 64,
        nTrain: 2000,
        nTest: 2000,
        seed: 1,
        separation: 3,
        noise: 1,
      },
    },
    model: { kind: 'mlp', hidden: [128] },
    seeds: [1, 2, 3, 4, 5],
    ...COMMON,
    smallFactor: 1,
    lrRatio: 4,
    batchSize: 64,
    epochs: 20,
    amplifyPowers: [0.25, 0.5, 1, 1.5],
    lrSweep: [0.0625, 0.125, 0.25, 0.5, 1, 2],
    noiseEstimateBatches: 16,
    evalEvery: 4,
    sharpness: { subset: 500, iterations: 30, tolerance: 1e-3 },
    concurrency: 2,
  },
  /**
   * About two hours on two cores for the MLP (sweeps/e3-study.yaml runs it and the small CNN as
   * two tasks): Fashion-MNIST 1000/class (10k train, the full 10k test set), MLP 784-256-10,
   * 5 seeds, 20 epochs of B = 64, k = 4.
   */
  study: {
    scale: 'study',
    data: { source: 'fashion-mnist', trainPerClass: 1000, testSize: null, seed: 1, download: true, synthetic: null },
    model: { kind: 'mlp', hidden: [256] },
    seeds: [1, 2, 3, 4, 5],
    ...COMMON,
    smallFactor: 1,
    lrRatio: 4,
    batchSize: 64,
    epochs: 20,
    amplifyPowers: [0.25, 0.5, 1, 1.5],
    lrSweep: [0.0625, 0.125, 0.25, 0.5, 1, 2],
    noiseEstimateBatches: 32,
    evalEvery: 2,
    sharpness: { subset: 1000, iterations: 30, tolerance: 1e-3 },
    concurrency: 2,
  },
  /**
   * For a cluster: CIFAR-10 (all 50k), ResNet-18 without batch norm, 5 seeds, 100 epochs of
   * B = 128, k = 10. GD arms have an epoch budget (one full-batch step per epoch, in micro-batches
   * of 500). Meant for `--data-parallel` over MPI ranks (docs/cluster.md); see the cost table in
   * docs/experiments.md. Not run on two cores.
   */
  paper: {
    scale: 'paper',
    data: { source: 'cifar10', trainPerClass: null, testSize: null, seed: 1, download: true, synthetic: null },
    model: { kind: 'resnet', width: 64, blocks: [2, 2, 2, 2], batchnorm: false },
    seeds: [1, 2, 3, 4, 5],
    ...COMMON,
    smallFactor: 0.5,
    lrRatio: 10,
    batchSize: 128,
    epochs: 100,
    amplifyPowers: [0.25, 0.5, 1, 1.5],
    lrSweep: [0.03125, 0.0625, 0.125, 0.25, 0.5, 1, 2],
    noiseEstimateBatches: 64,
    evalEvery: 5,
    sharpness: { subset: 5000, iterations: 50, tolerance: 1e-3 },
    concurrency: 1,
    augment: { cropPadding: 4, flip: true },
    microBatch: 500,
  },
};

// ---- validation -----------------------------------------------------------------------------------

const object = <T extends z.ZodRawShape>(shape: T, what = 'an object') =>
  z.strictObject(shape, { error: `must be ${what}` });
const positiveOrAuto = () =>
  z
    .union([z.literal('auto'), z.number()], { error: "must be a positive number or 'auto'" })
    .refine((v) => v === 'auto' || (Number.isFinite(v) && v > 0), {
      error: (i) => `must be a positive number or 'auto' (got ${String(i.input)})`,
    });
const distinct = <T>(v: T[]): boolean => new Set(v).size === v.length;
const openFraction = (): z.ZodNumber =>
  z
    .number({ error: 'must be a number in (0, 1)' })
    .gt(0, { error: (i) => `must be in (0, 1) (got ${String(i.input)})` })
    .lt(1, { error: (i) => `must be in (0, 1) (got ${String(i.input)})` });
const positiveList = () =>
  z.array(positiveNumber().refine(Number.isFinite, { error: 'must be a finite positive number' }), {
    error: 'must be an array of numbers',
  });

/**
 * The E3 config, defined once: its runtime check ({@link validateNoiseConfig}), its TS shape
 * (checked against NoiseConfig below) and schemas/noise-config.schema.json come from here.
 */
export const noiseConfigSchema = object({
  scale: oneOf(SCALES).describe('The preset this config is (or derives from).'),
  data: dataSchema,
  model: modelSchema,
  seeds: z
    .array(nonNegativeInt(), { error: 'must be an array of integers' })
    .min(1, { error: 'must not be empty' })
    .refine(distinct, { error: 'must not repeat a seed' })
    .describe('One run of every arm per seed.'),
  lrSmall: positiveOrAuto().describe("η_small, or 'auto': smallFactor · 2/λ_max at init."),
  smallFactor: positiveNumber(),
  lrLarge: positiveOrAuto().describe("η_large, or 'auto': lrRatio · η_small."),
  lrRatio: positiveNumber().gt(1, { error: (i) => `must be > 1 (got ${String(i.input)})` }),
  batchSize: positiveInt(2 ** 24),
  epochs: positiveInt(1e6),
  arms: z
    .array(oneOf(NOISE_ARM_KINDS), { error: 'must be an array of arm names' })
    .min(1, { error: 'must not be empty' })
    .refine(distinct, { error: 'must not repeat an arm' }),
  amplifyPowers: positiveList().describe('Noise powers k² of the amplified arm.'),
  budgets: z
    .array(oneOf(NOISE_BUDGETS as readonly NoiseBudget[] as ['epochs', 'flow']), {
      error: "must be an array of 'epochs' / 'flow'",
    })
    .min(1, { error: 'must not be empty' })
    .refine(distinct, { error: 'must not repeat a budget' }),
  lrSweep: positiveList().refine(distinct, { error: 'must not repeat a value' }),
  decay: object(
    {
      at: z
        .array(openFraction(), { error: 'must be an array of numbers' })
        .refine((v) => v.every((x, i) => i === 0 || x > v[i - 1]!), { error: 'must be increasing' }),
      factor: openFraction(),
    },
    'an object { at, factor }',
  ),
  noiseEstimateBatches: positiveInt(1e6),
  evalEvery: positiveInt(1e6),
  sharpness: sharpnessSchema,
  concurrency: positiveInt(64),
  augment: object(
    {
      cropPadding: nonNegativeInt(),
      flip: boolean(),
    },
    'null or { cropPadding, flip }',
  ).nullable(),
  microBatch: positiveInt().nullable(),
  shards: positiveInt(1024)
    .nullable()
    .describe(
      'Cut every batch into this many pieces in order (full batches only while microBatch is null): in one process the arithmetic of a run split over that many data-parallel ranks.',
    ),
  equivalenceMargin: z
    .number({ error: 'must be a finite number' })
    .gt(0, { error: (i) => `must be in (0, 1) accuracy (got ${String(i.input)})` })
    .lt(1, { error: (i) => `must be in (0, 1) accuracy (got ${String(i.input)})` })
    .describe('TOST equivalence margin, in accuracy (fixed before the runs).'),
  alpha: openFraction()
    .lt(0.5, { error: (i) => `must be < 0.5 (got ${String(i.input)})` })
    .describe('Test level of the verdicts (fixed before the runs).'),
})
  .refine((c) => !(typeof c.lrSmall === 'number' && typeof c.lrLarge === 'number' && c.lrLarge <= c.lrSmall), {
    path: ['lrLarge'],
    error: 'must be > config.lrSmall',
  })
  .refine((c) => !c.arms.includes('amplified') || c.amplifyPowers.length > 0, {
    path: ['amplifyPowers'],
    error: "must not be empty when config.arms has 'amplified'",
  })
  .refine((c) => !c.arms.includes('lr-sweep') || c.lrSweep.length > 0, {
    path: ['lrSweep'],
    error: "must not be empty when config.arms has 'lr-sweep'",
  })
  .refine((c) => c.augment === null || c.data.source !== 'synthetic', {
    path: ['augment'],
    error: 'needs image data (synthetic sets are flat vectors)',
  });

// The schema and the hand-written interface describe the same config (a compile-time check).
type SchemaConfig = z.infer<typeof noiseConfigSchema>;
const sameShape: [
  [SchemaConfig] extends [NoiseConfig] ? true : false,
  [NoiseConfig] extends [SchemaConfig] ? true : false,
] = [true, true];
void sameShape;

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.lrSmall must be a positive number or 'auto'"; unknown keys are errors. */
export function validateNoiseConfig(config: unknown): asserts config is NoiseConfig {
  parseNamed(noiseConfigSchema, config, 'config');
}

// ---- verdicts ---------------------------------------------------------------------------------------

const NOISE_KINDS = ['amplified', 'isotropic', 'small-batch'];

export const NOISE_VERDICT_RULE =
  'Per arm: paired per-seed difference of final test accuracy to SGD η_large (diverged run = 0); "reaches" = TOST equivalence within ' +
  '±margin at level alpha, "worse"/"better" = the (1 − alpha) t-interval lies below/above 0, else "inconclusive". Claim: inconclusive ' +
  'unless SGD η_small is worse than SGD η_large; then not-reproduced if any noise arm (amplified, isotropic, small-batch) at the budget ' +
  'reaches or beats SGD η_large, supported if every noise arm is worse, inconclusive otherwise.';

const fmtIv = (a: NoiseArm): string => {
  const v = a.vsLarge!;
  return `${a.id} ${v.verdict} (Δ = ${fmtPts(v.meanDiff)} [${fmtPts(v.lo)}, ${fmtPts(v.hi)}] points, TOST p = ${fmtNum(v.tost.p, 2)})`;
};
const fmtPts = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(2) : 'n/a');

/** The claim verdict at one budget (see the module doc). */
export function budgetVerdict(r: NoiseResult, budget: NoiseBudget): Verdict {
  const claim = `E3 (${budget === 'epochs' ? 'same epochs' : 'same gradient-flow time ηT'}): extra noise at η_small does not recover SGD at η_large`;
  const rule = `${NOISE_VERDICT_RULE} Margin ${fmtPts(r.config.equivalenceMargin)} points, alpha ${r.config.alpha}, ${r.config.seeds.length} seeds.`;
  const small = r.arms.find((a) => a.kind === 'sgd-small' && a.budget === budget);
  const noise = r.arms.filter((a) => NOISE_KINDS.includes(a.kind) && (a.budget === budget || a.kind === 'small-batch'));
  if (!small?.vsLarge || noise.length === 0)
    return {
      claim,
      verdict: 'inconclusive',
      rule,
      evidence: 'the run lacks sgd-large, sgd-small or every noise arm at this budget',
    };
  const premise = `${fmtIv(small)}`;
  if (small.vsLarge.verdict !== 'worse')
    return {
      claim,
      verdict: 'inconclusive',
      rule,
      evidence: `SGD η_small is not shown worse than SGD η_large: ${premise}`,
    };
  const reached = noise.filter((a) => a.vsLarge!.verdict === 'reaches' || a.vsLarge!.verdict === 'better');
  const all = noise.map(fmtIv).join('; ');
  if (reached.length)
    return { claim, verdict: 'not-reproduced', rule, evidence: `${premise}; but ${reached.map(fmtIv).join('; ')}` };
  if (noise.every((a) => a.vsLarge!.verdict === 'worse'))
    return { claim, verdict: 'supported', rule, evidence: `${premise}; every noise arm is worse: ${all}` };
  return { claim, verdict: 'inconclusive', rule, evidence: `${premise}; not every noise arm is told apart: ${all}` };
}

export function noiseVerdicts(r: NoiseResult): Verdict[] {
  return r.config.budgets.map((b) => budgetVerdict(r, b));
}

// ---- headline and table ---------------------------------------------------------------------------

/**
 * Flat headline numbers (docs/experiments.md, E3): dataset, fallback, etaSmall, etaLarge, k,
 * smallBatch, sigmaB (σ_B at θ₀, mean over seeds); per arm id `<arm>.testAcc`, `<arm>.testAccStd`,
 * `<arm>.diverged`, and except for sgd-large `<arm>.diff`, `<arm>.lo`, `<arm>.hi` (paired
 * difference to sgd-large and its interval), `<arm>.tostP`, `<arm>.verdict`; `verdict.<budget>`.
 */
export function noiseHeadline(r: NoiseResult): Headline {
  const h: Headline = {
    dataset: r.data.description,
    fallback: r.data.fallback,
    etaSmall: r.etaSmall,
    etaLarge: r.etaLarge,
    k: r.k,
    smallBatch: r.smallBatch,
    sigmaB: mean(r.noiseEstimate.map((e) => e.sigmaB)),
  };
  for (const a of r.arms) {
    h[`${a.id}.testAcc`] = a.testAccuracy.mean;
    h[`${a.id}.testAccStd`] = a.testAccuracy.std;
    h[`${a.id}.diverged`] = a.diverged;
    if (a.vsLarge) {
      h[`${a.id}.diff`] = a.vsLarge.meanDiff;
      h[`${a.id}.lo`] = a.vsLarge.lo;
      h[`${a.id}.hi`] = a.vsLarge.hi;
      h[`${a.id}.tostP`] = a.vsLarge.tost.p;
      h[`${a.id}.verdict`] = a.vsLarge.verdict;
    }
  }
  for (const b of r.config.budgets) h[`verdict.${b}`] = budgetVerdict(r, b).verdict;
  return h;
}

/** The E3 table for the report: one row per arm. */
export function noiseTable(r: NoiseResult): ReportTable {
  const cell = (s: NoiseArmSummary): TableCell => ({ mean: s.mean, std: s.std, n: s.n });
  const pct = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(2) : 'n/a');
  return {
    id: 'e3-arms',
    title: 'E3: every arm against SGD η_large (paired over seeds)',
    caption:
      `Scale ${r.scale}; ${r.data.description}${r.data.fallback ? ` (FALLBACK: ${r.data.fallback})` : ''}; ${r.model.description}; seeds ${r.config.seeds.join(', ')}; ` +
      `${r.config.epochs} epochs for the large arms. ${r.rule}: η_small = ${fmtNum(r.etaSmall)}, η_large = ${fmtNum(r.etaLarge)}, k = ${fmtNum(r.k)}. ` +
      `Noise columns are ratios to SGD η_large: SDE temperature η·a²σ²/b and per-step covariance η²·a²σ²/b (a = amplification, b = batch); ` +
      `η_large·σ_B² = ${fmtNum(mean(r.noiseEstimate.map((e) => e.temperatureLarge)))} and η_large²·σ_B² = ${fmtNum(mean(r.noiseEstimate.map((e) => e.perStepLarge)))} per coordinate at θ₀. ` +
      `Δ = mean paired difference of test accuracy in points with its ${Math.round(100 * (1 - r.config.alpha))} % t-interval; TOST margin ±${pct(r.config.equivalenceMargin)} points. ${NOISE_VERDICT_RULE}`,
    columns: [
      'arm',
      'η',
      'batch',
      'budget',
      'epochs',
      'ηT',
      'temperature ×',
      'per-step ×',
      'train loss',
      'test accuracy',
      'Δ (points)',
      'interval (points)',
      'TOST p',
      'verdict',
      'diverged runs',
    ],
    rows: r.arms.map((a) => [
      a.label,
      a.eta,
      a.batch === 'full' ? 'full' : a.batch,
      a.budget,
      a.epochsPerRun,
      a.flowTime,
      a.noise.temperature,
      a.noise.perStep,
      cell(a.trainLoss),
      cell(a.testAccuracy),
      a.vsLarge ? Number(pct(a.vsLarge.meanDiff)) : null,
      a.vsLarge ? `[${pct(a.vsLarge.lo)}, ${pct(a.vsLarge.hi)}]` : 'reference',
      a.vsLarge ? a.vsLarge.tost.p : null,
      a.vsLarge ? a.vsLarge.verdict : 'reference',
      a.diverged,
    ]),
  };
}

// ---- the definition -------------------------------------------------------------------------------

export const noiseExperiment: ExperimentDefinition<NoiseConfig, NoiseResult> = {
  name: 'noise',
  title:
    'E3 noise: does extra gradient noise at a small learning rate recover what a large learning rate gives, at equal epochs and equal ηT?',
  presets: noisePresets,
  validate: validatorOf(validateNoiseConfig),
  run: (config, ctx) => {
    validateNoiseConfig(config);
    return runNoise(config, ctx);
  },
  headline: noiseHeadline,
  verdicts: (result) => noiseVerdicts(result),
  figures: (result) => noiseFigures(result),
};
