/**
 * E2 — escape: full-batch GD on a network (PROTOCOL.md, experiment E2).
 *
 * Learning rates come from a rule fixed before any run (no tuning on the outcome):
 *  - λ₀ = λ_max of the Hessian of the mean train loss at θ₀, measured on a fixed seeded train
 *    subset (`sharpness.subset` examples) by power iteration (src/measure/sharpness.ts);
 *  - η_small = smallFactor · 2/λ₀ (default 0.5: GD at η_small is stable at θ₀) — or `lrSmall`;
 *  - phase A, "converge": GD at η_small from θ₀ until the full-batch train loss ≤ converge.loss (or
 *    converge.maxSteps) → θ_s; λ_s = λ_max(θ_s) (≤ 2/η_small if GD was stable there);
 *  - η_large = largeFactor · 2/λ_s (default 2: θ_s is a linearly UNSTABLE point of GD at η_large,
 *    η_large·λ_s = 2·largeFactor > 2) — or `lrLarge`;
 *  - divergence probe: probe.steps GD steps at η_large from θ_s and from θ₀; if either diverges
 *    (non-finite loss or gradient) and lrLarge is 'auto', η_large is halved and the probe repeated,
 *    at most probe.halvings times. Every probe is recorded; a run that diverges later anyway is
 *    reported as diverged (a result, not an error).
 * Then:
 *  - phase "grid": from θ₀, GD at `grid` learning rates log-spaced from η_small to η_large (both
 *    included), in lockstep for gridSteps steps: per step train loss/accuracy (of the full batch,
 *    at θ_t, before the update), ‖θ_t − θ₀‖ and ‖θ_t − θ_t^small‖ (distance to the η_small
 *    trajectory at the same step); every measureEvery steps test loss/accuracy and λ_max(θ_t).
 *    The η_small arm is a re-run of phase A's start (checked bit for bit: `smallRerunIdentical`).
 *  - phase "escape": from θ_s, (a) GD at η_small and (b) GD at η_large for escapeSteps steps in
 *    lockstep: the same records with distances to θ_s and between (a) and (b);
 *  - the loss along the straight line between the two end points (a)–(b), and θ_s–(b), on the
 *    train set, and its barrier (src/measure/trajectory.ts `interpolationLosses`); test loss and
 *    accuracy along the same lines.
 * `escaped` = (b) did not diverge and ended at least twice as far from θ_s as (a) did in the same
 * number of steps. Deterministic for a config at a fixed BLAS thread count (except `timing`).
 * Resuming (src/run/resume.ts): each phase is a unit; the lockstep phases keep partial
 * checkpoints of every arm's trainer and records.
 */
import type { Figure } from '../report/plot.js';
import { Model, type Examples } from '../model/model.js';
import { topEigenvalue } from '../measure/sharpness.js';
import { distance, interpolationLosses } from '../measure/trajectory.js';
import { sgd } from '../optim/optimizer.js';
import { fingerprint, resumeStoreOf, type Unit } from '../run/resume.js';
import { Trainer } from '../train/trainer.js';
import { fail, isObj, nonNegInt, pool, posInt, validatorOf } from './common.js';
import {
  buildSpec,
  describeModel,
  loadData,
  logGrid,
  oneOf,
  posNum,
  posNumOrAuto,
  trainSubset,
  validateData,
  validateModel,
  validateSharpness,
  type DataConfig,
  type ModelConfig,
  type SharpnessConfig,
} from './escape-setup.js';
import type { ExperimentDefinition, Headline, RunContext, Scale } from './types.js';

export interface EscapeConfig {
  scale: Scale;
  data: DataConfig;
  model: ModelConfig;
  /** Seed of θ₀ (model init) and of the power-iteration start vectors. `--seed` replaces it. */
  seed: number;
  /** η_small: a number, or 'auto' = smallFactor · 2/λ_max(θ₀). */
  lrSmall: number | 'auto';
  smallFactor: number;
  /** η_large: a number, or 'auto' = largeFactor · 2/λ_max(θ_s) (then halved while the probe diverges). */
  lrLarge: number | 'auto';
  largeFactor: number;
  converge: { loss: number; maxSteps: number };
  grid: { count: number; steps: number };
  escapeSteps: number;
  /** Distances (and the per-step log lines) every recordEvery steps. */
  recordEvery: number;
  /** Test loss/accuracy and λ_max every measureEvery steps (and at the first and last step). */
  measureEvery: number;
  sharpness: SharpnessConfig;
  probe: { steps: number; halvings: number };
  interpolationPoints: number;
  /** Arms trained at once (each an async native call; 1 BLAS thread each). */
  concurrency: number;
  /**
   * Examples per forward/backward pass in full-batch steps (null: all at once). The gradient is
   * the same mean up to rounding (Trainer option batch.microBatch); it bounds activation memory.
   */
  microBatch: number | null;
}

