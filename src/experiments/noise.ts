/**
 * E3 — noise is not enough: the computation (PROTOCOL.md, experiment E3). The definition (presets,
 * validation, claim verdicts) is noise-experiment.ts, the figures noise-figures.ts.
 *
 * Learning rates (fixed before any run): λ₀ = λ_max of the Hessian of the mean train loss at θ₀ of
 * the first seed on a fixed train subset; η_small = smallFactor·2/λ₀ (or `lrSmall`), η_large =
 * lrRatio·η_small (or `lrLarge`), the same for every seed; k = η_large/η_small.
 *
 * Noise units. With Σ the per-example gradient covariance, SGD at rate η and batch b with its
 * mini-batch noise amplified by a (std multiplier) has the SDE temperature η·a²·Σ/b (noise per unit
 * of gradient-flow time) and the per-step update covariance η²·a²·Σ/b. Each arm states both as
 * ratios to sgd-large (η_large, batch B, a = 1), and in absolute terms with σ_B² = tr Σ/(B·d) measured
 * at θ₀ (the per-coordinate variance of the batch-B gradient noise):
 *  - `amp-k<p>`: η_small, batch B, a = k^p: temperature ratio k^(2p−1), per-step ratio k^(2p−2). So
 *    p = 0.5 (a = √k) matches the temperature, p = 1 (a = k) the per-step covariance;
 *  - `small-batch`: η_small, B' = round(B/k): temperature ratio ≈ 1, per-step ≈ 1/k;
 *  - `isotropic`: η_small, batch B, plus Gaussian noise σ_iso·ξ with σ_iso² = (k − 1)·σ_B²(θ_t), so
 *    η_small(σ_B² + σ_iso²) = η_large·σ_B²: temperature-matched; σ_B(θ_t) is re-measured on the arm's
 *    own parameters at θ₀ and at every evaluation point, and σ_iso follows it;
 *  - `gd-*`: no noise. `sgd-small`: temperature 1/k, per-step 1/k².
 * The amplified estimator is SVAG's (Li, Malladi, Arora 2021): g = (1+√(2l−1))/2·g₁ + (1−√(2l−1))/2·g₂
 * with l = a² (docs/optimizers.md); SVAG's recipe — rate η/l for l times the steps — is the arm
 * `amp-k0.5` at the flow budget (l = k).
 *
 * Budgets. The large arms train `epochs` epochs of batch B. Every small-η arm runs at the `epochs`
 * budget (same epochs) and, in `budgets: [..., 'flow']`, also at the same gradient-flow time ηT
 * (k times the steps; id suffix `-flow`). The small-batch arm's epochs budget already has the large
 * arm's ηT (k times the steps of batch B), so it has one run for both.
 * Context: `lr-x<m>` arms are SGD at m·η_large (batch B, same epochs) for each m of `lrSweep`
 * (m = 1 and m = 1/k reuse sgd-large and sgd-small); `decay` is η_large multiplied by
 * `decay.factor` at each fraction of `decay.at` of the budget.
 *
 * Statistics (per arm, against sgd-large, over seeds): d_s = acc_arm(s) − acc_large(s) of the final
 * test accuracy (a diverged run counts as accuracy 0), the 95 % paired t-interval of mean(d), and a
 * TOST equivalence test with margin `equivalenceMargin` at level `alpha`. Verdict: "reaches" when
 * TOST shows equivalence; else "worse" when the interval lies below 0, "better" when it lies above
 * 0, otherwise "inconclusive".
 *
 * Concurrency: every arm × seed is one solo Trainer; `concurrency` of them train at once (their
 * chunks and their evaluations, Model#evaluateAsync, run on the libuv pool, one BLAS thread each,
 * so one run's evaluation does not hold up the others' chunks). Resuming (src/run/resume.ts): the setup and
 * each arm × seed run are units; a run keeps partial checkpoints of its trainer and curve.
 * Deterministic for a config at a fixed BLAS thread count (except `timing`).
 *
 * Data parallel (`ctx.dataParallel`, `bigstep run noise --data-parallel` under mpirun/srun): every
 * arm trains with `Trainer({ dataParallel })` — each full batch and each mini-batch (both batches
 * of the amplified estimator, augmented as a whole first) split over the ranks — and every
 * evaluation and λ_max(θ₀) are split (bitwise the one-process values); σ_B estimates are computed
 * whole on every rank; the runs go one at a time. Every arm's batches must split over the N ranks
 * (also an epoch's last batch, n mod b): checked for all arms before the first one trains. With
 * `shards` = N (or null) and microBatch null, the result is bitwise the one-process run of the same
 * config with shards = N (docs/cluster.md); with microBatch set, GD arms agree with it to rounding.
 */
