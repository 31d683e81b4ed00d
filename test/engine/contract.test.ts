import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Model, Trainer, describe as describeSpec, mlp, sgd } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { expectError, type ErrorClass } from './helpers.js';
import { trainSync } from '../support/train-job.js';

describe('binding contract: bad model specs', () => {
  const good = mlp({ input: 4, hidden: [3], outputs: 2 });
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    ['spec not an object', 42, TypeError, 'spec'],
    ['spec is an array', [], TypeError, 'spec'],
    ['input missing', { layers: good.layers }, TypeError, 'spec.input'],
    ['input wrong rank', { input: [1, 2], layers: good.layers }, RangeError, 'spec.input'],
    ['input negative', { input: [-3], layers: good.layers }, RangeError, 'spec.input[0]'],
    ['input fractional', { input: [2.5], layers: good.layers }, RangeError, 'spec.input[0]'],
    ['input NaN', { input: [NaN], layers: good.layers }, RangeError, 'spec.input[0]'],
    ['input 2^32+1', { input: [2 ** 32 + 1], layers: good.layers }, RangeError, 'spec.input[0]'],
    ['input string', { input: ['4'], layers: good.layers }, TypeError, 'spec.input[0]'],
    ['layers empty', { input: [4], layers: [] }, RangeError, 'spec.layers'],
    ['layers not array', { input: [4], layers: {} }, TypeError, 'spec.layers'],
    ['layer not object', { input: [4], layers: [7] }, TypeError, 'spec.layers[0]'],
    ['unknown layer type', { input: [4], layers: [{ type: 'lstm' }] }, RangeError, 'spec.layers[0].type'],
    ['dense without units', { input: [4], layers: [{ type: 'dense' }] }, RangeError, 'spec.layers[0].units'],
    ['dense units 0', { input: [4], layers: [{ type: 'dense', units: 0 }] }, RangeError, 'spec.layers[0].units'],
    [
      'dense units fractional',
      { input: [4], layers: [{ type: 'dense', units: 1.5 }] },
      RangeError,
      'spec.layers[0].units',
    ],
    [
      'bias not boolean',
      { input: [4], layers: [{ type: 'dense', units: 2, bias: 1 }] },
      TypeError,
      'spec.layers[0].bias',
    ],
    [
      'unknown init',
      { input: [4], layers: [{ type: 'dense', units: 2, init: 'lecun' }] },
      RangeError,
      'spec.layers[0].init',
    ],
    [
      'conv without kernel',
      { input: [1, 5, 5], layers: [{ type: 'conv2d', units: 2 }] },
      RangeError,
      'spec.layers[0].kernel',
    ],
    [
      'conv kernel larger than input',
      { input: [1, 3, 3], layers: [{ type: 'conv2d', units: 2, kernel: 5 }] },
      RangeError,
      'spec.layers[0]',
    ],
    [
      'conv on a vector input',
      { input: [9], layers: [{ type: 'conv2d', units: 2, kernel: 3 }] },
      RangeError,
      'spec.layers[0]',
    ],
    [
      'negative padding',
      { input: [1, 5, 5], layers: [{ type: 'conv2d', units: 2, kernel: 3, padding: -1 }] },
      RangeError,
      'spec.layers[0].padding',
    ],
    ['unknown loss', { input: [4], layers: [{ type: 'dense', units: 2 }], loss: 'hinge' }, RangeError, 'spec.loss'],
    ['loss not string', { input: [4], layers: [{ type: 'dense', units: 2 }], loss: 3 }, TypeError, 'spec.loss'],
  ];
  for (const [name, spec, cls, param] of cases) {
    it(`${name} → ${cls.name} naming ${param}`, () => {
      expectError(() => describeSpec(spec as never), cls, param);
      expectError(() => new native.NativeModel(spec), cls, param);
    });
  }
});

