// Train an MLP on Fashion-MNIST with SGD + momentum and report test accuracy.
//   node dist/examples/fashion-mnist-mlp.js
import { Model, Trainer, mlp, sgd } from 'bigstep';

import { fashionMnist, tiny } from './common.js';

const { train, test, name, inputs } = await fashionMnist(tiny ? 512 : 20000, tiny ? 256 : 5000);
const model = new Model(mlp({ input: inputs, hidden: [256, 128], outputs: 10 }), { seed: 1 });
const trainer = new Trainer(model, {
  data: train,
  optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
  batch: { mode: 'shuffle', size: 128 },
  seed: 1,
});
const steps = tiny ? 40 : 1500;
const t0 = performance.now();
const run = await trainer.run({ steps, chunkSize: 100 });
const seconds = (performance.now() - t0) / 1000;
const result = model.evaluate(test);
console.log(
  `${name}: ${run.stepsDone} steps in ${seconds.toFixed(1)} s, test loss ${result.loss.toFixed(4)}, test accuracy ${(100 * result.accuracy).toFixed(2)}%`,
);