import { Model, type Examples } from '../model/model.js';
import { topEigenvalue } from '../measure/sharpness.js';
import { noisySgd, sgd, type OptimizerSpec } from '../optim/optimizer.js';
import { piecewise } from '../optim/schedules.js';
import { fingerprint, resumeStoreOf, type Unit } from '../run/resume.js';
import { checkShardable, requireMpiWorld } from '../train/data-parallel.js';
import { sharedExamples } from '../train/shared-data.js';
import { Trainer, type BatchOptions } from '../train/trainer.js';
import { Rng } from '../util/random.js';
import { pairedInterval, tost } from '../util/stats.js';
import { runConcurrently } from '../train/concurrent.js';
import { runSegmented } from './segmented-run.js';
import {
  buildSpec,
  describeModel,
  loadData,
  mean,
  std,
  trainSubset,
  type DataConfig,
  type LoadedData,
  type ModelConfig,
  type SharpnessConfig,
} from './escape-setup.js';
import type { RunContext, Scale } from './types.js';

export const NOISE_ARM_KINDS = [
  'sgd-small',
  'sgd-large',
  'amplified',
  'small-batch',
  'isotropic',
  'decay',
  'lr-sweep',
  'gd-small',
  'gd-large',
] as const;
export type NoiseArmKind = (typeof NOISE_ARM_KINDS)[number];
/** `epochs`: the large arm's epochs; `flow`: the large arm's gradient-flow time ηT (k times the steps). */
export type NoiseBudget = 'epochs' | 'flow';
export const NOISE_BUDGETS: readonly NoiseBudget[] = ['epochs', 'flow'];

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
  /** The large arms' budget in epochs of batch B. */
  epochs: number;
  arms: NoiseArmKind[];
  /** Amplified arms: mini-batch noise std multiplied by k^p for each p (0.5: temperature match, 1: per-step match). */
  amplifyPowers: number[];
  /** Budgets of every small-η arm (non-empty; 'epochs' and/or 'flow'). */
  budgets: NoiseBudget[];
  /** LR sweep: SGD at m·η_large for each multiple m (batch B, the epochs budget). */
  lrSweep: number[];
  /** Large-then-decay arm: η_large, multiplied by `factor` at each fraction `at` of the budget. */
  decay: { at: number[]; factor: number };
  /** Batches of size B drawn to measure σ_B (at θ₀ per seed, and along the isotropic arm). */
  noiseEstimateBatches: number;
  /** Evaluate (full train and test sets) every evalEvery epochs of the arm and at the end. */
  evalEvery: number;
  sharpness: SharpnessConfig;
  /** Arm × seed runs trained at once (one solo Trainer each). */
  concurrency: number;
  /** Image augmentation for the mini-batch arms, or null; GD arms and σ_B estimates never augment. */
  augment: { cropPadding: number; flip: boolean } | null;
  /** Examples per forward/backward pass in full-batch steps (null: all at once). */
  microBatch: number | null;
  /**
   * Cut every batch (mini-batches, and full batches while microBatch is null) into this many pieces
   * of ⌈b/shards⌉ examples, summed in double (Trainer `batch.shards`): in one process the arithmetic
   * of a `shards`-rank `--data-parallel` run, bit for bit. Null: whole batches. Under
   * `--data-parallel` on N ranks it must be null or N.
   */
  shards: number | null;
  /** TOST margin in accuracy (0.005 = 0.5 accuracy points): "reaches" = |mean difference| < margin shown at level alpha. */
  equivalenceMargin: number;
  /** Level of the TOST (each one-sided test); the paired intervals are 1 − alpha (95 % at 0.05). */
  alpha: number;
}

export interface NoisePoint {
  /** Epochs of this arm's batch size trained so far (GD: steps). */
  epoch: number;
  step: number;
  /** Gradient-flow time Σ η(t) over the steps so far. */
  flowTime: number;
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
  /** Isotropic arm: σ_B(θ_t) measured at each evaluation point before the last, and the σ_iso used from there on. */
  noiseTrace: Array<{ step: number; sigmaB: number; isotropicStd: number }> | null;
}

export interface NoiseArmSummary {
  mean: number | null;
  std: number | null;
  n: number;
}

export type ArmVerdict = 'reaches' | 'worse' | 'better' | 'inconclusive';

/** An arm against sgd-large: paired per-seed differences of final test accuracy. */
export interface NoiseComparison {
  n: number;
  meanDiff: number;
  sd: number;
  /** (1 − alpha) paired t-interval of the mean difference. */
  lo: number;
  hi: number;
  /** TOST at `alpha` with ±margin: the larger one-sided p and the (1 − 2·alpha) interval it amounts to. */
  tost: { equivalent: boolean; p: number; lo90: number; hi90: number; margin: number };
  verdict: ArmVerdict;
}

