import { expect } from 'chai';

import { Model, Trainer, sgd, type ScheduleSpec } from '../../src/index.js';
import { constant, cosine, piecewise, scheduleLr, stepDecay, switchAt, withWarmup } from '../../src/optim/schedules.js';
import { tinyData, tinySpec } from './reference.js';
import { expectClose } from '../support/close.js';

/** The per-step learning rates the trainer logged over `steps` steps (in chunks of 7). */
async function loggedLr(schedule: ScheduleSpec, steps: number): Promise<number[]> {
  const model = new Model(tinySpec, { seed: 1 });
  const trainer = new Trainer(model, { data: tinyData(), optimizer: sgd({ lr: schedule }) });
  const r = await trainer.run({ steps, chunkSize: 7 });
  expect(r.stepsDone).to.equal(steps);
  return Array.from(r.lr);
}

/** Logged learning rates against the schedule's formula: float64 both, so to a few roundings. */
function expectLrs(actual: number[], expected: number[]): void {
  expectClose(actual, expected, { abs: 1e-15, rel: 1e-12 }, 'lr per step');
}

describe('learning-rate schedules (per-step lr log of Trainer#run())', () => {
  it('constant', async () => {
    expectLrs(await loggedLr(constant(0.05), 5), [0.05, 0.05, 0.05, 0.05, 0.05]);
  });

  it('step decay: lr·γ^⌊t/stepSize⌋', async () => {
    expectLrs(await loggedLr(stepDecay(0.8, 3, 0.5), 8), [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]);
  });

  it('cosine: from lr to finalLr over totalSteps, then flat', async () => {
    const lr = await loggedLr(cosine(1, 4, 0.2), 7);
    const expected = [0, 1, 2, 3, 4, 4, 4].map((t) => 0.2 + 0.4 * (1 + Math.cos((Math.PI * t) / 4)));
    expectLrs(lr, expected);
    expect(lr[2]).to.be.closeTo(0.6, 1e-12);
  });

  it('piecewise and switchAt', async () => {
    expectLrs(await loggedLr(piecewise([2, 5], [0.1, 0.2, 0.3]), 7), [0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.3]);
    expectLrs(await loggedLr(switchAt(3, 0.01, 0.5), 5), [0.01, 0.01, 0.01, 0.5, 0.5]);
  });

  it('linear warmup multiplies any schedule by (t + 1)/w for t < w', async () => {
    expectLrs(await loggedLr(withWarmup(constant(1), 4), 6), [0.25, 0.5, 0.75, 1, 1, 1]);
    expectLrs(await loggedLr(withWarmup(stepDecay(1, 2, 0.1), 3), 5), [1 / 3, 2 / 3, 0.1, 0.1, 0.010000000000000002]);
  });

  it('scheduleLr() in TypeScript gives the native values for every kind', async () => {
    const specs: ScheduleSpec[] = [
      constant(0.3),
      stepDecay(0.9, 4, 0.7),
      cosine(0.5, 13, 0.01),
      piecewise([3, 9], [1, 0.5, 0.25]),
      withWarmup(cosine(2, 20), 5),
    ];
    for (const s of specs) {
      const logged = await loggedLr(s, 25);
      expectLrs(
        logged,
        logged.map((_, t) => scheduleLr(s, t)),
      );
    }
  });
});