/** A test/λ measurement of one arm at one step. */
export interface EscapeMeasure {
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lambdaMax: number;
  lambdaIterations: number;
  lambdaConverged: boolean;
}

export interface EscapeArm {
  id: string;
  eta: number;
  /** 2/η: the stability threshold of GD for λ_max. */
  twoOverEta: number;
  /** Steps done (fewer than planned if it diverged or stopped at convergence). */
  steps: number;
  /** Full-batch train loss and accuracy at θ_t before update t, t = 0 … steps−1. */
  loss: number[];
  accuracy: number[];
  /** Steps at which distances were recorded (0, recordEvery, …, steps). */
  recordSteps: number[];
  /** ‖θ_t − θ_start‖ at recordSteps. */
  distStart: number[];
  /** ‖θ_t − θ_t^ref‖ (the reference arm at the same step) at recordSteps; null without a reference. */
  distRef: Array<number | null>;
  measures: EscapeMeasure[];
  diverged: boolean;
  divergedAt: number | null;
}

export interface EscapeProbe {
  eta: number;
  start: 'theta0' | 'thetaS';
  steps: number;
  diverged: boolean;
  divergedAt: number | null;
  maxLoss: number;
  finalLoss: number;
}

export interface EscapeInterpolation {
  from: string;
  to: string;
  alpha: number[];
  loss: number[];
  accuracy: number[];
  barrier: number;
  /** Test loss and accuracy at the same points. */
  testLoss: number[];
  testAccuracy: number[];
}

export interface EscapeResult {
  experiment: 'E2-escape';
  scale: Scale;
  config: EscapeConfig;
  data: { description: string; source: string; fallback: string | null; nTrain: number; nTest: number; sharpnessSubset: number };
  model: { description: string; paramCount: number };
  rule: string;
  lambda0: { value: number; iterations: number; converged: boolean };
  lambdaS: { value: number; iterations: number; converged: boolean };
  etaSmall: number;
  etaLarge: number;
  /** η_large before any probe halving ('auto'), or the configured value. */
  etaLargeRule: number;
  probes: EscapeProbe[];
  probeHalvings: number;
  /** Phase A: GD at η_small from θ₀ to convergence. */
  converge: EscapeArm & { converged: boolean };
  grid: EscapeArm[];
  /** The η_small grid arm retraced phase A bit for bit (over the common steps). */
  smallRerunIdentical: boolean;
  escape: { small: EscapeArm; large: EscapeArm; lossAtSwitch: number; testAccuracyAtSwitch: number };
  interpolation: EscapeInterpolation[];
  escaped: boolean;
  timing: { totalMs: number; phasesMs: Record<string, number> };
}

// ---- presets --------------------------------------------------------------------------------------

const FASHION_FALLBACK = { kind: 'gaussian-mixture', k: 10, d: 64, nTrain: 1000, nTest: 2000, seed: 1, separation: 3, noise: 1 } as const;

