/**
 * E2 — full-batch GD on a network (PROTOCOL.md, experiment E2): the computation. Presets,
 * validation, headline and verdicts are in escape-experiment.ts, figures in escape-figures.ts.
 *
 * Loss: mean squared error on one-hot targets (a loss whose minima exist: it is bounded below by
 * 0 and reached by interpolating networks; cross-entropy on separable data has none). Accuracy is
 * the argmax of the outputs. Per init seed s (θ₀ = init(s)), with the learning-rate rule fixed in
 * the config:
 *  1. λ₀ = λ_max(θ₀) on a fixed train subset; η_small = smallFactor·2/λ₀.
 *  2. Catapult phase diagram: from θ₀, GD at η = c/λ₀ for each c in catapult.etaLambda for
 *     catapult.steps steps (cut early at the divergence bound); per cell the spike
 *     max_t L(θ_t)/L(θ₀) over the first spikeWindow steps, λ_max at the end against 2/η, and the
 *     regime (escape-rules.ts `catapultRegime`).
 *  3. Edge of stability: from θ₀, GD at η = c/λ₀ for c in eos.etaLambda, λ_max every
 *     eos.measureEvery steps.
 *  4. θ_s: GD at η_small from θ₀ until, at a check (every checkEvery steps), ‖∇L‖ ≤
 *     gradTol·‖∇L(θ₀)‖ and λ_min ≥ −negativeCurvatureTol·λ_max, or converge.maxSteps; at θ_s:
 *     ‖∇L‖, λ_max, λ_min (escape-curvature.ts), train loss, test accuracy.
 *  5. The switch: from θ_s, GD at η_m = m·2/λ_max(θ_s) for m in switch.largeFactors for
 *     switch.steps = T steps, and at η_small for max_m round(T·η_m/η_small) steps, with snapshots at
 *     T (equal steps) and at round(T·η_m/η_small) (equal gradient-flow time ηt).
 *  6. The escape test for each large arm (and, as a control, the small arm at equal ηt): the
 *     loss barrier on θ_s → θ_end and the return run (GD at η_small for escape.returnSteps steps
 *     from θ_end), decided by escape-rules.ts `escapeDecision`.
 *  7. The curvature toolkit (first flow.seeds / spectrum.seeds seeds): the gradient-flow reference
 *     from θ₀ against GD at every eos arm's η and at η_small, distance at matched times t = η·k
 *     (escape-flow.ts); the Hessian eigenvalue density (SLQ) with λ_max, λ_min and the trace at θ_s
 *     and at the end of the largest switch arm that escaped (else the largest that did not
 *     diverge) (escape-curvature.ts `spectrumAt`).
 * Curvature is measured with batch norm in eval mode; `batchNorm` in the result says so ('none'
 * for models without batch norm, all of E2's presets).
 * Every phase of every seed is a resume unit (src/run/resume.ts); long phases checkpoint their
 * trainers mid-way. Deterministic for a config at a fixed BLAS thread count (except `timing`).
 *
 * Data parallel (`ctx.dataParallel`, `bigstep run escape --data-parallel` under mpirun/srun): every
 * GD run trains with `Trainer({ dataParallel })`, the train/test losses, the interpolation losses
 * and λ_max / λ_min and the spectrum's products are split over the ranks (bitwise the one-process
 * values); the accuracies, ‖∇L‖ and the gradient-flow comparison (step 7) are computed whole on
 * every rank (identical there); the runs go one at a time. With
 * microBatch null or ≥ ⌈n/N⌉ the result is bitwise the one-process run with microBatch = ⌈n/N⌉
 * (docs/cluster.md).
 */
import { Model, type Examples } from '../model/model.js';
import type { ModelSpec } from '../model/spec.js';
import { distance, interpolationLosses } from '../measure/trajectory.js';
import { sgd } from '../optim/optimizer.js';
import { fingerprint, resumeStoreOf, type ResumeStore, type Unit } from '../run/resume.js';
import { inSharedMemory } from '../train/shared-data.js';
import { Trainer } from '../train/trainer.js';
import { runConcurrently } from '../train/concurrent.js';
import {
  lambdaMax,
  lambdaMaxFrom,
  lambdaMin,
  spectrumAt,
  type CurvatureOptions,
  type Eigen,
  type SpectrumAt,
  type SpectrumConfig,
} from './escape-curvature.js';
import { flowComparison, type FlowComparison, type FlowConfig } from './escape-flow.js';
import type { BatchNormMode } from '../measure/hessian.js';
import {
  catapultRegime,
  escapeDecision,
  isMinimum,
  type CatapultRule,
  type EscapeRule,
  type Regime,
} from './escape-rules.js';
import {
  buildSpec,
  describeModel,
  loadData,
  trainSubset,
  type DataConfig,
  type ModelConfig,
  type SharpnessConfig,
} from './escape-setup.js';
import type { RunContext, Scale } from './types.js';

