/**
 * E3 — noise is not enough: SGD at a fixed budget (PROTOCOL.md, experiment E3).
 *
 * Learning rates (a rule fixed before any run):
 *  - λ₀ = λ_max of the Hessian of the mean train loss at θ₀ of the first seed, on a fixed seeded
 *    train subset; η_small = smallFactor · 2/λ₀ (or `lrSmall`); η_large = lrRatio · η_small (or
 *    `lrLarge`). The same η_small, η_large for every seed. k = η_large/η_small.
 * Arms (same seeds: seed s gives θ₀ and the data order of every arm; same epoch budget):
 *  - `sgd-small`, `sgd-large`: SGD, batch B (epochs of a fresh shuffle), η_small / η_large;
 *  - `amp-<f>k`: SGD at η_small with the mini-batch noise amplified by k·f for each f in
 *    amplifyFactors (g = g₁ + c(g₁ − g₂), two independent batches: the mean is kept and the
 *    covariance multiplied by (kf)², so f = 1 matches the update-noise covariance of sgd-large,
 *    η_small²(k)²Σ/B = η_large²Σ/B). Same steps as sgd-small (twice the gradient evaluations);
 *    factors with kf ≤ 1 are skipped;
 *  - `small-batch`: SGD at η_small with batch B' = max(1, round(B·η_small/η_large)), which matches
 *    the SDE noise scale η/B of sgd-large; same epochs, so B/B' times more steps;
 *  - `isotropic`: SGD at η_small, batch B, plus isotropic Gaussian noise σξ on the gradient with
 *    σ = √(k² − 1)·σ_B, where σ_B² = E‖g_B − ∇L‖²/d is the per-coordinate variance of the batch-B
 *    gradient noise measured at θ₀ of that seed (M = noiseEstimateBatches batches drawn uniformly
 *    without replacement). Then the total update noise η_small²(σ_B² + σ²)·d equals the large arm's
 *    η_large²σ_B²·d at θ₀ (the mini-batch noise shrinks as training goes on; σ stays constant);
 *  - `gd-small`, `gd-large`: full-batch GD, the noise-free baseline, for the same number of steps as
 *    sgd-small (fullBatchBudget 'steps') or the same epochs ('epochs': one step per epoch).
 * Each arm × seed records the full train loss/accuracy and test loss/accuracy every evalEvery
 * epochs (budget fractions for GD) and at the end. Arms that see the same batches (sgd-small,
 * sgd-large, isotropic; gd-small, gd-large) train together per seed in one MultiTrainer when
 * `batchArms` is set (see armGroups): each model's trajectory is bitwise its solo Trainer's, so
 * the result is the same. Resuming (src/run/resume.ts): the setup and each arm × seed run (or
 * batched group × seed) are units; a unit keeps partial checkpoints of its (multi-)trainer and curves.
 * Deterministic for a config at a fixed BLAS thread count (except `timing`).
 *
 * "Reaches the large arm" = the arm's test accuracy is not below sgd-large's by more than two
 * standard errors of the paired per-seed difference: mean(d) ≥ −2·sd(d)/√n with
 * d_s = acc_arm(s) − acc_large(s) (with one seed: d ≥ 0).
 */
import type { ReportTable, TableCell } from '../run/schema.js';
import type { Figure } from '../report/plot.js';
import { Model, type Examples } from '../model/model.js';
import { topEigenvalue } from '../measure/sharpness.js';
import { noisySgd, sgd, type OptimizerSpec } from '../optim/optimizer.js';
import { fingerprint, resumeStoreOf, type Unit } from '../run/resume.js';
import { MultiTrainer } from '../train/multi-trainer.js';
import { Trainer, type BatchOptions } from '../train/trainer.js';
import { Rng } from '../util/random.js';
import { fail, isObj, pool, posInt, validatorOf } from './common.js';
import {
  buildSpec,
  describeModel,
  intArray,
  loadData,
  mean,
  oneOf,
  posNum,
  posNumOrAuto,
  std,
  trainSubset,
  validateData,
  validateModel,
  validateSharpness,
  type DataConfig,
  type ModelConfig,
  type SharpnessConfig,
} from './escape-setup.js';
import type { ExperimentDefinition, Headline, RunContext, Scale } from './types.js';

export const NOISE_ARM_KINDS = ['sgd-small', 'sgd-large', 'amplified', 'small-batch', 'isotropic', 'gd-small', 'gd-large'] as const;
export type NoiseArmKind = (typeof NOISE_ARM_KINDS)[number];

export interface NoiseConfig {
  scale: Scale;
  data: DataConfig;
  model: ModelConfig;
  /** One run of every arm per seed (θ₀ and the data order). `--seed N` makes them N, N+1, … */
  seeds: number[];
  lrSmall: number | 'auto';
  smallFactor: number;
  lrLarge: number | 'auto';
  lrRatio: number;
  batchSize: number;
  epochs: number;
  arms: NoiseArmKind[];
  /** Amplification factors as multiples f of k = η_large/η_small (the arm uses k·f). */
  amplifyFactors: number[];
  noiseEstimateBatches: number;
  fullBatchBudget: 'steps' | 'epochs';
  /** Evaluate (full train and test sets) every evalEvery epochs and at the end. */
  evalEvery: number;
  sharpness: SharpnessConfig;
  concurrency: number;
  /**
   * Image augmentation for the mini-batch arms (e.g. `{ cropPadding: 4, flip: true }`, the standard
   * CIFAR recipe), or null. The full-batch arms never augment (they are the noise-free baseline),
   * and σ_B is estimated on unaugmented batches.
   */
  augment: { cropPadding: number; flip: boolean } | null;
  /**
   * Examples per forward/backward pass in full-batch steps (null: all at once). The gradient is
   * the same mean up to rounding (Trainer option batch.microBatch); it bounds activation memory.
   */
  microBatch: number | null;
  /**
   * Train the arms that see the same batches together in one MultiTrainer (default true): per seed,
   * sgd-small, sgd-large and isotropic (unless `augment` is set), and gd-small and gd-large (unless
   * `microBatch` is set). Each model's trajectory is bitwise its solo Trainer's, so the results are
   * the same either way; false trains every arm × seed as its own Trainer.
   */
  batchArms: boolean;
}