export const escapePresets: Record<Exclude<Scale, 'study'>, EscapeConfig> = {
  /** Seconds: a 4-class Gaussian mixture (d = 16, 256 train) and a 32-unit MLP. */
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
    seed: 1,
    lrSmall: 'auto',
    smallFactor: 0.5,
    lrLarge: 'auto',
    largeFactor: 2,
    converge: { loss: 0.05, maxSteps: 600 },
    grid: { count: 3, steps: 150 },
    escapeSteps: 150,
    recordEvery: 1,
    measureEvery: 50,
    sharpness: { subset: 128, iterations: 30, tolerance: 1e-3 },
    probe: { steps: 30, halvings: 3 },
    interpolationPoints: 11,
    concurrency: 2,
    microBatch: null,
  },
  /** ~1–2 minutes on two cores: Fashion-MNIST 100/class (1000 train, full 10k test), MLP 784-128-10. */
  quick: {
    scale: 'quick',
    data: { source: 'fashion-mnist', trainPerClass: 100, testSize: null, seed: 1, download: false, synthetic: { ...FASHION_FALLBACK } },
    model: { kind: 'mlp', hidden: [128] },
    seed: 1,
    lrSmall: 'auto',
    smallFactor: 0.5,
    lrLarge: 'auto',
    largeFactor: 2,
    converge: { loss: 0.05, maxSteps: 4000 },
    grid: { count: 5, steps: 800 },
    escapeSteps: 1000,
    recordEvery: 1,
    measureEvery: 100,
    sharpness: { subset: 500, iterations: 30, tolerance: 1e-3 },
    probe: { steps: 50, halvings: 3 },
    interpolationPoints: 21,
    concurrency: 2,
    microBatch: null,
  },
  /**
   * For a cluster: CIFAR-10, ResNet-18 without batch norm. Not run on two cores. Full-batch GD
   * runs the whole train set as one batch (the trainer has no micro-batch accumulation), so the
   * train set is a 1000-image subset (100/class): ~2.5 GB of activations and im2col buffers.
   */
  paper: {
    scale: 'paper',
    data: { source: 'cifar10', trainPerClass: 100, testSize: null, seed: 1, download: true, synthetic: null },
    model: { kind: 'resnet', width: 64, blocks: [2, 2, 2, 2], batchnorm: false },
    seed: 1,
    lrSmall: 'auto',
    smallFactor: 0.5,
    lrLarge: 'auto',
    largeFactor: 2,
    converge: { loss: 0.01, maxSteps: 20000 },
    grid: { count: 5, steps: 5000 },
    escapeSteps: 5000,
    recordEvery: 10,
    measureEvery: 250,
    sharpness: { subset: 1000, iterations: 50, tolerance: 1e-3 },
    probe: { steps: 100, halvings: 3 },
    interpolationPoints: 21,
    concurrency: 1,
    microBatch: 250,
  },
};

// ---- validation -----------------------------------------------------------------------------------

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.lrSmall must be a positive number or 'auto'". */
export function validateEscapeConfig(config: unknown): asserts config is EscapeConfig {
  if (!isObj(config)) fail(TypeError, 'config', 'must be an object');
  const c = config;
  oneOf(c.scale, 'config.scale', ['tiny', 'quick', 'paper']);
  validateData(c.data);
  validateModel(c.model);
  nonNegInt(c.seed, 'config.seed');
  posNumOrAuto(c.lrSmall, 'config.lrSmall');
  posNum(c.smallFactor, 'config.smallFactor');
  posNumOrAuto(c.lrLarge, 'config.lrLarge');
  posNum(c.largeFactor, 'config.largeFactor');
  if (typeof c.lrSmall === 'number' && typeof c.lrLarge === 'number' && c.lrLarge <= c.lrSmall)
    fail(RangeError, 'config.lrLarge', `must be > config.lrSmall (got ${c.lrLarge} <= ${c.lrSmall})`);
  if (!isObj(c.converge)) fail(TypeError, 'config.converge', 'must be an object');
  posNum(c.converge.loss, 'config.converge.loss');
  posInt(c.converge.maxSteps, 'config.converge.maxSteps', 1e9);
  if (!isObj(c.grid)) fail(TypeError, 'config.grid', 'must be an object');
  posInt(c.grid.count, 'config.grid.count', 100);
  if ((c.grid.count as number) < 2) fail(RangeError, 'config.grid.count', 'must be >= 2 (η_small and η_large)');
  posInt(c.grid.steps, 'config.grid.steps', 1e9);
  posInt(c.escapeSteps, 'config.escapeSteps', 1e9);
  posInt(c.recordEvery, 'config.recordEvery', 1e9);
  posInt(c.measureEvery, 'config.measureEvery', 1e9);
  validateSharpness(c.sharpness);
  if (!isObj(c.probe)) fail(TypeError, 'config.probe', 'must be an object');
  posInt(c.probe.steps, 'config.probe.steps', 1e9);
  nonNegInt(c.probe.halvings, 'config.probe.halvings');
  posInt(c.interpolationPoints, 'config.interpolationPoints', 10000);
  if ((c.interpolationPoints as number) < 2) fail(RangeError, 'config.interpolationPoints', 'must be >= 2');
  posInt(c.concurrency, 'config.concurrency', 64);
  if (c.microBatch !== null) posInt(c.microBatch, 'config.microBatch');
}

// ---- lockstep runner ------------------------------------------------------------------------------

interface LiveArm {
  arm: EscapeArm;
  model: Model;
  trainer: Trainer;
  start: Float32Array;
  done: boolean;
}

