// Sharpness tracking: full-batch gradient descent at two learning rates from one initialisation,
// measuring the sharpness λ_max (top eigenvalue of the training-loss Hessian, by power iteration)
// every few steps. Gradient descent with rate η is stable in a quadratic basin only where
// λ_max < 2/η, so the large rate cannot settle where the small one does: it drives λ_max down to
// (or below) its 2/η and ends in a flatter region, while the small rate stays much sharper than
// the large rate's 2/η. Compare the λ_max column with 2/lr.
import { Model, Trainer, gd, mlp, topEigenvalue } from 'bigstep';

import { fashionMnist, tiny } from './common.js';

const { train, inputs, name } = await fashionMnist(tiny ? 128 : 1000, tiny ? 64 : 500);
const spec = mlp({ input: inputs, hidden: [64], outputs: 10, activation: 'tanh' });
const steps = tiny ? 20 : 400;
const every = tiny ? 10 : 50;
console.log(`data: ${name}, ${steps} steps of full-batch GD, sharpness every ${every} steps`);
console.log('lr      step  train loss  λ_max     2/lr');
for (const lr of [0.05, 0.4]) {
  const model = new Model(spec, { seed: 1 }); // same θ₀ for both rates
  const trainer = new Trainer(model, { data: train, optimizer: gd({ lr }) });
  for (let done = 0; done <= steps; done += every) {
    if (done > 0) {
      const run = await trainer.run({ steps: every });
      if (run.diverged) {
        console.log(`${String(lr).padEnd(7)} diverged at step ${run.divergedAt}`);
        break;
      }
    }
    const loss = model.evaluate(train).loss;
    const sharpness = topEigenvalue(model, train, { iterations: tiny ? 10 : 50, tolerance: 1e-3 }).value;
    console.log(
      `${String(lr).padEnd(7)} ${String(trainer.stepCount).padStart(4)}  ${loss.toFixed(4).padStart(10)}  ${sharpness.toFixed(3).padStart(8)}  ${(2 / lr).toFixed(2).padStart(6)}`,
    );
  }
}