export interface NoiseArm {
  id: string;
  kind: NoiseArmKind;
  label: string;
  /** Initial learning rate (decay: before the first decay). */
  eta: number;
  batch: number | 'full';
  /** Mini-batch noise std multiplier (1: plain). */
  amplify: number;
  /** Budget relative to the large arm ('epochs' for the large, sweep and decay arms). */
  budget: NoiseBudget;
  stepsPerRun: number;
  epochsPerRun: number;
  /** Gradient-flow time ηT of a run. */
  flowTime: number;
  /** Gradient evaluations of single examples per run (amplified arms draw two batches). */
  exampleGradsPerRun: number;
  /** Noise relative to sgd-large at θ₀: SDE temperature η·a²σ²/b and per-step covariance η²·a²σ²/b (0 for GD). */
  noise: { temperature: number; perStep: number };
  runs: NoiseRun[];
  diverged: number;
  testAccuracy: NoiseArmSummary;
  trainLoss: NoiseArmSummary;
  /** Null for sgd-large itself. */
  vsLarge: NoiseComparison | null;
}

export interface NoiseResult {
  experiment: 'E3-noise';
  scale: Scale;
  config: NoiseConfig;
  data: {
    description: string;
    source: string;
    fallback: string | null;
    nTrain: number;
    nTest: number;
    sharpnessSubset: number;
  };
  model: { description: string; paramCount: number };
  rule: string;
  lambda0: { value: number; iterations: number; converged: boolean };
  etaSmall: number;
  etaLarge: number;
  k: number;
  smallBatch: number;
  /** Per seed at θ₀: σ_B (per-coordinate std of the batch-B gradient noise), ‖∇L‖, and the large arm's absolute noise η_large·σ_B², η_large²·σ_B². */
  noiseEstimate: Array<{
    seed: number;
    sigmaB: number;
    gradNorm: number;
    temperatureLarge: number;
    perStepLarge: number;
  }>;
  /** The learning-rate sweep: arm ids in order of η (sgd-small and sgd-large where they fall on the grid). */
  lrSweep: Array<{ multiple: number; eta: number; armId: string }>;
  skipped: string[];
  arms: NoiseArm[];
  timing: { totalMs: number; perArmMs: Record<string, number> };
}

// ---- plans ------------------------------------------------------------------------------------------

/** What one arm trains: everything but the seed. */
export interface ArmPlan {
  id: string;
  kind: NoiseArmKind;
  label: string;
  eta: number;
  batch: number | 'full';
  amplify: number;
  budget: NoiseBudget;
  steps: number;
  stepsPerEpoch: number;
  flowTime: number;
  exampleGrads: number;
  noise: { temperature: number; perStep: number };
  optimizer: OptimizerSpec;
  /** Isotropic arm: σ_iso is re-set from σ_B(θ_t) at every evaluation point. */
  isotropic: boolean;
  /** Gradient-flow time Σ η(t) after `step` steps. */
  flowAt(step: number): number;
}

export const fmtNum = (x: number, p = 3): string => Number(x.toPrecision(p)).toString();

/** The setup every arm depends on: learning rates and the size of the problem. */
export interface NoiseRates {
  etaSmall: number;
  etaLarge: number;
  n: number;
}

/**
 * The arms of `c` for the rates `r` (pure: the tests check the budget and noise arithmetic on it).
 * Small-η arms come once per budget of `c.budgets`; sweep values equal to 1 or 1/k reuse sgd-large
 * and sgd-small (epochs budget) and are listed in `sweep`.
 */