interface Env {
  train: Examples;
  test: Examples;
  sharp: Examples;
  config: EscapeConfig;
  ctx: RunContext;
  progress: (steps: number, label: string) => void;
}

function newArm(env: Env, id: string, eta: number, model: Model, start: Float32Array): LiveArm {
  model.params.set(start);
  const trainer = new Trainer(model, { data: env.train, optimizer: sgd({ lr: eta }), batch: { mode: 'full', ...(env.config.microBatch ? { microBatch: env.config.microBatch } : {}) }, seed: env.config.seed });
  return {
    arm: {
      id,
      eta,
      twoOverEta: 2 / eta,
      steps: 0,
      loss: [],
      accuracy: [],
      recordSteps: [],
      distStart: [],
      distRef: [],
      measures: [],
      diverged: false,
      divergedAt: null,
    },
    model,
    trainer,
    start,
    done: false,
  };
}

function lambdaOf(env: Env, model: Model): { value: number; iterations: number; converged: boolean } {
  const s = env.config.sharpness;
  const r = topEigenvalue(model, env.sharp, { iterations: s.iterations, tolerance: s.tolerance, seed: env.config.seed });
  return { value: r.value, iterations: r.iterations, converged: r.converged };
}

function measure(env: Env, u: Unit, phase: string, a: LiveArm): void {
  if (a.arm.diverged) return;
  const tr = a.model.evaluate(env.train);
  const te = a.model.evaluate(env.test);
  const lam = lambdaOf(env, a.model);
  const m: EscapeMeasure = {
    step: a.arm.steps,
    trainLoss: tr.loss,
    trainAccuracy: tr.accuracy,
    testLoss: te.loss,
    testAccuracy: te.accuracy,
    lambdaMax: lam.value,
    lambdaIterations: lam.iterations,
    lambdaConverged: lam.converged,
  };
  a.arm.measures.push(m);
  u.log({ phase, arm: a.arm.id, eta: a.arm.eta, kind: 'measure', ...m, twoOverEta: a.arm.twoOverEta });
}

function record(u: Unit, phase: string, arms: LiveArm[], ref: LiveArm | null): void {
  for (const a of arms) {
    if (a.arm.diverged) continue;
    const step = a.arm.steps;
    const last = a.arm.recordSteps[a.arm.recordSteps.length - 1];
    if (last === step) continue;
    const dStart = distance(a.model.params, a.start);
    const dRef = ref && ref !== a && !ref.arm.diverged && ref.arm.steps === step ? distance(a.model.params, ref.model.params) : null;
    a.arm.recordSteps.push(step);
    a.arm.distStart.push(dStart);
    a.arm.distRef.push(ref === a ? 0 : dRef);
    const t = step - 1;
    u.log({
      phase,
      arm: a.arm.id,
      eta: a.arm.eta,
      step,
      loss: t >= 0 ? a.arm.loss[t] : null,
      accuracy: t >= 0 ? a.arm.accuracy[t] : null,
      distStart: dStart,
      distRef: ref === a ? 0 : dRef,
    });
  }
}

/**
 * Trains `arms` in lockstep for `steps` steps (or until `stop` says so after a block): blocks of
 * recordEvery steps, run `concurrency` arms at once; distances after each block, measurements at
 * multiples of measureEvery and at the end. Between blocks, when one is due, a partial checkpoint
 * of unit `u` (every arm's trainer and record) is written; a restarted run continues from it.
 */