export interface NoisePoint {
  /** Fraction of the budget, in epochs of the batch-B arm (GD: steps / ⌈n/B⌉ with the 'steps' budget). */
  epoch: number;
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

export interface NoiseRun {
  seed: number;
  steps: number;
  curve: NoisePoint[];
  diverged: boolean;
  divergedAt: number | null;
  final: NoisePoint | null;
  /** Isotropic arm: the σ used; amplified arm: null. */
  noiseStd: number | null;
}

export interface NoiseArmSummary {
  mean: number | null;
  std: number | null;
  n: number;
}

export interface NoiseArm {
  id: string;
  kind: NoiseArmKind;
  label: string;
  eta: number;
  batch: number | 'full';
  amplify: number;
  stepsPerRun: number;
  /** Gradient evaluations of single examples per run (amplified arms draw two batches). */
  exampleGradsPerRun: number;
  runs: NoiseRun[];
  diverged: number;
  testAccuracy: NoiseArmSummary;
  trainLoss: NoiseArmSummary;
  /** Paired difference to sgd-large (test accuracy), null for sgd-large itself or when absent. */
  vsLarge: { meanDiff: number; se: number; reaches: boolean } | null;
}

export interface NoiseResult {
  experiment: 'E3-noise';
  scale: Scale;
  config: NoiseConfig;
  data: { description: string; source: string; fallback: string | null; nTrain: number; nTest: number; sharpnessSubset: number };
  model: { description: string; paramCount: number };
  rule: string;
  lambda0: { value: number; iterations: number; converged: boolean };
  etaSmall: number;
  etaLarge: number;
  k: number;
  smallBatch: number;
  /** Per seed: σ_B (per-coordinate std of the batch-B gradient noise at θ₀) and the isotropic σ. */
  noiseEstimate: Array<{ seed: number; sigmaB: number; isotropicStd: number; gradNorm: number }>;
  skipped: string[];
  arms: NoiseArm[];
  /** Ids of the arms that reach sgd-large's test accuracy (see the module doc). */
  reachLarge: string[];
  timing: { totalMs: number; perArmMs: Record<string, number> };
}

// ---- presets --------------------------------------------------------------------------------------

const ALL_ARMS: NoiseArmKind[] = [...NOISE_ARM_KINDS];

export const noisePresets: Record<Exclude<Scale, 'study'>, NoiseConfig> = {
  /** Seconds: a 4-class Gaussian mixture (d = 16, 256 train), MLP 32, 2 seeds, 6 epochs. */
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
    seeds: [1, 2],
    lrSmall: 'auto',
    smallFactor: 0.5,
    lrLarge: 'auto',
    lrRatio: 8,
    batchSize: 32,
    epochs: 6,
    arms: ALL_ARMS,
    amplifyFactors: [0.5, 1, 2],
    noiseEstimateBatches: 16,
    fullBatchBudget: 'steps',
    evalEvery: 2,
    sharpness: { subset: 128, iterations: 30, tolerance: 1e-3 },
    concurrency: 2,
    augment: null,
    microBatch: null,
    batchArms: true,
  },
  /** Minutes on two cores: Fashion-MNIST 200/class (2000 train, full 10k test), MLP 784-128-10, 3 seeds. */
  quick: {
    scale: 'quick',
    data: {
      source: 'fashion-mnist',
      trainPerClass: 200,
      testSize: null,
      seed: 1,
      download: false,
      synthetic: { kind: 'gaussian-mixture', k: 10, d: 64, nTrain: 2000, nTest: 2000, seed: 1, separation: 3, noise: 1 },
    },
    model: { kind: 'mlp', hidden: [128] },
    seeds: [1, 2, 3],
    lrSmall: 'auto',
    smallFactor: 0.5,
    lrLarge: 'auto',
    lrRatio: 8,
    batchSize: 64,
    epochs: 40,
    arms: ALL_ARMS,
    amplifyFactors: [0.5, 1, 2],
    noiseEstimateBatches: 32,
    fullBatchBudget: 'steps',
    evalEvery: 4,
    sharpness: { subset: 500, iterations: 30, tolerance: 1e-3 },
    concurrency: 2,
    augment: null,
    microBatch: null,
    batchArms: true,
  },
  /**
   * For a cluster: CIFAR-10 (all 50k), ResNet-18 without batch norm, 3 seeds, 100 epochs, every arm.
   * Not run on two cores. Full-batch steps go through the network in micro-batches of 500 examples
   * (the same mean gradient up to rounding, in the activation memory of 500 images).
   */
  paper: {
    scale: 'paper',
    data: { source: 'cifar10', trainPerClass: null, testSize: null, seed: 1, download: true, synthetic: null },
    model: { kind: 'resnet', width: 64, blocks: [2, 2, 2, 2], batchnorm: false },
    seeds: [1, 2, 3],
    lrSmall: 'auto',
    smallFactor: 0.5,
    lrLarge: 'auto',
    lrRatio: 10,
    batchSize: 128,
    epochs: 100,
    arms: ALL_ARMS,
    amplifyFactors: [0.5, 1, 2],
    noiseEstimateBatches: 64,
    fullBatchBudget: 'steps',
    evalEvery: 5,
    sharpness: { subset: 5000, iterations: 50, tolerance: 1e-3 },
    concurrency: 1,
    augment: null,
    microBatch: 500,
    batchArms: true,
  },
};

