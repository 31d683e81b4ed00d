// A consumer project's file: compiled with `tsc --strict` against bigstep's published types and
// run, by scripts/test-package.sh. Builds a model, trains on a synthetic set, evaluates, measures
// the sharpness (top Hessian eigenvalue), saves and loads a checkpoint.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Model,
  Trainer,
  info,
  loadCheckpoint,
  mlp,
  saveCheckpoint,
  sgd,
  synthetic,
  toExamples,
  topEigenvalue,
  type RunResult,
} from 'bigstep';

const splits = synthetic({ kind: 'gaussian-mixture', k: 3, d: 8, nTrain: 600, nTest: 300, seed: 1, separation: 4 });
const train = toExamples(splits.train);
const model = new Model(mlp({ input: 8, hidden: [32], outputs: 3 }), { seed: 1 });
const trainer = new Trainer(model, {
  data: train,
  optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
  batch: { mode: 'shuffle', size: 32 },
  seed: 1,
});
const run: RunResult = await trainer.run({ steps: 300 });
const evaluation = model.evaluate(toExamples(splits.test));
const sharpness = topEigenvalue(model, train, { iterations: 50 });

const dir = mkdtempSync(join(tmpdir(), 'bigstep-consumer-'));
try {
  const file = join(dir, 'ckpt.bin');
  saveCheckpoint(file, trainer, { configHash: 'consumer' });
  const restored = new Trainer(new Model(model.spec, { seed: 99 }), {
    data: train,
    optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 32 },
    seed: 1,
  });
  loadCheckpoint(file, restored, { configHash: 'consumer' });
  const same = restored.model.params.every((v, i) => Object.is(v, model.params[i]));
  console.log(
    JSON.stringify({
      steps: run.stepsDone,
      diverged: run.diverged,
      testAccuracy: evaluation.accuracy,
      sharpness: sharpness.value,
      checkpointRoundTrip: same,
      blas: info().blasVendor,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