async function lockstep(env: Env, u: Unit, phase: string, arms: LiveArm[], ref: LiveArm | null, steps: number, stop?: (a: LiveArm) => boolean): Promise<void> {
  const { recordEvery, measureEvery, concurrency } = env.config;
  const signal = env.ctx.signal;
  const trainers = arms.map((a) => a.trainer);
  let done = 0;
  const saved = u.restore<{ done: number; arms: Array<{ arm: EscapeArm; done: boolean }> }>(trainers);
  if (saved) {
    done = saved.done;
    saved.arms.forEach((s, i) => {
      arms[i].arm = s.arm;
      arms[i].done = s.done;
    });
    env.progress(arms.reduce((n, a) => n + a.arm.steps, 0), `${phase} step ${done} (resumed)`);
  } else {
    record(u, phase, arms, ref);
    for (const a of arms) measure(env, u, phase, a);
  }
  while (done < steps && arms.some((a) => !a.done)) {
    signal?.throwIfAborted();
    const k = Math.min(recordEvery, steps - done, measureEvery - (done % measureEvery));
    const live = arms.filter((a) => !a.done);
    await pool(
      live.map((a) => async () => {
        const r = await a.trainer.run({ steps: k, chunkSize: k, signal });
        for (let i = 0; i < r.stepsDone; i++) {
          a.arm.loss.push(r.loss[i]);
          a.arm.accuracy.push(r.accuracy[i]);
        }
        a.arm.steps += r.stepsDone;
        if (r.diverged) {
          a.arm.diverged = true;
          a.arm.divergedAt = r.divergedAt;
          a.done = true;
        }
      }),
      concurrency,
      signal,
    );
    signal?.throwIfAborted();
    done += k;
    record(u, phase, arms, ref);
    for (const a of live) {
      if (a.done) {
        u.log({ phase, arm: a.arm.id, eta: a.arm.eta, kind: 'diverged', divergedAt: a.arm.divergedAt });
        continue;
      }
      if (stop?.(a)) a.done = true;
      if (a.done || done % measureEvery === 0 || done === steps) measure(env, u, phase, a);
    }
    env.progress(k * live.length, `${phase} step ${done}`);
    if (done < steps && arms.some((a) => !a.done) && u.due()) u.save(trainers, { done, arms: arms.map((a) => ({ arm: a.arm, done: a.done })) });
  }
}

// ---- the experiment -------------------------------------------------------------------------------

async function probeRuns(env: Env, spec: Model, eta: number, starts: Array<['theta0' | 'thetaS', Float32Array]>): Promise<EscapeProbe[]> {
  return pool(
    starts.map(([name, start]) => async () => {
      const m = spec.clone();
      m.params.set(start);
      try {
        const t = new Trainer(m, { data: env.train, optimizer: sgd({ lr: eta }), batch: { mode: 'full', ...(env.config.microBatch ? { microBatch: env.config.microBatch } : {}) }, seed: env.config.seed });
        const r = await t.run({ steps: env.config.probe.steps, chunkSize: env.config.probe.steps, signal: env.ctx.signal });
        let maxLoss = -Infinity;
        for (const l of r.loss) maxLoss = Math.max(maxLoss, l);
        const p: EscapeProbe = {
          eta,
          start: name,
          steps: r.stepsDone,
          diverged: r.diverged,
          divergedAt: r.divergedAt,
          maxLoss: r.diverged ? Infinity : maxLoss,
          finalLoss: r.diverged ? Infinity : m.evaluate(env.train).loss,
        };
        return p;
      } finally {
        m.close();
      }
    }),
    env.config.concurrency,
    env.ctx.signal,
  );
}

function closeAll(arms: LiveArm[]): void {
  for (const a of arms) a.model.close();
}

function strip(a: LiveArm): EscapeArm {
  return a.arm;
}

