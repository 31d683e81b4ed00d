// The paper's SGD question: does more gradient noise at a small learning rate recover what a
// large learning rate does? Arms: small η; large η; small η with mini-batch noise amplified by
// k = η_large/η_small (g = g₁ + c(g₁ − g₂), same mean, k² × the noise covariance).
import { Model, Trainer, mlp, sgd } from 'bigstep';

import { fashionMnist, tiny } from './common.js';

const { train, test, inputs } = await fashionMnist(tiny ? 256 : 4000, tiny ? 128 : 1000);
const spec = mlp({ input: inputs, hidden: [128], outputs: 10 });
const steps = tiny ? 20 : 600;
const small = 0.01;
const large = 0.1;
const arms = [
  { name: `SGD η=${small}`, lr: small, amplify: 1 },
  { name: `SGD η=${large}`, lr: large, amplify: 1 },
  { name: `SGD η=${small}, noise ×${large / small}`, lr: small, amplify: large / small },
];
for (const arm of arms) {
  const model = new Model(spec, { seed: 1 });
  const trainer = new Trainer(model, {
    data: train,
    optimizer: sgd({ lr: arm.lr }),
    batch: { mode: 'shuffle', size: 32, amplify: arm.amplify },
    seed: 1,
  });
  const run = await trainer.run({ steps });
  const status = run.diverged
    ? `diverged at step ${run.divergedAt}`
    : `test accuracy ${(100 * model.evaluate(test).accuracy).toFixed(2)}%`;
  console.log(`${arm.name.padEnd(28)} train loss ${model.evaluate(train).loss.toFixed(4)}, ${status}`);
}
