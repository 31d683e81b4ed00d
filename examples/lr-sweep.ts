// Full-batch gradient descent over a log grid of learning rates from one initialisation:
// small rates converge slowly, large ones converge to different solutions or diverge
// (reported as a result, never thrown).
import { Model, Trainer, gd, mlp } from 'bigstep';

import { fashionMnist, tiny } from './common.js';

const { train, test, inputs } = await fashionMnist(tiny ? 256 : 2000, tiny ? 128 : 1000);
const spec = mlp({ input: inputs, hidden: [128], outputs: 10 });
const steps = tiny ? 20 : 300;
console.log('lr        train loss  test acc  diverged at');
for (const lr of [0.01, 0.03, 0.1, 0.3, 1, 3]) {
  const model = new Model(spec, { seed: 1 }); // same θ₀ for every rate
  const trainer = new Trainer(model, { data: train, optimizer: gd({ lr }) });
  const run = await trainer.run({ steps, chunkSize: 50 });
  const trainEval = model.evaluate(train);
  const testEval = model.evaluate(test);
  console.log(
    `${String(lr).padEnd(9)} ${run.diverged ? '     -    ' : trainEval.loss.toFixed(4).padStart(10)}  ${run.diverged ? '    -   ' : (100 * testEval.accuracy).toFixed(2).padStart(7) + '%'}  ${run.divergedAt ?? ''}`,
  );
}