/** Runs E2. Progress and metrics go through `ctx`. */
export async function runEscape(config: EscapeConfig, ctx: RunContext): Promise<EscapeResult> {
  validateEscapeConfig(config);
  const t0 = performance.now();
  const phasesMs: Record<string, number> = {};
  let tp = t0;
  const lap = (name: string): void => {
    const now = performance.now();
    phasesMs[name] = now - tp;
    tp = now;
  };
  const c = config;
  let total = c.converge.maxSteps + c.grid.count * c.grid.steps + 2 * c.escapeSteps;
  let doneUnits = 0;
  ctx.progress(0, total, 'E2 setup');

  const data = await loadData(c.data);
  const sharp = trainSubset(data, c.sharpness.subset, c.data.seed + 2);
  const env: Env = {
    train: data.train,
    test: data.test,
    sharp,
    config: c,
    ctx,
    progress: (n, label) => {
      doneUnits += n;
      ctx.progress(Math.min(doneUnits, total), total, `E2 ${label}`);
    },
  };
  const spec = buildSpec(c.model, data.shape, data.numClasses);
  const base = new Model(spec, { seed: c.seed });
  const theta0 = base.params.slice();
  const paramCount = theta0.length;
  ctx.log({ phase: 'setup', dataset: data.description, fallback: data.fallback, model: describeModel(c.model, paramCount), nTrain: data.nTrain, nTest: data.nTest });
  lap('setup');

  // Units (src/run/resume.ts): each phase below; a restarted run loads the finished phases and
  // continues a half-done one from its last checkpoint.
  const store = resumeStoreOf(ctx);
  store.pin('data', { source: data.source, fingerprint: fingerprint(data.train.x, data.train.y, data.test.x, data.test.y) });
  try {
    // λ₀ and η_small.
    const { lambda0, etaSmall } = await store.unit('rule', async (u) => {
      const lambda0 = lambdaOf(env, base);
      const etaSmall = c.lrSmall === 'auto' ? (c.smallFactor * 2) / lambda0.value : c.lrSmall;
      if (!(Number.isFinite(etaSmall) && etaSmall > 0))
        throw new Error(`E2: λ_max(θ₀) = ${lambda0.value} gives no usable η_small = smallFactor·2/λ₀; set config.lrSmall explicitly`);
      u.log({ phase: 'rule', lambda0: lambda0.value, etaSmall });
      return { lambda0, etaSmall };
    });

    // Phase A: converge at η_small → θ_s.
    const conv = await store.unit(
      'converge',
      async (u) => {
        const a = newArm(env, 'small', etaSmall, base.clone(), theta0);
        try {
          await lockstep(env, u, 'converge', [a], a, c.converge.maxSteps, (x) => x.arm.loss[x.arm.loss.length - 1] <= c.converge.loss);
          return { arm: a.arm, thetaS: a.model.params.slice() };
        } finally {
          a.model.close();
        }
      },
      (v) => env.progress(v.arm.steps, 'converge (done earlier)'),
    );
    const convergedLoss = conv.arm.measures[conv.arm.measures.length - 1]?.trainLoss ?? NaN;
    const converged = !conv.arm.diverged && convergedLoss <= c.converge.loss;
    total -= c.converge.maxSteps - conv.arm.steps;
    const thetaS = conv.thetaS;
    const atSwitch = conv.arm.measures[conv.arm.measures.length - 1];
    lap('converge');
    if (conv.arm.diverged) throw new Error(`E2: GD at η_small = ${etaSmall} diverged at step ${conv.arm.divergedAt} before converging; θ_s does not exist`);

    // λ_s and η_large, with the divergence probe.
    const lambdaS = { value: atSwitch.lambdaMax, iterations: atSwitch.lambdaIterations, converged: atSwitch.lambdaConverged };
    const etaLargeRule = c.lrLarge === 'auto' ? (c.largeFactor * 2) / lambdaS.value : c.lrLarge;
    if (!(Number.isFinite(etaLargeRule) && etaLargeRule > 0))
      throw new Error(`E2: λ_max(θ_s) = ${lambdaS.value} gives no usable η_large = largeFactor·2/λ_s; set config.lrLarge explicitly`);
    const { etaLarge, probes, probeHalvings } = await store.unit('probe', async (u) => {
      let etaLarge = etaLargeRule;
      const probes: EscapeProbe[] = [];
      let probeHalvings = 0;
      for (;;) {
        const ps = await probeRuns(env, base, etaLarge, [['thetaS', thetaS], ['theta0', theta0]]);
        probes.push(...ps);
        for (const p of ps) u.log({ phase: 'probe', ...p });
        if (!ps.some((p) => p.diverged) || c.lrLarge !== 'auto' || probeHalvings >= c.probe.halvings) break;
        etaLarge /= 2;
        probeHalvings++;
      }
      u.log({ phase: 'rule', lambdaS: lambdaS.value, etaLargeRule, etaLarge, probeHalvings });
      return { etaLarge, probes, probeHalvings };
    });
    lap('probe');

    // Grid from θ₀.
    const etas = logGrid(etaSmall, etaLarge, c.grid.count);
    const grid = await store.unit(
      'grid',
      async (u) => {
        const gridArms = etas.map((eta, i) =>
          newArm(env, i === 0 ? 'small' : i === etas.length - 1 ? 'large' : `grid${i}`, eta, base.clone(), theta0),
        );
        try {
          await lockstep(env, u, 'grid', gridArms, gridArms[0], c.grid.steps);
          return gridArms.map(strip);
        } finally {
          closeAll(gridArms);
        }
      },
      (v) => env.progress(v.reduce((n, a) => n + a.steps, 0), 'grid (done earlier)'),
    );
    const common = Math.min(grid[0].loss.length, conv.arm.loss.length);
    let smallRerunIdentical = common > 0;
    for (let t = 0; t < common; t++) if (!Object.is(grid[0].loss[t], conv.arm.loss[t])) smallRerunIdentical = false;
    lap('grid');

    // Escape from θ_s.
    const esc = await store.unit(
      'escape',
      async (u) => {
        const escSmall = newArm(env, 'small', etaSmall, base.clone(), thetaS);
        const escLarge = newArm(env, 'large', etaLarge, base.clone(), thetaS);
        try {
          await lockstep(env, u, 'escape', [escSmall, escLarge], escSmall, c.escapeSteps);
          return { small: strip(escSmall), large: strip(escLarge), endSmall: escSmall.model.params.slice(), endLarge: escLarge.model.params.slice() };
        } finally {
          closeAll([escSmall, escLarge]);
        }
      },
      (v) => env.progress(v.small.steps + v.large.steps, 'escape (done earlier)'),
    );
    lap('escape');
    const interpolation = await store.unit('interpolation', async (u): Promise<EscapeInterpolation[]> => {
      if (esc.large.diverged) return [];
      const lines: Array<[string, string, Float32Array, Float32Array]> = [
        ['escape small end', 'escape large end', esc.endSmall, esc.endLarge],
        ['θ_s', 'escape large end', thetaS, esc.endLarge],
      ];
      return lines.map(([from, to, x, y]) => {
        const r = interpolationLosses(base, x, y, data.train, { points: c.interpolationPoints });
        const t = interpolationLosses(base, x, y, data.test, { points: c.interpolationPoints });
        u.log({ phase: 'interpolation', from, to, barrier: r.barrier, alpha: r.alpha, loss: r.loss, testAccuracy: t.accuracy });
        return { from, to, ...r, testLoss: t.loss, testAccuracy: t.accuracy };
      });
    });
    lap('interpolation');

    const dA = esc.small.distStart[esc.small.distStart.length - 1];
    const dB = esc.large.distStart[esc.large.distStart.length - 1];
    const escaped = !esc.large.diverged && dB >= 2 * dA;
    ctx.progress(total, total, 'E2 done');
    return {
      experiment: 'E2-escape',
      scale: c.scale,
      config: structuredClone(c),
      data: { description: data.description, source: data.source, fallback: data.fallback, nTrain: data.nTrain, nTest: data.nTest, sharpnessSubset: Math.min(c.sharpness.subset, data.nTrain) },
      model: { description: describeModel(c.model, paramCount), paramCount },
      rule:
        `η_small = ${c.lrSmall === 'auto' ? `${c.smallFactor}·2/λ_max(θ₀)` : 'configured'}, ` +
        `η_large = ${c.lrLarge === 'auto' ? `${c.largeFactor}·2/λ_max(θ_s), halved while a ${c.probe.steps}-step probe from θ_s or θ₀ diverges (≤ ${c.probe.halvings}×)` : 'configured'}; ` +
        `θ_s = GD at η_small until train loss ≤ ${c.converge.loss} (≤ ${c.converge.maxSteps} steps)`,
      lambda0,
      lambdaS,
      etaSmall,
      etaLarge,
      etaLargeRule,
      probes,
      probeHalvings,
      converge: { ...conv.arm, converged },
      grid,
      smallRerunIdentical,
      escape: { small: esc.small, large: esc.large, lossAtSwitch: atSwitch.trainLoss, testAccuracyAtSwitch: atSwitch.testAccuracy },
      interpolation,
      escaped,
      timing: { totalMs: performance.now() - t0, phasesMs },
    };
  } finally {
    base.close();
  }
}

