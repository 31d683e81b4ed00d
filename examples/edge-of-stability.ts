// Edge of stability (Cohen et al. 2021, "Gradient descent on neural networks typically occurs at
// the edge of stability"), their setting on Fashion-MNIST: the first 5,000 training examples, a
// tanh MLP with [200, 200] hidden units, full-batch GD at η = 0.01 until 99 % train accuracy, the
// top-2 Hessian eigenvalues (exact HVPs, warm-started Lanczos) every 50 steps, with MSE and with
// cross-entropy, plus the gradient-flow reference from the same θ₀ (distance at matched times).
//
// The rule, fixed before any run: λ_max "reaches the edge" if it exceeds 0.9·(2/η) at some
// measurement after starting below it (progressive sharpening), and "hovers" if the median of λ_max over the measurements after that is within
// [0.8, 1.2]·(2/η). Verdicts: supported (both), not-reproduced (the run reached 99 % accuracy, or
// its step budget, without λ_max ever exceeding 0.9·2/η), inconclusive (reached the edge but
// fewer than 3 later measurements, or did not hover), uninformative (λ_max already above 0.9·2/η
// at step 0: there is no sharpening to observe).
//
// Sizes (environment): BIGSTEP_EOS_N (examples, default 5000), BIGSTEP_EOS_LR (default 0.01),
// BIGSTEP_EOS_STEPS (step budget, default 20000), BIGSTEP_EOS_EVERY (default 50), BIGSTEP_EOS_LOSS
// ('mse', 'ce' or 'both', default both), BIGSTEP_EOS_FLOW_STEPS (GD steps' worth of flow, default
// 500; 0 = none), BIGSTEP_EOS_OUT (figures directory, default eos-out). BIGSTEP_EXAMPLE_SIZE=tiny
// shrinks everything for the test that keeps examples working.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Model,
  RandomProjection,
  Trainer,
  distanceChart,
  gd,
  mlp,
  modelGradientFlow,
  renderChart,
  sharpnessChart,
  trackSharpness,
  trajectoryDistances,
  type Examples,
} from 'bigstep';

import { fashionMnist, tiny } from './common.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number (got ${raw})`);
  return v;
}

const n = tiny ? 128 : envNumber('BIGSTEP_EOS_N', 5000);
const lr = envNumber('BIGSTEP_EOS_LR', tiny ? 0.05 : 0.01);
const budget = tiny ? 20 : envNumber('BIGSTEP_EOS_STEPS', 20000);
const every = tiny ? 10 : envNumber('BIGSTEP_EOS_EVERY', 50);
const flowSteps = tiny ? 10 : envNumber('BIGSTEP_EOS_FLOW_STEPS', 500);
const hidden = tiny ? [16, 16] : [200, 200];
const lossChoice = process.env.BIGSTEP_EOS_LOSS ?? 'both';
if (!['mse', 'ce', 'both'].includes(lossChoice))
  throw new RangeError(`BIGSTEP_EOS_LOSS must be mse, ce or both (got ${lossChoice})`);
const outDir = process.env.BIGSTEP_EOS_OUT ?? (tiny ? join(tmpdir(), 'bigstep-eos-tiny') : 'eos-out');

const { train, inputs, name } = await fashionMnist(n, 10);
const labels = train.y as Int32Array;
const oneHot = new Float32Array(n * 10);
for (let i = 0; i < n; i++) oneHot[i * 10 + labels[i]] = 1;
const threshold = 2 / lr;
console.log(
  `data: ${name}, first ${n} examples; tanh MLP ${JSON.stringify(hidden)}; GD η = ${lr} (2/η = ${threshold}); budget ${budget} steps; top-2 λ every ${every} steps`,
);