export interface EscapeConfig {
  scale: Scale;
  data: DataConfig;
  model: ModelConfig;
  /** The training loss. Only 'mse' (on one-hot targets): its minima exist, so ‖∇L(θ_s)‖ → 0 is reachable. */
  loss: 'mse';
  /** Init seeds (one θ₀ each); `--seed N` replaces them by N, N+1, …. */
  seeds: number[];
  /**
   * Multiplies the last layer's weights at init. With MSE a He-initialised output layer starts
   * with outputs of variance ≈ 2 (L(θ₀) ≈ 1.5 on one-hot targets) and a λ_max(θ₀) that collapses
   * within the first steps; a small scale starts near zero output (the common MSE setup).
   */
  initOutputScale: number;
  /** η_small = smallFactor·2/λ_max(θ₀). */
  smallFactor: number;
  /**
   * θ_s is accepted as a minimum when ‖∇L(θ_s)‖ ≤ gradTol·‖∇L(θ₀)‖ (full train set) AND
   * λ_min(θ_s) ≥ −negativeCurvatureTol·λ_max(θ_s) (escape-rules.ts `isMinimum`).
   */
  converge: { gradTol: number; negativeCurvatureTol: number; maxSteps: number; checkEvery: number };
  catapult: CatapultRule & { etaLambda: number[]; steps: number };
  eos: { etaLambda: number[]; steps: number; measureEvery: number };
  switch: { largeFactors: number[]; steps: number };
  escape: EscapeRule;
  /** Rules of the verdicts (escape-experiment.ts): shares of seeds that escape. */
  verdict: { minSeeds: number; supportShare: number; rejectShare: number };
  /** λ_max probes (Lanczos, exact HVPs) and `lanczosSteps`, the Lanczos budget of λ_min at θ_s. */
  sharpness: SharpnessConfig & { lanczosSteps: number };
  interpolationPoints: number;
  /** The gradient-flow reference from θ₀ (escape-flow.ts). */
  flow: FlowConfig;
  /** The Hessian eigenvalue density at θ_s and after the switch (escape-curvature.ts). */
  spectrum: SpectrumConfig;
  /** GD runs trained at once (each an async native call). */
  concurrency: number;
  /** Examples per forward/backward pass in full-batch steps (null: all at once). */
  microBatch: number | null;
}

/** Train/test loss and accuracy at one point. */
export interface PointEval {
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

export interface CatapultCell {
  etaLambda: number;
  eta: number;
  twoOverEta: number;
  steps: number;
  /** Train loss L(θ_t), t = 0 … steps (L(θ₀) first). */
  loss: number[];
  regime: Regime;
  spike: number;
  finalRatio: number;
  /** λ_max at the end (null when divergent). */
  lambdaEnd: Eigen | null;
  diverged: boolean;
}

export interface EosArm {
  etaLambda: number;
  eta: number;
  twoOverEta: number;
  steps: number;
  diverged: boolean;
  /** λ_max every measureEvery steps (and at the end): step, value, train loss. */
  lambda: Array<{ step: number; value: number; converged: boolean; iterations: number; trainLoss: number }>;
}

export interface ThetaS {
  steps: number;
  /** ‖∇L(θ_s)‖ (full train set, double accumulation). */
  gradNorm: number;
  /** ‖∇L(θ₀)‖ and the absolute tolerance gradTol·‖∇L(θ₀)‖. */
  gradNorm0: number;
  gradTol: number;
  negativeCurvatureTol: number;
  /** Both tests passed (escape-rules.ts `isMinimum`): accepted as a minimum. */
  isMinimum: boolean;
  diverged: boolean;
  /** ‖∇L‖ and train loss at each check; λ_max and λ_min where the gradient test passed. */
  checks: Array<{
    step: number;
    gradNorm: number;
    trainLoss: number;
    lambdaMax: number | null;
    lambdaMin: number | null;
  }>;
  lambdaMax: Eigen;
  lambdaMin: Eigen;
  eval: PointEval;
}

export interface SwitchArm {
  id: string;
  /** m (η = m·2/λ_max(θ_s)); null for the small arm. */
  factor: number | null;
  eta: number;
  steps: number;
  /** Train loss at θ_t before update t. */
  loss: number[];
  diverged: boolean;
  divergedAt: number | null;
  /** max_t L(θ_t)/L(θ_s). */
  spike: number;
  /** At the end (null when diverged). */
  end: (PointEval & { distance: number; lambdaMax: Eigen }) | null;
}

/** The small arm at a step that matches a comparison (equal steps T, or equal ηt with the large arm of factor m). */
export interface SmallSnapshot {
  step: number;
  match: 'steps' | 'eta-t';
  factor: number | null;
  distance: number;
  eval: PointEval;
}

export interface EscapeTest {
  arm: string;
  factor: number | null;
  diverged: boolean;
  barrier: number;
  /** Train loss along θ_s → θ_end. */
  alpha: number[];
  line: number[];
  distanceEnd: number;
  distanceReturn: number;
  returnLoss: number;
  /**
   * Evidence beside the rule: the barrier on θ_s → θ_return. θ_end may still be descending after
   * T steps; θ_return is where GD at η_small took it, nearer a minimum of the basin it is in.
   */
  barrierToReturn: number;
  escaped: boolean;
  barrierAbove: boolean;
  returned: boolean;
  /** Test accuracy at θ_end minus that of the small arm at equal steps / equal ηt (null when diverged). */
  testAccDiffSteps: number | null;
  testAccDiffEtaT: number | null;
  /** ‖θ_end − θ_small‖ at equal ηt. */
  distanceToSmallEtaT: number | null;
}

export interface SeedResult {
  seed: number;
  lambda0: Eigen;
  loss0: number;
  etaSmall: number;
  catapult: CatapultCell[];
  eos: EosArm[];
  thetaS: ThetaS;
  switch: { arms: SwitchArm[]; snapshots: SmallSnapshot[] } | null;
  tests: EscapeTest[];
  /** GD at each eos arm's η and at η_small against the gradient flow from θ₀ (null: not measured for this seed). */
  flow: FlowComparison | null;
  /** The Hessian spectrum at θ_s and after the switch (empty: not measured for this seed). */
  spectrum: SpectrumAt[];
}

export interface EscapeResult {
  experiment: 'E2-escape';
  scale: Scale;
  config: EscapeConfig;
  data: {
    description: string;
    source: string;
    fallback: string | null;
    nTrain: number;
    nTest: number;
    sharpnessSubset: number;
  };
  model: { description: string; paramCount: number; loss: 'mse' };
  curvatureMethod: { top: string; bottom: string };
  /** How batch norm was evaluated in every curvature number ('none': the model has no batch norm). */
  batchNorm: BatchNormMode;
  seeds: SeedResult[];
  /** Wall time: the whole run, and the parts the flow comparison and the spectra took (0 when restored). */
  timing: { totalMs: number; flowMs: number; spectrumMs: number };
}

// ---- evaluation helpers ---------------------------------------------------------------------------

interface Env {
  config: EscapeConfig;
  ctx: RunContext;
  /** Full-batch GD, losses and curvature split over the MPI ranks (ctx.dataParallel). */
  split: boolean;
  /** Train set with one-hot float targets (what GD trains on) and its labels. */
  train: Examples;
  trainLabels: Int32Array;
  test: Examples;
  testLabels: Int32Array;
  sharp: Examples;
  /** Scratch model for evaluations (never trained; params overwritten per call). */
  scratch: Model;
  spec: ModelSpec;
  progress: (steps: number, label: string) => void;
  /** Wall milliseconds spent in the flow and spectrum units. */
  toolkitMs: { flow: number; spectrum: number };
}

function oneHot(labels: Int32Array, k: number): Float32Array {
  const y = new Float32Array(labels.length * k);
  for (let i = 0; i < labels.length; i++) y[i * k + labels[i]] = 1;
  return inSharedMemory(y);
}

function argmaxAccuracy(model: Model, x: Float32Array, labels: Int32Array): number {
  const out = model.predict(x);
  const k = model.outputSize;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (out[i * k + j] > out[i * k + best]) best = j;
    if (best === labels[i]) hits++;
  }
  return hits / labels.length;
}

