import { expect } from 'chai';

import { Model, Trainer, mlp, sgd, smallCnn, type Evaluation, type Examples, type ModelSpec } from '../../src/index.js';
import { sharedExamples } from '../../src/train/shared-data.js';
import { randomArray, separableBlobs } from './helpers.js';

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the promise to reject');
}

/** The error `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

/** Bitwise equality of two evaluations (NaN accuracy of regression equal to NaN). */
function expectSameBits(a: Evaluation, b: Evaluation): void {
  expect(Object.is(a.loss, b.loss), `loss ${a.loss} vs ${b.loss}`).to.equal(true);
  expect(Object.is(a.accuracy, b.accuracy), `accuracy ${a.accuracy} vs ${b.accuracy}`).to.equal(true);
  expect(a.n).to.equal(b.n);
  expect(a.finite).to.equal(b.finite);
}

const bnCnn: ModelSpec = {
  input: [1, 6, 6],
  layers: [
    { type: 'conv2d', units: 3, kernel: 3 },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'dense', units: 4 },
  ],
};

describe('Model#evaluateAsync()', function () {
  this.timeout(120_000);

  it('returns the sync evaluate bit for bit: MLP classifier at chunk sizes 1, 7, 64, 1000 and > n', async () => {
    const data = separableBlobs(257, 12, 5, 3);
    const m = new Model(mlp({ input: 12, hidden: [16], outputs: 5 }), { seed: 4 });
    for (const batchSize of [1, 7, 64, 1000, 5000]) {
      const want = m.evaluate(data, { batchSize });
      expectSameBits(await m.evaluateAsync(data, { batchSize }), want);
    }
    expectSameBits(await m.evaluateAsync(data), m.evaluate(data));
    m.close();
  });

  it('returns the sync evaluate bit for bit: MSE regression (accuracy NaN) and a CNN with batch-norm state', async () => {
    const reg = new Model(mlp({ input: 6, hidden: [5], outputs: 3, loss: 'mse' }), { seed: 2 });
    const rd = { x: randomArray(6 * 50, 1), y: randomArray(3 * 50, 2) };
    expectSameBits(await reg.evaluateAsync(rd, { batchSize: 9 }), reg.evaluate(rd, { batchSize: 9 }));
    expect(Number.isNaN((await reg.evaluateAsync(rd)).accuracy)).to.equal(true);
    reg.close();

    const cnn = new Model(bnCnn, { seed: 5 });
    cnn.state.set(cnn.state.map((v) => v + 0.1)); // running mean 0.1, variance 1.1: not the defaults
    const cd = { x: randomArray(36 * 40, 3), y: Int32Array.from({ length: 40 }, (_, i) => i % 4) };
    expectSameBits(await cnn.evaluateAsync(cd, { batchSize: 6 }), cnn.evaluate(cd, { batchSize: 6 }));
    cnn.close();
  });

  it('agrees with a float64 oracle built from predict(): mean cross-entropy and accuracy', async () => {
    const data = separableBlobs(120, 8, 3, 11);
    const m = new Model(mlp({ input: 8, hidden: [10], outputs: 3 }), { seed: 6 });
    const out = m.predict(data.x);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < 120; i++) {
      const z = Array.from(out.subarray(3 * i, 3 * i + 3), Number);
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
      loss += lse - z[data.y[i]];
      if (z.indexOf(max) === data.y[i]) correct++;
    }
    const e = await m.evaluateAsync(data, { batchSize: 50 });
    expect(e.loss).to.be.closeTo(loss / 120, 1e-5);
    expect(e.accuracy).to.equal(correct / 120);
    m.close();
  });

  it('runs off the main thread: the event loop turns while a large evaluation is pending', async () => {
    const n = 8000;
    const data = { x: randomArray(784 * n, 4), y: Int32Array.from({ length: n }, (_, i) => i % 10) };
    const m = new Model(mlp({ input: 784, hidden: [256], outputs: 10 }), { seed: 1 });
    let turns = 0;
    let done = false;
    const spin = (): void => {
      turns++;
      if (!done) setImmediate(spin);
    };
    spin();
    const e = await m.evaluateAsync(data);
    done = true;
    expect(e.n).to.equal(n);
    expect(turns, 'event-loop turns during the evaluation').to.be.greaterThan(2);
    m.close();
  });

  it('two models evaluate at once while a third trains: every number equals the one computed alone', async () => {
    const data = separableBlobs(600, 20, 4, 9);
    const shared = sharedExamples(data);
    const spec = mlp({ input: 20, hidden: [32], outputs: 4 });
    const a = new Model(spec, { seed: 1 });
    const b = new Model(spec, { seed: 2 });
    const wantA = a.evaluate(data, { batchSize: 100 });
    const wantB = b.evaluate(shared, { batchSize: 33 });
    const trainedAlone = new Model(spec, { seed: 3 });
    const options = {
      data: shared,
      optimizer: sgd({ lr: 0.05 }),
      batch: { mode: 'shuffle' as const, size: 16 },
      seed: 7,
    };
    await new Trainer(trainedAlone, options).run({ steps: 120, chunkSize: 10 });

    const c = new Model(spec, { seed: 3 });
    const training = new Trainer(c, options).run({ steps: 120, chunkSize: 10 });
    const results = await Promise.all([
      (async () => {
        const out: Evaluation[] = [];
        for (let i = 0; i < 5; i++) out.push(await a.evaluateAsync(data, { batchSize: 100 }));
        return out;
      })(),
      (async () => {
        const out: Evaluation[] = [];
        for (let i = 0; i < 5; i++) out.push(await b.evaluateAsync(shared, { batchSize: 33 }));
        return out;
      })(),
    ]);
    await training;
    for (const e of results[0]) expectSameBits(e, wantA);
    for (const e of results[1]) expectSameBits(e, wantB);
    expect(Buffer.from(c.params.buffer).equals(Buffer.from(trainedAlone.params.buffer))).to.equal(true);
    for (const m of [a, b, c, trainedAlone]) m.close();
  });

  it('keeps the model busy: its Trainer, sync evaluate, a second evaluateAsync and init throw ERR_BIGSTEP_BUSY', async () => {
    const data = separableBlobs(4000, 64, 4, 2);
    const m = new Model(mlp({ input: 64, hidden: [64], outputs: 4 }), { seed: 1 });
    const trainer = new Trainer(m, {
      data,
      optimizer: sgd({ lr: 0.1 }),
      batch: { mode: 'shuffle', size: 32 },
      seed: 1,
    });
    const before = Float32Array.from(m.params);
    const pending = m.evaluateAsync(data, { batchSize: 10 });
    expect((await rejection(trainer.run({ steps: 5 }))).code).to.equal('ERR_BIGSTEP_BUSY');
    expect(thrown(() => trainer.step()).code).to.equal('ERR_BIGSTEP_BUSY');
    expect(thrown(() => m.evaluate(data)).code).to.equal('ERR_BIGSTEP_BUSY');
    expect((await rejection(m.evaluateAsync(data))).code).to.equal('ERR_BIGSTEP_BUSY');
    expect(thrown(() => m.init(3)).code).to.equal('ERR_BIGSTEP_BUSY');
    expectSameBits(await pending, m.evaluate(data, { batchSize: 10 }));
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(before.buffer))).to.equal(true);
    expect((await trainer.run({ steps: 5 })).stepsDone).to.equal(5); // free again once it settled
    m.close();
  });

  it('refuses to start while a training chunk of the same model runs (ERR_BIGSTEP_BUSY), and works after it', async () => {
    const data = sharedExamples(separableBlobs(2000, 32, 4, 5));
    const m = new Model(mlp({ input: 32, hidden: [64], outputs: 4 }), { seed: 1 });
    const trainer = new Trainer(m, {
      data,
      optimizer: sgd({ lr: 0.1 }),
      batch: { mode: 'shuffle', size: 64 },
      seed: 1,
    });
    const run = trainer.run({ steps: 40, chunkSize: 40 });
    expect((await rejection(m.evaluateAsync(data))).code).to.equal('ERR_BIGSTEP_BUSY');
    await run;
    expectSameBits(await m.evaluateAsync(data), m.evaluate(data));
    m.close();
  });

  it('model.close() during a pending evaluation throws ERR_BIGSTEP_BUSY; the evaluation completes and close then works', async () => {
    const data = separableBlobs(6000, 64, 4, 8);
    const m = new Model(mlp({ input: 64, hidden: [128], outputs: 4 }), { seed: 1 });
    const want = m.evaluate(data, { batchSize: 50 });
    const pending = m.evaluateAsync(data, { batchSize: 50 });
    const e = thrown(() => m.close());
    expect(e.code).to.equal('ERR_BIGSTEP_BUSY');
    expect(e.message).to.match(/cannot close while an async training chunk, evaluation or gradient pass runs/);
    expectSameBits(await pending, want);
    m.close();
    expect((await rejection(m.evaluateAsync(data))).code).to.equal('ERR_BIGSTEP_CLOSED');
  });

  it('copies ArrayBuffer-backed examples when it starts: detaching them meanwhile changes nothing', async () => {
    const data = separableBlobs(3000, 48, 3, 4);
    const m = new Model(mlp({ input: 48, hidden: [64], outputs: 3 }), { seed: 2 });
    const want = m.evaluate(data, { batchSize: 100 });
    const pending = m.evaluateAsync(data, { batchSize: 100 });
    structuredClone(data.x.buffer, { transfer: [data.x.buffer] });
    structuredClone(data.y.buffer, { transfer: [data.y.buffer] });
    expect(data.x.length).to.equal(0);
    expectSameBits(await pending, want);
    m.close();
  });

  it('a small CNN (channels-last trunk) evaluates to the same bits asynchronously', async () => {
    const m = new Model(smallCnn({ input: [1, 10, 10], channels: [4, 6], hidden: 8, outputs: 3 }), { seed: 3 });
    const d: Examples = { x: randomArray(100 * 30, 6), y: Int32Array.from({ length: 30 }, (_, i) => i % 3) };
    expectSameBits(await m.evaluateAsync(d, { batchSize: 8 }), m.evaluate(d, { batchSize: 8 }));
    m.close();
  });

  describe('bad input rejects with an error naming it', () => {
    const m = new Model(mlp({ input: 4, hidden: [3], outputs: 2 }));
    const x = new Float32Array(8);
    const y = new Int32Array([0, 1]);
    after(() => m.close());
    const cases: Array<[string, () => Promise<unknown>, typeof TypeError | typeof RangeError | typeof Error, RegExp]> =
      [
        ['data not an object', () => m.evaluateAsync(7 as never), TypeError, /^data must be an object/],
        ['x not a Float32Array', () => m.evaluateAsync({ x: [1] as never, y }), TypeError, /^data\.x must be/],
        ['x of a wrong length', () => m.evaluateAsync({ x: new Float32Array(7), y }), RangeError, /^data\.x must/],
        ['y a Float32Array', () => m.evaluateAsync({ x, y: new Float32Array(2) }), TypeError, /^data\.y must be/],
        ['y too short', () => m.evaluateAsync({ x, y: new Int32Array(1) }), RangeError, /^data\.y must hold/],
        ['label 2 of 2 classes', () => m.evaluateAsync({ x, y: Int32Array.of(0, 2) }), RangeError, /^data\.y\[1\]/],
        ['unknown option key', () => m.evaluateAsync({ x, y }, { batch: 2 } as never), Error, /batch/],
        ['batchSize 0', () => m.evaluateAsync({ x, y }, { batchSize: 0 }), RangeError, /^options\.batchSize/],
        ['batchSize 1.5', () => m.evaluateAsync({ x, y }, { batchSize: 1.5 }), RangeError, /^options\.batchSize/],
        [
          'dataParallel a string',
          () => m.evaluateAsync({ x, y }, { dataParallel: 'yes' as never }),
          TypeError,
          /^options\.dataParallel/,
        ],
      ];
    for (const [name, call, cls, message] of cases)
      it(`${name} → ${cls.name}`, async () => {
        const e = await rejection(call());
        expect(e).to.be.instanceOf(cls);
        expect(e.message).to.match(message);
      });

    it('dataParallel outside an MPI job → ERR_BIGSTEP_MPI naming the option', async () => {
      const e = await rejection(m.evaluateAsync({ x, y }, { dataParallel: true }));
      expect(e.code).to.equal('ERR_BIGSTEP_MPI');
      expect(e.message).to.match(/^options\.dataParallel/);
    });
  });
});