// ---- validation -----------------------------------------------------------------------------------

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.lrSmall must be a positive number or 'auto'". */
export function validateNoiseConfig(config: unknown): asserts config is NoiseConfig {
  if (!isObj(config)) fail(TypeError, 'config', 'must be an object');
  const c = config;
  oneOf(c.scale, 'config.scale', ['tiny', 'quick', 'paper']);
  validateData(c.data);
  validateModel(c.model);
  intArray(c.seeds, 'config.seeds', { min: 0, nonEmpty: true });
  if (new Set(c.seeds as number[]).size !== (c.seeds as number[]).length) fail(RangeError, 'config.seeds', 'must not repeat a seed');
  posNumOrAuto(c.lrSmall, 'config.lrSmall');
  posNum(c.smallFactor, 'config.smallFactor');
  posNumOrAuto(c.lrLarge, 'config.lrLarge');
  posNum(c.lrRatio, 'config.lrRatio');
  if ((c.lrRatio as number) <= 1) fail(RangeError, 'config.lrRatio', `must be > 1 (got ${c.lrRatio})`);
  if (typeof c.lrSmall === 'number' && typeof c.lrLarge === 'number' && c.lrLarge <= c.lrSmall)
    fail(RangeError, 'config.lrLarge', `must be > config.lrSmall (got ${c.lrLarge} <= ${c.lrSmall})`);
  posInt(c.batchSize, 'config.batchSize', 2 ** 24);
  posInt(c.epochs, 'config.epochs', 1e6);
  if (!Array.isArray(c.arms)) fail(TypeError, 'config.arms', 'must be an array of arm names');
  if (c.arms.length === 0) fail(RangeError, 'config.arms', 'must not be empty');
  c.arms.forEach((a: unknown, i: number) => oneOf(a, `config.arms[${i}]`, NOISE_ARM_KINDS));
  if (new Set(c.arms).size !== c.arms.length) fail(RangeError, 'config.arms', 'must not repeat an arm');
  if (!Array.isArray(c.amplifyFactors)) fail(TypeError, 'config.amplifyFactors', 'must be an array of positive numbers');
  if (c.arms.includes('amplified') && c.amplifyFactors.length === 0) fail(RangeError, 'config.amplifyFactors', "must not be empty when config.arms has 'amplified'");
  c.amplifyFactors.forEach((f: unknown, i: number) => posNum(f, `config.amplifyFactors[${i}]`));
  posInt(c.noiseEstimateBatches, 'config.noiseEstimateBatches', 1e6);
  oneOf(c.fullBatchBudget, 'config.fullBatchBudget', ['steps', 'epochs']);
  posInt(c.evalEvery, 'config.evalEvery', 1e6);
  validateSharpness(c.sharpness);
  posInt(c.concurrency, 'config.concurrency', 64);
  if (c.microBatch !== null) posInt(c.microBatch, 'config.microBatch');
  if (typeof c.batchArms !== 'boolean') fail(TypeError, 'config.batchArms', `must be a boolean (got ${JSON.stringify(c.batchArms)})`);
  if (c.augment !== null) {
    if (!isObj(c.augment)) fail(TypeError, 'config.augment', 'must be null or { cropPadding, flip }');
    const a = c.augment;
    if (typeof a.cropPadding !== 'number' || !Number.isInteger(a.cropPadding) || a.cropPadding < 0)
      fail(RangeError, 'config.augment.cropPadding', `must be a non-negative integer (got ${JSON.stringify(a.cropPadding)})`);
    if (typeof a.flip !== 'boolean') fail(TypeError, 'config.augment.flip', `must be a boolean (got ${JSON.stringify(a.flip)})`);
    if ((c.data as { source?: unknown }).source === 'synthetic') fail(RangeError, 'config.augment', 'needs image data (synthetic sets are flat vectors)');
  }
}

// ---- helpers --------------------------------------------------------------------------------------

function gather(data: Examples, inSize: number, idx: ArrayLike<number>): Examples {
  const x = new Float32Array(idx.length * inSize);
  const y = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    x.set(data.x.subarray(i * inSize, (i + 1) * inSize), k * inSize);
    y[k] = data.y[i];
  }
  return { x, y };
}

/** Mean-loss gradient over all of `data`, accumulated in chunks (weights by chunk size), in double. */
function fullGradient(model: Model, data: Examples, chunk = 1000): Float64Array {
  const inSize = model.inputSize;
  const n = data.x.length / inSize;
  const g = new Float64Array(model.params.length);
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    model.lossAndGrad({ x: data.x.subarray(s * inSize, e * inSize), y: data.y.subarray(s, e) });
    const w = (e - s) / n;
    for (let i = 0; i < g.length; i++) g[i] += w * model.grads[i];
  }
  return g;
}