function evalAt(env: Env, params: Float32Array): PointEval {
  const m = env.scratch;
  m.params.set(params);
  return {
    trainLoss: m.evaluate(env.train, { dataParallel: env.split }).loss,
    trainAccuracy: argmaxAccuracy(m, env.train.x, env.trainLabels),
    testLoss: m.evaluate(env.test, { dataParallel: env.split }).loss,
    testAccuracy: argmaxAccuracy(m, env.test.x, env.testLabels),
  };
}

/** Mean train loss and ‖∇L‖ over the full train set (chunks of microBatch, accumulated in double). */
function gradNormAt(env: Env, params: Float32Array): { loss: number; gradNorm: number } {
  const m = env.scratch;
  m.params.set(params);
  const n = env.trainLabels.length;
  const chunk = env.config.microBatch ?? n;
  const inSize = m.inputSize;
  const k = m.outputSize;
  const g = new Float64Array(m.params.length);
  let loss = 0;
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    const w = (e - s) / n;
    const r = m.lossAndGrad(
      { x: env.train.x.subarray(s * inSize, e * inSize), y: env.train.y.subarray(s * k, e * k) },
      { training: false },
    );
    loss += w * r.loss;
    for (let i = 0; i < g.length; i++) g[i] += w * m.grads[i];
  }
  let ss = 0;
  for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  return { loss, gradNorm: Math.sqrt(ss) };
}

function curvatureOptions(env: Env, seed: number): CurvatureOptions {
  return {
    iterations: env.config.sharpness.iterations,
    tolerance: env.config.sharpness.tolerance,
    seed,
    dataParallel: env.split,
  };
}

function topAt(env: Env, params: Float32Array, seed: number): Eigen {
  env.scratch.params.set(params);
  return lambdaMax(env.scratch, env.sharp, curvatureOptions(env, seed));
}

// ---- GD runs that checkpoint ----------------------------------------------------------------------

/** One GD run: its trainer and the JSON-able record that a checkpoint keeps. */
interface Run<R> {
  model: Model;
  trainer: Trainer;
  rec: R & {
    steps: number;
    target: number;
    done: boolean;
    diverged: boolean;
    divergedAt: number | null;
    loss: number[];
  };
}

function newRun<R extends object>(env: Env, start: Float32Array, eta: number, target: number, extra: R): Run<R> {
  const model = new Model(env.spec);
  model.params.set(start);
  const c = env.config;
  const trainer = new Trainer(model, {
    data: env.train,
    optimizer: sgd({ lr: eta }),
    batch: { mode: 'full', ...(c.microBatch ? { microBatch: c.microBatch } : {}) },
    seed: 0,
    ...(env.split ? { dataParallel: true } : {}),
  });
  return {
    model,
    trainer,
    rec: { ...extra, steps: 0, target, done: false, diverged: false, divergedAt: null, loss: [] },
  };
}

