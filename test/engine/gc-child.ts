// Run by contract.test.ts in a child process with --expose-gc: drops every JS reference to the
// training buffers while async chunks run (and the models and data sets of pending evaluateAsync
// calls) and forces GC; the addon must keep them alive.
import { Model, Trainer, mlp, sgd } from '../../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

async function main(): Promise<void> {
  const promises: Promise<unknown>[] = [];
  for (let i = 0; i < 4; i++) {
    const data = {
      x: new Float32Array(256 * 32).map((_, j) => Math.sin(j)),
      y: new Int32Array(256).map((_, j) => j % 4),
    };
    const trainer = new Trainer(new Model(mlp({ input: 32, hidden: [64], outputs: 4 }), { seed: i }), {
      data,
      optimizer: sgd({ lr: 0.01 }),
      batch: { mode: 'shuffle', size: 32 },
    });
    promises.push(trainer.run({ steps: 200, chunkSize: 50 }));
  }
  // Evaluations whose model and data have no JS reference left but the pending promise's.
  for (let i = 0; i < 4; i++) {
    const data = {
      x: new Float32Array(2000 * 32).map((_, j) => Math.cos(j)),
      y: new Int32Array(2000).map((_, j) => j % 4),
    };
    const model = new Model(mlp({ input: 32, hidden: [64], outputs: 4 }), { seed: i });
    const want = model.evaluate(data, { batchSize: 10 });
    promises.push(
      model.evaluateAsync(data, { batchSize: 10 }).then((e) => {
        if (e.loss !== want.loss || e.accuracy !== want.accuracy) throw new Error('evaluateAsync changed under GC');
      }),
    );
  }
  const timer = setInterval(() => gc!(), 1);
  await Promise.all(promises);
  clearInterval(timer);
  gc!();
  console.log('gc-child ok');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
