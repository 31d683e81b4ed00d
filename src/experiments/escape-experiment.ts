/**
 * E2 escape as an `ExperimentDefinition` (src/experiments/types.ts): presets, config validation
 * (unknown keys are errors), the run (escape.ts), headline numbers, verdicts with their rules,
 * figures (escape-figures.ts).
 */
import type { Figure } from '../report/plot.js';
import { checkKnownKeys } from '../util/options.js';
import { fail, isObj, nonNegInt, posInt, validatorOf } from './common.js';
import { type EscapeConfig, type EscapeResult, runEscape } from './escape.js';
import { oneOf, posNum, validateData, validateModel, validateSharpness } from './escape-setup.js';
import { escapeVerdicts, summarize } from './escape-summary.js';
import type { ExperimentDefinition, Headline, Scale } from './types.js';

export type { EscapeConfig, EscapeResult } from './escape.js';

// ---- presets --------------------------------------------------------------------------------------

const FASHION_FALLBACK = { kind: 'gaussian-mixture', k: 10, d: 64, nTrain: 250, nTest: 2000, seed: 1, separation: 3, noise: 1 } as const;
const CATAPULT_GRID = [0.5, 1, 1.5, 1.9, 2.2, 2.6, 3, 4, 6, 8, 12, 16, 24, 32];
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
    concurrency: 2,
    microBatch: null,
  },
  /** `npm start`, ~3 minutes on two cores: Fashion-MNIST 25/class (250 train, 2000 test), MLP 784-64-10, 5 seeds. */
  quick: {
    scale: 'quick',
    data: { source: 'fashion-mnist', trainPerClass: 25, testSize: 2000, seed: 1, download: false, synthetic: { ...FASHION_FALLBACK } },
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
    concurrency: 2,
    microBatch: null,
  },
  /** The convincing two-core size (≤ ~2 h): Fashion-MNIST 50/class (500 train, full 10k test), MLP 784-128-10, 10 seeds, 2,000-step EoS runs. */
  study: {
    scale: 'study',
    data: { source: 'fashion-mnist', trainPerClass: 50, testSize: null, seed: 1, download: false, synthetic: { ...FASHION_FALLBACK, nTrain: 500 } },
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
    concurrency: 1,
    microBatch: 250,
  },
};

// ---- validation -----------------------------------------------------------------------------------

function obj(v: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (!isObj(v)) fail(TypeError, field, 'must be an object');
  checkKnownKeys(v, keys, field);
  return v;
}

function numArray(v: unknown, field: string, min: number): void {
  if (!Array.isArray(v) || v.length === 0) fail(TypeError, field, 'must be a non-empty array of numbers');
  v.forEach((x: unknown, i: number) => {
    if (typeof x !== 'number') fail(TypeError, `${field}[${i}]`, 'must be a number');
    if (!Number.isFinite(x) || x <= min) fail(RangeError, `${field}[${i}]`, `must be a finite number > ${min} (got ${x})`);
  });
}

function fraction(v: unknown, field: string): void {
  posNum(v, field);
  if ((v as number) > 1) fail(RangeError, field, `must be in (0, 1] (got ${v})`);
}