/**
 * Advances every run to its target in segments that end at multiples of `block` and at the steps
 * `stopsOf(run)` names; after each segment `after(run)` may record or set `rec.done`. Runs go
 * `concurrency` at a time. A partial checkpoint of unit `u` (trainers and records) is written
 * between rounds when one is due; a restarted life continues from it. `atStart(run)` is called
 * once before the first step (not again in a life that continues from a checkpoint).
 */
async function drive<R extends object>(
  env: Env,
  u: Unit,
  runs: Array<Run<R>>,
  block: number,
  after: (r: Run<R>) => void,
  stopsOf: (r: Run<R>) => number[] = () => [],
  atStart?: (r: Run<R>) => void,
): Promise<void> {
  const saved = u.restore<Array<Run<R>['rec']>>(runs.map((r) => r.trainer));
  if (saved) saved.forEach((rec, i) => (runs[i].rec = rec));
  else if (atStart) for (const r of runs) atStart(r);
  const signal = env.ctx.signal;
  while (runs.some((r) => !r.rec.done)) {
    signal?.throwIfAborted();
    const live = runs.filter((r) => !r.rec.done);
    await runConcurrently(
      live.map((r) => async () => {
        const s = r.rec.steps;
        let next = Math.min(r.rec.target, (Math.floor(s / block) + 1) * block);
        for (const x of stopsOf(r)) if (x > s && x < next) next = x;
        const res = await r.trainer.run({ steps: next - s, chunkSize: next - s, signal });
        for (let i = 0; i < res.stepsDone; i++) r.rec.loss.push(res.loss[i]);
        r.rec.steps += res.stepsDone;
        env.progress(res.stepsDone, '');
        if (res.diverged) {
          r.rec.diverged = true;
          r.rec.divergedAt = res.divergedAt;
          r.rec.done = true;
        }
      }),
      // Data parallel: one run at a time, so every rank makes the same collective calls in the same order.
      { concurrency: env.split ? 1 : env.config.concurrency, signal },
    );
    for (const r of live) {
      if (!r.rec.diverged) after(r);
      if (r.rec.steps >= r.rec.target) r.rec.done = true;
    }
    if (runs.some((r) => !r.rec.done) && u.due())
      u.save(
        runs.map((r) => r.trainer),
        runs.map((r) => r.rec),
      );
  }
}

function closeRuns(runs: Array<{ model: Model }>): void {
  for (const r of runs) r.model.close();
}

// ---- phases of one seed ---------------------------------------------------------------------------

async function catapultPhase(
  env: Env,
  u: Unit,
  theta0: Float32Array,
  lambda0: number,
  loss0: number,
  seed: number,
): Promise<CatapultCell[]> {
  const c = env.config.catapult;
  const runs = c.etaLambda.map((el) => newRun(env, theta0, el / lambda0, c.steps, { etaLambda: el, bound: false }));
  try {
    await drive(env, u, runs, 10, (r) => {
      const l = r.rec.loss[r.rec.loss.length - 1];
      if (!(l <= c.divergeRatio * loss0)) {
        r.rec.bound = true;
        r.rec.done = true;
      }
    });
    return runs.map((r): CatapultCell => {
      const eta = r.rec.etaLambda / lambda0;
      const stopped = r.rec.diverged || r.rec.bound;
      // L(θ_t) for t = 0 … steps: the per-step losses are at θ_t before update t, then the end point.
      const end = stopped ? NaN : gradNormAt(env, r.model.params).loss;
      const loss = [...r.rec.loss, ...(stopped ? [] : [end])];
      const reg = catapultRegime(loss, stopped, c);
      const lambdaEnd = reg.regime === 'divergent' ? null : topAt(env, r.model.params, seed);
      u.log({
        phase: 'catapult',
        seed,
        etaLambda: r.rec.etaLambda,
        eta,
        regime: reg.regime,
        spike: reg.spike,
        finalRatio: reg.finalRatio,
        lambdaEnd: lambdaEnd?.value ?? null,
        twoOverEta: 2 / eta,
      });
      return {
        etaLambda: r.rec.etaLambda,
        eta,
        twoOverEta: 2 / eta,
        steps: r.rec.steps,
        loss,
        ...reg,
        lambdaEnd,
        diverged: stopped,
      };
    });
  } finally {
    closeRuns(runs);
  }
}

async function eosPhase(env: Env, u: Unit, theta0: Float32Array, lambda0: number, seed: number): Promise<EosArm[]> {
  const c = env.config.eos;
  const runs = c.etaLambda.map((el) =>
    newRun(env, theta0, el / lambda0, c.steps, {
      etaLambda: el,
      lambda: [] as EosArm['lambda'],
      vector: null as Float64Array | null,
    }),
  );
  const measure = (r: (typeof runs)[number]): void => {
    env.scratch.params.set(r.model.params);
    const lam = lambdaMaxFrom(env.scratch, env.sharp, curvatureOptions(env, seed), r.rec.vector);
    r.rec.vector = lam.vector;
    const trainLoss = env.scratch.evaluate(env.train, { dataParallel: env.split }).loss;
    r.rec.lambda.push({
      step: r.rec.steps,
      value: lam.value,
      converged: lam.converged,
      iterations: lam.iterations,
      trainLoss,
    });
    u.log({
      phase: 'eos',
      seed,
      etaLambda: r.rec.etaLambda,
      step: r.rec.steps,
      lambdaMax: lam.value,
      twoOverEta: (lambda0 * 2) / r.rec.etaLambda,
      trainLoss,
    });
  };
  try {
    await drive(env, u, runs, c.measureEvery, measure, undefined, measure);
    return runs.map((r) => ({
      etaLambda: r.rec.etaLambda,
      eta: r.rec.etaLambda / lambda0,
      twoOverEta: (2 * lambda0) / r.rec.etaLambda,
      steps: r.rec.steps,
      diverged: r.rec.diverged,
      lambda: r.rec.lambda,
    }));
  } finally {
    closeRuns(runs);
  }
}

