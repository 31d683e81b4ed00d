/**
 * Cost of one tracked sharpness measurement (warm-started top-2 Lanczos with exact HVPs,
 * SharpnessTracker) against one full-batch GD step, on the same 1,000-example subset, for the
 * bench MLP and the small CNN. Target: a measurement costs ≤ 5 steps. Short by design
 * (a few steps, two measurements); the machine it runs on may be shared, so read ratios, not
 * absolute times. Usage: node dist/bench/tracking.js
 */
import { Model, SharpnessTracker, Trainer, gd } from '../src/index.js';
import { Rng } from '../src/util/random.js';
import { trainCases as benchCases } from '../src/bench/cases.js';

const specOf = (name: string) => benchCases.find((c) => c.name === name)!.spec;

const n = 1000;
for (const [name, spec] of [
  ['mlp-784-1024-1024-10', specOf('mlp-784-1024-1024-10/b128')],
  ['small-cnn-28x28', specOf('small-cnn-28x28/b128')],
] as const) {
  const model = new Model(spec, { seed: 0 });
  const rng = Rng.fromSeed(1, 1);
  const x = new Float32Array(n * model.inputSize).map(() => rng.normal());
  const y = new Int32Array(n).map(() => rng.below(10));
  const data = { x, y };
  const trainer = new Trainer(model, { data, optimizer: gd({ lr: 0.01 }) });
  trainer.step(); // warm-up
  const steps = 3;
  const t = performance.now();
  for (let s = 0; s < steps; s++) trainer.step();
  const stepSeconds = (performance.now() - t) / 1000 / steps;
  const tracker = new SharpnessTracker(model, data, { k: 2, tolerance: 1e-3 });
  const cold = tracker.measure(trainer.stepCount);
  trainer.step();
  const warm = tracker.measure(trainer.stepCount);
  console.log(
    `${name} (${model.params.length} params, n = ${n}): GD step ${(stepSeconds * 1000).toFixed(0)} ms; ` +
      `cold measurement ${cold.products} HVPs ${cold.seconds.toFixed(2)} s (${(cold.seconds / stepSeconds).toFixed(1)} steps); ` +
      `warm measurement ${warm.products} HVPs ${warm.seconds.toFixed(2)} s (${(warm.seconds / stepSeconds).toFixed(1)} steps); ` +
      `per HVP ${(warm.seconds / warm.products / stepSeconds).toFixed(2)} steps; λ1 ${warm.values[0].toFixed(3)}`,
  );
  model.close();
}