/** RNG stream of the noise estimate's batch draws (distinct from the trainer's streams). */
const ESTIMATE_STREAM = 21;

/**
 * σ_B at the model's θ: sqrt(mean over M batches of ‖g_B − ∇L‖² / d), batches of size B drawn
 * uniformly without replacement (partial Fisher–Yates).
 */
function estimateBatchNoise(model: Model, data: Examples, batch: number, batches: number, seed: number): { sigmaB: number; gradNorm: number } {
  const inSize = model.inputSize;
  const n = data.x.length / inSize;
  const g = fullGradient(model, data);
  const rng = Rng.fromSeed(seed, ESTIMATE_STREAM);
  const b = Math.min(batch, n);
  const perm = new Int32Array(n);
  let sum = 0;
  for (let m = 0; m < batches; m++) {
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = 0; i < b; i++) {
      const j = i + rng.below(n - i);
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    model.lossAndGrad(gather(data, inSize, perm.subarray(0, b)));
    let s = 0;
    for (let i = 0; i < g.length; i++) {
      const d = model.grads[i] - g[i];
      s += d * d;
    }
    sum += s;
  }
  let gn = 0;
  for (let i = 0; i < g.length; i++) gn += g[i] * g[i];
  return { sigmaB: Math.sqrt(sum / batches / g.length), gradNorm: Math.sqrt(gn) };
}

interface ArmPlan {
  id: string;
  kind: NoiseArmKind;
  label: string;
  eta: number;
  batch: number | 'full';
  amplify: number;
  steps: number;
  /** steps per "epoch" on the common x axis */
  stepsPerEpoch: number;
  exampleGrads: number;
  optimizer: (seed: number) => OptimizerSpec;
}

const fmtNum = (x: number, p = 3): string => Number(x.toPrecision(p)).toString();

function summarize(xs: number[]): NoiseArmSummary {
  const ok = xs.filter((x) => Number.isFinite(x));
  return { mean: ok.length ? mean(ok) : null, std: ok.length ? std(ok) : null, n: ok.length };
}

/** Arms that can share one batch stream: batch B, shuffled epochs, no amplification. */
const SHUFFLE_GROUP: readonly NoiseArmKind[] = ['sgd-small', 'sgd-large', 'isotropic'];
/** Arms that can share full-batch steps. */
const FULL_GROUP: readonly NoiseArmKind[] = ['gd-small', 'gd-large'];

/** One task of the pool: an arm trained alone (one member) or a batched group, for one seed. */
interface ArmTask {
  members: ArmPlan[];
  seed: number;
}

/**
 * The arms in groups that train together, in plan order (a group sits where its first arm is).
 * With `config.batchArms`, the arms present of sgd-small, sgd-large and isotropic form one group
 * (same batch size B, same shuffled epochs, same init and trainer seed: identical batches) unless
 * `config.augment` is set (MultiTrainer has no augmentation), and gd-small and gd-large form one
 * unless `config.microBatch` is set (MultiTrainer has no micro-batches). Amplified arms (each needs
 * its own second batch) and the small-batch arm (another batch size) are always alone, and so is
 * every arm without `batchArms`. A group of one arm trains as a solo Trainer.
 */
export function armGroups<P extends { kind: NoiseArmKind; steps: number }>(plans: P[], config: Pick<NoiseConfig, 'batchArms' | 'augment' | 'microBatch'>): P[][] {
  const groups: P[][] = [];
  const shared = new Map<string, P[]>();
  for (const p of plans) {
    const key = !config.batchArms
      ? null
      : SHUFFLE_GROUP.includes(p.kind) && config.augment === null
        ? 'shuffle'
        : FULL_GROUP.includes(p.kind) && config.microBatch === null
          ? 'full'
          : null;
    const group = key === null ? undefined : shared.get(key);
    if (group) {
      if (group[0].steps !== p.steps) throw new Error(`E3: arms ${group[0].kind} and ${p.kind} share batches but not their step budget`);
      group.push(p);
    } else {
      groups.push([p]);
      if (key !== null) shared.set(key, groups[groups.length - 1]);
    }
  }
  return groups;
}

// ---- the experiment -------------------------------------------------------------------------------