async function convergePhase(
  env: Env,
  u: Unit,
  theta0: Float32Array,
  etaSmall: number,
  gradNorm0: number,
  seed: number,
): Promise<{ thetaS: ThetaS; params: Float32Array }> {
  const c = env.config.converge;
  const tol = c.gradTol * gradNorm0;
  const run = newRun(env, theta0, etaSmall, c.maxSteps, { checks: [] as ThetaS['checks'] });
  const curvature = (params: Float32Array): { top: Eigen; bottom: Eigen } => {
    const top = topAt(env, params, seed);
    env.scratch.params.set(params);
    return {
      top,
      bottom: lambdaMin(env.scratch, env.sharp, {
        ...curvatureOptions(env, seed),
        steps: env.config.sharpness.lanczosSteps,
      }),
    };
  };
  try {
    // Stop at the first check that passes both tests; a small gradient with negative curvature
    // (a saddle or plateau) is logged and GD goes on.
    const check = (r: typeof run): void => {
      const g = gradNormAt(env, r.model.params);
      const k: ThetaS['checks'][number] = {
        step: r.rec.steps,
        gradNorm: g.gradNorm,
        trainLoss: g.loss,
        lambdaMax: null,
        lambdaMin: null,
      };
      if (g.gradNorm <= tol) {
        const { top, bottom } = curvature(r.model.params);
        k.lambdaMax = top.value;
        k.lambdaMin = bottom.value;
        if (
          isMinimum(
            { gradNorm: g.gradNorm, lambdaMax: top.value, lambdaMin: bottom.value },
            { gradTol: tol, negativeCurvatureTol: c.negativeCurvatureTol },
          )
        )
          r.rec.done = true;
      }
      r.rec.checks.push(k);
      u.log({ phase: 'converge', seed, ...k });
    };
    await drive(env, u, [run], c.checkEvery, check);
    const params = run.model.params.slice();
    const last = run.rec.checks[run.rec.checks.length - 1];
    const gradNorm =
      run.rec.diverged || !last || last.step !== run.rec.steps ? gradNormAt(env, params).gradNorm : last.gradNorm;
    const { top, bottom } = curvature(params);
    const thetaS: ThetaS = {
      steps: run.rec.steps,
      gradNorm,
      gradNorm0,
      gradTol: tol,
      negativeCurvatureTol: c.negativeCurvatureTol,
      isMinimum:
        !run.rec.diverged &&
        isMinimum(
          { gradNorm, lambdaMax: top.value, lambdaMin: bottom.value },
          { gradTol: tol, negativeCurvatureTol: c.negativeCurvatureTol },
        ),
      diverged: run.rec.diverged,
      checks: run.rec.checks,
      lambdaMax: top,
      lambdaMin: bottom,
      eval: evalAt(env, params),
    };
    u.log({
      phase: 'thetaS',
      seed,
      steps: thetaS.steps,
      gradNorm,
      isMinimum: thetaS.isMinimum,
      lambdaMax: top.value,
      lambdaMin: bottom.value,
      ...thetaS.eval,
    });
    return { thetaS, params };
  } finally {
    closeRuns([run]);
  }
}

interface SwitchOut {
  arms: SwitchArm[];
  snapshots: SmallSnapshot[];
  ends: Array<Float32Array | null>;
  snapParams: Float32Array[];
}