describe('Model#lossAndGradAsync()', function () {
  this.timeout(60_000);

  it('writes the same loss, accuracy and grads as lossAndGrad, bit for bit (MLP; MSE; batch-norm CNN in training mode with its state)', async () => {
    const cases: Array<{ spec: ModelSpec; data: Examples }> = [
      { spec: mlp({ input: 12, hidden: [16], outputs: 5 }), data: separableBlobs(64, 12, 5, 1) },
      {
        spec: mlp({ input: 6, hidden: [5], outputs: 3, loss: 'mse' }),
        data: { x: randomArray(6 * 20, 1), y: randomArray(3 * 20, 2) },
      },
      { spec: bnCnn, data: { x: randomArray(36 * 16, 3), y: Int32Array.from({ length: 16 }, (_, i) => i % 4) } },
    ];
    for (const { spec, data } of cases) {
      const a = new Model(spec, { seed: 3 });
      const b = a.clone();
      const want = a.lossAndGrad(data);
      const got = await b.lossAndGradAsync(data);
      expect(Object.is(got.loss, want.loss)).to.equal(true);
      expect(Object.is(got.accuracy, want.accuracy)).to.equal(true);
      expect(Buffer.from(b.grads.buffer).equals(Buffer.from(a.grads.buffer)), 'grads').to.equal(true);
      expect(Buffer.from(b.state.buffer).equals(Buffer.from(a.state.buffer)), 'state').to.equal(true);
      const evalMode = await b.lossAndGradAsync(data, { training: false });
      expect(Object.is(evalMode.loss, a.lossAndGrad(data, { training: false }).loss)).to.equal(true);
      a.close();
      b.close();
    }
  });

  it('keeps the model busy until it settles, and rejects bad input naming it', async () => {
    const data = separableBlobs(2000, 64, 4, 3);
    const m = new Model(mlp({ input: 64, hidden: [128], outputs: 4 }), { seed: 1 });
    const pending = m.lossAndGradAsync(data);
    expect(thrown(() => m.lossAndGrad(data)).code).to.equal('ERR_BIGSTEP_BUSY');
    expect((await rejection(m.evaluateAsync(data))).code).to.equal('ERR_BIGSTEP_BUSY');
    expect(thrown(() => m.close()).code).to.equal('ERR_BIGSTEP_BUSY');
    expect((await pending).loss).to.be.a('number');
    const e = await rejection(m.lossAndGradAsync({ x: data.x, y: new Int32Array(3) }));
    expect(e).to.be.instanceOf(RangeError);
    expect(e.message).to.match(/^batch\.y must hold/);
    const t = await rejection(m.lossAndGradAsync(data, { training: 1 } as never));
    expect(t).to.be.instanceOf(TypeError);
    expect(t.message).to.match(/^options\.training/);
    m.close();
  });
});
