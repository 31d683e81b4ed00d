/**
 * A short tour of every addon export for valgrind memcheck (scripts/hardening/valgrind.sh): node
 * under valgrind runs ~50x slower, so every call is made a few times on tiny models. Includes the
 * error paths (a thrown TypeError/RangeError must not leak its C++ temporaries), models that are
 * closed and models left to the GC finalizer, async chunks, and the landscape workers.
 */
import { native } from '../../src/native/binding.js';
import { Model, Trainer, mlp, sgd } from '../../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const swallow = (f: () => unknown): void => {
  try {
    f();
  } catch {
    /* expected */
  }
};

async function main(): Promise<void> {
  native.info();
  native.setThreads(1);
  const d = { x: new Float32Array(32 * 8).map((_, i) => Math.sin(i)), y: new Int32Array(32).map((_, i) => i % 3) };
  for (let k = 0; k < 4; k++) {
    const spec =
      k % 2 === 0
        ? mlp({ input: 8, hidden: [16], outputs: 3 })
        : {
            input: [2, 2, 2],
            layers: [
              { type: 'conv2d' as const, units: 4, kernel: 2, padding: 1 },
              { type: 'batchnorm' as const },
              { type: 'relu' as const },
              { type: 'dense' as const, units: 3 },
            ],
          };
    const model = new Model(spec, { seed: k });
    const trainer = new Trainer(model, {
      data: d,
      optimizer: sgd({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }),
      batch: { mode: 'shuffle', size: 8 },
      seed: k,
    });
    for (let s = 0; s < 5; s++) trainer.step();
    await trainer.run({ steps: 20, chunkSize: 10 });
    model.evaluate(d);
    const evaluating = model.evaluateAsync(d, { batchSize: 7 });
    swallow(() => model.handle.close());
    await evaluating;
    model.predict(d.x.subarray(0, 16));
    model.clone().close();
    // Error paths.
    swallow(() => model.handle.lossAndGrad(model.params, null, new Float32Array(3), d.y, 1, model.grads));
    swallow(() => new native.TrainJob(model.handle, { ...trainer.job, dataRng: new BigUint64Array(4) }).runSync(1));
    swallow(() => native.describe({ input: [4], layers: [{ type: 'dense', units: -1 }] }));
    swallow(() => native.describe({ input: [2 ** 24], layers: [{ type: 'dense', units: 2 ** 24 }] }));
    const busy = new native.TrainJob(model.handle, trainer.job).runAsync(5);
    swallow(() => model.handle.close());
    await busy;
    if (k < 2) model.close(); // the others are freed by the ObjectWrap finalizer
  }
  const inst = native.landscapeCreate({ dim: 2, dips: 3, seed: 1 });
  const pts = native.landscapeSample({ dim: 2, count: 8, radius: 2, seed: 1 });
  native.landscapeEval(inst, pts, { hessian: true });
  swallow(() => native.landscapeEval(inst, new Float64Array(3)));
  const minima = await native.landscapeMinima(inst, { randomStarts: 20, seed: 1 });
  await native.landscapeRun(inst, minima, pts, {
    eta: 0.05,
    steps: 10,
    classifyRadius: 0.1,
    recordCount: 2,
    noiseStd: 0.01,
  });
  await native.landscapeRun(inst, minima, pts, { eta: 0.05, steps: 0, classifyRadius: 0.1 }).catch(() => {});
  for (let i = 0; i < 4; i++) {
    gc!();
    await tick();
  }
  console.log('valgrind-run ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