export function planArms(
  c: NoiseConfig,
  r: NoiseRates,
): { plans: ArmPlan[]; sweep: NoiseResult['lrSweep']; skipped: string[]; smallBatch: number } {
  const { etaSmall, etaLarge, n } = r;
  const k = etaLarge / etaSmall;
  const B = Math.min(c.batchSize, n);
  const smallBatch = Math.max(1, Math.round(B / k));
  const plans: ArmPlan[] = [];
  const skipped: string[] = [];
  const perEpoch = (b: number): number => Math.ceil(n / Math.min(b, n));
  /** SGD-family arm trained for `epochs` epochs of its batch b. */
  const sgdArm = (
    a: Pick<ArmPlan, 'id' | 'kind' | 'label' | 'eta' | 'batch' | 'amplify' | 'budget'> & {
      epochs: number;
      optimizer?: OptimizerSpec;
      isotropic?: boolean;
    },
  ): ArmPlan => {
    const b = a.batch === 'full' ? n : a.batch;
    const per = a.batch === 'full' ? 1 : perEpoch(b);
    const steps = a.epochs * per;
    // Noise relative to sgd-large: (η/η_L)·a²·(B/b) and (η/η_L)²·a²·(B/b); isotropic: matched temperature.
    const rel = a.eta / etaLarge;
    const mb = a.batch === 'full' ? 0 : (a.amplify * a.amplify * B) / b;
    const noise = a.isotropic ? { temperature: 1, perStep: rel } : { temperature: rel * mb, perStep: rel * rel * mb };
    return {
      id: a.id,
      kind: a.kind,
      label: a.label,
      eta: a.eta,
      batch: a.batch,
      amplify: a.amplify,
      budget: a.budget,
      steps,
      stepsPerEpoch: per,
      flowTime: a.eta * steps,
      exampleGrads: a.batch === 'full' ? steps * n : a.epochs * n * (a.amplify > 1 ? 2 : 1),
      noise,
      optimizer: a.optimizer ?? sgd({ lr: a.eta }),
      isotropic: a.isotropic ?? false,
      flowAt: (step) => a.eta * step,
    };
  };
  // A small-η arm at each budget: `epochs` epochs, or k times that (the large arm's ηT).
  const perBudget = (
    id: string,
    label: string,
    make: (epochs: number, id: string, budget: NoiseBudget, label: string) => ArmPlan,
  ): void => {
    for (const budget of c.budgets) {
      const epochs = budget === 'epochs' ? c.epochs : Math.round(c.epochs * k);
      plans.push(
        make(
          epochs,
          budget === 'epochs' ? id : `${id}-flow`,
          budget,
          `${label}${budget === 'flow' ? ', same ηT' : ''}`,
        ),
      );
    }
  };
  for (const kind of c.arms) {
    if (kind === 'sgd-large')
      plans.push(
        sgdArm({
          id: kind,
          kind,
          label: `SGD η_large, B = ${B}`,
          eta: etaLarge,
          batch: B,
          amplify: 1,
          budget: 'epochs',
          epochs: c.epochs,
        }),
      );
    if (kind === 'sgd-small')
      perBudget(kind, `SGD η_small, B = ${B}`, (epochs, id, budget, label) =>
        sgdArm({ id, kind, label, eta: etaSmall, batch: B, amplify: 1, budget, epochs }),
      );
    if (kind === 'amplified') {
      for (const p of c.amplifyPowers) {
        const a = Math.pow(k, p);
        const id = `amp-k${fmtNum(p)}`;
        if (!(a > 1 + 1e-12)) {
          skipped.push(`${id}: amplification k^${p} = ${fmtNum(a)} ≤ 1 is plain SGD`);
          continue;
        }
        const what = p === 0.5 ? ' (√k: temperature match)' : p === 1 ? ' (k: per-step match)' : '';
        perBudget(id, `η_small, noise ×${fmtNum(a)} = k^${fmtNum(p)}${what}`, (epochs, aid, budget, label) =>
          sgdArm({ id: aid, kind, label, eta: etaSmall, batch: B, amplify: a, budget, epochs }),
        );
      }
    }
    if (kind === 'small-batch') {
      // B' = B/k: k times the steps per epoch, so the epochs budget already has the large arm's ηT.
      plans.push(
        sgdArm({
          id: kind,
          kind,
          label: `SGD η_small, B' = ${smallBatch} (same epochs = same ηT)`,
          eta: etaSmall,
          batch: smallBatch,
          amplify: 1,
          budget: c.budgets.includes('flow') ? 'flow' : 'epochs',
          epochs: c.epochs,
        }),
      );
    }
    if (kind === 'isotropic') {
      perBudget(kind, `η_small + isotropic noise (temperature-matched), B = ${B}`, (epochs, id, budget, label) =>
        sgdArm({
          id,
          kind,
          label,
          eta: etaSmall,
          batch: B,
          amplify: 1,
          budget,
          epochs,
          isotropic: true,
          optimizer: noisySgd({ lr: etaSmall, noiseStd: 0 }),
        }),
      );
    }
    if (kind === 'gd-large')
      plans.push(
        sgdArm({
          id: kind,
          kind,
          label: 'GD η_large (full batch, one step per epoch)',
          eta: etaLarge,
          batch: 'full',
          amplify: 1,
          budget: 'epochs',
          epochs: c.epochs,
        }),
      );
    if (kind === 'gd-small')
      perBudget(kind, 'GD η_small (full batch)', (epochs, id, budget, label) =>
        sgdArm({ id, kind, label, eta: etaSmall, batch: 'full', amplify: 1, budget, epochs }),
      );
    if (kind === 'decay') {
      const base = sgdArm({
        id: kind,
        kind,
        label: '',
        eta: etaLarge,
        batch: B,
        amplify: 1,
        budget: 'epochs',
        epochs: c.epochs,
      });
      const bounds = c.decay.at.map((f) => Math.round(f * base.steps));
      const values = [etaLarge, ...c.decay.at.map((_, i) => etaLarge * Math.pow(c.decay.factor, i + 1))];
      // Σ η(t) for t < step under the piecewise schedule.
      const flowAt = (step: number): number =>
        values.reduce(
          (s, v, i) =>
            s +
            v * Math.max(0, Math.min(step, i < bounds.length ? bounds[i] : Infinity) - (i === 0 ? 0 : bounds[i - 1])),
          0,
        );
      const at = c.decay.at.map((f) => `${fmtNum(100 * f)} %`).join(', ');
      plans.push({
        ...base,
        label: `SGD η_large, ×${fmtNum(c.decay.factor)} at ${at}`,
        optimizer: sgd({ lr: piecewise(bounds, values) }),
        flowTime: flowAt(base.steps),
        flowAt,
      });
    }
  }
  const sweep: NoiseResult['lrSweep'] = [];
  if (c.arms.includes('lr-sweep')) {
    for (const m of [...c.lrSweep].sort((a, b) => a - b)) {
      const eta = m * etaLarge;
      const same = (x: number): boolean => Math.abs(x - eta) <= 1e-9 * eta;
      const reuse =
        same(etaLarge) && c.arms.includes('sgd-large')
          ? 'sgd-large'
          : same(etaSmall) && c.arms.includes('sgd-small') && c.budgets.includes('epochs')
            ? 'sgd-small'
            : null;
      const id = reuse ?? `lr-x${fmtNum(m)}`;
      if (!reuse)
        plans.push(
          sgdArm({
            id,
            kind: 'lr-sweep',
            label: `SGD ${fmtNum(m)}·η_large, B = ${B}`,
            eta,
            batch: B,
            amplify: 1,
            budget: 'epochs',
            epochs: c.epochs,
          }),
        );
      sweep.push({ multiple: m, eta, armId: id });
    }
  }
  return { plans, sweep, skipped, smallBatch };
}

