/**
 * The small training run used by the kill/resume tests and bench/checkpoint-soak.ts: shuffled
 * mini-batches with noise amplification, Gaussian gradient noise and momentum, so every piece of
 * trainer state (θ, momentum, data and noise RNGs, epoch order, counters) matters for a bitwise resume.
 */
import { Model, Trainer, mlp } from '../../src/index.js';
import { noisySgd } from '../../src/optim/optimizer.js';
import { separableBlobs } from '../engine/helpers.js';

export const RESUME_CONFIG_HASH = 'resume-test-v1';

export function makeResumeTrainer(): Trainer {
  const data = separableBlobs(300, 24, 4, 17);
  const model = new Model(mlp({ input: 24, hidden: [96, 96], outputs: 4 }), { seed: 3 });
  return new Trainer(model, {
    data,
    optimizer: noisySgd({ lr: 0.02, noiseStd: 1e-3, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 32, amplify: 1.5 },
    seed: 7,
  });
}
