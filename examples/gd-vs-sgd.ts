// Gradient descent (every step sees all n examples) against SGD with batch 64, same learning
// rate, same number of steps, same initialisation.
import { Model, Trainer, mlp, sgd } from 'bigstep';

import { fashionMnist, tiny } from './common.js';

const { train, test, inputs } = await fashionMnist(tiny ? 256 : 4000, tiny ? 128 : 1000);
const spec = mlp({ input: inputs, hidden: [128], outputs: 10 });
const steps = tiny ? 20 : 400;
for (const batch of [{ mode: 'full' as const }, { mode: 'shuffle' as const, size: 64 }]) {
  const model = new Model(spec, { seed: 1 });
  const trainer = new Trainer(model, { data: train, optimizer: sgd({ lr: 0.1 }), batch, seed: 1 });
  await trainer.run({ steps });
  const label = batch.mode === 'full' ? 'GD (full batch)' : `SGD (batch ${batch.size})`;
  console.log(
    `${label.padEnd(16)} train loss ${model.evaluate(train).loss.toFixed(4)}, test accuracy ${(100 * model.evaluate(test).accuracy).toFixed(2)}%`,
  );
}
