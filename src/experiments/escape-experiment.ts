/**
 * E2 escape as an `ExperimentDefinition` (src/experiments/types.ts): presets, config validation
 * (unknown keys are errors), the run (escape.ts), headline numbers, verdicts with their rules,
 * figures (escape-figures.ts).
 */
import type { Figure } from '../report/plot.js';
import { z } from 'zod';

import { SCALES } from '../run/experiment.js';
import { fraction, nonNegativeInt, oneOf, parseNamed, positiveInt, positiveNumber } from '../util/schema.js';
import { validatorOf } from './common.js';
import { type EscapeConfig, type EscapeResult, runEscape } from './escape.js';
import { dataSchema, modelSchema, sharpnessSchema } from './setup-schema.js';
import { escapeVerdicts, summarize } from './escape-summary.js';
import type { ExperimentDefinition, Headline, Scale } from './types.js';

export type { EscapeConfig, EscapeResult } from './escape.js';

// ---- presets --------------------------------------------------------------------------------------

const FASHION_FALLBACK = {
  kind: 'gaussian-mixture',
  k: 10,
  d: 64,
  nTrain: 250,
  nTest: 2000,
  seed: 1,
  separation: 3,
  noise: 1,
} as const;
const CATAPULT_GRID = [0.5, 1, 1.5, 1.9, 2.2, 2.6, 3, 4, 6, 8, 12, 16, 24, 32];
/** The flow reference's error control and step bound (Cohen et al.'s α = 1). */
const FLOW_TOLERANCES = { alpha: 1, rtol: 1e-5, atol: 1e-8 };
const RULES = {
  escape: { barrierMin: 0.005, returnFraction: 0.5 },
  verdict: { supportShare: 0.8, rejectShare: 0.2 },
  catapult: { catapultRatio: 1.2, divergeRatio: 100 },
};

