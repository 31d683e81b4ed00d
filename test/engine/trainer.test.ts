import { expect } from 'chai';

import { Model, Trainer, info, mlp, noisySgd, sgd, switchAt, type OptimizerSpec } from '../../src/index.js';
import { bitwiseEqual, randomArray, separableBlobs } from './helpers.js';

const smallSpec = mlp({ input: 8, hidden: [16], outputs: 3 });

function makeTrainer(seed: number, batch: Record<string, unknown> = { mode: 'shuffle', size: 16 }, modelSeed = 1) {
  const data = separableBlobs(96, 8, 3, 7);
  const model = new Model(smallSpec, { seed: modelSeed });
  const trainer = new Trainer(model, { data, optimizer: sgd({ lr: 0.05, momentum: 0.9 }), batch, seed });
  return { model, trainer, data };
}

describe('Trainer#run()', () => {
  it('is bitwise equal to the same number of sync step() calls, for any chunk size', async () => {
    const a = makeTrainer(3);
    for (let i = 0; i < 37; i++) a.trainer.step();
    for (const chunkSize of [1, 5, 37, 100]) {
      const b = makeTrainer(3);
      const r = await b.trainer.run({ steps: 37, chunkSize });
      expect(r.stepsDone).to.equal(37);
      expect(bitwiseEqual(a.model.params, b.model.params), `chunk ${chunkSize}`).to.equal(true);
    }
  });

  it('reports the update path its chunks took: fused for sgd() plans, the chain otherwise', async () => {
    const path = async (optimizer: OptimizerSpec, steps: number) => {
      const model = new Model(smallSpec, { seed: 1 });
      const trainer = new Trainer(model, {
        data: separableBlobs(96, 8, 3, 7),
        optimizer,
        batch: { mode: 'shuffle', size: 16 },
      });
      return (await trainer.run({ steps })).update;
    };
    // Plain SGD folds its update into the dense GEMMs where that is bitwise exact (info() says so),
    // except in a one-step chunk (its last step stores the whole gradient).
    expect(await path(sgd({ lr: 0.05 }), 5)).to.equal(info().fusedGemmUpdate ? 'fused-gemm' : 'fused-sgd');
    expect(await path(sgd({ lr: 0.05 }), 1)).to.equal('fused-sgd');
    expect(await path(sgd({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }), 5)).to.equal('fused-sgd');
    expect(await path(noisySgd({ lr: 0.05, noiseStd: 0.01 }), 5)).to.equal('chain');
    expect(await path(sgd({ lr: 0.05 }), 0)).to.equal(null);
  });

  it('gives bitwise-equal parameters for the same seeds and different ones for another data seed', async () => {
    const a = makeTrainer(11);
    const b = makeTrainer(11);
    const c = makeTrainer(12);
    await Promise.all([a.trainer.run({ steps: 30 }), b.trainer.run({ steps: 30 }), c.trainer.run({ steps: 30 })]);
    expect(bitwiseEqual(a.model.params, b.model.params)).to.equal(true);
    expect(bitwiseEqual(a.model.params, c.model.params)).to.equal(false);
  });

  it('gives different parameters for a different model seed', () => {
    expect(bitwiseEqual(new Model(smallSpec, { seed: 1 }).params, new Model(smallSpec, { seed: 2 }).params)).to.equal(
      false,
    );
  });

  it('full-batch GD equals sequential SGD with batch n, bitwise', async () => {
    const gd = makeTrainer(5, { mode: 'full' });
    const sq = makeTrainer(5, { mode: 'sequential', size: 96 });
    await gd.trainer.run({ steps: 20 });
    await sq.trainer.run({ steps: 20 });
    expect(bitwiseEqual(gd.model.params, sq.model.params)).to.equal(true);
  });

  it('trains a small MLP to >= 95% train accuracy on a separable task', async () => {
    const data = separableBlobs(600, 10, 4, 21);
    const model = new Model(mlp({ input: 10, hidden: [32], outputs: 4 }), { seed: 3 });
    const trainer = new Trainer(model, {
      data,
      optimizer: sgd({ lr: 0.05 }),
      batch: { mode: 'shuffle', size: 32 },
      seed: 1,
    });
    const before = model.evaluate(data).accuracy;
    await trainer.run({ steps: 400 });
    const after = model.evaluate(data);
    expect(after.accuracy).to.be.at.least(0.95);
    expect(after.accuracy).to.be.greaterThan(before);
  });

  it('logs the learning rate of every step, following the schedule', async () => {
    const data = separableBlobs(32, 8, 3, 1);
    const model = new Model(smallSpec, { seed: 1 });
    const trainer = new Trainer(model, { data, optimizer: sgd({ lr: switchAt(4, 0.01, 0.1) }) });
    const r = await trainer.run({ steps: 8, chunkSize: 3 });
    expect(Array.from(r.lr)).to.deep.equal([0.01, 0.01, 0.01, 0.01, 0.1, 0.1, 0.1, 0.1]);
    expect(trainer.stepCount).to.equal(8);
  });

  it('stops between chunks when the AbortSignal fires', async () => {
    const { trainer } = makeTrainer(1);
    const controller = new AbortController();
    const r = await trainer.run({
      steps: 1000,
      chunkSize: 10,
      signal: controller.signal,
      onChunk: (p) => {
        if (p.stepsDone >= 30) controller.abort();
      },
    });
    expect(r.aborted).to.equal(true);
    expect(r.stepsDone).to.equal(30);
    expect(trainer.stepCount).to.equal(30);
  });

  it('rejects step() while run() is in progress with ERR_BIGSTEP_BUSY', async () => {
    const { trainer } = makeTrainer(1);
    const running = trainer.run({ steps: 200, chunkSize: 200 });
    expect(() => trainer.step())
      .to.throw(Error)
      .with.property('code', 'ERR_BIGSTEP_BUSY');
    await running;
  });

  it('keeps the event loop free while a chunk runs', async () => {
    const data = { x: randomArray(512 * 64, 1), y: new Int32Array(512) };
    const model = new Model(mlp({ input: 64, hidden: [256, 256], outputs: 10 }), { seed: 1 });
    const trainer = new Trainer(model, { data, optimizer: sgd({ lr: 0.01 }) });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await trainer.run({ steps: 60, chunkSize: 60 });
    clearInterval(timer);
    expect(ticks).to.be.greaterThan(0);
  });
});

