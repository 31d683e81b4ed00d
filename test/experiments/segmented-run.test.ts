import { expect } from 'chai';

import { runSegmented } from '../../src/experiments/segmented-run.js';
import { Model } from '../../src/model/model.js';
import { mlp } from '../../src/model/spec.js';
import { sgd } from '../../src/optim/optimizer.js';
import { Trainer } from '../../src/train/trainer.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';

const data = separableBlobs(64, 6, 3, 4);
const spec = mlp({ input: 6, hidden: [8], outputs: 3 });
const trainerOf = (model: Model, lr = 0.1): Trainer =>
  new Trainer(model, { data, optimizer: sgd({ lr }), batch: { mode: 'shuffle', size: 8 }, seed: 1 });

describe('runSegmented()', function () {
  this.timeout(20000);

  it('stops at every point, in segments of at most `segment` steps, and equals one uninterrupted run bit for bit', async () => {
    const ref = new Model(spec, { seed: 2 });
    await trainerOf(ref).run({ steps: 25, chunkSize: 25 });
    const model = new Model(spec, { seed: 2 });
    const t = trainerOf(model);
    const at: number[] = [];
    const segments: number[] = [];
    const r = await runSegmented({
      trainer: () => t,
      points: [3, 10, 25],
      next: 0,
      segment: 4,
      onSteps: (s) => segments.push(s),
      atPoint: (i) => void at.push(t.stepCount, i),
    });
    expect(r).to.deep.equal({ diverged: false, divergedAt: null });
    expect(at).to.deep.equal([3, 0, 10, 1, 25, 2]);
    expect(segments).to.deep.equal([3, 4, 3, 4, 4, 4, 3]);
    expect(bitwiseEqual(model.params, ref.params)).to.equal(true);
    ref.close();
    model.close();
  });

  it('checkpoints when due with the index of the next point to evaluate, and continues from `next`', async () => {
    const model = new Model(spec, { seed: 2 });
    const t = trainerOf(model);
    const saves: Array<[number, number]> = [];
    await runSegmented({
      trainer: () => t,
      points: [4, 8],
      next: 0,
      segment: 2,
      atPoint: () => undefined,
      checkpoint: { due: () => true, save: (next) => void saves.push([t.stepCount, next]) },
    });
    // between segments (next = the point being trained to) and after a point that is not the last
    expect(saves).to.deep.equal([
      [2, 0],
      [4, 1],
      [6, 1],
    ]);
    const seen: number[] = [];
    await runSegmented({ trainer: () => t, points: [4, 8, 12], next: 2, atPoint: (i) => void seen.push(i) });
    expect(seen).to.deep.equal([2]);
    expect(t.stepCount).to.equal(12);
    model.close();
  });

  it('returns divergence as a result and evaluates no further point', async () => {
    const model = new Model(spec, { seed: 2 });
    const t = trainerOf(model, 1e30);
    const seen: number[] = [];
    const r = await runSegmented({
      trainer: () => t,
      points: [5, 50],
      next: 0,
      segment: 3,
      atPoint: (i) => void seen.push(i),
    });
    expect(r.diverged).to.equal(true);
    expect(r.divergedAt).to.be.a('number');
    expect(seen.length).to.be.below(2);
    model.close();
  });

  it('rejects points that do not increase and a bad segment, naming them', async () => {
    const model = new Model(spec, { seed: 2 });
    const t = trainerOf(model);
    const run = (o: { points: number[]; segment?: number }): Promise<unknown> =>
      runSegmented({ trainer: () => t, next: 0, atPoint: () => undefined, ...o });
    const cases: Array<[{ points: number[]; segment?: number }, RegExp]> = [
      [{ points: [3, 3] }, /points must be strictly increasing \(points\[1\] = 3 after 3\)/],
      [{ points: [3], segment: 0 }, /segment must be a positive integer \(got 0\)/],
    ];
    for (const [o, re] of cases) {
      let err: unknown;
      await run(o).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(RangeError);
      expect((err as Error).message).to.match(re);
    }
    model.close();
  });
});