// ---- measurements -----------------------------------------------------------------------------------

function gather(data: Examples, inSize: number, idx: ArrayLike<number>): Examples {
  const x = new Float32Array(idx.length * inSize);
  const y = new Int32Array(idx.length);
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j];
    x.set(data.x.subarray(i * inSize, (i + 1) * inSize), j * inSize);
    y[j] = data.y[i];
  }
  return { x, y };
}

/** Mean-loss gradient over all of `data`, accumulated in chunks (weighted by chunk size), in double. */
async function fullGradient(model: Model, data: Examples, chunk = 1000): Promise<Float64Array> {
  const inSize = model.inputSize;
  const n = data.x.length / inSize;
  const g = new Float64Array(model.params.length);
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    await model.lossAndGradAsync({ x: data.x.subarray(s * inSize, e * inSize), y: data.y.subarray(s, e) });
    const w = (e - s) / n;
    for (let i = 0; i < g.length; i++) g[i] += w * model.grads[i];
  }
  return g;
}

/** RNG stream of the noise estimates' batch draws (distinct from the trainer's streams). */
const ESTIMATE_STREAM = 21;

/**
 * σ_B at the model's θ: sqrt(mean over M batches of ‖g_B − ∇L‖² / d), batches of size B drawn
 * uniformly without replacement (partial Fisher–Yates), from stream (seed, ESTIMATE_STREAM + salt).
 * Overwrites model.grads (the caller's trainer overwrites them again at its next step). The
 * gradients are computed on a worker thread (Model#lossAndGradAsync), so other runs keep training.
 */
