/**
 * Cost of one tracked sharpness measurement (SharpnessTracker: warm-started top-2 Lanczos with
 * exact HVPs on a fixed 1,000-example subset, tolerance 1e-3) in training steps, for the tanh MLP
 * [200, 200] of the edge-of-stability preset (examples/edge-of-stability.ts) and the small CNN,
 * in two units, both full-batch GD steps of the same model:
 *   (a) on the 5,000 examples the edge-of-stability preset trains on;
 *   (b) on the same 1,000 examples the measurement uses.
 * Target (issue 22 item 7): one measurement ≤ 5 steps' worth. Between measurements GD runs `gap`
 * steps on the 5,000 examples (the preset's 50 for the MLP; 5 for the CNN, whose 5,000-example
 * step takes seconds on one core). Every warm value is checked against a cold converged one at the
 * same θ (topEigenvalues from a random start, tolerance 1e-7): the error the warm start's
 * tolerance costs. Times are CPU seconds at 1 thread (what time-slicing on a shared machine moves
 * least). Fashion-MNIST when installed, else a synthetic set (said first).
 * Usage: node dist/bench/tracking.js [mlp] [cnn] [--measurements M] [--random-weight w] [--tolerance t]
 */
import {
  Model,
  SharpnessTracker,
  Trainer,
  gd,
  loadDataset,
  mlp,
  normalize,
  setThreads,
  smallCnn,
  subset as takeSubset,
  synthetic,
  toExamples,
  topEigenvalues,
  type DatasetSplits,
  type Examples,
} from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const measurements = flag('--measurements', 3);
const randomWeight = flag('--random-weight', 0.1);
const tolerance = flag('--tolerance', 1e-3);
const picked = args.filter((a) => a === 'mlp' || a === 'cnn');
const which = picked.length ? picked : ['mlp', 'cnn'];

const cpu = <T>(f: () => T): { value: T; seconds: number } => {
  const c = process.cpuUsage();
  const value = f();
  const d = process.cpuUsage(c);
  return { value, seconds: (d.user + d.system) / 1e6 };
};
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

setThreads(1);
const nTrain = 5000;
const nSubset = 1000;
let splits: DatasetSplits;
let dataName = 'Fashion-MNIST';
try {
  const full = await loadDataset('fashion-mnist', { download: false });
  splits = { train: takeSubset(full.train, { n: nTrain }), test: takeSubset(full.test, { n: 10 }) };
} catch {
  dataName = 'SYNTHETIC gaussian mixture (Fashion-MNIST not installed)';
  splits = synthetic({ kind: 'gaussian-mixture', k: 10, d: 784, nTrain, nTest: 10, seed: 1 });
}
normalize(splits);
const train = toExamples(splits.train);
const sub: Examples = { x: train.x.subarray(0, nSubset * 784), y: train.y.subarray(0, nSubset) };
console.log(
  `data: ${dataName}, first ${nTrain} training examples, tracking subset the first ${nSubset}; 1 thread; ` +
    `top-2, tolerance ${tolerance}, random weight ${randomWeight}; ${measurements} warm measurements per model`,
);

const models = {
  mlp: {
    label: 'tanh MLP 784-200-200-10',
    spec: mlp({ input: 784, hidden: [200, 200], outputs: 10, activation: 'tanh' }),
    lr: 0.01,
    gap: 50,
  },
  cnn: { label: 'small CNN 28×28', spec: smallCnn(), lr: 0.01, gap: 5 },
};

for (const key of which as Array<keyof typeof models>) {
  const { label, spec, lr, gap } = models[key];
  const model = new Model(spec, { seed: 0 });
  const trainer = new Trainer(model, { data: train, optimizer: gd({ lr }) });
  // Unit (b): the same model on the subset alone, in a model of its own (θ of the tracked one stays).
  const side = new Model(spec, { seed: 0 });
  const sideTrainer = new Trainer(side, { data: sub, optimizer: gd({ lr }) });
  trainer.step(); // warm-up (workspaces)
  sideTrainer.step();
  const stepA = median([0, 1, 2].map(() => cpu(() => trainer.step()).seconds));
  const stepB = median([0, 1, 2, 3, 4].map(() => cpu(() => sideTrainer.step()).seconds));
  side.close();
  const tracker = new SharpnessTracker(model, train, {
    k: 2,
    subset: nSubset,
    tolerance,
    randomWeight,
    compareFull: false,
  });
  const cold = cpu(() => tracker.measure(trainer.stepCount));
  const line = (what: string, p: { products: number }, s: number) =>
    `${what}: ${p.products} HVPs, ${s.toFixed(3)} s = ${(s / stepA).toFixed(2)} steps (a), ${(s / stepB).toFixed(2)} steps (b)`;
  console.log(
    `${label} (${model.params.length} params): GD step (a) on ${nTrain} ${stepA.toFixed(3)} s, (b) on ${nSubset} ${stepB.toFixed(3)} s; ` +
      line('cold measurement', cold.value, cold.seconds) +
      `; λ ${cold.value.values.map((v) => v.toPrecision(6)).join(', ')}`,
  );
  const warm: Array<{ products: number; seconds: number; err: number[] }> = [];
  for (let m = 0; m < measurements; m++) {
    await trainer.run({ steps: gap });
    const w = cpu(() => tracker.measure(trainer.stepCount));
    const ref = topEigenvalues(model, sub, 2, { tolerance: 1e-7, iterations: 80, seed: 7 });
    const err = w.value.values.map((v, i) => Math.abs(v - ref.values[i]) / Math.abs(ref.values[i]));
    warm.push({ products: w.value.products, seconds: w.seconds, err });
    console.log(
      `  after ${gap} more steps (step ${trainer.stepCount}): ` +
        line('warm', w.value, w.seconds) +
        `; λ ${w.value.values.map((v) => v.toPrecision(6)).join(', ')} vs cold converged ${ref.values.map((v) => v.toPrecision(6)).join(', ')}` +
        ` (${ref.converged ? 'converged' : 'NOT converged'}): relative error ${err.map((e) => e.toExponential(1)).join(', ')}`,
    );
  }
  const s = median(warm.map((w) => w.seconds));
  console.log(
    `${label}: warm measurement, median of ${warm.length}: ${median(warm.map((w) => w.products))} HVPs, ${s.toFixed(3)} s = ` +
      `${(s / stepA).toFixed(2)} steps (a, ${nTrain} examples), ${(s / stepB).toFixed(2)} steps (b, ${nSubset} examples); ` +
      `worst λ error ${Math.max(...warm.flatMap((w) => w.err)).toExponential(1)}`,
  );
  model.close();
}
