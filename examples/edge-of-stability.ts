// Edge of stability (Cohen et al. 2021, "Gradient descent on neural networks typically occurs at
// the edge of stability"), their setting on Fashion-MNIST: the first 5,000 training examples, a
// tanh MLP with [200, 200] hidden units, full-batch GD at η = 0.01 until 99 % train accuracy, the
// top-2 Hessian eigenvalues (exact HVPs, warm-started Lanczos, all n examples) every 50 steps, with
// MSE and with cross-entropy, plus the gradient-flow reference from the same θ₀ (distance at
// matched times t = η·k in a fixed 500-d random sketch).
//
// The rule (src/measure/eos-rule.ts, EOS_RULE), with E = 2/η in Cohen et al.'s units and λ1 the
// tracked λ_max: uninformative if λ1 ≥ 0.9·E at step 0; sharpening if λ1 ≥ 0.9·E later; arrival at
// the first λ1 ≥ 0.95·E; the late window is every measurement from arrival on and needs ≥ 20 of them
// (1,000 steps). For a run that ended (99 % train accuracy or its step budget / stated cap):
// supported if ≥ 80 % of the late window lies within ±10 % of E and its least-squares slope is at
// most 25 % of the sharpening rate (λ1(arrival) − λ1(0))/steps, i.e. λ1 has stopped rising;
// not-reproduced if GD diverged, there was no sharpening, or a full late window is < 80 % in the band;
// inconclusive if it ended before arrival, with < 20 late measurements, or in the band but still
// moving; unfinished while the run has not ended. This replaces the first rule (median of λ1 after
// the first crossing of 0.9·E within [0.8, 1.2]·E), which the 2026-12-02 run met while λ1 was still
// rising; it was written after that run (stopped by hand at step 18,300, λ1 = 0.97·E, 12 measurements
// after arrival: nothing about hovering decided) and before the continuation that decides it.
//
// Cohen et al.'s units, so that η = 0.01 means what it means in their paper:
// - Their square loss is ½‖f(x) − y‖² summed over the C = 10 outputs, averaged over examples;
//   bigstep's 'mse' averages over outputs as well, so theirs is C/2 = 5 times bigstep's. GD on
//   (C/2)·L at η equals GD on L at (C/2)·η step for step, so the MSE run trains bigstep's loss at
//   5·η and reports every eigenvalue multiplied by 5 (the Hessian of their loss). Cross-entropy is
//   the mean over examples in both (factor 1).
// - Their network is PyTorch's default nn.Linear init, U(−1/√fan_in, 1/√fan_in) for weights and
//   biases (BIGSTEP_EOS_INIT=torch, the default); BIGSTEP_EOS_INIT=he keeps bigstep's He-normal,
//   which starts at a far larger λ_max.
// - Inputs are standardised with the training subset's mean and std over all pixels (Cohen et al.
//   standardise each pixel with the full CIFAR-10 training set's statistics).
// - Accuracy is checked at each measurement (every 50 steps), not after every step.
//
// The run is resumable: GD and the flow each checkpoint into BIGSTEP_EOS_OUT after every
// measurement / flow segment, and a rerun continues from there (the Lanczos warm start begins
// afresh after a restart; a larger BIGSTEP_EOS_STEPS or BIGSTEP_EOS_FLOW_STEPS continues a run that
// ended at its budget). Progress goes to stdout. Phases (BIGSTEP_EOS_PHASE): 'all' (default: GD,
// then the flow, then figures), 'gd', 'flow' (can run in a second process beside 'gd'), 'report'
// (figures and the verdict from whatever the checkpoints hold), 'check' (the units check above, at
// the GD checkpoint's θ or θ₀, into eos-<loss>.check.json).
//
// Sizes (environment): BIGSTEP_EOS_N (examples, default 5000), BIGSTEP_EOS_LR (η in Cohen et al.'s
// units, default 0.01), BIGSTEP_EOS_STEPS (step budget, default 20000), BIGSTEP_EOS_EVERY (default
// 50), BIGSTEP_EOS_LOSS ('mse', 'ce' or 'both', default both), BIGSTEP_EOS_FLOW_STEPS (GD steps'
// worth of flow time, default 2000; 0 = none), BIGSTEP_EOS_ALPHA (flow step bound α/λ_max,
// default 1), BIGSTEP_EOS_OUT (directory, default eos-out). BIGSTEP_EXAMPLE_SIZE=tiny shrinks
// everything for the test that keeps examples working.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Model,
  RandomProjection,
  SharpnessTracker,
  Trainer,
  EOS_RULE,
  checkStepCurvature,
  distanceChart,
  edgeOfStabilityVerdict,
  gd,
  mlp,
  modelGradientFlow,
  renderChart,
  sharpnessChart,
  topEigenvalue,
  trajectoryDistances,
  type Examples,
  type SharpnessPoint,
} from 'bigstep';