export async function estimateBatchNoise(
  model: Model,
  data: Examples,
  batch: number,
  batches: number,
  seed: number,
  salt = 0,
): Promise<{ sigmaB: number; gradNorm: number }> {
  const inSize = model.inputSize;
  const n = data.x.length / inSize;
  const g = await fullGradient(model, data);
  const rng = Rng.fromSeed(seed, ESTIMATE_STREAM + salt);
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
    await model.lossAndGradAsync(gather(data, inSize, perm.subarray(0, b)));
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

/** σ_iso that matches the temperature of η_large at η_small: η_small(σ_B² + σ²) = η_large·σ_B². */
export function matchedIsotropicStd(sigmaB: number, k: number): number {
  return Math.sqrt(Math.max(0, k - 1)) * sigmaB;
}

// ---- statistics -------------------------------------------------------------------------------------

/** The paired comparison of one arm with sgd-large (see the module doc), from per-seed differences. */
export function compareToLarge(diffs: number[], margin: number, alpha: number): NoiseComparison {
  const n = diffs.length;
  if (n < 2) {
    const m = n ? diffs[0] : NaN;
    return {
      n,
      meanDiff: m,
      sd: NaN,
      lo: NaN,
      hi: NaN,
      tost: { equivalent: false, p: NaN, lo90: NaN, hi90: NaN, margin },
      verdict: 'inconclusive',
    };
  }
  const iv = pairedInterval(diffs, 1 - alpha);
  const t = tost(diffs, margin, alpha);
  const verdict: ArmVerdict = t.equivalent ? 'reaches' : iv.hi < 0 ? 'worse' : iv.lo > 0 ? 'better' : 'inconclusive';
  return {
    n,
    meanDiff: iv.mean,
    sd: iv.sd,
    lo: iv.lo,
    hi: iv.hi,
    tost: { equivalent: t.equivalent, p: t.p, lo90: t.lo, hi90: t.hi, margin },
    verdict,
  };
}

function summarize(xs: number[]): NoiseArmSummary {
  const ok = xs.filter((x) => Number.isFinite(x));
  return { mean: ok.length ? mean(ok) : null, std: ok.length ? std(ok) : null, n: ok.length };
}

// ---- one arm × seed -----------------------------------------------------------------------------------

interface ArmEnv {
  config: NoiseConfig;
  data: LoadedData;
  /** data.train and data.test in shared memory (trainers and async evaluations read them in place). */
  train: Examples;
  test: Examples;
  spec: ReturnType<typeof buildSpec>;
  k: number;
  ctx: RunContext;
  /** Called with example gradients done (progress). */
  work(exampleGrads: number, label: string): void;
}

/** Evaluation points of an arm: every evalEvery of its epochs and the end, as step counts. */
function evalSteps(p: ArmPlan, evalEvery: number): number[] {
  const epochs = p.steps / p.stepsPerEpoch;
  const out: number[] = [];
  for (let e = evalEvery; e < epochs; e += evalEvery) out.push(Math.round(e * p.stepsPerEpoch));
  out.push(p.steps);
  return out.filter((s, i) => i === 0 || s > out[i - 1]);
}

/** Trains arm `p` for `seed` as a unit of the run's resume store; returns its run record. */
async function trainArm(p: ArmPlan, seed: number, env: ArmEnv, u: Unit): Promise<NoiseRun> {
  const { config: c, ctx } = env;
  const model = new Model(env.spec, { seed });
  try {
    // Under --data-parallel every arm's batches and every evaluation split over the MPI ranks;
    // the ranks' split is the shards (config.shards is null or N there, checked at the start).
    const split = ctx.dataParallel === true;
    const pieces: BatchOptions =
      p.batch === 'full' && c.microBatch
        ? { microBatch: c.microBatch }
        : c.shards && !split
          ? { shards: c.shards }
          : {};
    const batch: BatchOptions =
      p.batch === 'full'
        ? { mode: 'full', ...pieces }
        : {
            mode: 'shuffle',
            size: p.batch,
            ...(p.amplify > 1 ? { amplify: p.amplify } : {}),
            ...(c.augment ? { augment: c.augment } : {}),
            ...pieces,
          };
    const make = (optimizer: OptimizerSpec): Trainer =>
      new Trainer(model, {
        data: env.train,
        optimizer,
        batch,
        seed,
        ...(split ? { dataParallel: true } : {}),
      });
    const points = evalSteps(p, c.evalEvery);
    // On a worker thread, so the other runs' chunks keep the cores busy meanwhile.
    const evaluate = async (step: number): Promise<NoisePoint> => {
      const tr = await model.evaluateAsync(env.train, { dataParallel: split });
      const te = await model.evaluateAsync(env.test, { dataParallel: split });
      return {
        epoch: step / p.stepsPerEpoch,
        step,
        flowTime: p.flowAt(step),
        trainLoss: tr.loss,
        trainAccuracy: tr.accuracy,
        testLoss: te.loss,
        testAccuracy: te.accuracy,
      };
    };
    // Isotropic arm: σ_iso from σ_B measured on this model now; the trainer is rebuilt with it, state kept.
    const retune = async (run: NoiseRun, step: number, carry?: Trainer): Promise<Trainer> => {
      const state = carry?.exportState();
      const e = await estimateBatchNoise(
        model,
        env.train,
        c.batchSize,
        c.noiseEstimateBatches,
        seed,
        1 + run.noiseTrace!.length,
      );
      const sd = matchedIsotropicStd(e.sigmaB, env.k);
      run.noiseTrace!.push({ step, sigmaB: e.sigmaB, isotropicStd: sd });
      const t = make(noisySgd({ lr: p.eta, noiseStd: sd }));
      if (state) t.importState(state);
      return t;
    };
    let trainer = make(p.optimizer);
    const saved = u.restore<{ run: NoiseRun; next: number }>([trainer]);
    let run: NoiseRun;
    let next = 0;
    if (saved) {
      ({ run, next } = saved);
      if (p.isotropic) {
        const state = trainer.exportState();
        trainer = make(noisySgd({ lr: p.eta, noiseStd: run.noiseTrace![run.noiseTrace!.length - 1].isotropicStd }));
        trainer.importState(state);
      }
      env.work((run.steps / p.steps) * p.exampleGrads, `E3 ${p.id} seed ${seed} (resumed)`);
    } else {
      run = {
        seed,
        steps: 0,
        curve: [await evaluate(0)],
        diverged: false,
        divergedAt: null,
        final: null,
        noiseTrace: p.isotropic ? [] : null,
      };
      u.log({ phase: 'train', arm: p.id, seed, ...run.curve[0] });
      if (p.isotropic) trainer = await retune(run, 0);
    }
    const r = await runSegmented({
      trainer: () => trainer,
      points,
      next,
      signal: ctx.signal,
      onSteps: (s) => {
        run.steps += s;
        env.work((s / p.steps) * p.exampleGrads, `E3 ${p.id} seed ${seed}`);
      },
      atPoint: async (i) => {
        const pt = await evaluate(points[i]);
        run.curve.push(pt);
        u.log({ phase: 'train', arm: p.id, seed, ...pt });
        if (p.isotropic && i + 1 < points.length) trainer = await retune(run, points[i], trainer);
      },
      checkpoint: { due: () => u.due(), save: (n) => u.save([trainer], { run, next: n }) },
    });
    if (r.diverged) {
      run.diverged = true;
      run.divergedAt = r.divergedAt;
      u.log({ phase: 'train', arm: p.id, seed, kind: 'diverged', divergedAt: r.divergedAt });
      env.work(((p.steps - run.steps) / p.steps) * p.exampleGrads, `E3 ${p.id} seed ${seed} diverged`);
    }
    run.final = run.diverged ? null : run.curve[run.curve.length - 1];
    return run;
  } finally {
    model.close();
  }
}

// ---- the experiment -----------------------------------------------------------------------------------

/**
 * Under --data-parallel on `ranks` ranks: config.shards is null or the rank count, and every arm's
 * batches (the full set of n, or batches of b and an epoch's last batch n mod b) give each rank at
 * least one example. Throws a RangeError naming the arm before any arm trains.
 */
export function checkArmsSplit(c: NoiseConfig, plans: ArmPlan[], n: number, ranks: number): void {
  if (c.shards !== null && c.shards !== ranks)
    throw new RangeError(
      `config.shards = ${c.shards} but the run is split over ${ranks} data-parallel ranks: set it to ${ranks} or null (the ranks' split is the shards)`,
    );
  for (const p of plans) {
    if (p.batch === 'full') {
      checkShardable(n, ranks, `E3 arm ${p.id}: the full batch (config.data)`);
      continue;
    }
    const what = p.kind === 'small-batch' ? "B' = round(B/k)" : 'config.batchSize';
    checkShardable(p.batch, ranks, `E3 arm ${p.id}: batch ${what} = ${p.batch}`);
    if (n % p.batch !== 0)
      checkShardable(n % p.batch, ranks, `E3 arm ${p.id}: an epoch's last batch (n mod ${p.batch} of n = ${n})`);
  }
}

/** λ₀, the learning rates and σ_B at θ₀ of every seed (one resume unit). */
async function setupRates(
  c: NoiseConfig,
  data: LoadedData,
  spec: ReturnType<typeof buildSpec>,
  ctx: RunContext,
  u: Unit,
) {
  const sharp = trainSubset(data, c.sharpness.subset, c.data.seed + 2);
  const probe = new Model(spec, { seed: c.seeds[0] });
  try {
    const l = topEigenvalue(probe, sharp, {
      iterations: c.sharpness.iterations,
      tolerance: c.sharpness.tolerance,
      seed: c.seeds[0],
      dataParallel: ctx.dataParallel === true,
    });
    const lambda0 = { value: l.value, iterations: l.iterations, converged: l.converged };
    const etaSmall = c.lrSmall === 'auto' ? (c.smallFactor * 2) / lambda0.value : c.lrSmall;
    if (!(Number.isFinite(etaSmall) && etaSmall > 0))
      throw new Error(
        `E3: λ_max(θ₀) = ${lambda0.value} gives no usable η_small = smallFactor·2/λ₀; set config.lrSmall explicitly`,
      );
    const etaLarge = c.lrLarge === 'auto' ? c.lrRatio * etaSmall : c.lrLarge;
    if (etaLarge <= etaSmall) throw new RangeError(`config.lrLarge must be > η_small = ${etaSmall} (got ${etaLarge})`);
    const noiseEstimate: NoiseResult['noiseEstimate'] = [];
    for (const seed of c.seeds) {
      ctx.signal?.throwIfAborted();
      probe.init(seed);
      const e = await estimateBatchNoise(probe, data.train, c.batchSize, c.noiseEstimateBatches, seed);
      noiseEstimate.push({
        seed,
        ...e,
        temperatureLarge: etaLarge * e.sigmaB ** 2,
        perStepLarge: etaLarge ** 2 * e.sigmaB ** 2,
      });
    }
    u.log({ phase: 'rule', lambda0: lambda0.value, etaSmall, etaLarge, k: etaLarge / etaSmall });
    for (const e of noiseEstimate) u.log({ phase: 'noise-estimate', ...e });
    return { paramCount: probe.params.length, lambda0, etaSmall, etaLarge, noiseEstimate };
  } finally {
    probe.close();
  }
}

/** Runs E3 on a validated config (noise-experiment.ts validates). Progress and metrics go through `ctx`. */
export async function runNoise(c: NoiseConfig, ctx: RunContext): Promise<NoiseResult> {
  const t0 = performance.now();
  ctx.progress(0, 1, 'E3 setup');
  const data = await loadData(c.data);
  const spec = buildSpec(c.model, data.shape, data.numClasses);
  const store = resumeStoreOf(ctx);
  store.pin('data', {
    source: data.source,
    fingerprint: fingerprint(data.train.x, data.train.y, data.test.x, data.test.y),
  });
  const setup = await store.unit('setup', (u) => setupRates(c, data, spec, ctx, u));
  const k = setup.etaLarge / setup.etaSmall;
  const { plans, sweep, skipped, smallBatch } = planArms(c, {
    etaSmall: setup.etaSmall,
    etaLarge: setup.etaLarge,
    n: data.nTrain,
  });

  if (ctx.dataParallel) checkArmsSplit(c, plans, data.nTrain, requireMpiWorld('ctx.dataParallel').size);

  // Every arm × seed, heaviest first so the pool ends together.
  const tasks = plans.flatMap((p) => c.seeds.map((seed) => ({ p, seed })));
  tasks.sort((a, b) => b.p.exampleGrads - a.p.exampleGrads);
  const totalWork = tasks.reduce((s, t) => s + t.p.exampleGrads, 0);
  let doneWork = 0;
  const perArmMs: Record<string, number> = {};
  const env: ArmEnv = {
    config: c,
    data,
    train: sharedExamples(data.train),
    test: sharedExamples(data.test),
    spec,
    k,
    ctx,
    work: (w, label) => ctx.progress(Math.round((doneWork += w)), totalWork, label),
  };
  const results = new Map<string, NoiseRun>();
  await runConcurrently(
    tasks.map(({ p, seed }) => async () => {
      const t = performance.now();
      const run = await store.unit(
        `train-${p.id}-seed${seed}`,
        (u) => trainArm(p, seed, env, u),
        () => env.work(p.exampleGrads, `E3 ${p.id} seed ${seed} (done earlier)`),
      );
      perArmMs[p.id] = (perArmMs[p.id] ?? 0) + (performance.now() - t);
      results.set(`${p.id}/${seed}`, run);
    }),
    // Data parallel: one run at a time, so every rank makes the same collective calls in the same order.
    { concurrency: ctx.dataParallel ? 1 : c.concurrency, signal: ctx.signal },
  );
  ctx.progress(totalWork, totalWork, 'E3 done');
  return {
    experiment: 'E3-noise',
    scale: c.scale,
    config: structuredClone(c),
    data: {
      description: data.description,
      source: data.source,
      fallback: data.fallback,
      nTrain: data.nTrain,
      nTest: data.nTest,
      sharpnessSubset: Math.min(c.sharpness.subset, data.nTrain),
    },
    model: { description: describeModel(c.model, setup.paramCount), paramCount: setup.paramCount },
    rule:
      `η_small = ${c.lrSmall === 'auto' ? `${c.smallFactor}·2/λ_max(θ₀ of seed ${c.seeds[0]})` : 'configured'}, η_large = ${c.lrLarge === 'auto' ? `${c.lrRatio}·η_small` : 'configured'}; ` +
      `k = η_large/η_small; amplification k^p; B' = round(B/k); isotropic σ_iso = √(k−1)·σ_B(θ_t), re-measured at every evaluation point`,
    lambda0: setup.lambda0,
    etaSmall: setup.etaSmall,
    etaLarge: setup.etaLarge,
    k,
    smallBatch,
    noiseEstimate: setup.noiseEstimate,
    lrSweep: sweep,
    skipped,
    arms: summarizeArms(plans, results, c),
    timing: { totalMs: performance.now() - t0, perArmMs },
  };
}

/** Per-arm summaries and each arm's paired comparison with sgd-large. */
function summarizeArms(plans: ArmPlan[], results: Map<string, NoiseRun>, c: NoiseConfig): NoiseArm[] {
  const runsOf = (id: string): NoiseRun[] => c.seeds.map((seed) => results.get(`${id}/${seed}`)!);
  const large = plans.some((p) => p.id === 'sgd-large') ? runsOf('sgd-large') : null;
  const acc = (r: NoiseRun): number => r.final?.testAccuracy ?? 0; // a diverged run reached nothing
  return plans.map((p) => {
    const runs = runsOf(p.id);
    return {
      id: p.id,
      kind: p.kind,
      label: p.label,
      eta: p.eta,
      batch: p.batch,
      amplify: p.amplify,
      budget: p.budget,
      stepsPerRun: p.steps,
      epochsPerRun: p.steps / p.stepsPerEpoch,
      flowTime: p.flowTime,
      exampleGradsPerRun: p.exampleGrads,
      noise: p.noise,
      runs,
      diverged: runs.filter((r) => r.diverged).length,
      testAccuracy: summarize(runs.map((r) => r.final?.testAccuracy ?? NaN)),
      trainLoss: summarize(runs.map((r) => r.final?.trainLoss ?? NaN)),
      vsLarge:
        large && p.id !== 'sgd-large'
          ? compareToLarge(
              runs.map((r, i) => acc(r) - acc(large[i])),
              c.equivalenceMargin,
              c.alpha,
            )
          : null,
    };
  });
}
