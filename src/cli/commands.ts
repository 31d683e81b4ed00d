import { parseArgs } from 'node:util';

import { Model, Trainer, info, mlp, sgd } from '../index.js';

export interface Command {
  name: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

const infoCommand: Command = {
  name: 'info',
  summary: 'show the BLAS vendor, kernel family and thread count the addon runs with',
  async run() {
    console.log(JSON.stringify(info(), null, 2));
    return 0;
  },
};

const demoCommand: Command = {
  name: 'demo',
  summary: 'train a small MLP on a synthetic 4-class task (checks the install)',
  async run(args) {
    const { values } = parseArgs({ args, options: { steps: { type: 'string', default: '300' } } });
    const steps = Number(values.steps);
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`--steps must be a positive integer (got ${values.steps})`);
    const n = 2000;
    const d = 16;
    const x = new Float32Array(n * d);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 4;
      for (let j = 0; j < d; j++) x[i * d + j] = Math.sin(7 * i + 3 * j) * 0.5 + (j % 4 === y[i] ? 2 : 0);
    }
    const model = new Model(mlp({ input: d, hidden: [64], outputs: 4 }), { seed: 1 });
    const trainer = new Trainer(model, { data: { x, y }, optimizer: sgd({ lr: 0.05 }), batch: { mode: 'shuffle', size: 64 }, seed: 1 });
    const t0 = performance.now();
    const r = await trainer.run({ steps });
    const seconds = (performance.now() - t0) / 1000;
    const evaluation = model.evaluate({ x, y });
    console.log(
      `demo: ${r.stepsDone} steps in ${seconds.toFixed(2)} s (${(r.stepsDone / seconds).toFixed(0)} steps/s), ` +
        `train loss ${evaluation.loss.toFixed(4)}, accuracy ${(100 * evaluation.accuracy).toFixed(1)}%`,
    );
    return 0;
  },
};

export const commands: Command[] = [infoCommand, demoCommand];