describe('Training law: GD on least squares', () => {
  // Linear model y = w·x + b with MSE = mean((y − t)²): Hessian H = (2/n) Σ [x;1][x;1]ᵀ, constant.
  // GD converges iff η < 2/λ_max(H).
  const d = 5;
  const n = 64;
  const x = randomArray(n * d, 4);
  const t = randomArray(n, 5);
  const spec = { input: [d], layers: [{ type: 'dense' as const, units: 1 }], loss: 'mse' as const };

  function lambdaMax(): number {
    const m = d + 1;
    const h = new Float64Array(m * m);
    for (let i = 0; i < n; i++) {
      const row = [...x.subarray(i * d, (i + 1) * d), 1];
      for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) h[a * m + b] += (2 / n) * row[a] * row[b];
    }
    let v = new Float64Array(m).fill(1);
    let lambda = 0;
    for (let it = 0; it < 500; it++) {
      const w = new Float64Array(m);
      for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) w[a] += h[a * m + b] * v[b];
      lambda = Math.hypot(...w);
      v = w.map((e) => e / lambda);
    }
    return lambda;
  }

  async function finalLoss(eta: number): Promise<{ loss: number; diverged: boolean }> {
    const model = new Model(spec, { seed: 1 });
    const trainer = new Trainer(model, { data: { x, y: t }, optimizer: sgd({ lr: eta }) });
    const r = await trainer.run({ steps: 3000, chunkSize: 500 });
    return { loss: r.diverged ? Infinity : model.evaluate({ x, y: t }).loss, diverged: r.diverged };
  }

  it('converges for η = 0.9·2/λ_max and diverges (reported, not thrown) for η = 1.1·2/λ_max', async () => {
    const threshold = 2 / lambdaMax();
    const below = await finalLoss(0.9 * threshold);
    const above = await finalLoss(1.1 * threshold);
    const start = new Model(spec, { seed: 1 }).evaluate({ x, y: t }).loss;
    expect(below.diverged).to.equal(false);
    expect(below.loss).to.be.lessThan(start);
    expect(above.diverged).to.equal(true);
  });

  it('reports the step at which the loss became non-finite', async () => {
    const model = new Model(spec, { seed: 1 });
    const trainer = new Trainer(model, { data: { x, y: t }, optimizer: sgd({ lr: 50 * (2 / lambdaMax()) }) });
    const r = await trainer.run({ steps: 1000, chunkSize: 7 });
    expect(r.diverged).to.equal(true);
    expect(r.divergedAt).to.be.a('number');
    expect(r.stepsDone).to.equal(r.divergedAt);
    expect(Number.isFinite(r.loss[r.stepsDone - 1])).to.equal(true);
  });
});