describe('binding contract: bad buffers and calls', () => {
  const spec = mlp({ input: 4, hidden: [3], outputs: 2 });
  const model = new Model(spec, { seed: 1 });
  const h = model.handle;
  const P = model.layout.paramCount;
  const x = new Float32Array(8);
  const y = new Int32Array([0, 1]);
  const g = new Float32Array(P);

  it('params of the wrong type → TypeError naming params', () =>
    expectError(() => h.lossAndGrad(new Float64Array(P) as never, null, x, y, 2, g), TypeError, 'params'));
  it('params of the wrong length → RangeError naming params', () =>
    expectError(() => h.lossAndGrad(new Float32Array(P + 1), null, x, y, 2, g), RangeError, 'params'));
  it('x length not batch*inputSize → RangeError naming x', () =>
    expectError(() => h.lossAndGrad(model.params, null, new Float32Array(7), y, 2, g), RangeError, 'x'));
  it('labels as Float32Array → TypeError naming y', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, new Float32Array(2) as never, 2, g), TypeError, 'y'));
  it('label out of range → RangeError naming y[1]', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, new Int32Array([0, 2]), 2, g), RangeError, 'y[1]'));
  it('negative label → RangeError naming y[0]', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, new Int32Array([-1, 0]), 2, g), RangeError, 'y[0]'));
  it('batch 0 → RangeError naming batch', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, y, 0, g), RangeError, 'batch'));
  it('batch NaN → RangeError naming batch', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, y, NaN, g), RangeError, 'batch'));
  it('batch fractional → RangeError naming batch', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, y, 1.5, g), RangeError, 'batch'));
  it('batch as string → TypeError naming batch', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, y, '2' as never, g), TypeError, 'batch'));
  it('grads wrong length → RangeError naming grads', () =>
    expectError(() => h.lossAndGrad(model.params, null, x, y, 2, new Float32Array(1)), RangeError, 'grads'));
  it('detached params buffer → TypeError naming params', () => {
    const p = new Float32Array(P);
    structuredClone(p.buffer, { transfer: [p.buffer] });
    expectError(() => h.lossAndGrad(p, null, x, y, 2, g), TypeError, 'params');
  });
  it('init seed negative → RangeError naming seed', () =>
    expectError(() => h.init(model.params, null, -1), RangeError, 'seed'));
  it('forward out too short → RangeError naming out', () =>
    expectError(() => h.forward(model.params, null, x, 2, new Float32Array(3)), RangeError, 'out'));
  it('setThreads(0) → RangeError naming threads', () => expectError(() => native.setThreads(0), RangeError, 'threads'));
  it('trainSync with a non-model → TypeError naming model', () =>
    expectError(() => trainSync({} as never, {} as never, 1), TypeError, 'model'));
  it('Model#tensor with an unknown name → RangeError naming it', () =>
    expectError(() => model.tensor('nope'), RangeError, 'nope'));
  it('a closed model → Error with code ERR_BIGSTEP_CLOSED', () => {
    const m = new Model(spec);
    m.close();
    expect(() => m.evaluate({ x, y }))
      .to.throw(Error)
      .with.property('code', 'ERR_BIGSTEP_CLOSED');
  });

  it('subarray views with offsets are read at their offset', () => {
    const big = new Float32Array(8 + 16);
    big.set(new Float32Array(16).fill(0.25), 8);
    const view = big.subarray(8);
    const direct = model.evaluate({ x: new Float32Array(16).fill(0.25), y: new Int32Array(4) });
    const viaView = model.evaluate({ x: view, y: new Int32Array(4) });
    expect(viaView.loss).to.equal(direct.loss);
  });
});

describe('binding contract: bad trainer options', () => {
  const spec = mlp({ input: 4, hidden: [3], outputs: 2 });
  const data = { x: new Float32Array(40), y: new Int32Array(10) };
  const cases: Array<[string, () => unknown, ErrorClass, string]> = [
    [
      'batch size 0',
      () => new Trainer(new Model(spec), { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 'shuffle', size: 0 } }),
      RangeError,
      'options.batch.size',
    ],
    [
      'batch size > n',
      () =>
        new Trainer(new Model(spec), {
          data,
          optimizer: sgd({ lr: 0.1 }),
          batch: { mode: 'shuffle', size: 11 },
        }).step(),
      RangeError,
      'size',
    ],
    [
      'unknown batch mode',
      () => new Trainer(new Model(spec), { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 'random' as never } }),
      RangeError,
      'options.batch.mode',
    ],
    ['lr NaN', () => new Trainer(new Model(spec), { data, optimizer: sgd({ lr: NaN }) }).step(), RangeError, 'lr'],
    [
      'momentum negative',
      () => new Trainer(new Model(spec), { data, optimizer: sgd({ lr: 0.1, momentum: -0.5 }) }),
      RangeError,
      'sgd(options).momentum',
    ],
    [
      'amplify < 1',
      () =>
        new Trainer(new Model(spec), {
          data,
          optimizer: sgd({ lr: 0.1 }),
          batch: { mode: 'shuffle', size: 2, amplify: 0.5 },
        }).step(),
      RangeError,
      'amplify',
    ],
    [
      'amplify with full batches',
      () =>
        new Trainer(new Model(spec), { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 'full', amplify: 2 } }).step(),
      RangeError,
      'amplify',
    ],
    [
      'labels out of range in data',
      () =>
        new Trainer(new Model(spec), {
          data: { x: data.x, y: new Int32Array(10).fill(5) },
          optimizer: sgd({ lr: 0.1 }),
        }).step(),
      RangeError,
      'data.y[0]',
    ],
    [
      'x length not a multiple of inputSize',
      () =>
        new Trainer(new Model(spec), {
          data: { x: new Float32Array(41), y: data.y },
          optimizer: sgd({ lr: 0.1 }),
        }).step(),
      RangeError,
      'options.data.x',
    ],
    [
      'steps fractional',
      () => new Trainer(new Model(spec), { data, optimizer: sgd({ lr: 0.1 }) }).run({ steps: 2.5 }),
      RangeError,
      'options.steps',
    ],
    ['nesterov without momentum', () => sgd({ lr: 0.1, nesterov: true }), RangeError, 'nesterov'],
  ];
  for (const [name, fn, cls, param] of cases) {
    it(`${name} → ${cls.name} naming ${param}`, async () => {
      let caught: unknown;
      try {
        await fn();
      } catch (e) {
        caught = e;
      }
      expect(caught, name).to.be.instanceOf(cls);
      expect((caught as Error).message).to.contain(param);
    });
  }
});