mkdirSync(outDir, { recursive: true });
const losses = lossChoice === 'both' ? (['mse', 'ce'] as const) : ([lossChoice] as const);
for (const loss of losses) {
  const spec = mlp({
    input: inputs,
    hidden,
    outputs: 10,
    activation: 'tanh',
    ...(loss === 'mse' ? { loss: 'mse' as const } : {}),
  });
  const data: Examples = loss === 'mse' ? { x: train.x, y: oneHot } : train;
  const model = new Model(spec, { seed: 0 });
  const theta0 = model.params.slice();
  const dim = model.params.length;
  const projection = new RandomProjection(dim, 500, 0);
  const gdSketch: Float64Array[] = [];
  const accuracy = (): number => {
    const out = model.predict(train.x);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (out[i * 10 + c] > out[i * 10 + best]) best = c;
      if (best === labels[i]) correct++;
    }
    return correct / n;
  };
  const trainer = new Trainer(model, { data, optimizer: gd({ lr }) });
  const began = Date.now();
  const run = await trackSharpness(trainer, model, data, {
    steps: budget,
    every,
    k: 2,
    subset: n,
    tolerance: 1e-3,
    onMeasure: (p) => {
      if (p.step <= flowSteps) gdSketch.push(projection.project(model.params));
      const acc = accuracy();
      console.log(
        `${loss.padEnd(3)} step ${String(p.step).padStart(6)}  loss ${model.evaluate(data).loss.toFixed(4)}  acc ${acc.toFixed(3)}  λ1 ${p.values[0].toFixed(2).padStart(8)}  λ2 ${p.values[1].toFixed(2).padStart(8)}  (${p.products} HVPs, ${p.seconds.toFixed(1)} s)`,
      );
    },
    stopWhen: () => accuracy() >= 0.99,
  });
  const seconds = (Date.now() - began) / 1000;
  const l1 = run.points.map((p) => p.values[0]);
  const first = l1.findIndex((v) => v > 0.9 * threshold);
  const after = first >= 0 ? l1.slice(first + 1).sort((a, b) => a - b) : [];
  const median = after.length ? after[Math.floor(after.length / 2)] : NaN;
  const verdict =
    l1[0] >= 0.9 * threshold
      ? 'uninformative'
      : first < 0
        ? 'not-reproduced'
        : after.length >= 3 && median >= 0.8 * threshold && median <= 1.2 * threshold
          ? 'supported'
          : 'inconclusive';
  const finalAcc = accuracy();
  console.log(
    `${loss}: ${run.steps} steps in ${seconds.toFixed(0)} s, final train accuracy ${finalAcc.toFixed(3)}${run.diverged ? ' (diverged)' : ''}; λ1 at step 0 ${l1[0].toFixed(2)}, max ${Math.max(...l1).toFixed(2)}; ` +
      `first > 0.9·2/η at step ${first >= 0 ? run.points[first].step : 'never'}; median λ1 after it ${Number.isNaN(median) ? 'n/a' : median.toFixed(2)} (2/η = ${threshold}); verdict: ${verdict}`,
  );
  if (run.subsetEffect) console.log(`${loss}: subset effect ${JSON.stringify(run.subsetEffect)}`);

  const series = run.points.flatMap((p) => p.values.map((value, i) => ({ label: `λ${i + 1}`, step: p.step, value })));
  const chart = await renderChart(
    sharpnessChart(
      series,
      [{ label: '2/η', value: threshold }],
      `${name} (first ${n}), ${loss}, GD η = ${lr}: top-2 Hessian eigenvalues`,
    ),
  );
  writeFileSync(join(outDir, `sharpness-${loss}.svg`), chart.svg);
  writeFileSync(join(outDir, `sharpness-${loss}.png`), chart.png);

  if (flowSteps > 0) {
    // The flow from the same θ₀, saved at the GD measurement times, compared in the 500-d sketch.
    const steps = Math.min(flowSteps, run.steps);
    const matched = Math.floor(steps / every) * every;
    if (matched > 0) {
      const flowModel = new Model(spec);
      flowModel.params.set(theta0);
      const flow = modelGradientFlow(flowModel, data, {
        eta: lr,
        steps: matched,
        saveEvery: every,
        rtol: 1e-5,
        atol: 1e-8,
        projection,
        lambdaEvery: 10,
      });
      flowModel.close();
      const gdPart = gdSketch.slice(0, flow.iterates.length);
      const dist = trajectoryDistances(gdPart, flow.iterates.slice(0, gdPart.length));
      console.log(
        `${loss}: flow to t = ${(lr * matched).toFixed(2)} (${flow.gradients} gradients, ${flow.accepted} steps); ‖GD − flow‖ (500-d sketch) at t = ηk: ${dist.map((d, i) => `${flow.times[i].toFixed(2)}:${d.toFixed(3)}`).join(' ')}`,
      );
      const fig = await renderChart(
        distanceChart(
          dist.map((d, i) => ({ label: `GD η = ${lr}`, t: flow.times[i], distance: d })),
          `${loss}: distance between GD and gradient flow (random 500-d sketch)`,
        ),
      );
      writeFileSync(join(outDir, `flow-distance-${loss}.svg`), fig.svg);
    }
  }
  writeFileSync(
    join(outDir, `eos-${loss}.json`),
    JSON.stringify(
      {
        n,
        lr,
        hidden,
        loss,
        data: name,
        verdict,
        steps: run.steps,
        finalAccuracy: finalAcc,
        points: run.points,
        subsetEffect: run.subsetEffect,
        batchNorm: run.batchNorm,
      },
      null,
      1,
    ),
  );
  model.close();
}
console.log(`figures and data in ${outDir}`);