// ---- headline -------------------------------------------------------------------------------------

const lastMeasure = (a: EscapeArm): EscapeMeasure | undefined => a.measures[a.measures.length - 1];
const lastOf = <T>(xs: T[]): T | null => (xs.length ? xs[xs.length - 1] : null);

/**
 * Flat headline numbers (docs/experiments.md, E2):
 * - etaSmall, etaLarge, lambdaMax0 (λ_max at θ₀), twoOverEtaSmall, twoOverEtaLarge, probeHalvings;
 * - convergeSteps, smallConverged: phase A (GD at η_small to train loss ≤ converge.loss);
 * - grid*: the η_small and η_large arms from θ₀ after grid.steps: gridDistanceSmallLarge
 *   (‖θ_T^large − θ_T^small‖), gridDistanceFromInitSmall/Large, gridTestAccSmall/Large,
 *   gridTrainLossSmall/Large, gridLambdaMaxSmall/Large, gridDiverged (number of grid arms that diverged);
 * - escape (from θ_s, escapeSteps steps): lambdaMaxBefore = λ_max(θ_s), lambdaMaxAfter /
 *   lambdaMaxAfterSmall = λ_max at the end of arm (b) / (a), distanceAfterSwitch /
 *   distanceAfterSwitchSmall = ‖θ_end − θ_s‖ of (b) / (a), lossAtSwitch = train loss at θ_s,
 *   maxLossAfterSwitch = largest train loss of (b) (the spike), trainLossSmall/Large,
 *   testAccAtSwitch, testAccSmall/Large (end of (a)/(b)), largeDiverged, escaped,
 *   settledBelowTwoOverEta = λ_max at the end of (b) < 2/η_large;
 * - barrier: loss barrier on the line between the end points of (a) and (b) (train loss);
 *   barrierFromThetaS: on the line θ_s → end of (b);
 * - dataset, fallback (null, or why a synthetic set replaced the configured one).
 */