async function switchPhase(
  env: Env,
  u: Unit,
  thetaS: Float32Array,
  ts: ThetaS,
  etaSmall: number,
  seed: number,
): Promise<SwitchOut> {
  const c = env.config.switch;
  const T = c.steps;
  const etas = c.largeFactors.map((m) => (m * 2) / ts.lambdaMax.value);
  const matchSteps = etas.map((eta) => Math.max(1, Math.round((T * eta) / etaSmall)));
  const smallTarget = Math.max(T, ...matchSteps);
  const stops = [T, ...matchSteps];
  const runs = [
    newRun(env, thetaS, etaSmall, smallTarget, {
      id: 'small',
      factor: null as number | null,
      snaps: [] as Array<{ step: number; params: Float32Array }>,
    }),
    ...c.largeFactors.map((m, i) =>
      newRun(env, thetaS, etas[i], T, {
        id: `large×${m}`,
        factor: m as number | null,
        snaps: [] as Array<{ step: number; params: Float32Array }>,
      }),
    ),
  ];
  try {
    await drive(
      env,
      u,
      runs,
      Math.max(1, Math.ceil(smallTarget / 20)),
      (r) => {
        if (r.rec.id === 'small' && stops.includes(r.rec.steps))
          r.rec.snaps.push({ step: r.rec.steps, params: r.model.params.slice() });
      },
      (r) => (r.rec.id === 'small' ? stops : []),
    );
    const loss0 = ts.eval.trainLoss;
    const arms = runs.map((r): SwitchArm => {
      let spike = -Infinity;
      for (const l of r.rec.loss) spike = Math.max(spike, l / loss0);
      const end = r.rec.diverged
        ? null
        : {
            ...evalAt(env, r.model.params),
            distance: distance(r.model.params, thetaS),
            lambdaMax: topAt(env, r.model.params, seed),
          };
      const arm: SwitchArm = {
        id: r.rec.id,
        factor: r.rec.factor,
        eta: r.rec.id === 'small' ? etaSmall : etas[c.largeFactors.indexOf(r.rec.factor!)],
        steps: r.rec.steps,
        loss: r.rec.loss,
        diverged: r.rec.diverged,
        divergedAt: r.rec.divergedAt,
        spike: r.rec.diverged ? Infinity : spike,
        end,
      };
      u.log({
        phase: 'switch',
        seed,
        arm: arm.id,
        eta: arm.eta,
        steps: arm.steps,
        diverged: arm.diverged,
        spike: arm.spike,
        distance: end?.distance ?? null,
        lambdaMax: end?.lambdaMax.value ?? null,
        testAccuracy: end?.testAccuracy ?? null,
      });
      return arm;
    });
    const small = runs[0].rec;
    const snapAt = (step: number): Float32Array => small.snaps.find((s) => s.step === step)!.params;
    const snapshots: SmallSnapshot[] = [];
    const snapParams: Float32Array[] = [];
    const add = (step: number, match: SmallSnapshot['match'], factor: number | null): void => {
      const p = small.diverged ? null : snapAt(step);
      if (!p) return;
      snapshots.push({ step, match, factor, distance: distance(p, thetaS), eval: evalAt(env, p) });
      snapParams.push(p);
    };
    add(T, 'steps', null);
    c.largeFactors.forEach((m, i) => add(matchSteps[i], 'eta-t', m));
    return { arms, snapshots, ends: runs.map((r) => (r.rec.diverged ? null : r.model.params.slice())), snapParams };
  } finally {
    closeRuns(runs);
  }
}

/** The escape test of the end points `ends` (large arms, then the small arm at equal ηt as a control). */
async function testPhase(
  env: Env,
  u: Unit,
  thetaS: Float32Array,
  etaSmall: number,
  seed: number,
  cases: Array<{
    arm: string;
    factor: number | null;
    end: Float32Array | null;
    accDiffSteps: number | null;
    accDiffEtaT: number | null;
    toSmall: number | null;
  }>,
): Promise<EscapeTest[]> {
  const rule = env.config.escape;
  const live = cases.filter((k) => k.end !== null);
  const runs = live.map((k) => newRun(env, k.end!, etaSmall, rule.returnSteps, { arm: k.arm }));
  try {
    await drive(env, u, runs, Math.max(1, Math.ceil(rule.returnSteps / 10)), () => {});
    return cases.map((k): EscapeTest => {
      const i = live.indexOf(k);
      if (i < 0 || k.end === null)
        return {
          arm: k.arm,
          factor: k.factor,
          diverged: true,
          barrier: NaN,
          alpha: [],
          line: [],
          distanceEnd: NaN,
          distanceReturn: NaN,
          returnLoss: NaN,
          barrierToReturn: NaN,
          escaped: false,
          barrierAbove: false,
          returned: false,
          testAccDiffSteps: null,
          testAccDiffEtaT: null,
          distanceToSmallEtaT: null,
        };
      const r = runs[i];
      const line = interpolationLosses(env.scratch, thetaS, k.end, env.train, {
        points: env.config.interpolationPoints,
        dataParallel: env.split,
      });
      const distanceEnd = distance(k.end, thetaS);
      const returnDiverged = r.rec.diverged;
      const distanceReturn = returnDiverged ? Infinity : distance(r.model.params, thetaS);
      const returnLoss = returnDiverged ? Infinity : gradNormAt(env, r.model.params).loss;
      const barrierToReturn = returnDiverged
        ? NaN
        : interpolationLosses(env.scratch, thetaS, r.model.params, env.train, {
            points: env.config.interpolationPoints,
            dataParallel: env.split,
          }).barrier;
      const d = escapeDecision({ diverged: false, barrier: line.barrier, distanceEnd, distanceReturn }, rule);
      const t: EscapeTest = {
        arm: k.arm,
        factor: k.factor,
        diverged: false,
        barrier: line.barrier,
        alpha: line.alpha,
        line: line.loss,
        distanceEnd,
        distanceReturn,
        returnLoss,
        barrierToReturn,
        ...d,
        testAccDiffSteps: k.accDiffSteps,
        testAccDiffEtaT: k.accDiffEtaT,
        distanceToSmallEtaT: k.toSmall,
      };
      u.log({
        phase: 'escape-test',
        seed,
        arm: k.arm,
        barrier: t.barrier,
        barrierToReturn,
        distanceEnd,
        distanceReturn,
        returnLoss,
        escaped: t.escaped,
        returned: t.returned,
      });
      return t;
    });
  } finally {
    closeRuns(runs);
  }
}