export const escapePresets: Record<Scale, EscapeConfig> = {
  /** Seconds, for tests: a 4-class Gaussian mixture (d = 16, 256 train), MLP 16-32-4, 5 seeds. */
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
    model: { kind: 'mlp', hidden: [32] },
    loss: 'mse',
    seeds: [1, 2, 3, 4, 5],
    initOutputScale: 0.1,
    smallFactor: 0.25,
    converge: { gradTol: 0.02, negativeCurvatureTol: 0.01, maxSteps: 3000, checkEvery: 50 },
    catapult: { etaLambda: CATAPULT_GRID, steps: 60, spikeWindow: 30, ...RULES.catapult },
    eos: { etaLambda: [0.8, 1.2, 1.6], steps: 100, measureEvery: 10 },
    switch: { largeFactors: [1.5, 2, 3], steps: 100 },
    escape: { ...RULES.escape, returnSteps: 300 },
    verdict: { minSeeds: 5, ...RULES.verdict },
    sharpness: { subset: 256, iterations: 20, tolerance: 1e-3, lanczosSteps: 60 },
    interpolationPoints: 11,
    flow: { seeds: 1, points: 10, ...FLOW_TOLERANCES },
    spectrum: { seeds: 2, probes: 3, steps: 20, traceSamples: 10 },
    concurrency: 2,
    microBatch: null,
  },
  /** `npm start`, ~3 minutes on two cores: Fashion-MNIST 25/class (250 train, 2000 test), MLP 784-64-10, 5 seeds. */
  quick: {
    scale: 'quick',
    data: {
      source: 'fashion-mnist',
      trainPerClass: 25,
      testSize: 2000,
      seed: 1,
      download: false,
      synthetic: { ...FASHION_FALLBACK },
    },
    model: { kind: 'mlp', hidden: [64] },
    loss: 'mse',
    seeds: [1, 2, 3, 4, 5],
    initOutputScale: 0.1,
    smallFactor: 0.25,
    converge: { gradTol: 0.02, negativeCurvatureTol: 0.01, maxSteps: 5000, checkEvery: 100 },
    catapult: { etaLambda: CATAPULT_GRID, steps: 100, spikeWindow: 50, ...RULES.catapult },
    eos: { etaLambda: [0.8, 1.2, 1.6], steps: 300, measureEvery: 10 },
    switch: { largeFactors: [1.5, 2, 3], steps: 300 },
    escape: { ...RULES.escape, returnSteps: 600 },
    verdict: { minSeeds: 5, ...RULES.verdict },
    sharpness: { subset: 256, iterations: 20, tolerance: 1e-3, lanczosSteps: 60 },
    interpolationPoints: 21,
    flow: { seeds: 2, points: 20, ...FLOW_TOLERANCES },
    spectrum: { seeds: 5, probes: 4, steps: 40, traceSamples: 20 },
    concurrency: 2,
    microBatch: null,
  },
  /** The convincing two-core size (≤ ~2 h): Fashion-MNIST 50/class (500 train, full 10k test), MLP 784-128-10, 10 seeds, 2,000-step EoS runs. */
  study: {
    scale: 'study',
    data: {
      source: 'fashion-mnist',
      trainPerClass: 50,
      testSize: null,
      seed: 1,
      download: false,
      synthetic: { ...FASHION_FALLBACK, nTrain: 500 },
    },
    model: { kind: 'mlp', hidden: [128] },
    loss: 'mse',
    seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    initOutputScale: 0.1,
    smallFactor: 0.25,
    converge: { gradTol: 0.02, negativeCurvatureTol: 0.01, maxSteps: 20000, checkEvery: 100 },
    catapult: { etaLambda: CATAPULT_GRID, steps: 200, spikeWindow: 100, ...RULES.catapult },
    eos: { etaLambda: [0.8, 1.2, 1.6], steps: 2000, measureEvery: 10 },
    switch: { largeFactors: [1.5, 2, 3], steps: 1000 },
    escape: { ...RULES.escape, returnSteps: 2000 },
    verdict: { minSeeds: 10, ...RULES.verdict },
    sharpness: { subset: 500, iterations: 30, tolerance: 1e-3, lanczosSteps: 100 },
    interpolationPoints: 21,
    flow: { seeds: 3, points: 40, ...FLOW_TOLERANCES },
    spectrum: { seeds: 10, probes: 8, steps: 60, traceSamples: 30 },
    concurrency: 2,
    microBatch: null,
  },
  /**
   * For a cluster: CIFAR-10 (100/class), ResNet-18 without batch norm, micro-batches of 250.
   * Not run on two cores; per seed ≈ 60k full-batch steps of 1000 images plus the λ probes.
   */
  paper: {
    scale: 'paper',
    data: { source: 'cifar10', trainPerClass: 100, testSize: null, seed: 1, download: true, synthetic: null },
    model: { kind: 'resnet', width: 64, blocks: [2, 2, 2, 2], batchnorm: false },
    loss: 'mse',
    seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    initOutputScale: 0.1,
    smallFactor: 0.25,
    converge: { gradTol: 0.02, negativeCurvatureTol: 0.01, maxSteps: 20000, checkEvery: 100 },
    catapult: { etaLambda: CATAPULT_GRID, steps: 200, spikeWindow: 100, ...RULES.catapult },
    eos: { etaLambda: [0.8, 1.2, 1.6], steps: 2000, measureEvery: 10 },
    switch: { largeFactors: [1.5, 2, 3], steps: 2000 },
    escape: { ...RULES.escape, returnSteps: 4000 },
    verdict: { minSeeds: 10, ...RULES.verdict },
    sharpness: { subset: 1000, iterations: 30, tolerance: 1e-3, lanczosSteps: 60 },
    interpolationPoints: 21,
    flow: { seeds: 0, points: 40, ...FLOW_TOLERANCES },
    spectrum: { seeds: 2, probes: 4, steps: 40, traceSamples: 20 },
    concurrency: 1,
    microBatch: 250,
  },
};

// ---- validation -----------------------------------------------------------------------------------

const positiveList = (what: string) =>
  z
    .array(positiveNumber().refine(Number.isFinite, { error: 'must be a finite number > 0' }), {
      error: `must be a non-empty array of ${what}`,
    })
    .min(1, {
      error: `must be a non-empty array of ${what}`,
    });

const object = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape, { error: 'must be an object' });

/**
 * The E2 config, defined once: its runtime check ({@link validateEscapeConfig}), its TS shape
 * (checked against EscapeConfig below) and schemas/escape-config.schema.json come from here.
 */
