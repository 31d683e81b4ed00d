import { expect } from 'chai';

import { Model, Trainer, mlp, runConcurrently, sgd } from '../../src/index.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';

const data = separableBlobs(64, 8, 3, 5);
function trainer(lr: number, seed: number): Trainer {
  return new Trainer(new Model(mlp({ input: 8, hidden: [16], outputs: 3 }), { seed }), {
    data,
    optimizer: sgd({ lr, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 8 },
    seed,
  });
}

describe('runConcurrently()', () => {
  it('returns results in task order and never has more than `concurrency` tasks in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const tasks = [30, 5, 20, 1, 10].map((ms, i) => async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return i;
    });
    let done = 0;
    expect(await runConcurrently(tasks, { concurrency: 2, onDone: () => done++ })).to.deep.equal([0, 1, 2, 3, 4]);
    expect(most).to.equal(2);
    expect(done).to.equal(5);
  });

  it('trains solo Trainers at once to the same bits as one after another', async () => {
    const alone = [trainer(0.05, 1), trainer(0.2, 2), trainer(0.01, 3)];
    for (const t of alone) await t.run({ steps: 30, chunkSize: 7 });
    const together = [trainer(0.05, 1), trainer(0.2, 2), trainer(0.01, 3)];
    const results = await runConcurrently(
      together.map((t) => () => t.run({ steps: 30, chunkSize: 7 })),
      { concurrency: 3 },
    );
    expect(results.map((r) => r.stepsDone)).to.deep.equal([30, 30, 30]);
    together.forEach((t, i) =>
      expect(bitwiseEqual(t.model.params, alone[i].model.params), `trainer ${i}`).to.equal(true),
    );
    for (const t of [...alone, ...together]) t.model.close();
  });

  it('rejects a bad concurrency naming the option, and stops starting tasks once aborted', async () => {
    for (const concurrency of [0, 1.5, Number.NaN]) {
      let error: unknown;
      await runConcurrently([async () => 1], { concurrency }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.contain('options.concurrency');
    }
    const controller = new AbortController();
    let started = 0;
    const tasks = [0, 1, 2, 3].map(() => async () => {
      started++;
      controller.abort(new Error('stop'));
    });
    let error: unknown;
    await runConcurrently(tasks, { concurrency: 1, signal: controller.signal }).catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal('stop');
    expect(started).to.equal(1);
  });
});