import { fashionMnist, tiny } from './common.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number (got ${raw})`);
  return v;
}

function envChoice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const raw = process.env[name] ?? fallback;
  if (!(choices as readonly string[]).includes(raw))
    throw new RangeError(`${name} must be one of ${choices.join(', ')} (got ${raw})`);
  return raw as T;
}

const n = tiny ? 128 : envNumber('BIGSTEP_EOS_N', 5000);
const lr = envNumber('BIGSTEP_EOS_LR', tiny ? 0.05 : 0.01);
const budget = tiny ? 20 : envNumber('BIGSTEP_EOS_STEPS', 20000);
const every = tiny ? 10 : envNumber('BIGSTEP_EOS_EVERY', 50);
const flowSteps = tiny ? 10 : envNumber('BIGSTEP_EOS_FLOW_STEPS', 2000);
const alpha = envNumber('BIGSTEP_EOS_ALPHA', 1);
const hidden = tiny ? [16, 16] : [200, 200];
const lossChoice = envChoice('BIGSTEP_EOS_LOSS', ['mse', 'ce', 'both'], 'both');
const phase = envChoice('BIGSTEP_EOS_PHASE', ['all', 'gd', 'flow', 'report', 'check'], 'all');
const init = envChoice('BIGSTEP_EOS_INIT', ['torch', 'he'], 'torch');
const outDir = process.env.BIGSTEP_EOS_OUT ?? (tiny ? join(tmpdir(), `bigstep-eos-tiny-${process.pid}`) : 'eos-out');
const targetAccuracy = 0.99;
const classes = 10;
const threshold = 2 / lr;

const { train, inputs, name } = await fashionMnist(n, 10);
const labels = train.y as Int32Array;
const oneHot = new Float32Array(n * classes);
for (let i = 0; i < n; i++) oneHot[i * classes + labels[i]] = 1;
console.log(
  `data: ${name}, first ${n} examples; tanh MLP ${JSON.stringify(hidden)}, ${init} init; GD η = ${lr} (2/η = ${threshold}, Cohen et al.'s units); ` +
    `budget ${budget} steps or ${targetAccuracy * 100} % train accuracy; top-2 λ every ${every} steps on all ${n} examples; flow to t = ${lr * flowSteps}`,
);
mkdirSync(outDir, { recursive: true });

/** Writes a file whole or not at all (temp + rename), so a killed run leaves the last checkpoint. */
function writeAtomic(file: string, data: string | Uint8Array): void {
  writeFileSync(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
}

/** A file's bytes as their own ArrayBuffer (a Buffer may be a view into a shared pool). */
function readBytes(file: string): ArrayBuffer {
  const b = readFileSync(file);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function readJson<T>(file: string): T | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
}

/** PyTorch's default nn.Linear init: weight [out, in] and bias both U(−1/√in, 1/√in), seeded (xorshift128+). */
function torchInit(model: Model, seed: number): void {
  let s0 = 0x9e3779b97f4a7c15n ^ BigInt(seed);
  let s1 = 0xbf58476d1ce4e5b9n;
  const mask = (1n << 64n) - 1n;
  const uniform = (): number => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = (x ^ (x << 23n)) & mask;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((s1 + y) & mask) >> 11n) / 2 ** 53;
  };
  let fanIn = 0;
  for (const e of model.layout.params) {
    if (e.shape.length === 2) fanIn = e.shape[1];
    const bound = 1 / Math.sqrt(fanIn);
    const t = model.tensor(e.name);
    for (let i = 0; i < t.length; i++) t[i] = (2 * uniform() - 1) * bound;
  }
}