/** Runs E3. Progress and metrics go through `ctx`. */
export async function runNoise(config: NoiseConfig, ctx: RunContext): Promise<NoiseResult> {
  validateNoiseConfig(config);
  const t0 = performance.now();
  const c = config;
  ctx.progress(0, 1, 'E3 setup');
  const data = await loadData(c.data);
  const n = data.nTrain;
  const sharp = trainSubset(data, c.sharpness.subset, c.data.seed + 2);
  const spec = buildSpec(c.model, data.shape, data.numClasses);
  // Units (src/run/resume.ts): the setup below and every arm × seed run; a restarted run loads the
  // finished ones and continues a half-done run from its last checkpoint.
  const store = resumeStoreOf(ctx);
  store.pin('data', { source: data.source, fingerprint: fingerprint(data.train.x, data.train.y, data.test.x, data.test.y) });

  // λ₀ at θ₀ of the first seed, and the learning rates.
  const setup = await store.unit('setup', async (u) => {
    const probe = new Model(spec, { seed: c.seeds[0] });
    const paramCount = probe.params.length;
    let lambda0: { value: number; iterations: number; converged: boolean };
    const noiseEstimate: NoiseResult['noiseEstimate'] = [];
    let etaSmall: number;
    let etaLarge: number;
    try {
      const l = topEigenvalue(probe, sharp, { iterations: c.sharpness.iterations, tolerance: c.sharpness.tolerance, seed: c.seeds[0] });
      lambda0 = { value: l.value, iterations: l.iterations, converged: l.converged };
      etaSmall = c.lrSmall === 'auto' ? (c.smallFactor * 2) / lambda0.value : c.lrSmall;
      if (!(Number.isFinite(etaSmall) && etaSmall > 0))
        throw new Error(`E3: λ_max(θ₀) = ${lambda0.value} gives no usable η_small = smallFactor·2/λ₀; set config.lrSmall explicitly`);
      etaLarge = c.lrLarge === 'auto' ? c.lrRatio * etaSmall : c.lrLarge;
      if (etaLarge <= etaSmall) throw new RangeError(`config.lrLarge must be > η_small = ${etaSmall} (got ${etaLarge})`);
      // σ_B per seed at that seed's θ₀.
      const k = etaLarge / etaSmall;
      for (const seed of c.seeds) {
        ctx.signal?.throwIfAborted();
        probe.init(seed);
        const e = estimateBatchNoise(probe, data.train, c.batchSize, c.noiseEstimateBatches, seed);
        noiseEstimate.push({ seed, sigmaB: e.sigmaB, isotropicStd: Math.sqrt(Math.max(0, k * k - 1)) * e.sigmaB, gradNorm: e.gradNorm });
      }
    } finally {
      probe.close();
    }
    const k = etaLarge / etaSmall;
    const smallBatch = Math.max(1, Math.round((c.batchSize * etaSmall) / etaLarge));
    u.log({ phase: 'rule', lambda0: lambda0.value, etaSmall, etaLarge, k, smallBatch });
    for (const e of noiseEstimate) u.log({ phase: 'noise-estimate', ...e });
    return { paramCount, lambda0, noiseEstimate, etaSmall, etaLarge, k, smallBatch };
  });
  const { paramCount, lambda0, noiseEstimate, etaSmall, etaLarge, k, smallBatch } = setup;

  // Arm plans.
  const B = Math.min(c.batchSize, n);
  const perEpochB = Math.ceil(n / B);
  const sgdSteps = c.epochs * perEpochB;
  const plans: ArmPlan[] = [];
  const skipped: string[] = [];
  const sgdPlan = (id: string, kind: NoiseArmKind, label: string, eta: number, batch: number, amplify = 1): ArmPlan => {
    const per = Math.ceil(n / Math.min(batch, n));
    return {
      id,
      kind,
      label,
      eta,
      batch,
      amplify,
      steps: c.epochs * per,
      stepsPerEpoch: per,
      exampleGrads: c.epochs * n * (amplify > 1 ? 2 : 1),
      optimizer: () => sgd({ lr: eta }),
    };
  };
  for (const kind of c.arms) {
    if (kind === 'sgd-small') plans.push(sgdPlan('sgd-small', kind, `SGD η_small, B = ${B}`, etaSmall, B));
    if (kind === 'sgd-large') plans.push(sgdPlan('sgd-large', kind, `SGD η_large, B = ${B}`, etaLarge, B));
    if (kind === 'amplified') {
      for (const f of c.amplifyFactors) {
        const amp = k * f;
        const id = `amp-${fmtNum(f)}k`;
        if (!(amp > 1)) {
          skipped.push(`${id}: amplification k·${f} = ${fmtNum(amp)} ≤ 1 is plain SGD`);
          continue;
        }
        plans.push(sgdPlan(id, kind, `η_small, noise ×${fmtNum(amp)} (${fmtNum(f)}·k), B = ${B}`, etaSmall, B, amp));
      }
    }
    if (kind === 'small-batch') plans.push(sgdPlan('small-batch', kind, `SGD η_small, B' = ${smallBatch}`, etaSmall, smallBatch));
    if (kind === 'isotropic') {
      const p = sgdPlan('isotropic', kind, `η_small + isotropic noise, B = ${B}`, etaSmall, B);
      p.optimizer = (seed) => noisySgd({ lr: etaSmall, noiseStd: noiseEstimate.find((e) => e.seed === seed)!.isotropicStd });
      plans.push(p);
    }
    if (kind === 'gd-small' || kind === 'gd-large') {
      const eta = kind === 'gd-small' ? etaSmall : etaLarge;
      const steps = c.fullBatchBudget === 'steps' ? sgdSteps : c.epochs;
      plans.push({
        id: kind,
        kind,
        label: `GD η_${kind === 'gd-small' ? 'small' : 'large'} (full batch)`,
        eta,
        batch: 'full',
        amplify: 1,
        steps,
        stepsPerEpoch: steps / c.epochs,
        exampleGrads: steps * n,
        optimizer: () => sgd({ lr: eta }),
      });
    }
  }

  // Tasks: every group of arms × seed, heaviest first so the pool ends together. A group is one arm
  // (a solo Trainer) or the arms that see the same batches (one MultiTrainer; see armGroups).
  const groups = armGroups(plans, c);
  const tasks = groups.flatMap((members) => c.seeds.map((seed) => ({ members, seed })));
  const weight = (t: ArmTask): number => t.members.reduce((s, p) => s + p.exampleGrads, 0);
  const order = tasks.map((_, i) => i).sort((a, b) => weight(tasks[b]) - weight(tasks[a]) || a - b);
  const totalWork = tasks.reduce((s, t) => s + weight(t), 0);
  let doneWork = 0;
  const perArmMs: Record<string, number> = {};
  const evalEpochs: number[] = [];
  for (let e = c.evalEvery; e < c.epochs; e += c.evalEvery) evalEpochs.push(e);
  evalEpochs.push(c.epochs);

  const point = (model: Model, epoch: number, step: number): NoisePoint => {
    const tr = model.evaluate(data.train);
    const te = model.evaluate(data.test);
    return { epoch, step, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss, testAccuracy: te.accuracy };
  };
  /** A new run of arm `p` with its first curve point (θ₀), logged. */
  const startRun = (u: Unit, p: ArmPlan, seed: number, first: NoisePoint): NoiseRun => {
    const run: NoiseRun = { seed, steps: 0, curve: [first], diverged: false, divergedAt: null, final: null, noiseStd: p.kind === 'isotropic' ? noiseEstimate.find((e) => e.seed === seed)!.isotropicStd : null };
    u.log({ phase: 'train', arm: p.id, seed, ...first });
    return run;
  };
  /** Records that `run` of arm `p` diverged at `divergedAt`; the rest of its budget counts as done. */
  const markDiverged = (u: Unit, p: ArmPlan, run: NoiseRun, divergedAt: number | null): void => {
    run.diverged = true;
    run.divergedAt = divergedAt;
    u.log({ phase: 'train', arm: p.id, seed: run.seed, kind: 'diverged', divergedAt });
    doneWork += ((p.steps - run.steps) / p.steps) * p.exampleGrads;
  };
  const unitKey = (members: ArmPlan[], seed: number): string => `train-${members.map((p) => p.id).join('.')}-seed${seed}`;

  // One arm × seed run. Training goes in segments of at most SEGMENT steps; between segments (and
  // at each evaluation point) a partial checkpoint is written when one is due. Splitting a run into
  // segments does not change it (a chunked run equals the same steps in one go, bit for bit).
  const SEGMENT = 200;
  const runSolo = (p: ArmPlan, seed: number): Promise<NoiseRun> =>
    store.unit(
      unitKey([p], seed),
      async (u: Unit) => {
        const tStart = performance.now();
        const model = new Model(spec, { seed });
        try {
          const batch: BatchOptions =
            p.batch === 'full'
              ? { mode: 'full', ...(config.microBatch ? { microBatch: config.microBatch } : {}) }
              : { mode: 'shuffle', size: p.batch, ...(p.amplify > 1 ? { amplify: p.amplify } : {}), ...(config.augment ? { augment: config.augment } : {}) };
          const trainer = new Trainer(model, { data: data.train, optimizer: p.optimizer(seed), batch, seed });
          // A half-done run from an earlier life: the run so far and the index of the next evaluation point.
          const saved = u.restore<{ run: NoiseRun; next: number }>([trainer]);
          let next = 0;
          let run: NoiseRun;
          if (saved) {
            ({ run, next } = saved);
            doneWork += (run.steps / p.steps) * p.exampleGrads;
          } else {
            run = startRun(u, p, seed, point(model, 0, 0));
          }
          train: for (; next < evalEpochs.length; next++) {
            const epoch = evalEpochs[next];
            const target = Math.round((epoch * p.steps) / c.epochs);
            if (target <= run.steps) continue;
            while (run.steps < target) {
              const k = Math.min(SEGMENT, target - run.steps);
              const r = await trainer.run({ steps: k, chunkSize: k, signal: ctx.signal });
              ctx.signal?.throwIfAborted();
              run.steps += r.stepsDone;
              doneWork += (r.stepsDone / p.steps) * p.exampleGrads;
              ctx.progress(Math.round(doneWork), totalWork, `E3 ${p.id} seed ${seed} epoch ${epoch}`);
              if (r.diverged) {
                markDiverged(u, p, run, r.divergedAt);
                break train;
              }
              if (run.steps < target && u.due()) u.save([trainer], { run, next });
            }
            const pt = point(model, epoch, run.steps);
            run.curve.push(pt);
            u.log({ phase: 'train', arm: p.id, seed, ...pt });
            if (next + 1 < evalEpochs.length && u.due()) u.save([trainer], { run, next: next + 1 });
          }
          run.final = run.diverged ? null : run.curve[run.curve.length - 1];
          return run;
        } finally {
          model.close();
          perArmMs[p.id] = (perArmMs[p.id] ?? 0) + (performance.now() - tStart);
        }
      },
      () => {
        // finished in an earlier life of this run directory
        doneWork += p.exampleGrads;
        ctx.progress(Math.round(doneWork), totalWork, `E3 ${p.id} seed ${seed} (done earlier)`);
      },
    );

  // The arms of a group × seed in one MultiTrainer: model k is members[k], with the init, optimizer,
  // batching and seed of its solo run, so its trajectory is the solo run's bit for bit. The runs
  // advance together (same steps, same evaluation points); a diverged model is frozen by the
  // MultiTrainer and recorded as the solo run records it, while the others continue. Model k is
  // evaluated by copying its parameters (and batch-norm state) into a Model, as the solo run
  // evaluates its trainer's model.
  const runGroup = (members: ArmPlan[], seed: number): Promise<NoiseRun[]> => {
    const name = members.map((p) => p.id).join('+');
    const groupWork = members.reduce((s, p) => s + p.exampleGrads, 0);
    return store.unit(
      unitKey(members, seed),
      async (u: Unit) => {
        const tStart = performance.now();
        const steps = members[0].steps;
        const first = members[0].batch;
        const multi = new MultiTrainer(spec, {
          data: data.train,
          models: members.map((p) => ({ optimizer: p.optimizer(seed), init: seed })),
          batch: first === 'full' ? { mode: 'full' } : { mode: 'shuffle', size: first },
          seed,
        });
        const view = new Model(spec, { seed });
        const evaluate = (k: number, epoch: number, step: number): NoisePoint => {
          view.params.set(multi.paramsOf(k));
          view.state.set(multi.modelStateOf(k));
          return point(view, epoch, step);
        };
        try {
          // A half-done group from an earlier life: its runs so far and the index of the next evaluation point.
          const saved = u.restore<{ runs: NoiseRun[]; next: number }>([multi]);
          let next = 0;
          let runs: NoiseRun[];
          if (saved) {
            ({ runs, next } = saved);
            members.forEach((p, k) => (doneWork += runs[k].diverged ? p.exampleGrads : (runs[k].steps / p.steps) * p.exampleGrads));
          } else {
            runs = members.map((p, k) => startRun(u, p, seed, evaluate(k, 0, 0)));
          }
          train: for (; next < evalEpochs.length; next++) {
            const epoch = evalEpochs[next];
            const target = Math.round((epoch * steps) / c.epochs);
            if (target <= multi.stepCount) continue;
            while (multi.stepCount < target) {
              const k = Math.min(SEGMENT, target - multi.stepCount);
              const r = await multi.run({ steps: k, chunkSize: k, signal: ctx.signal });
              ctx.signal?.throwIfAborted();
              const diverged: number[] = [];
              members.forEach((p, m) => {
                if (runs[m].diverged) return; // frozen since an earlier segment
                const trained = r.models[m].loss.length; // updates model m applied (as a solo run's stepsDone)
                runs[m].steps += trained;
                doneWork += (trained / p.steps) * p.exampleGrads;
                if (r.models[m].diverged) diverged.push(m);
              });
              ctx.progress(Math.round(doneWork), totalWork, `E3 ${name} seed ${seed} epoch ${epoch}`);
              for (const m of diverged) markDiverged(u, members[m], runs[m], r.models[m].divergedAt);
              if (runs.every((run) => run.diverged)) break train;
              if (multi.stepCount < target && u.due()) u.save([multi], { runs, next });
            }
            members.forEach((p, m) => {
              if (runs[m].diverged) return;
              const pt = evaluate(m, epoch, runs[m].steps);
              runs[m].curve.push(pt);
              u.log({ phase: 'train', arm: p.id, seed, ...pt });
            });
            if (next + 1 < evalEpochs.length && u.due()) u.save([multi], { runs, next: next + 1 });
          }
          for (const run of runs) run.final = run.diverged ? null : run.curve[run.curve.length - 1];
          return runs;
        } finally {
          multi.close();
          view.close();
          // One native loop trains the group: its wall time is shared equally among the members.
          const ms = (performance.now() - tStart) / members.length;
          for (const p of members) perArmMs[p.id] = (perArmMs[p.id] ?? 0) + ms;
        }
      },
      () => {
        // finished in an earlier life of this run directory
        doneWork += groupWork;
        ctx.progress(Math.round(doneWork), totalWork, `E3 ${name} seed ${seed} (done earlier)`);
      },
    );
  };

  const results = new Map<string, NoiseRun>();
  const runTask = async ({ members, seed }: ArmTask): Promise<void> => {
    const runs = members.length === 1 ? [await runSolo(members[0], seed)] : await runGroup(members, seed);
    members.forEach((p, k) => results.set(`${p.id}/${seed}`, runs[k]));
  };
  await pool(order.map((i) => () => runTask(tasks[i])), c.concurrency, ctx.signal);

  // Per-arm summaries and the comparison with sgd-large.
  const arms: NoiseArm[] = plans.map((p) => {
    const runs = c.seeds.map((seed) => results.get(`${p.id}/${seed}`)!);
    return {
      id: p.id,
      kind: p.kind,
      label: p.label,
      eta: p.eta,
      batch: p.batch,
      amplify: p.amplify,
      stepsPerRun: p.steps,
      exampleGradsPerRun: p.exampleGrads,
      runs,
      diverged: runs.filter((r) => r.diverged).length,
      testAccuracy: summarize(runs.map((r) => r.final?.testAccuracy ?? NaN)),
      trainLoss: summarize(runs.map((r) => r.final?.trainLoss ?? NaN)),
      vsLarge: null,
    };
  });
  const large = arms.find((a) => a.id === 'sgd-large');
  const reachLarge: string[] = [];
  if (large) {
    for (const a of arms) {
      if (a === large) continue;
      // Paired over seeds; a diverged run counts as accuracy 0 (it did not reach anything).
      const d = c.seeds.map((_, si) => (a.runs[si].final?.testAccuracy ?? 0) - (large.runs[si].final?.testAccuracy ?? 0));
      const se = d.length > 1 ? std(d) / Math.sqrt(d.length) : 0;
      const meanDiff = mean(d);
      const reaches = meanDiff >= -2 * se;
      a.vsLarge = { meanDiff, se, reaches };
      if (reaches) reachLarge.push(a.id);
    }
  }
  ctx.progress(totalWork, totalWork, 'E3 done');
  return {
    experiment: 'E3-noise',
    scale: c.scale,
    config: structuredClone(c),
    data: { description: data.description, source: data.source, fallback: data.fallback, nTrain: n, nTest: data.nTest, sharpnessSubset: Math.min(c.sharpness.subset, n) },
    model: { description: describeModel(c.model, paramCount), paramCount },
    rule:
      `η_small = ${c.lrSmall === 'auto' ? `${c.smallFactor}·2/λ_max(θ₀ of seed ${c.seeds[0]})` : 'configured'}, ` +
      `η_large = ${c.lrLarge === 'auto' ? `${c.lrRatio}·η_small` : 'configured'}; k = η_large/η_small; B' = round(B·η_small/η_large); ` +
      `isotropic σ = √(k²−1)·σ_B(θ₀)`,
    lambda0,
    etaSmall,
    etaLarge,
    k,
    smallBatch,
    noiseEstimate,
    skipped,
    arms,
    reachLarge,
    timing: { totalMs: performance.now() - t0, perArmMs },
  };
}