/** θ₀ = init(seed) with the last weight tensor scaled by initOutputScale. */
function initialParams(env: Env, seed: number): Float32Array {
  const m = new Model(env.spec, { seed });
  try {
    const weights = m.layout.params.filter((p) => p.name.endsWith('weight'));
    const last = weights[weights.length - 1];
    const w = m.params.subarray(last.offset, last.offset + last.size);
    for (let i = 0; i < w.length; i++) w[i] *= env.config.initOutputScale;
    return m.params.slice();
  } finally {
    m.close();
  }
}

async function runSeed(env: Env, store: ResumeStore, seed: number): Promise<SeedResult> {
  const c = env.config;
  const key = (p: string): string => `seed${seed}.${p}`;
  const theta0 = initialParams(env, seed);
  const { lambda0, loss0, gradNorm0, etaSmall } = await store.unit(key('init'), async (u) => {
    const lambda0 = topAt(env, theta0, seed);
    const { loss: loss0, gradNorm: gradNorm0 } = gradNormAt(env, theta0);
    const etaSmall = (c.smallFactor * 2) / lambda0.value;
    if (!(Number.isFinite(etaSmall) && etaSmall > 0))
      throw new Error(`E2: λ_max(θ₀) = ${lambda0.value} (seed ${seed}) gives no usable η_small = smallFactor·2/λ₀`);
    u.log({ phase: 'init', seed, lambda0: lambda0.value, loss0, gradNorm0, etaSmall });
    return { lambda0, loss0, gradNorm0, etaSmall };
  });
  const catapult = await store.unit(
    key('catapult'),
    (u) => catapultPhase(env, u, theta0, lambda0.value, loss0, seed),
    (v) =>
      env.progress(
        v.reduce((n, x) => n + x.steps, 0),
        '',
      ),
  );
  const eos = await store.unit(
    key('eos'),
    (u) => eosPhase(env, u, theta0, lambda0.value, seed),
    (v) =>
      env.progress(
        v.reduce((n, x) => n + x.steps, 0),
        '',
      ),
  );
  const conv = await store.unit(
    key('converge'),
    (u) => convergePhase(env, u, theta0, etaSmall, gradNorm0, seed),
    (v) => env.progress(v.thetaS.steps, ''),
  );
  const index = c.seeds.indexOf(seed);
  const flow =
    index < c.flow.seeds
      ? await store.unit(
          key('flow'),
          async (u) => {
            const began = performance.now();
            const r = await flowComparison({
              spec: env.spec,
              train: env.train,
              theta0,
              lambda0: lambda0.value,
              etaLambda: c.eos.etaLambda,
              eosSteps: c.eos.steps,
              etaSmall,
              config: c.flow,
              microBatch: c.microBatch,
              signal: env.ctx.signal,
              progress: (n) => env.progress(n, ''),
            });
            for (const a of r.arms) {
              const last = a.points[a.points.length - 1];
              u.log({
                phase: 'flow',
                seed,
                arm: a.label,
                eta: a.eta,
                steps: a.steps,
                t: last?.t,
                distance: last?.distance,
              });
            }
            env.toolkitMs.flow += performance.now() - began;
            return r;
          },
          (v) =>
            env.progress(
              v.arms.reduce((n, a) => n + a.steps, 0),
              '',
            ),
        )
      : null;
  if (conv.thetaS.diverged)
    return {
      seed,
      lambda0,
      loss0,
      etaSmall,
      catapult,
      eos,
      thetaS: conv.thetaS,
      switch: null,
      tests: [],
      flow,
      spectrum: [],
    };
  const sw = await store.unit(
    key('switch'),
    (u) => switchPhase(env, u, conv.params, conv.thetaS, etaSmall, seed),
    (v) =>
      env.progress(
        v.arms.reduce((n, a) => n + a.steps, 0),
        '',
      ),
  );
  const small = sw.snapshots;
  const atSteps = small.find((s) => s.match === 'steps');
  type Case = Parameters<typeof testPhase>[5][number];
  const cases = sw.arms.slice(1).map((a, i): Case => {
    const m = a.factor!;
    const idx = small.findIndex((s) => s.match === 'eta-t' && s.factor === m);
    const end = sw.ends[i + 1];
    return {
      arm: a.id,
      factor: m,
      end,
      accDiffSteps: a.end && atSteps ? a.end.testAccuracy - atSteps.eval.testAccuracy : null,
      accDiffEtaT: a.end && idx >= 0 ? a.end.testAccuracy - small[idx].eval.testAccuracy : null,
      toSmall: end && idx >= 0 ? distance(end, sw.snapParams[idx]) : null,
    };
  });
  // Control: the small arm's own end point (its last snapshot: equal ηt with the largest factor) must not "escape".
  let last = -1;
  small.forEach((x, i) => (last < 0 || x.step > small[last].step ? (last = i) : 0));
  cases.push({
    arm: 'small (control)',
    factor: null,
    end: last >= 0 ? sw.snapParams[last] : null,
    accDiffSteps: null,
    accDiffEtaT: null,
    toSmall: null,
  });
  const tests = await store.unit(
    key('escape-test'),
    (u) => testPhase(env, u, conv.params, etaSmall, seed, cases),
    (v) => env.progress(v.length * c.escape.returnSteps, ''),
  );
  const spectrum =
    index < c.spectrum.seeds
      ? await store.unit(key('spectrum'), (u) => {
          const began = performance.now();
          // At θ_s, and at the end of the largest factor that escaped (else the largest that did not diverge).
          const live = cases.filter((k) => k.factor !== null && k.end !== null);
          const escaped = live.filter((k) => tests.find((t) => t.arm === k.arm)?.escaped);
          const pick = (escaped.length ? escaped : live).reduce<Case | null>(
            (b, k) => (b === null || k.factor! > b.factor! ? k : b),
            null,
          );
          const out: SpectrumAt[] = [];
          env.scratch.params.set(conv.params);
          out.push(spectrumAt(env.scratch, env.sharp, c.spectrum, 'thetaS', null, seed, env.split));
          if (pick) {
            env.scratch.params.set(pick.end!);
            out.push(spectrumAt(env.scratch, env.sharp, c.spectrum, pick.arm, escaped.includes(pick), seed, env.split));
          }
          for (const x of out)
            u.log({
              phase: 'spectrum',
              seed,
              at: x.at,
              lambdaMax: x.lambdaMax,
              lambdaMin: x.lambdaMin,
              trace: x.trace,
              hutchinson: x.hutchinson,
              products: x.products,
            });
          env.toolkitMs.spectrum += performance.now() - began;
          return Promise.resolve(out);
        })
      : [];
  return {
    seed,
    lambda0,
    loss0,
    etaSmall,
    catapult,
    eos,
    thetaS: conv.thetaS,
    switch: { arms: sw.arms, snapshots: sw.snapshots },
    tests,
    flow,
    spectrum,
  };
}