const TOP_KEYS = ['scale', 'data', 'model', 'loss', 'seeds', 'initOutputScale', 'smallFactor', 'converge', 'catapult', 'eos', 'switch', 'escape', 'verdict', 'sharpness', 'interpolationPoints', 'concurrency', 'microBatch'] as const;

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.escape.barrierMin must be a positive number". */
export function validateEscapeConfig(config: unknown): asserts config is EscapeConfig {
  const c = obj(config, 'config', TOP_KEYS);
  oneOf(c.scale, 'config.scale', ['tiny', 'quick', 'study', 'paper']);
  validateData(c.data);
  checkKnownKeys(c.data, ['source', 'trainPerClass', 'testSize', 'seed', 'download', 'synthetic'], 'config.data');
  validateModel(c.model);
  oneOf(c.loss, 'config.loss', ['mse']);
  if (!Array.isArray(c.seeds) || c.seeds.length === 0) fail(TypeError, 'config.seeds', 'must be a non-empty array of non-negative integers');
  c.seeds.forEach((s: unknown, i: number) => nonNegInt(s, `config.seeds[${i}]`));
  if (new Set(c.seeds).size !== c.seeds.length) fail(RangeError, 'config.seeds', 'must not repeat a seed');
  posNum(c.initOutputScale, 'config.initOutputScale');
  posNum(c.smallFactor, 'config.smallFactor');
  const cv = obj(c.converge, 'config.converge', ['gradTol', 'negativeCurvatureTol', 'maxSteps', 'checkEvery']);
  posNum(cv.gradTol, 'config.converge.gradTol');
  posNum(cv.negativeCurvatureTol, 'config.converge.negativeCurvatureTol');
  posInt(cv.maxSteps, 'config.converge.maxSteps', 1e9);
  posInt(cv.checkEvery, 'config.converge.checkEvery', 1e9);
  const ca = obj(c.catapult, 'config.catapult', ['etaLambda', 'steps', 'spikeWindow', 'catapultRatio', 'divergeRatio']);
  numArray(ca.etaLambda, 'config.catapult.etaLambda', 0);
  posInt(ca.steps, 'config.catapult.steps', 1e9);
  posInt(ca.spikeWindow, 'config.catapult.spikeWindow', 1e9);
  posNum(ca.catapultRatio, 'config.catapult.catapultRatio');
  posNum(ca.divergeRatio, 'config.catapult.divergeRatio');
  if ((ca.divergeRatio as number) <= 1) fail(RangeError, 'config.catapult.divergeRatio', `must be > 1 (got ${ca.divergeRatio})`);
  const eo = obj(c.eos, 'config.eos', ['etaLambda', 'steps', 'measureEvery']);
  numArray(eo.etaLambda, 'config.eos.etaLambda', 0);
  posInt(eo.steps, 'config.eos.steps', 1e9);
  posInt(eo.measureEvery, 'config.eos.measureEvery', 10);
  const sw = obj(c.switch, 'config.switch', ['largeFactors', 'steps']);
  numArray(sw.largeFactors, 'config.switch.largeFactors', 0);
  posInt(sw.steps, 'config.switch.steps', 1e9);
  const es = obj(c.escape, 'config.escape', ['barrierMin', 'returnSteps', 'returnFraction']);
  posNum(es.barrierMin, 'config.escape.barrierMin');
  posInt(es.returnSteps, 'config.escape.returnSteps', 1e9);
  fraction(es.returnFraction, 'config.escape.returnFraction');
  const ve = obj(c.verdict, 'config.verdict', ['minSeeds', 'supportShare', 'rejectShare']);
  posInt(ve.minSeeds, 'config.verdict.minSeeds', 1e6);
  fraction(ve.supportShare, 'config.verdict.supportShare');
  fraction(ve.rejectShare, 'config.verdict.rejectShare');
  if ((ve.rejectShare as number) >= (ve.supportShare as number)) fail(RangeError, 'config.verdict.rejectShare', 'must be < config.verdict.supportShare');
  validateSharpness(c.sharpness);
  checkKnownKeys(c.sharpness, ['subset', 'iterations', 'tolerance', 'lanczosSteps'], 'config.sharpness');
  posInt((c.sharpness as unknown as Record<string, unknown>).lanczosSteps, 'config.sharpness.lanczosSteps', 10000);
  posInt(c.interpolationPoints, 'config.interpolationPoints', 10000);
  if ((c.interpolationPoints as number) < 2) fail(RangeError, 'config.interpolationPoints', 'must be >= 2');
  posInt(c.concurrency, 'config.concurrency', 64);
  if (c.microBatch !== null) posInt(c.microBatch, 'config.microBatch');
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
  title: 'E2 escape: full-batch GD on a network — catapults, edge of stability, and whether a large learning rate leaves the basin of a minimum a small one found',
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