// ---- headline and table ---------------------------------------------------------------------------

/**
 * Flat headline numbers (docs/experiments.md, E3): dataset, fallback, etaSmall, etaLarge, k,
 * smallBatch, isotropicStd (mean over seeds), sigmaB (mean over seeds); per arm id
 * `<arm>.testAcc`, `<arm>.testAccStd`, `<arm>.trainLoss`, `<arm>.trainLossStd`, `<arm>.diverged`
 * (runs), and except for sgd-large `<arm>.reachesLarge` and `<arm>.diffToLarge` (mean paired
 * test-accuracy difference); `reachLarge` = comma-separated ids of the arms that reach sgd-large;
 * `largeBeatsSmall` = sgd-small does NOT reach sgd-large.
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
    isotropicStd: mean(r.noiseEstimate.map((e) => e.isotropicStd)),
  };
  for (const a of r.arms) {
    h[`${a.id}.testAcc`] = a.testAccuracy.mean;
    h[`${a.id}.testAccStd`] = a.testAccuracy.std;
    h[`${a.id}.trainLoss`] = a.trainLoss.mean;
    h[`${a.id}.trainLossStd`] = a.trainLoss.std;
    h[`${a.id}.diverged`] = a.diverged;
    if (a.vsLarge) {
      h[`${a.id}.reachesLarge`] = a.vsLarge.reaches;
      h[`${a.id}.diffToLarge`] = a.vsLarge.meanDiff;
    }
  }
  h.reachLarge = r.reachLarge.join(',');
  const small = r.arms.find((a) => a.id === 'sgd-small');
  h.largeBeatsSmall = small?.vsLarge ? !small.vsLarge.reaches : null;
  return h;
}

/** The E3 table for the report: one row per arm. */
export function noiseTable(r: NoiseResult): ReportTable {
  const cell = (s: NoiseArmSummary): TableCell => ({ mean: s.mean, std: s.std, n: s.n });
  return {
    id: 'e3-arms',
    title: 'E3: final train loss and test accuracy per arm (mean ± std over seeds)',
    caption:
      `Scale ${r.scale}; ${r.data.description}${r.data.fallback ? ` (FALLBACK: ${r.data.fallback})` : ''}; ${r.model.description}; seeds ` +
      `${r.config.seeds.join(', ')}; ${r.config.epochs} epochs. ${r.rule}: η_small = ${fmtNum(r.etaSmall)}, η_large = ${fmtNum(r.etaLarge)}, ` +
      `k = ${fmtNum(r.k)}. "reaches large" = paired mean difference to SGD η_large ≥ −2 standard errors.`,
    columns: ['arm', 'η', 'batch', 'noise', 'steps', 'train loss', 'test accuracy', 'Δ test acc vs large', 'reaches large', 'diverged runs'],
    rows: r.arms.map((a) => [
      a.label,
      a.eta,
      a.batch === 'full' ? 'full' : a.batch,
      a.kind === 'amplified' ? `×${fmtNum(a.amplify)} mini-batch` : a.kind === 'isotropic' ? `σ = ${fmtNum(mean(a.runs.map((x) => x.noiseStd ?? NaN)))}` : a.batch === 'full' ? 'none' : 'mini-batch',
      a.stepsPerRun,
      cell(a.trainLoss),
      cell(a.testAccuracy),
      a.vsLarge ? a.vsLarge.meanDiff : null,
      a.vsLarge ? a.vsLarge.reaches : null,
      a.diverged,
    ]),
  };
}

// ---- the definition -------------------------------------------------------------------------------

export const noiseExperiment: ExperimentDefinition<NoiseConfig, NoiseResult> = {
  name: 'noise',
  title: 'E3 noise: at a fixed budget, does extra gradient noise at a small learning rate recover what a large learning rate gives?',
  presets: noisePresets,
  validate: validatorOf(validateNoiseConfig),
  run: runNoise,
  headline: noiseHeadline,
  async figures(result): Promise<Figure[]> {
    const { noiseFigures } = await import('./noise-figures.js');
    return noiseFigures(result);
  },
};
