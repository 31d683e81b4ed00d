import { expect } from 'chai';

import { Model, MultiTrainer, Trainer, gemmBench, mlp, setThreads, sgd, type ModelSpec, type OptimizerSpec } from '../../src/index.js';
import { noisySgd } from '../../src/optim/optimizer.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';

// Wide enough that sgemm splits the first layer's products at 2 threads (64·256·160 ≥ 2·2^20), so
// the 2-thread case checks that each model uses the solo run's 2-thread partition.
const spec: ModelSpec = mlp({ input: 160, hidden: [256, 96], outputs: 4 });
const data = separableBlobs(256, 160, 4, 5);
const batch = { mode: 'shuffle' as const, size: 64 };

async function solo(optimizer: OptimizerSpec, init: number, seed: number, steps: number) {
  const model = new Model(spec, { seed: init });
  const trainer = new Trainer(model, { data, optimizer, batch, seed });
  const r = await trainer.run({ steps, chunkSize: 7 });
  return { model, r };
}

const optimizers: OptimizerSpec[] = [
  sgd({ lr: 0.01 }),
  sgd({ lr: 0.02, momentum: 0.9 }),
  noisySgd({ lr: 0.05, noiseStd: 0.01 }),
  sgd({ lr: { kind: 'cosine', lr: 0.1, totalSteps: 20 }, weightDecay: 1e-3 }),
];

describe('MultiTrainer#run()', () => {
  afterEach(() => setThreads(1));

  for (const threads of [1, 2]) {
    it(`gives each model the bitwise trajectory of its solo run (threads = ${threads})`, async () => {
      setThreads(threads);
      const steps = 23;
      const multi = new MultiTrainer(spec, { data, batch, seed: 9, models: optimizers.map((optimizer, k) => ({ optimizer, init: 10 + k })) });
      const r = await multi.run({ steps, chunkSize: 5 });
      expect(r.stepsDone).to.equal(steps);
      for (let k = 0; k < optimizers.length; k++) {
        const s = await solo(optimizers[k], 10 + k, 9, steps);
        expect(bitwiseEqual(multi.paramsOf(k), s.model.params), `params of model ${k}`).to.equal(true);
        expect(bitwiseEqual(r.models[k].loss, s.r.loss), `loss log of model ${k}`).to.equal(true);
        expect(bitwiseEqual(r.models[k].lr, s.r.lr), `lr log of model ${k}`).to.equal(true);
        expect(r.models[k].diverged, `model ${k} diverged`).to.equal(false);
      }
      multi.close();
    });
  }

  it('freezes a diverging model at its step and leaves the others equal to their solo runs', async () => {
    const opts = [sgd({ lr: 0.05 }), sgd({ lr: 1e6 }), sgd({ lr: 0.1, momentum: 0.5 })];
    const steps = 15;
    const multi = new MultiTrainer(spec, { data, batch, seed: 4, models: opts.map((optimizer) => ({ optimizer, init: 3 })) });
    const r = await multi.run({ steps, chunkSize: 4 });
    expect(r.stepsDone).to.equal(steps);
    const bad = await solo(opts[1], 3, 4, steps);
    expect(bad.r.diverged).to.equal(true);
    expect(r.models[1].diverged).to.equal(true);
    expect(r.models[1].divergedAt).to.equal(bad.r.divergedAt);
    expect(bitwiseEqual(multi.paramsOf(1), bad.model.params)).to.equal(true);
    expect(r.models[1].loss.length).to.equal(bad.r.loss.length);
    for (const k of [0, 2]) {
      const s = await solo(opts[k], 3, 4, steps);
      expect(r.models[k].diverged).to.equal(false);
      expect(bitwiseEqual(multi.paramsOf(k), s.model.params), `model ${k}`).to.equal(true);
    }
  });

  it('stops early when every model has diverged', async () => {
    const multi = new MultiTrainer(spec, { data, batch, models: [{ optimizer: sgd({ lr: 1e7 }) }, { optimizer: sgd({ lr: 1e8 }) }] });
    const r = await multi.run({ steps: 100, chunkSize: 10 });
    expect(r.stepsDone).to.be.lessThan(100);
    expect(r.models.every((m) => m.diverged)).to.equal(true);
  });

  it('accepts initial parameters as a Float32Array', async () => {
    const m = new Model(spec, { seed: 77 });
    const multi = new MultiTrainer(spec, { data, batch, models: [{ optimizer: sgd({ lr: 0.1 }), init: m.params }] });
    expect(bitwiseEqual(multi.paramsOf(0), m.params)).to.equal(true);
  });
});

describe('MultiTrainer (bad arguments)', () => {
  const models = [{ optimizer: sgd({ lr: 0.1 }) }];
  const cases: Array<[string, () => unknown, ErrorConstructor, string]> = [
    ['no models', () => new MultiTrainer(spec, { data, batch, models: [] }), RangeError, 'options.models'],
    ['models not an array', () => new MultiTrainer(spec, { data, batch, models: 3 as never }), TypeError, 'options.models'],
    ['a bad optimizer', () => new MultiTrainer(spec, { data, batch, models: [...models, { optimizer: { transforms: 1 } as never }] }), TypeError, 'options.models[1]'],
    ['init of the wrong length', () => new MultiTrainer(spec, { data, batch, models: [{ ...models[0], init: new Float32Array(3) }] }), RangeError, 'options.models[0].init'],
    ['amplify', () => new MultiTrainer(spec, { data, batch: { ...batch, amplify: 2 } as never, models }), RangeError, 'options.batch.amplify'],
    ['batch size 0', () => new MultiTrainer(spec, { data, batch: { mode: 'shuffle', size: 0 }, models }), RangeError, 'options.batch.size'],
    ['x not a Float32Array', () => new MultiTrainer(spec, { data: { x: [] as never, y: data.y }, batch, models }), TypeError, 'options.data.x'],
  ];
  for (const [name, fn, cls, param] of cases) {
    it(`${name} → ${cls.name} naming ${param}`, () => {
      expect(fn).to.throw(cls, param);
    });
  }

  it('run({ steps: -1 }) rejects with a RangeError naming options.steps', async () => {
    const multi = new MultiTrainer(spec, { data, batch, models });
    let err: unknown;
    try {
      await multi.run({ steps: -1 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RangeError);
    expect((err as Error).message).to.contain('options.steps');
  });

  it('a batch size larger than the data set → RangeError naming job.batch.size', async () => {
    const multi = new MultiTrainer(spec, { data, batch: { mode: 'shuffle', size: 100000 }, models });
    let err: unknown;
    try {
      await multi.run({ steps: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RangeError);
    expect((err as Error).message).to.contain('batch.size');
  });
});

describe('gemmBench (the bench ceiling)', () => {
  it('times [M, N, K, tA, tB] and [M, N, K, tA, tB, beta] shapes: one positive time per shape', () => {
    const t = gemmBench([[8, 16, 4, 0, 1], [16, 8, 4, 1, 0, 1]], 0.05);
    expect(t).to.have.length(2);
    for (const v of t) expect(v).to.be.greaterThan(0).and.lessThan(1);
  });

  it('beta other than 0 or 1 → RangeError naming shapes[5]', () => {
    expect(() => gemmBench([[8, 8, 8, 0, 0, 0.5]], 0.05)).to.throw(RangeError, 'shapes[5]');
  });
});