/** GD steps of one seed at most (for progress). */
function plannedSteps(c: EscapeConfig): number {
  const maxRatio = 6; // η_large/η_small ≤ 3·2/λ_s·λ₀ and λ_s ≈ λ₀…2λ₀: an estimate, progress only
  return (
    c.catapult.etaLambda.length * c.catapult.steps +
    c.eos.etaLambda.length * c.eos.steps +
    c.converge.maxSteps / 2 +
    c.switch.largeFactors.length * c.switch.steps +
    (c.switch.steps * maxRatio) / 2 +
    (c.switch.largeFactors.length + 1) * c.escape.returnSteps +
    (flowSteps(c) * Math.min(c.flow.seeds, c.seeds.length)) / c.seeds.length
  );
}

/** GD steps of the flow comparison of one seed (every eos arm and η_small cover the fastest arm's time). */
function flowSteps(c: EscapeConfig): number {
  const fastest = Math.max(...c.eos.etaLambda);
  const small = c.smallFactor * 2;
  return c.eos.etaLambda.reduce((n, el) => n + (fastest / el) * c.eos.steps, 0) + (fastest / small) * c.eos.steps;
}

/** Runs E2 for a validated config (escape-experiment.ts validates). Progress and metrics go through `ctx`. */
export async function runEscape(config: EscapeConfig, ctx: RunContext): Promise<EscapeResult> {
  const t0 = performance.now();
  const c = config;
  const total = Math.round(plannedSteps(c) * c.seeds.length);
  let done = 0;
  ctx.progress(0, total, 'E2 setup');
  const data = await loadData(c.data);
  const k = data.numClasses;
  const trainLabels = data.train.y as Int32Array;
  const testLabels = data.test.y as Int32Array;
  const sharpSub = trainSubset(data, c.sharpness.subset, c.data.seed + 2);
  const spec: ModelSpec = { ...buildSpec(c.model, data.shape, k), loss: 'mse' };
  const scratch = new Model(spec);
  let current = '';
  const env: Env = {
    config: c,
    ctx,
    split: ctx.dataParallel === true,
    train: { x: data.train.x, y: oneHot(trainLabels, k) },
    trainLabels,
    test: { x: data.test.x, y: oneHot(testLabels, k) },
    testLabels,
    sharp: { x: sharpSub.x, y: oneHot(sharpSub.y as Int32Array, k) },
    scratch,
    spec,
    progress: (n, label) => {
      done += n;
      ctx.progress(Math.min(done, total), total, `E2 ${label || current}`);
    },
    toolkitMs: { flow: 0, spectrum: 0 },
  };
  const paramCount = scratch.params.length;
  ctx.log({
    phase: 'setup',
    dataset: data.description,
    fallback: data.fallback,
    model: describeModel(c.model, paramCount),
    loss: 'mse',
    nTrain: data.nTrain,
    nTest: data.nTest,
  });
  const store = resumeStoreOf(ctx);
  store.pin('data', {
    source: data.source,
    fingerprint: fingerprint(data.train.x, data.train.y, data.test.x, data.test.y),
  });
  try {
    const seeds: SeedResult[] = [];
    for (const [i, s] of c.seeds.entries()) {
      current = `seed ${s} (${i + 1}/${c.seeds.length})`;
      seeds.push(await runSeed(env, store, s));
    }
    ctx.progress(total, total, 'E2 done');
    const first = seeds[0];
    return {
      experiment: 'E2-escape',
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
      model: { description: describeModel(c.model, paramCount), paramCount, loss: 'mse' },
      curvatureMethod: { top: first.thetaS.lambdaMax.method, bottom: first.thetaS.lambdaMin.method },
      batchNorm: scratch.layout.stateCount > 0 ? 'eval' : 'none',
      seeds,
      timing: { totalMs: performance.now() - t0, flowMs: env.toolkitMs.flow, spectrumMs: env.toolkitMs.spectrum },
    };
  } finally {
    scratch.close();
  }
}