export function escapeHeadline(r: EscapeResult): Headline {
  const gs = r.grid[0];
  const gl = r.grid[r.grid.length - 1];
  const a = r.escape.small;
  const b = r.escape.large;
  const ma = lastMeasure(a);
  const mb = b.diverged ? undefined : lastMeasure(b);
  let maxLoss = -Infinity;
  for (const l of b.loss) maxLoss = Math.max(maxLoss, l);
  const finite = (x: number | undefined | null): number | null => (x === undefined || x === null || !Number.isFinite(x) ? null : x);
  return {
    dataset: r.data.description,
    fallback: r.data.fallback,
    etaSmall: r.etaSmall,
    etaLarge: r.etaLarge,
    lambdaMax0: finite(r.lambda0.value),
    twoOverEtaSmall: 2 / r.etaSmall,
    twoOverEtaLarge: 2 / r.etaLarge,
    probeHalvings: r.probeHalvings,
    convergeSteps: r.converge.steps,
    smallConverged: r.converge.converged,
    gridDistanceSmallLarge: gl.diverged ? null : finite(lastOf(gl.distRef)),
    gridDistanceFromInitSmall: finite(lastOf(gs.distStart)),
    gridDistanceFromInitLarge: gl.diverged ? null : finite(lastOf(gl.distStart)),
    gridTestAccSmall: finite(lastMeasure(gs)?.testAccuracy),
    gridTestAccLarge: gl.diverged ? null : finite(lastMeasure(gl)?.testAccuracy),
    gridTrainLossSmall: finite(lastMeasure(gs)?.trainLoss),
    gridTrainLossLarge: gl.diverged ? null : finite(lastMeasure(gl)?.trainLoss),
    gridLambdaMaxSmall: finite(lastMeasure(gs)?.lambdaMax),
    gridLambdaMaxLarge: gl.diverged ? null : finite(lastMeasure(gl)?.lambdaMax),
    gridDiverged: r.grid.filter((x) => x.diverged).length,
    lambdaMaxBefore: finite(r.lambdaS.value),
    lambdaMaxAfter: finite(mb?.lambdaMax),
    lambdaMaxAfterSmall: finite(ma?.lambdaMax),
    distanceAfterSwitch: b.diverged ? null : finite(lastOf(b.distStart)),
    distanceAfterSwitchSmall: finite(lastOf(a.distStart)),
    lossAtSwitch: finite(r.escape.lossAtSwitch),
    maxLossAfterSwitch: b.diverged ? null : finite(maxLoss),
    trainLossSmall: finite(ma?.trainLoss),
    trainLossLarge: finite(mb?.trainLoss),
    testAccAtSwitch: finite(r.escape.testAccuracyAtSwitch),
    testAccSmall: finite(ma?.testAccuracy),
    testAccLarge: finite(mb?.testAccuracy),
    largeDiverged: b.diverged,
    escaped: r.escaped,
    settledBelowTwoOverEta: mb ? mb.lambdaMax < 2 / r.etaLarge : null,
    barrier: finite(r.interpolation[0]?.barrier),
    barrierFromThetaS: finite(r.interpolation[1]?.barrier),
  };
}

// ---- the definition -------------------------------------------------------------------------------

export const escapeExperiment: ExperimentDefinition<EscapeConfig, EscapeResult> = {
  name: 'escape',
  title: 'E2 escape: do small and large learning rates take different GD paths, and does a large one leave the minimum a small one found?',
  presets: escapePresets,
  validate: validatorOf(validateEscapeConfig),
  run: runEscape,
  headline: escapeHeadline,
  async figures(result): Promise<Figure[]> {
    const { escapeFigures } = await import('./escape-figures.js');
    return escapeFigures(result);
  },
};