export const escapeConfigSchema = object({
  scale: oneOf(SCALES).describe('The preset this config is (or derives from).'),
  data: dataSchema,
  model: modelSchema,
  loss: oneOf(['mse']).describe("The training loss: only 'mse' (its minima exist, so the gradient can reach 0)."),
  seeds: z
    .array(nonNegativeInt(), { error: 'must be a non-empty array of non-negative integers' })
    .min(1, { error: 'must be a non-empty array of non-negative integers' })
    .refine((v) => new Set(v).size === v.length, { error: 'must not repeat a seed' })
    .describe('One run of every arm per seed (init and data order).'),
  initOutputScale: positiveNumber().describe(
    'Scale of the last layer at init (a small scale starts near zero output).',
  ),
  smallFactor: positiveNumber().describe('η_small = smallFactor · 2/λ_max at init.'),
  converge: object({
    gradTol: positiveNumber(),
    negativeCurvatureTol: positiveNumber(),
    maxSteps: positiveInt(1e9),
    checkEvery: positiveInt(1e9),
  }).describe('When a run counts as converged to a minimum θ_s.'),
  catapult: object({
    etaLambda: positiveList('numbers'),
    steps: positiveInt(1e9),
    spikeWindow: positiveInt(1e9),
    catapultRatio: positiveNumber(),
    divergeRatio: positiveNumber().gt(1, { error: (i) => `must be > 1 (got ${String(i.input)})` }),
  }).describe('The catapult arm: η·λ_max grid and its classification rule.'),
  eos: object({ etaLambda: positiveList('numbers'), steps: positiveInt(1e9), measureEvery: positiveInt(10) }).describe(
    'The edge-of-stability arm.',
  ),
  switch: object({ largeFactors: positiveList('numbers'), steps: positiveInt(1e9) }).describe(
    'The switch arm: from θ_s with η = factor · 2/λ_max(θ_s).',
  ),
  escape: object({
    barrierMin: positiveNumber(),
    returnSteps: positiveInt(1e9),
    returnFraction: fraction(true),
  }).describe('When a switched run has escaped the basin of θ_s.'),
  verdict: object({ minSeeds: positiveInt(1e6), supportShare: fraction(true), rejectShare: fraction(true) })
    .refine((v) => v.rejectShare < v.supportShare, {
      path: ['rejectShare'],
      error: 'must be < config.verdict.supportShare',
    })
    .describe('Rules of the verdicts, fixed before the runs: shares of seeds that escape.'),
  sharpness: sharpnessSchema.extend({ lanczosSteps: positiveInt(10000) }),
  interpolationPoints: positiveInt(10000)
    .min(2, { error: 'must be >= 2' })
    .describe('Points on the line from θ_s to the switched run’s end.'),
  flow: object({
    seeds: nonNegativeInt(),
    points: positiveInt(100000),
    alpha: positiveNumber(),
    rtol: positiveNumber(),
    atol: positiveNumber(),
  }).describe(
    'The gradient-flow reference from θ₀ for the first `seeds` seeds: GD at every eos arm’s η and at η_small against it at `points` matched times t = η·k; Dormand–Prince with error control rtol/atol and step ≤ alpha/λ_max.',
  ),
  spectrum: object({
    seeds: nonNegativeInt(),
    probes: positiveInt(10000),
    steps: positiveInt(10000),
    traceSamples: positiveInt(100000),
  }).describe(
    'The Hessian eigenvalue density (stochastic Lanczos quadrature: probes × steps) with λ_max, λ_min and the trace at θ_s and after the switch, for the first `seeds` seeds.',
  ),
  concurrency: positiveInt(64).describe('Runs at once.'),
  microBatch: positiveInt()
    .nullable()
    .describe('Examples per forward/backward pass in full-batch steps (null: all at once).'),
});

// The schema and the hand-written interface describe the same config (a compile-time check).
type SchemaConfig = z.infer<typeof escapeConfigSchema>;
const sameShape: [SchemaConfig extends EscapeConfig ? true : false, EscapeConfig extends SchemaConfig ? true : false] =
  [true, true];
void sameShape;

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.escape.barrierMin must be a positive number". */
export function validateEscapeConfig(config: unknown): asserts config is EscapeConfig {
  parseNamed(escapeConfigSchema, config, 'config');
}

// ---- headline -------------------------------------------------------------------------------------

/** Flat headline numbers (docs/experiments.md, E2): each a summary over seeds with its spread. */
export function escapeHeadline(r: EscapeResult): Headline {
  const s = summarize(r);
  const h: Headline = {
    dataset: r.data.description,
    fallback: r.data.fallback,
    seeds: r.seeds.length,
    curvatureMethod: r.curvatureMethod.top,
  };
  for (const [k, v] of Object.entries(s.flat)) h[k] = v;
  return h;
}

// ---- the definition -------------------------------------------------------------------------------

export const escapeExperiment: ExperimentDefinition<EscapeConfig, EscapeResult> = {
  name: 'escape',
  title:
    'E2 escape: full-batch GD on a network — catapults, edge of stability, and whether a large learning rate leaves the basin of a minimum a small one found',
  presets: escapePresets,
  validate: validatorOf(validateEscapeConfig),
  run: runEscape,
  headline: escapeHeadline,
  verdicts: (result) => escapeVerdicts(result),
  async figures(result): Promise<Figure[]> {
    const { escapeFigures } = await import('./escape-figures.js');
    return escapeFigures(result);
  },
};