describe('binding contract: GC during an async chunk', () => {
  it('survives forced garbage collection while chunks and evaluateAsync calls run (child process with --expose-gc)', () => {
    const script = fileURLToPath(new URL('./gc-child.js', import.meta.url));
    const r = spawnSync(process.execPath, ['--expose-gc', script], { encoding: 'utf8', timeout: 60000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('gc-child ok');
  });
});

describe('binding contract: TrainJob (one persistent native job per Trainer)', () => {
  const spec = mlp({ input: 4, hidden: [3], outputs: 2 });
  const data = (): { x: Float32Array; y: Int32Array } => ({
    x: new Float32Array(64).map((_, i) => Math.sin(i)),
    y: new Int32Array(16).map((_, i) => i % 2),
  });

  it("keeps the Trainer's parameters, gradients, optimizer state and epoch order in shared memory (borrowed, never copied per chunk)", () => {
    const t = new Trainer(new Model(spec, { seed: 1 }), {
      data: data(),
      optimizer: sgd({ lr: 0.1, momentum: 0.9 }),
      batch: { mode: 'shuffle', size: 4 },
    });
    for (const key of ['x', 'y', 'params', 'grads', 'optState', 'perm'] as const)
      expect(t.job[key].buffer, key).to.be.instanceOf(SharedArrayBuffer);
  });

  it('reads the options once: changing the job object after construction changes nothing', () => {
    const m1 = new Model(spec, { seed: 1 });
    const m2 = new Model(spec, { seed: 1 });
    const job1 = new Trainer(m1, {
      data: data(),
      optimizer: sgd({ lr: 0.1 }),
      batch: { mode: 'shuffle', size: 4 },
      seed: 2,
    }).job;
    const t2 = new Trainer(m2, {
      data: data(),
      optimizer: sgd({ lr: 0.1 }),
      batch: { mode: 'shuffle', size: 4 },
      seed: 2,
    });
    const native1 = new native.TrainJob(m1.handle, job1);
    job1.batch.size = 16;
    job1.optimizer.schedule.lr = 5;
    native1.runSync(7);
    for (let i = 0; i < 7; i++) t2.step();
    expect(Array.from(m1.params)).to.deep.equal(Array.from(m2.params));
  });

  it('sees counters and RNG states rewritten between chunks, and checks them each chunk', () => {
    const m = new Model(spec, { seed: 1 });
    const job = new Trainer(m, { data: data(), optimizer: sgd({ lr: 0.1 }), batch: { mode: 'shuffle', size: 4 } }).job;
    const nj = new native.TrainJob(m.handle, job);
    nj.runSync(3);
    expect(job.counters[0]).to.equal(3);
    job.counters[0] = 10;
    nj.runSync(1);
    expect(job.counters[0]).to.equal(11);
    job.counters[1] = 17; // cursor past n
    expectError(() => nj.runSync(1), RangeError, 'job.counters');
    job.counters[1] = 0;
    job.dataRng.fill(0n);
    expectError(() => nj.runSync(1), RangeError, 'job.dataRng');
  });

  it('names an ArrayBuffer-backed array detached between chunks (sync and async), and the model stays usable', async () => {
    const m = new Model(spec, { seed: 1 });
    const base = new Trainer(m, { data: data(), optimizer: sgd({ lr: 0.1 }) }).job;
    const job = { ...base, grads: base.grads.slice() };
    const nj = new native.TrainJob(m.handle, job);
    nj.runSync(1);
    structuredClone(job.grads.buffer, { transfer: [job.grads.buffer] });
    expectError(() => nj.runSync(1), TypeError, 'job.grads');
    let caught: unknown;
    try {
      await nj.runAsync(1);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(TypeError);
    expect((caught as Error).message).to.match(/^job\.grads /);
    expect(m.handle.isBusy()).to.equal(false);
    expect(m.evaluate(data()).finite).to.equal(true);
  });

  it('refuses a chunk while another chunk of the same model runs, and after the model is closed', async () => {
    const m = new Model(spec, { seed: 1 });
    const job = new Trainer(m, { data: data(), optimizer: sgd({ lr: 0.1 }) }).job;
    const a = new native.TrainJob(m.handle, job);
    const b = new native.TrainJob(m.handle, job);
    const running = a.runAsync(200);
    expect(() => b.runSync(1))
      .to.throw(Error)
      .with.property('code', 'ERR_BIGSTEP_BUSY');
    await running;
    m.close();
    expect(() => a.runSync(1))
      .to.throw(Error)
      .with.property('code', 'ERR_BIGSTEP_CLOSED');
  });
});