interface GdState {
  step: number;
  done: boolean;
  stopped: 'accuracy' | 'budget' | 'diverged' | null;
  points: Array<SharpnessPoint & { loss: number; accuracy: number; elapsed: number }>;
  /** 500-d sketches of θ at the measured steps up to the flow horizon. */
  sketches: Array<{ step: number; p: number[] }>;
  seconds: number;
}

interface FlowState {
  step: number;
  done: boolean;
  diverged: boolean;
  sketches: Array<{ step: number; p: number[] }>;
  lambdas: Array<{ step: number; value: number }>;
  loss: Array<{ step: number; value: number }>;
  gradients: number;
  accepted: number;
  seconds: number;
}

const losses = lossChoice === 'both' ? (['mse', 'ce'] as const) : ([lossChoice] as const);
for (const loss of losses) {
  // GD on bigstep's loss at scale·η is GD on Cohen et al.'s loss at η; their Hessian is scale·ours.
  const scale = loss === 'mse' ? classes / 2 : 1;
  const etaModel = scale * lr;
  const spec = mlp({
    input: inputs,
    hidden,
    outputs: classes,
    activation: 'tanh',
    ...(loss === 'mse' ? { loss: 'mse' as const } : {}),
  });
  const data: Examples = loss === 'mse' ? { x: train.x, y: oneHot } : train;
  const fresh = (): Model => {
    const m = new Model(spec, { seed: 0 });
    if (init === 'torch') torchInit(m, 0);
    return m;
  };
  const probe = fresh();
  const projection = new RandomProjection(probe.params.length, 500, 0);
  probe.close();
  const gdFile = join(outDir, `eos-${loss}.gd.json`);
  const flowFile = join(outDir, `eos-${loss}.flow.json`);
  const sketch = (theta: ArrayLike<number>): number[] => Array.from(projection.project(theta));

  if (phase === 'check') {
    runCheck();
    continue;
  }
  if (phase === 'all' || phase === 'gd') await runGd();
  if (phase === 'all' || phase === 'flow') runFlow();
  await report();

  /** The measured λ1 against the GD step itself (src/measure/step-check.ts), at the GD checkpoint or θ₀. */
  function runCheck(): void {
    const model = fresh();
    const g = readJson<GdState>(gdFile);
    const step = g && g.step > 0 ? g.step : 0;
    if (step > 0) model.params.set(new Float32Array(readBytes(`${gdFile}.params`)));
    const began = performance.now();
    const c = checkStepCurvature(model, data, { steps: 10 });
    const seconds = (performance.now() - began) / 1000;
    console.log(
      `${loss}: check at GD step ${step}: λ1 ${c.lambda.toFixed(4)} on bigstep's loss = ${(scale * c.lambda).toFixed(2)} in Cohen et al.'s units ` +
        `(converged ${c.lambdaConverged}); the run's η·λ1 = ${etaModel} × ${c.lambda.toFixed(3)} = ${(etaModel * c.lambda).toFixed(3)} ` +
        `= ${lr} × ${(scale * c.lambda).toFixed(2)} (edge at 2)`,
    );
    console.log(
      `${loss}: loss along v: second difference ${c.secondDifference.toFixed(4)} (${((c.secondDifference / c.lambda - 1) * 100).toFixed(2)} % from λ1), ` +
        `quadratic model error at θ ± ${c.epsilon.toExponential(2)}·v ${(100 * c.quadraticModelError).toFixed(2)} % of ½ε²λ1`,
    );
    for (const r of c.responses)
      console.log(
        `${loss}: GD at η = ${r.factor}/λ1 = ${r.eta.toExponential(4)} (bigstep's loss): one-step multiplier along v ${r.measured.toFixed(4)} ` +
          `(predicted ${r.predicted.toFixed(2)}); perturbation ×${r.growth.toFixed(3)} after ${c.steps} steps ` +
          `(|1 − c|^${c.steps} = ${(Math.abs(r.predicted) ** c.steps).toFixed(3)}); loss after them ×${r.lossRatio.toFixed(4)}${r.diverged ? ', diverged' : ''}`,
      );
    let cohenSecond: number | null = null;
    if (loss === 'mse') {
      // Their loss computed from the outputs, ½‖f(x) − y‖² averaged over examples: its curvature along v is scale·λ1.
      const theta = model.params.slice();
      const along = (e: number): number => {
        for (let i = 0; i < theta.length; i++) model.params[i] = theta[i] + e * c.vector[i];
        const out = model.predict(train.x);
        let sum = 0;
        for (let i = 0; i < out.length; i++) sum += 0.5 * (out[i] - oneHot[i]) ** 2;
        return sum / n;
      };
      const e = c.epsilon;
      cohenSecond = (along(e) - 2 * along(0) + along(-e)) / (e * e);
      model.params.set(theta);
      console.log(
        `${loss}: Cohen et al.'s ½‖f − y‖² (from the outputs) along v: second difference ${cohenSecond.toFixed(3)} = ${(cohenSecond / c.lambda).toFixed(4)} × λ1 (the example's factor: ${scale})`,
      );
    }
    console.log(`${loss}: check took ${seconds.toFixed(1)} s`);
    const { vector: _v, ...rest } = c;
    writeAtomic(
      join(outDir, `eos-${loss}.check.json`),
      JSON.stringify({ step, lossScale: scale, trainedLr: etaModel, lr, seconds, cohenSecond, ...rest }, null, 1),
    );
    model.close();
  }

  async function runGd(): Promise<void> {
    const model = fresh();
    const state: GdState = readJson<GdState>(gdFile) ?? {
      step: 0,
      done: false,
      stopped: null,
      points: [],
      sketches: [],
      seconds: 0,
    };
    if (state.done && state.stopped === 'budget' && state.step < budget) {
      // A larger BIGSTEP_EOS_STEPS continues a run that stopped at its budget.
      console.log(`${loss}: GD stopped at its budget of ${state.step} steps; continuing to ${budget}`);
      state.done = false;
      state.stopped = null;
    }
    if (state.done) return model.close();
    if (state.step > 0) {
      model.params.set(new Float32Array(readBytes(`${gdFile}.params`)));
      console.log(`${loss}: GD resumes at step ${state.step}`);
    }
    const accuracy = (): number => {
      const out = model.predict(train.x);
      let correct = 0;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (out[i * classes + c] > out[i * classes + best]) best = c;
        if (best === labels[i]) correct++;
      }
      return correct / n;
    };
    const tracker = new SharpnessTracker(model, data, { k: 2, subset: n, tolerance: 1e-3 });
    const trainer = new Trainer(model, { data, optimizer: gd({ lr: etaModel }) });
    const began = performance.now() - state.seconds * 1000;
    for (;;) {
      const p = tracker.measure(state.step);
      const acc = accuracy();
      const point = {
        ...p,
        values: p.values.map((v) => v * scale),
        loss: scale * model.evaluate(data).loss,
        accuracy: acc,
        elapsed: (performance.now() - began) / 1000,
      };
      state.points.push(point);
      if (state.step <= flowSteps) state.sketches.push({ step: state.step, p: sketch(model.params) });
      console.log(
        `${loss.padEnd(3)} step ${String(state.step).padStart(6)}  loss ${point.loss.toFixed(4)}  acc ${acc.toFixed(3)}  ` +
          `λ1 ${point.values[0].toFixed(2).padStart(8)}  λ2 ${point.values[1].toFixed(2).padStart(8)}  η·λ1 ${(lr * point.values[0]).toFixed(3)}  (2/η = ${threshold}; ` +
          `${p.products} HVPs, ${p.seconds.toFixed(1)} s; ${point.elapsed.toFixed(0)} s in all)`,
      );
      if (acc >= targetAccuracy) state.stopped = 'accuracy';
      else if (state.step >= budget) state.stopped = 'budget';
      if (!state.stopped) {
        const r = await trainer.run({ steps: Math.min(every, budget - state.step) });
        state.step += r.stepsDone;
        if (r.diverged) state.stopped = 'diverged';
      }
      state.done = state.stopped !== null;
      state.seconds = (performance.now() - began) / 1000;
      writeAtomic(
        `${gdFile}.params`,
        new Uint8Array(model.params.buffer, model.params.byteOffset, model.params.byteLength),
      );
      writeAtomic(gdFile, JSON.stringify(state));
      if (state.done) break;
    }
    model.close();
  }

  function runFlow(): void {
    if (flowSteps <= 0) return;
    const model = fresh();
    const state: FlowState = readJson<FlowState>(flowFile) ?? {
      step: 0,
      done: false,
      diverged: false,
      sketches: [{ step: 0, p: sketch(model.params) }],
      lambdas: [],
      loss: [],
      gradients: 0,
      accepted: 0,
      seconds: 0,
    };
    // The flow's θ is kept in double between segments (the model sees it rounded to float32).
    let theta: Float64Array = Float64Array.from(model.params);
    if (state.step > 0) {
      theta = new Float64Array(readBytes(`${flowFile}.theta`));
      console.log(`${loss}: flow resumes at t = ${(lr * state.step).toFixed(2)}`);
    }
    if (state.done && !state.diverged && state.step < flowSteps) {
      console.log(`${loss}: the flow ended at GD step ${state.step}'s time; continuing to ${flowSteps}`);
      state.done = false;
    }
    let vector: Float64Array | undefined;
    const began = performance.now() - state.seconds * 1000;
    // Warm-started λ_max for the step bound α/λ (the default callback starts cold each time).
    const sharpness = (th: Float64Array): number => {
      model.params.set(th);
      const r = topEigenvalue(model, data, { tolerance: 1e-3, iterations: 100, ...(vector ? { start: vector } : {}) });
      vector = r.vector;
      return r.value;
    };
    while (!state.done) {
      // The flow in segments of `every` GD steps' worth of time, each from the last θ (full precision).
      model.params.set(theta);
      const seg = Math.min(every, flowSteps - state.step);
      const r = modelGradientFlow(model, data, {
        eta: etaModel,
        steps: seg,
        saveEvery: seg,
        rtol: 1e-5,
        atol: 1e-8,
        alpha,
        lambdaEvery: 10,
        sharpness,
      });
      state.gradients += r.gradients;
      state.accepted += r.accepted;
      for (const l of r.lambdas) state.lambdas.push({ step: state.step + l.t / etaModel, value: scale * l.value });
      if (r.diverged || r.iterates.length < 2) {
        state.diverged = true;
        state.done = true;
      } else {
        theta = r.iterates[r.iterates.length - 1];
        state.step += seg;
        state.loss.push({ step: state.step, value: scale * r.loss[r.loss.length - 1] });
        state.sketches.push({ step: state.step, p: sketch(theta) });
        state.done = state.step >= flowSteps;
      }
      state.seconds = (performance.now() - began) / 1000;
      const lam = state.lambdas[state.lambdas.length - 1]?.value ?? NaN;
      console.log(
        `${loss.padEnd(3)} flow t = ${(lr * state.step).toFixed(2).padStart(6)} (GD step ${state.step})  loss ${state.loss[state.loss.length - 1]?.value.toFixed(4)}  ` +
          `λ1 ${lam.toFixed(2)}  ${state.gradients} gradients, ${state.accepted} steps, ${state.seconds.toFixed(0)} s`,
      );
      writeAtomic(`${flowFile}.theta`, new Uint8Array(theta.buffer, theta.byteOffset, theta.byteLength));
      writeAtomic(flowFile, JSON.stringify(state));
    }
    model.close();
  }

  async function report(): Promise<void> {
    const g = readJson<GdState>(gdFile);
    if (!g || g.points.length === 0) return;
    const f = readJson<FlowState>(flowFile);
    const l1 = g.points.map((p) => p.values[0]);
    const judged = edgeOfStabilityVerdict(
      g.points.map((p) => ({ step: p.step, value: p.values[0] })),
      threshold,
      {
        ended: g.stopped === 'accuracy' || g.stopped === 'budget',
        diverged: g.stopped === 'diverged',
      },
    );
    const verdict = judged.verdict;
    const first = judged.sharpened;
    const l2 = g.points.map((p) => p.values[1]);
    const last = g.points[g.points.length - 1];
    const rate = g.step > 0 ? g.seconds / g.step : NaN;
    console.log(
      `${loss}: ${g.step} steps in ${g.seconds.toFixed(0)} s (${rate.toFixed(2)} s/step with tracking), ${g.stopped ? `stopped: ${g.stopped}` : 'not finished'}; ` +
        `train accuracy ${last.accuracy.toFixed(3)}; λ1 at step 0 ${l1[0].toFixed(2)}, now ${last.values[0].toFixed(2)}, max ${Math.max(...l1).toFixed(2)}; ` +
        `λ2 now ${l2[l2.length - 1].toFixed(2)}; first ≥ 0.9·2/η at step ${first >= 0 ? g.points[first].step : 'never'}, ` +
        `arrival (≥ 0.95·2/η) at step ${judged.arrived >= 0 ? g.points[judged.arrived].step : 'never'} (2/η = ${threshold}); ` +
        `verdict: ${verdict} — ${judged.reason}`,
    );
    const series = g.points.flatMap((p) =>
      p.values.map((value, i) => ({ label: `λ${i + 1} (GD)`, step: p.step, value })),
    );
    if (f)
      for (const l of f.lambdas)
        series.push({ label: 'λ1 (gradient flow, at t = η·step)', step: l.step, value: l.value });
    const chart = await renderChart(
      sharpnessChart(
        series,
        [{ label: '2/η', value: threshold }],
        `${name} (first ${n}), ${loss}, tanh MLP ${hidden.join('-')}, GD η = ${lr}: top-2 Hessian eigenvalues (${loss === 'mse' ? "Cohen et al.'s ½‖f − y‖² loss" : 'mean cross-entropy'}), ${verdict}`,
      ),
    );
    writeFileSync(join(outDir, `sharpness-${loss}.svg`), chart.svg);
    writeFileSync(join(outDir, `sharpness-${loss}.png`), chart.png);
    let distances: Array<{ t: number; distance: number }> = [];
    if (f && f.sketches.length > 1) {
      const flowAt = new Map(f.sketches.map((s) => [s.step, s.p]));
      const pairs = g.sketches.filter((s) => flowAt.has(s.step));
      const d = trajectoryDistances(
        pairs.map((s) => s.p),
        pairs.map((s) => flowAt.get(s.step)!),
      );
      distances = pairs.map((s, i) => ({ t: lr * s.step, distance: d[i] }));
      if (distances.length > 1) {
        const crossing = first >= 0 ? ` (λ1 first above 0.9·2/η at t = ${(lr * g.points[first].step).toFixed(2)})` : '';
        console.log(
          `${loss}: ‖GD − flow‖ (500-d sketch, ±6 %) at t = ηk: ${distances.map((x) => `${x.t.toFixed(1)}:${x.distance.toFixed(3)}`).join(' ')}${crossing}`,
        );
        const fig = await renderChart(
          distanceChart(
            distances.map((x) => ({ label: `GD η = ${lr}`, ...x })),
            `${loss}: distance between GD and gradient flow from the same θ₀ (random 500-d sketch)${crossing}`,
          ),
        );
        writeFileSync(join(outDir, `flow-distance-${loss}.svg`), fig.svg);
        writeFileSync(join(outDir, `flow-distance-${loss}.png`), fig.png);
      }
    }
    writeFileSync(
      join(outDir, `eos-${loss}.json`),
      JSON.stringify(
        {
          data: name,
          n,
          lr,
          lossScale: scale,
          trainedLr: etaModel,
          hidden,
          init,
          loss,
          rule: EOS_RULE,
          verdict,
          judgement: judged,
          stopped: g.stopped,
          steps: g.step,
          seconds: g.seconds,
          finalAccuracy: last.accuracy,
          points: g.points,
          flow: f
            ? {
                steps: f.step,
                gradients: f.gradients,
                accepted: f.accepted,
                seconds: f.seconds,
                lambdas: f.lambdas,
                loss: f.loss,
              }
            : null,
          distances,
          batchNorm: 'none',
        },
        null,
        1,
      ),
    );
  }
}
console.log(`figures and data in ${outDir}`);
