/**
 * Micro-batched gradients: a step over b examples computed in pieces of m equals the one-pass
 * step up to float rounding (checked against a float64 oracle of the mean gradient), m ≥ b is the
 * one-pass step bit for bit, and full-batch GD trajectories agree.
 */
import { expect } from 'chai';

import { Model, Trainer, mlp, sgd, smallCnn } from '../../src/index.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';
import { expectClose } from '../support/close.js';

const data = separableBlobs(45, 6, 3, 4);

function gdTrainer(microBatch?: number, spec = mlp({ input: 6, hidden: [10], outputs: 3 })): Trainer {
  return new Trainer(new Model(spec, { seed: 2 }), {
    data,
    optimizer: sgd({ lr: 0.2 }),
    batch: { mode: 'full', microBatch },
  });
}

/** float64 mean of per-example gradients (each from a one-example lossAndGrad). */
function oracleGradient(model: Model): Float64Array {
  const n = data.y.length;
  const g = new Float64Array(model.params.length);
  for (let i = 0; i < n; i++) {
    model.lossAndGrad({ x: data.x.subarray(i * 6, (i + 1) * 6), y: data.y.subarray(i, i + 1) });
    for (let k = 0; k < g.length; k++) g[k] += model.grads[k] / n;
  }
  return g;
}

describe('micro-batched gradients (batch.microBatch)', () => {
  it('gives the mean-loss gradient of the whole batch (pieces of 7 of 45, against a float64 oracle)', () => {
    const whole = gdTrainer();
    const pieces = gdTrainer(7);
    const r1 = whole.step();
    const r2 = pieces.step();
    const oracle = oracleGradient(new Model(mlp({ input: 6, hidden: [10], outputs: 3 }), { seed: 2 }));
    expectClose(pieces.model.grads, oracle, { relToMax: 1e-6 }, 'micro-batched gradient');
    expectClose(whole.model.grads, oracle, { relToMax: 1e-6 }, 'whole-batch gradient');
    expect(Math.abs(r1.loss - r2.loss)).to.be.below(1e-6 * Math.abs(r1.loss));
    expect(r2.accuracy).to.equal(r1.accuracy);
    expect(bitwiseEqual(whole.model.grads, pieces.model.grads)).to.equal(
      false,
      'a different summation, so not the same bits',
    );
  });

  it('is the one-pass step bit for bit when the piece holds the whole batch', async () => {
    const a = gdTrainer();
    const b = gdTrainer(45);
    const c = gdTrainer(1000);
    for (const t of [a, b, c]) await t.run({ steps: 5 });
    expect(bitwiseEqual(a.model.params, b.model.params)).to.equal(true);
    expect(bitwiseEqual(a.model.params, c.model.params)).to.equal(true);
  });

  it('follows the same GD trajectory (20 steps, a conv net, pieces of 8) within float rounding', async () => {
    const spec = smallCnn({ input: [1, 6, 6], channels: [2, 3], hidden: 8, outputs: 3 });
    const images = separableBlobs(30, 36, 3, 5);
    const make = (m?: number) =>
      new Trainer(new Model(spec, { seed: 4 }), {
        data: images,
        optimizer: sgd({ lr: 0.05 }),
        batch: { mode: 'full', microBatch: m },
      });
    const a = make();
    const b = make(8);
    const ra = await a.run({ steps: 20 });
    const rb = await b.run({ steps: 20 });
    for (let i = 0; i < 20; i++) expect(Math.abs(ra.loss[i] - rb.loss[i])).to.be.below(1e-5 * Math.abs(ra.loss[i]));
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < a.model.params.length; i++) {
      diff = Math.max(diff, Math.abs(a.model.params[i] - b.model.params[i]));
      norm = Math.max(norm, Math.abs(a.model.params[i]));
    }
    expect(diff / norm).to.be.below(1e-5);
    expect(ra.loss[19]).to.be.below(ra.loss[0], 'it trains');
  });

  it('splits mini-batches too, and rejects a bad size naming the option', () => {
    const t = new Trainer(new Model(mlp({ input: 6, hidden: [10], outputs: 3 }), { seed: 2 }), {
      data,
      optimizer: sgd({ lr: 0.2 }),
      batch: { mode: 'sequential', size: 20, microBatch: 6 },
    });
    expect(t.step().diverged).to.equal(false);
    expect(() => gdTrainer(0)).to.throw(
      RangeError,
      /options\.batch\.microBatch must be an integer in \[1, 2\^53\) \(got 0\)/,
    );
    expect(() => gdTrainer(2.5)).to.throw(RangeError, /options\.batch\.microBatch/);
  });
});

describe('batch.shards (the one-process twin of a data-parallel split)', () => {
  const spec = mlp({ input: 6, hidden: [10], outputs: 3 });
  const shuffled = (batch: { shards?: number; microBatch?: number }) =>
    new Trainer(new Model(spec, { seed: 2 }), {
      data,
      optimizer: sgd({ lr: 0.2 }),
      batch: { mode: 'shuffle', size: 20, ...batch },
      seed: 5,
    });

  it('is microBatch = ⌈b/s⌉ bit for bit on full batches of b (45 = 23 + 22)', async () => {
    const a = gdTrainer(23);
    const b = new Trainer(new Model(spec, { seed: 2 }), {
      data,
      optimizer: sgd({ lr: 0.2 }),
      batch: { mode: 'full', shards: 2 },
    });
    const ra = await a.run({ steps: 4 });
    const rb = await b.run({ steps: 4 });
    expect(bitwiseEqual(a.model.params, b.model.params)).to.equal(true);
    expect(Array.from(rb.loss)).to.deep.equal(Array.from(ra.loss));
  });

  it("cuts an epoch's shorter last batch by its own ⌈r/s⌉, where microBatch = ⌈b/s⌉ leaves it whole", async () => {
    // 45 = 2·20 + 5: steps 0, 1 are batches of 20 (10 + 10 either way); step 2 is the last batch of
    // 5, which shards = 2 cuts 3 + 2 and microBatch = 10 computes in one piece.
    const bySize = shuffled({ microBatch: 10 });
    const byShards = shuffled({ shards: 2 });
    const rs = await bySize.run({ steps: 2 });
    const rc = await byShards.run({ steps: 2 });
    expect(Array.from(rc.loss)).to.deep.equal(Array.from(rs.loss));
    expect(bitwiseEqual(bySize.model.params, byShards.model.params)).to.equal(true);
    bySize.step();
    byShards.step();
    expect(bitwiseEqual(bySize.model.params, byShards.model.params)).to.equal(
      false,
      'the last batch is cut differently',
    );
  });

  it('rejects a bad count and microBatch alongside, naming the option', () => {
    expect(() => shuffled({ shards: 0 })).to.throw(
      RangeError,
      /options\.batch\.shards must be an integer in \[1, 2\^53\) \(got 0\)/,
    );
    expect(() => shuffled({ shards: 2, microBatch: 4 })).to.throw(
      RangeError,
      /options\.batch\.shards cuts each batch into pieces itself: set options\.batch\.shards or options\.batch\.microBatch, not both/,
    );
  });
});
