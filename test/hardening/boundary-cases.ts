/**
 * The boundary battery: bad calls against every export of the native addon. Each group runs in
 * its own child process (boundary-child.ts); each call is checked individually by
 * boundary.test.ts. Importing this module runs nothing: fixtures are built by `setup` in the child.
 *
 * Expectation of a case: the call throws synchronously or its promise rejects, with an error of
 * class `cls` whose message contains `param` (a string or a pattern), and, when given, `code`.
 * `expect: 'ok'` marks the few calls that must succeed (the contrast to a neighbouring bad call).
 */
import { native, type NativeModelHandle, type NativeTrainJob } from '../../src/native/binding.js';
import { Model } from '../../src/model/model.js';
import { mlp } from '../../src/model/spec.js';
import { sgd } from '../../src/optim/optimizer.js';
import { Trainer } from '../../src/train/trainer.js';
import { trainAsync, trainSync } from '../support/train-job.js';

export type ErrorClassName = 'TypeError' | 'RangeError' | 'Error';

export interface BadCall<C> {
  name: string;
  call: (ctx: C) => unknown;
  cls?: ErrorClassName;
  param?: string | RegExp;
  code?: string;
  expect?: 'throw' | 'ok';
}

export interface Group<C> {
  name: string;
  setup: () => C;
  cases: BadCall<C>[];
  teardown?: (ctx: C) => Promise<void> | void;
}

const T = 'TypeError' as const;
const R = 'RangeError' as const;
const E = 'Error' as const;
const BUSY = 'ERR_BIGSTEP_BUSY';
const CLOSED = 'ERR_BIGSTEP_CLOSED';

function detached(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}
function detached64(n: number): Float64Array {
  const a = new Float64Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}
function shared(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}

// ---- setThreads -----------------------------------------------------------------------------------

const threads: Group<null> = {
  name: 'threads',
  setup: () => null,
  cases: [
    {
      name: 'setThreads() without an argument',
      call: () => native.setThreads(undefined as never),
      cls: T,
      param: 'threads',
    },
    { name: 'setThreads("2")', call: () => native.setThreads('2' as never), cls: T, param: 'threads' },
    { name: 'setThreads(2n)', call: () => native.setThreads(2n as never), cls: T, param: 'threads' },
    { name: 'setThreads(0)', call: () => native.setThreads(0), cls: R, param: 'threads' },
    { name: 'setThreads(-1)', call: () => native.setThreads(-1), cls: R, param: 'threads' },
    { name: 'setThreads(NaN)', call: () => native.setThreads(NaN), cls: R, param: 'threads' },
    { name: 'setThreads(Infinity)', call: () => native.setThreads(Infinity), cls: R, param: 'threads' },
    { name: 'setThreads(2^32+1)', call: () => native.setThreads(2 ** 32 + 1), cls: R, param: 'threads' },
    { name: 'setThreads(1.5)', call: () => native.setThreads(1.5), cls: R, param: 'threads' },
    { name: 'setThreads(1) still works', call: () => native.setThreads(1), expect: 'ok' },
  ],
};

// ---- describe / NativeModel -----------------------------------------------------------------------

const dense = (extra: object = {}) => ({ type: 'dense', units: 2, ...extra });
const conv = (extra: object = {}) => ({ type: 'conv2d', units: 2, kernel: 3, ...extra });
const specCases: Array<[string, unknown, ErrorClassName, string | RegExp]> = [
  ['spec undefined', undefined, T, 'spec'],
  ['spec null', null, T, 'spec'],
  ['spec a string', 'mlp', T, 'spec'],
  ['spec a function', () => 0, T, 'spec'],
  ['spec a Float32Array', new Float32Array(2), T, 'spec'],
  ['input missing', { layers: [dense()] }, T, 'spec.input'],
  ['input empty', { input: [], layers: [dense()] }, R, 'spec.input'],
  ['input 0', { input: [0], layers: [dense()] }, R, 'spec.input[0]'],
  ['input -1', { input: [-1], layers: [dense()] }, R, 'spec.input[0]'],
  ['input Infinity', { input: [Infinity], layers: [dense()] }, R, 'spec.input[0]'],
  ['input 2^32+1', { input: [2 ** 32 + 1], layers: [dense()] }, R, 'spec.input[0]'],
  ['input NaN in third entry', { input: [1, 4, NaN], layers: [conv()] }, R, 'spec.input[2]'],
  ['input bigint', { input: [4n], layers: [dense()] }, T, 'spec.input[0]'],
  ['layers missing', { input: [4] }, T, 'spec.layers'],
  ['layers a typed array', { input: [4], layers: new Float32Array(1) }, T, 'spec.layers'],
  ['layer null', { input: [4], layers: [null] }, T, 'spec.layers[0]'],
  ['layer an array', { input: [4], layers: [[]] }, T, 'spec.layers[0]'],
  ['layer type missing', { input: [4], layers: [{ units: 2 }] }, T, 'spec.layers[0].type'],
  ['layer type a number', { input: [4], layers: [{ type: 5 }] }, T, 'spec.layers[0].type'],
  ['second layer type unknown', { input: [4], layers: [dense(), { type: 'softmax' }] }, R, 'spec.layers[1].type'],
  ['dense units -1', { input: [4], layers: [dense({ units: -1 })] }, R, 'spec.layers[0].units'],
  ['dense units 2^32+1', { input: [4], layers: [dense({ units: 2 ** 32 + 1 })] }, R, 'spec.layers[0].units'],
  ['dense units Infinity', { input: [4], layers: [dense({ units: Infinity })] }, R, 'spec.layers[0].units'],
  ['dense units a string', { input: [4], layers: [dense({ units: '2' })] }, T, 'spec.layers[0].units'],
  ['dense init a number', { input: [4], layers: [dense({ init: 1 })] }, T, 'spec.layers[0].init'],
  [
    'dense 2^24 x 2^24 (too many parameters)',
    { input: [2 ** 24], layers: [dense({ units: 2 ** 24 })] },
    R,
    'spec.layers[0]',
  ],
  ['conv kernel 0', { input: [1, 5, 5], layers: [conv({ kernel: 0 })] }, R, 'spec.layers[0].kernel'],
  ['conv kernel 2^32+1', { input: [1, 5, 5], layers: [conv({ kernel: 2 ** 32 + 1 })] }, R, 'spec.layers[0].kernel'],
  ['conv stride 0', { input: [1, 5, 5], layers: [conv({ stride: 0 })] }, R, 'spec.layers[0].stride'],
  ['conv stride -1', { input: [1, 5, 5], layers: [conv({ stride: -1 })] }, R, 'spec.layers[0].stride'],
  ['conv padding NaN', { input: [1, 5, 5], layers: [conv({ padding: NaN })] }, R, 'spec.layers[0].padding'],
  ['conv bias "yes"', { input: [1, 5, 5], layers: [conv({ bias: 'yes' })] }, T, 'spec.layers[0].bias'],
  ['conv activation of 2^36 floats', { input: [4096, 4096, 4096], layers: [conv()] }, R, 'spec.input'],
  ['maxpool without kernel', { input: [1, 4, 4], layers: [{ type: 'maxpool' }, dense()] }, R, 'spec.layers[0].kernel'],
  ['resblock without units', { input: [2, 4, 4], layers: [{ type: 'resblock' }] }, R, 'spec.layers[0].units'],
  [
    'resblock batchnorm 1',
    { input: [2, 4, 4], layers: [{ type: 'resblock', units: 2, batchnorm: 1 }] },
    T,
    'spec.layers[0].batchnorm',
  ],
  ['loss null', { input: [4], layers: [dense()], loss: null }, T, 'spec.loss'],
  ['loss "hinge"', { input: [4], layers: [dense()], loss: 'hinge' }, R, 'spec.loss'],
  ['output not a class vector', { input: [4], layers: [dense({ units: 1 })] }, R, 'spec.loss'],
];

const spec: Group<null> = {
  name: 'spec',
  setup: () => null,
  cases: [
    ...specCases.map(([name, s, cls, param]): BadCall<null> => ({
      name: `describe: ${name}`,
      call: () => native.describe(s),
      cls,
      param,
    })),
    { name: 'new NativeModel: spec undefined', call: () => new native.NativeModel(undefined), cls: T, param: 'spec' },
    {
      name: 'new NativeModel: units 2^32+1',
      call: () => new native.NativeModel({ input: [4], layers: [dense({ units: 2 ** 32 + 1 })] }),
      cls: R,
      param: 'spec.layers[0].units',
    },
    {
      name: 'NativeModel called without new',
      call: () => (native.NativeModel as unknown as (s: unknown) => unknown)({ input: [4], layers: [dense()] }),
      cls: T,
      param: /new/,
    },
    {
      name: 'describe: a Proxy whose get trap throws (the trap error propagates)',
      call: () =>
        native.describe(
          new Proxy(
            {},
            {
              get() {
                throw new RangeError('trap: no access');
              },
            },
          ),
        ),
      cls: R,
      param: 'trap: no access',
    },
    {
      name: 'describe: a getter that throws (its error propagates)',
      call: () =>
        native.describe({
          get input(): number[] {
            throw new TypeError('getter: input unavailable');
          },
          layers: [],
        }),
      cls: T,
      param: 'getter: input unavailable',
    },
    {
      name: 'describe: a valid spec still works',
      call: () => native.describe({ input: [4], layers: [dense()] }),
      expect: 'ok',
    },
  ],
};

// ---- NativeModel methods --------------------------------------------------------------------------

interface ModelCtx {
  m: Model;
  h: NativeModelHandle;
  P: number;
  x: Float32Array;
  y: Int32Array;
  g: Float32Array;
  mse: Model;
  bn: Model;
}

const methods: Group<ModelCtx> = {
  name: 'model-methods',
  setup: () => {
    const m = new Model(mlp({ input: 4, hidden: [3], outputs: 2 }), { seed: 1 });
    const mse = new Model(mlp({ input: 4, hidden: [3], outputs: 2, loss: 'mse' }), { seed: 1 });
    const bn = new Model(
      {
        input: [1, 4, 4],
        layers: [
          { type: 'conv2d', units: 2, kernel: 3 },
          { type: 'batchnorm' },
          { type: 'relu' },
          { type: 'dense', units: 2 },
        ],
      },
      { seed: 1 },
    );
    return {
      m,
      h: m.handle,
      P: m.layout.paramCount,
      x: new Float32Array(8),
      y: new Int32Array([0, 1]),
      g: new Float32Array(m.layout.paramCount),
      mse,
      bn,
    };
  },
  cases: [
    { name: 'init: params undefined', call: (c) => c.h.init(undefined as never, null, 0), cls: T, param: 'params' },
    {
      name: 'init: params a Float64Array',
      call: (c) => c.h.init(new Float64Array(c.P) as never, null, 0),
      cls: T,
      param: 'params',
    },
    {
      name: 'init: params too short',
      call: (c) => c.h.init(new Float32Array(c.P - 1), null, 0),
      cls: R,
      param: 'params',
    },
    { name: 'init: params detached', call: (c) => c.h.init(detached(c.P), null, 0), cls: T, param: 'params' },
    { name: 'init: seed -1', call: (c) => c.h.init(c.m.params, null, -1), cls: R, param: 'seed' },
    { name: 'init: seed 2^53', call: (c) => c.h.init(c.m.params, null, 2 ** 53), cls: R, param: 'seed' },
    { name: 'init: seed NaN', call: (c) => c.h.init(c.m.params, null, NaN), cls: R, param: 'seed' },
    { name: 'init: seed "1"', call: (c) => c.h.init(c.m.params, null, '1' as never), cls: T, param: 'seed' },
    {
      name: 'lossAndGrad: params a plain array',
      call: (c) => c.h.lossAndGrad([0] as never, null, c.x, c.y, 2, c.g),
      cls: T,
      param: 'params',
    },
    {
      name: 'lossAndGrad: params empty',
      call: (c) => c.h.lossAndGrad(new Float32Array(0), null, c.x, c.y, 2, c.g),
      cls: R,
      param: 'params',
    },
    {
      name: 'lossAndGrad: params SharedArrayBuffer-backed, wrong length',
      call: (c) => c.h.lossAndGrad(shared(c.P + 1), null, c.x, c.y, 2, c.g),
      cls: R,
      param: 'params',
    },
    {
      name: 'lossAndGrad: state given to a stateless model',
      call: (c) => c.h.lossAndGrad(c.m.params, new Float32Array(3), c.x, c.y, 2, c.g),
      cls: R,
      param: 'state',
    },
    {
      name: 'lossAndGrad: state a string',
      call: (c) => c.h.lossAndGrad(c.m.params, 'state' as never, c.x, c.y, 2, c.g),
      cls: T,
      param: 'state',
    },
    {
      name: 'lossAndGrad: x undefined',
      call: (c) => c.h.lossAndGrad(c.m.params, null, undefined as never, c.y, 2, c.g),
      cls: T,
      param: 'x',
    },
    {
      name: 'lossAndGrad: x a Float64Array',
      call: (c) => c.h.lossAndGrad(c.m.params, null, new Float64Array(8) as never, c.y, 2, c.g),
      cls: T,
      param: 'x',
    },
    {
      name: 'lossAndGrad: x detached',
      call: (c) => c.h.lossAndGrad(c.m.params, null, detached(8), c.y, 2, c.g),
      cls: T,
      param: 'x',
    },
    {
      name: 'lossAndGrad: x length 7',
      call: (c) => c.h.lossAndGrad(c.m.params, null, new Float32Array(7), c.y, 2, c.g),
      cls: R,
      param: 'x',
    },
    {
      name: 'lossAndGrad: x a view one element short',
      call: (c) => c.h.lossAndGrad(c.m.params, null, new Float32Array(16).subarray(9), c.y, 2, c.g),
      cls: R,
      param: 'x',
    },
    {
      name: 'lossAndGrad: x SharedArrayBuffer-backed is accepted',
      call: (c) => c.h.lossAndGrad(c.m.params, null, shared(8), c.y, 2, c.g),
      expect: 'ok',
    },
    {
      name: 'lossAndGrad: y undefined',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, undefined as never, 2, c.g),
      cls: T,
      param: 'y',
    },
    {
      name: 'lossAndGrad: y a Float32Array (classifier)',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, new Float32Array(2) as never, 2, c.g),
      cls: T,
      param: 'y',
    },
    {
      name: 'lossAndGrad: y length 3',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, new Int32Array(3), 2, c.g),
      cls: R,
      param: 'y',
    },
    {
      name: 'lossAndGrad: y[1] = 2 (out of range)',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, new Int32Array([0, 2]), 2, c.g),
      cls: R,
      param: 'y[1]',
    },
    {
      name: 'lossAndGrad: y[0] = 2^31-1',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, new Int32Array([2 ** 31 - 1, 0]), 2, c.g),
      cls: R,
      param: 'y[0]',
    },
    {
      name: 'lossAndGrad: y[0] = -1',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, new Int32Array([-1, 0]), 2, c.g),
      cls: R,
      param: 'y[0]',
    },
    {
      name: 'lossAndGrad: batch 0',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 0, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch -1',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, -1, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch NaN',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, NaN, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch Infinity',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, Infinity, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch 2^32+1',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 2 ** 32 + 1, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch 2^30+1',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 2 ** 30 + 1, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch 1.5',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 1.5, c.g),
      cls: R,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: batch null',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, null as never, c.g),
      cls: T,
      param: 'batch',
    },
    {
      name: 'lossAndGrad: grads missing',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 2, undefined as never),
      cls: T,
      param: 'grads',
    },
    {
      name: 'lossAndGrad: grads length 1',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 2, new Float32Array(1)),
      cls: R,
      param: 'grads',
    },
    {
      name: 'lossAndGrad: grads detached',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 2, detached(c.P)),
      cls: T,
      param: 'grads',
    },
    {
      name: 'lossAndGrad: training "yes"',
      call: (c) => c.h.lossAndGrad(c.m.params, null, c.x, c.y, 2, c.g, 'yes' as never),
      cls: T,
      param: 'training',
    },
    {
      name: 'lossAndGrad (mse): y an Int32Array',
      call: (c) => c.mse.handle.lossAndGrad(c.mse.params, null, c.x, new Int32Array(4) as never, 2, c.mse.grads),
      cls: T,
      param: 'y',
    },
    {
      name: 'lossAndGrad (mse): y length 3',
      call: (c) => c.mse.handle.lossAndGrad(c.mse.params, null, c.x, new Float32Array(3), 2, c.mse.grads),
      cls: R,
      param: 'y',
    },
    {
      name: 'lossAndGrad (batchnorm): state null',
      call: (c) => c.bn.handle.lossAndGrad(c.bn.params, null, new Float32Array(16), new Int32Array(1), 1, c.bn.grads),
      cls: T,
      param: 'state',
    },
    {
      name: 'lossAndGrad (batchnorm): state too short',
      call: (c) =>
        c.bn.handle.lossAndGrad(
          c.bn.params,
          new Float32Array(1),
          new Float32Array(16),
          new Int32Array(1),
          1,
          c.bn.grads,
        ),
      cls: R,
      param: 'state',
    },
    {
      name: 'lossSums: batchSize 0',
      call: (c) => c.h.lossSums(c.m.params, null, c.x, c.y, 0, 0, 1),
      cls: R,
      param: 'batchSize',
    },
    {
      name: 'lossSums: end past the last chunk',
      call: (c) => c.h.lossSums(c.m.params, null, c.x, c.y, 1, 0, 3),
      cls: R,
      param: 'end',
    },
    {
      name: 'lossSums: y[0] = 7',
      call: (c) => c.h.lossSums(c.m.params, null, c.x, new Int32Array([7, 0]), 2, 0, 1),
      cls: R,
      param: 'data.y[0]',
    },
    {
      name: 'lossSums: params detached',
      call: (c) => c.h.lossSums(detached(c.P), null, c.x, c.y, 2, 0, 1),
      cls: T,
      param: 'params',
    },
    {
      name: 'forward: out a Float64Array',
      call: (c) => c.h.forward(c.m.params, null, c.x, 2, new Float64Array(4) as never),
      cls: T,
      param: 'out',
    },
    {
      name: 'forward: out length 3',
      call: (c) => c.h.forward(c.m.params, null, c.x, 2, new Float32Array(3)),
      cls: R,
      param: 'out',
    },
    {
      name: 'forward: out detached',
      call: (c) => c.h.forward(c.m.params, null, c.x, 2, detached(4)),
      cls: T,
      param: 'out',
    },
    {
      name: 'forward: batch 2^32+1',
      call: (c) => c.h.forward(c.m.params, null, c.x, 2 ** 32 + 1, new Float32Array(4)),
      cls: R,
      param: 'batch',
    },
    {
      name: 'forward: x length 9',
      call: (c) => c.h.forward(c.m.params, null, new Float32Array(9), 2, new Float32Array(4)),
      cls: R,
      param: 'x',
    },
    {
      name: 'a method called on a foreign this',
      call: () => (native.NativeModel.prototype as unknown as { layout(): unknown }).layout.call({}),
      cls: T,
      param: /Illegal invocation/,
    },
    {
      name: 'a method called on Object.create(NativeModel.prototype)',
      call: () => (Object.create(native.NativeModel.prototype) as NativeModelHandle).workspaceBytes(),
      cls: T,
      param: /Illegal invocation/,
    },
    {
      name: 'forward with good arguments still works',
      call: (c) => c.h.forward(c.m.params, null, c.x, 2, new Float32Array(4)),
      expect: 'ok',
    },
  ],
};

// ---- closed models --------------------------------------------------------------------------------

interface ClosedCtx {
  m: Model;
  h: NativeModelHandle;
  job: NativeTrainJob;
}

const closed: Group<ClosedCtx> = {
  name: 'closed',
  setup: () => {
    const m = new Model(mlp({ input: 4, hidden: [3], outputs: 2 }), { seed: 1 });
    const t = new Trainer(m, { data: { x: new Float32Array(16), y: new Int32Array(4) }, optimizer: sgd({ lr: 0.1 }) });
    m.close();
    return { m, h: m.handle, job: t.job };
  },
  cases: [
    { name: 'layout() on a closed model', call: (c) => c.h.layout(), cls: E, param: 'closed', code: CLOSED },
    {
      name: 'init() on a closed model',
      call: (c) => c.h.init(c.m.params, null, 0),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'lossAndGrad() on a closed model',
      call: (c) => c.h.lossAndGrad(c.m.params, null, new Float32Array(8), new Int32Array(2), 2, c.m.grads),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'lossSums() on a closed model',
      call: (c) => c.h.lossSums(c.m.params, null, new Float32Array(8), new Int32Array(2), 2, 0, 1),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'forward() on a closed model',
      call: (c) => c.h.forward(c.m.params, null, new Float32Array(8), 2, new Float32Array(4)),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'workspaceBytes() on a closed model',
      call: (c) => c.h.workspaceBytes(),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'trainSync() on a closed model',
      call: (c) => trainSync(c.h, c.job, 1),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'trainAsync() on a closed model',
      call: (c) => trainAsync(c.h, c.job, 1),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    {
      name: 'Model#evaluate on a closed model',
      call: (c) => c.m.evaluate({ x: new Float32Array(8), y: new Int32Array(2) }),
      cls: E,
      param: 'closed',
      code: CLOSED,
    },
    { name: 'close() twice is a no-op', call: (c) => c.h.close(), expect: 'ok' },
    {
      name: 'isBusy() on a closed model is false',
      call: (c) => {
        if (c.h.isBusy() !== false) throw new Error('isBusy() should be false');
      },
      expect: 'ok',
    },
  ],
};

// ---- trainSync / trainAsync -----------------------------------------------------------------------

interface TrainCtx {
  m: Model;
  h: NativeModelHandle;
  P: number;
  base: NativeTrainJob;
  /** A fresh copy of the base job with `over` applied (typed arrays copied). */
  job: (over?: Partial<Record<keyof NativeTrainJob, unknown>>) => NativeTrainJob;
  opt: (over: Record<string, unknown>) => NativeTrainJob;
  sched: (over: Record<string, unknown>) => NativeTrainJob;
}

function trainCtx(): TrainCtx {
  const m = new Model(mlp({ input: 4, hidden: [3], outputs: 2 }), { seed: 1 });
  const n = 16;
  const data = { x: new Float32Array(n * 4).map((_, i) => Math.sin(i)), y: new Int32Array(n).map((_, i) => i % 2) };
  const t = new Trainer(m, {
    data,
    optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 4 },
    seed: 3,
  });
  const base = t.job;
  const copy = (v: unknown): unknown => (ArrayBuffer.isView(v) ? (v as Float32Array).slice() : v);
  const job = (over: Partial<Record<keyof NativeTrainJob, unknown>> = {}): NativeTrainJob => {
    const j: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(base)) j[k] = copy(v);
    j.batch = { ...base.batch };
    j.optimizer = {
      ...base.optimizer,
      schedule: { ...base.optimizer.schedule },
      transforms: base.optimizer.transforms.map((tr) => ({ ...tr })),
    };
    return Object.assign(j, over) as unknown as NativeTrainJob;
  };
  const opt = (over: Record<string, unknown>) => job({ optimizer: { ...base.optimizer, ...over } });
  const sched = (over: Record<string, unknown>) => opt({ schedule: { ...base.optimizer.schedule, ...over } });
  return { m, h: m.handle, P: m.layout.paramCount, base, job, opt, sched };
}

function withGetter(j: NativeTrainJob, key: keyof NativeTrainJob, get: () => unknown): NativeTrainJob {
  const value = j[key];
  Object.defineProperty(j, key, {
    get: () => {
      get();
      return value;
    },
    enumerable: true,
  });
  return j;
}

const train: Group<TrainCtx> = {
  name: 'train',
  setup: trainCtx,
  cases: [
    { name: 'trainSync: model {}', call: (c) => trainSync({} as never, c.job(), 1), cls: T, param: 'model' },
    { name: 'trainSync: model null', call: (c) => trainSync(null as never, c.job(), 1), cls: T, param: 'model' },
    {
      name: 'trainSync: model Object.create(NativeModel.prototype)',
      call: (c) => trainSync(Object.create(native.NativeModel.prototype), c.job(), 1),
      cls: T,
      param: 'model',
    },
    {
      name: 'trainAsync: model Object.create(NativeModel.prototype)',
      call: (c) => trainAsync(Object.create(native.NativeModel.prototype), c.job(), 1),
      cls: T,
      param: 'model',
    },
    { name: 'trainSync: job 5', call: (c) => trainSync(c.h, 5 as never, 1), cls: T, param: 'job' },
    { name: 'trainSync: steps -1', call: (c) => trainSync(c.h, c.job(), -1), cls: R, param: 'steps' },
    { name: 'trainSync: steps NaN', call: (c) => trainSync(c.h, c.job(), NaN), cls: R, param: 'steps' },
    { name: 'trainSync: steps 1.5', call: (c) => trainSync(c.h, c.job(), 1.5), cls: R, param: 'steps' },
    { name: 'trainSync: steps 2^40+1', call: (c) => trainSync(c.h, c.job(), 2 ** 40 + 1), cls: R, param: 'steps' },
    { name: 'trainSync: steps "1"', call: (c) => trainSync(c.h, c.job(), '1' as never), cls: T, param: 'steps' },
    { name: 'trainAsync: steps Infinity', call: (c) => trainAsync(c.h, c.job(), Infinity), cls: R, param: 'steps' },
    { name: 'job.x missing', call: (c) => trainSync(c.h, c.job({ x: undefined }), 1), cls: T, param: 'job.x' },
    {
      name: 'job.x a Float64Array',
      call: (c) => trainSync(c.h, c.job({ x: new Float64Array(64) }), 1),
      cls: T,
      param: 'job.x',
    },
    { name: 'job.x empty', call: (c) => trainSync(c.h, c.job({ x: new Float32Array(0) }), 1), cls: R, param: 'job.x' },
    {
      name: 'job.x length not a multiple of inputSize',
      call: (c) => trainSync(c.h, c.job({ x: new Float32Array(63) }), 1),
      cls: R,
      param: 'job.x',
    },
    { name: 'job.x detached', call: (c) => trainSync(c.h, c.job({ x: detached(64) }), 1), cls: T, param: 'job.x' },
    {
      name: 'job.y length n-1',
      call: (c) => trainSync(c.h, c.job({ y: new Int32Array(15) }), 1),
      cls: R,
      param: 'job.y',
    },
    {
      name: 'job.y a Float32Array',
      call: (c) => trainSync(c.h, c.job({ y: new Float32Array(16) }), 1),
      cls: T,
      param: 'job.y',
    },
    {
      name: 'job.y label 9 (out of range)',
      call: (c) => trainSync(c.h, c.job({ y: new Int32Array(16).fill(9) }), 1),
      cls: R,
      param: 'data.y[0]',
    },
    {
      name: 'job.batch missing',
      call: (c) => trainSync(c.h, c.job({ batch: undefined }), 1),
      cls: T,
      param: 'job.batch',
    },
    {
      name: 'job.batch.mode "random"',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'random', size: 4 } }), 1),
      cls: R,
      param: 'job.batch.mode',
    },
    {
      name: 'job.batch.mode 3',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 3, size: 4 } }), 1),
      cls: T,
      param: 'job.batch.mode',
    },
    {
      name: 'job.batch.size 0',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'shuffle', size: 0 } }), 1),
      cls: R,
      param: 'job.batch.size',
    },
    {
      name: 'job.batch.size n+1',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'shuffle', size: 17 } }), 1),
      cls: R,
      param: 'job.batch.size',
    },
    {
      name: 'job.batch.size 2^32+1',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'replacement', size: 2 ** 32 + 1 } }), 1),
      cls: R,
      param: 'job.batch.size',
    },
    {
      name: 'job.batch.dropLast 1',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'shuffle', size: 4, dropLast: 1 } }), 1),
      cls: T,
      param: 'job.batch.dropLast',
    },
    {
      name: 'job.batch.amplify NaN',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'shuffle', size: 4, amplify: NaN } }), 1),
      cls: R,
      param: 'job.batch.amplify',
    },
    {
      name: 'job.batch.amplify 0.5',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'shuffle', size: 4, amplify: 0.5 } }), 1),
      cls: R,
      param: 'batch.amplify',
    },
    {
      name: 'job.optimizer missing',
      call: (c) => trainSync(c.h, c.job({ optimizer: undefined }), 1),
      cls: T,
      param: 'job.optimizer',
    },
    {
      name: 'job.optimizer.schedule missing',
      call: (c) => trainSync(c.h, c.opt({ schedule: undefined }), 1),
      cls: T,
      param: 'job.optimizer.schedule',
    },
    {
      name: 'schedule.kind "exp"',
      call: (c) => trainSync(c.h, c.sched({ kind: 'exp' }), 1),
      cls: R,
      param: 'job.optimizer.schedule.kind',
    },
    {
      name: 'schedule.lr NaN',
      call: (c) => trainSync(c.h, c.sched({ lr: NaN }), 1),
      cls: R,
      param: 'job.optimizer.schedule.lr',
    },
    {
      name: 'schedule.lr -Infinity',
      call: (c) => trainSync(c.h, c.sched({ lr: -Infinity }), 1),
      cls: R,
      param: 'job.optimizer.schedule.lr',
    },
    {
      name: 'schedule step: stepSize 0',
      call: (c) => trainSync(c.h, c.sched({ kind: 'step', stepSize: 0, gamma: 0.5 }), 1),
      cls: R,
      param: 'job.optimizer.schedule.stepSize',
    },
    {
      name: 'schedule cosine: totalSteps missing',
      call: (c) => trainSync(c.h, c.sched({ kind: 'cosine' }), 1),
      cls: T,
      param: 'job.optimizer.schedule.totalSteps',
    },
    {
      name: 'schedule piecewise: values one short',
      call: (c) =>
        trainSync(
          c.h,
          c.sched({ kind: 'piecewise', boundaries: new Float64Array([5]), values: new Float64Array([0.1]) }),
          1,
        ),
      cls: R,
      param: 'job.optimizer.schedule.values',
    },
    {
      name: 'schedule piecewise: boundaries decreasing',
      call: (c) =>
        trainSync(
          c.h,
          c.sched({
            kind: 'piecewise',
            boundaries: new Float64Array([5, 2]),
            values: new Float64Array([0.1, 0.2, 0.3]),
          }),
          1,
        ),
      cls: R,
      param: 'job.optimizer.schedule.boundaries',
    },
    {
      name: 'schedule warmupSteps -1',
      call: (c) => trainSync(c.h, c.sched({ warmupSteps: -1 }), 1),
      cls: R,
      param: 'job.optimizer.schedule.warmupSteps',
    },
    {
      name: 'optimizer.transforms not an array',
      call: (c) => trainSync(c.h, c.opt({ transforms: {} }), 1),
      cls: T,
      param: 'job.optimizer.transforms',
    },
    {
      name: 'transform kind unknown',
      call: (c) => trainSync(c.h, c.opt({ transforms: [{ kind: 'adam' }] }), 1),
      cls: R,
      param: 'job.optimizer.transforms[0].kind',
    },
    {
      name: 'transform value negative',
      call: (c) => trainSync(c.h, c.opt({ transforms: [{ kind: 'clipGlobalNorm', value: -1 }] }), 1),
      cls: R,
      param: 'job.optimizer.transforms[0].value',
    },
    {
      name: 'transform mask wrong length',
      call: (c) =>
        trainSync(c.h, c.opt({ transforms: [{ kind: 'addWeightDecay', value: 0.1, mask: new Uint8Array(1) }] }), 1),
      cls: R,
      param: 'job.optimizer.transforms[0].mask',
    },
    {
      name: 'transform stateOffset 2^40+1',
      call: (c) =>
        trainSync(c.h, c.opt({ transforms: [{ kind: 'momentum', value: 0.9, stateOffset: 2 ** 40 + 1 }] }), 1),
      cls: R,
      param: 'job.optimizer.transforms[0].stateOffset',
    },
    {
      name: 'optimizer.stateCount too small for momentum',
      call: (c) => trainSync(c.h, c.opt({ stateCount: 0 }), 1),
      cls: R,
      param: /stateCount|job.optState/,
    },
    {
      name: 'optimizer.stateCount -1',
      call: (c) => trainSync(c.h, c.opt({ stateCount: -1 }), 1),
      cls: R,
      param: 'job.optimizer.stateCount',
    },
    {
      name: 'job.params too long',
      call: (c) => trainSync(c.h, c.job({ params: new Float32Array(c.P + 1) }), 1),
      cls: R,
      param: 'job.params',
    },
    {
      name: 'job.grads a Float64Array',
      call: (c) => trainSync(c.h, c.job({ grads: new Float64Array(c.P) }), 1),
      cls: T,
      param: 'job.grads',
    },
    {
      name: 'job.optState wrong length',
      call: (c) => trainSync(c.h, c.job({ optState: new Float32Array(1) }), 1),
      cls: R,
      param: 'job.optState',
    },
    {
      name: 'job.dataRng length 3',
      call: (c) => trainSync(c.h, c.job({ dataRng: new BigUint64Array(3) }), 1),
      cls: R,
      param: 'job.dataRng',
    },
    {
      name: 'job.dataRng a Float64Array',
      call: (c) => trainSync(c.h, c.job({ dataRng: new Float64Array(4) }), 1),
      cls: T,
      param: 'job.dataRng',
    },
    {
      name: 'job.dataRng all zero (would spin forever)',
      call: (c) => trainSync(c.h, c.job({ dataRng: new BigUint64Array(4) }), 1),
      cls: R,
      param: 'job.dataRng',
    },
    {
      name: 'job.noiseRng all zero',
      call: (c) => trainSync(c.h, c.job({ noiseRng: new BigUint64Array(4) }), 1),
      cls: R,
      param: 'job.noiseRng',
    },
    {
      name: 'job.batch.augment.shape not an array',
      call: (c) =>
        trainSync(c.h, c.job({ batch: { mode: 'full', augment: { shape: 4, cropPadding: 1, flip: false } } }), 1),
      cls: T,
      param: 'job.batch.augment.shape',
    },
    {
      name: 'job.batch.augment.shape disagrees with inputSize',
      call: (c) =>
        trainSync(
          c.h,
          c.job({ batch: { mode: 'full', augment: { shape: [1, 2, 3], cropPadding: 1, flip: false } } }),
          1,
        ),
      cls: R,
      param: /batch\.augment\.shape/,
    },
    {
      name: 'job.batch.augment.cropPadding -1',
      call: (c) =>
        trainSync(
          c.h,
          c.job({ batch: { mode: 'full', augment: { shape: [1, 2, 2], cropPadding: -1, flip: false } } }),
          1,
        ),
      cls: R,
      param: 'job.batch.augment.cropPadding',
    },
    {
      name: 'job.augmentRng missing with augment',
      call: (c) =>
        trainSync(
          c.h,
          c.job({
            augmentRng: undefined,
            batch: { mode: 'full', augment: { shape: [1, 2, 2], cropPadding: 1, flip: true } },
          }),
          1,
        ),
      cls: T,
      param: 'job.augmentRng',
    },
    {
      name: 'job.augmentRng all zero',
      call: (c) =>
        trainSync(
          c.h,
          c.job({
            augmentRng: new BigUint64Array(4),
            batch: { mode: 'full', augment: { shape: [1, 2, 2], cropPadding: 0, flip: true } },
          }),
          1,
        ),
      cls: R,
      param: 'job.augmentRng',
    },
    {
      name: 'job.batch.microBatch 0',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'full', microBatch: 0 } }), 1),
      cls: R,
      param: 'job.batch.microBatch',
    },
    {
      name: 'job.batch.microBatch a string',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'full', microBatch: '8' } }), 1),
      cls: T,
      param: 'job.batch.microBatch',
    },
    {
      name: 'job.batch.shards 0',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'full', shards: 0 } }), 1),
      cls: R,
      param: 'job.batch.shards',
    },
    {
      name: 'job.batch.shards with microBatch',
      call: (c) => trainSync(c.h, c.job({ batch: { mode: 'full', shards: 2, microBatch: 4 } }), 1),
      cls: R,
      param: 'batch.shards',
    },
    {
      name: 'job.perm length n+1',
      call: (c) => trainSync(c.h, c.job({ perm: new Int32Array(17) }), 1),
      cls: R,
      param: 'job.perm',
    },
    {
      name: 'job.perm holds 10^9 mid-epoch (out-of-bounds gather)',
      call: (c) =>
        trainSync(c.h, c.job({ perm: new Int32Array(16).fill(1e9), counters: new Float64Array([4, 4, 0]) }), 1),
      cls: R,
      param: 'job.perm[4]',
    },
    {
      name: 'job.perm holds -1 mid-epoch',
      call: (c) =>
        trainSync(c.h, c.job({ perm: new Int32Array(16).fill(-1), counters: new Float64Array([4, 8, 0]) }), 1),
      cls: R,
      param: 'job.perm[8]',
    },
    {
      name: 'job.counters length 2',
      call: (c) => trainSync(c.h, c.job({ counters: new Float64Array(2) }), 1),
      cls: R,
      param: 'job.counters',
    },
    {
      name: 'job.counters cursor > n',
      call: (c) => trainSync(c.h, c.job({ counters: new Float64Array([0, 17, 0]) }), 1),
      cls: R,
      param: 'job.counters',
    },
    {
      name: 'job.counters step NaN',
      call: (c) => trainSync(c.h, c.job({ counters: new Float64Array([NaN, 0, 0]) }), 1),
      cls: R,
      param: 'job.counters',
    },
    {
      name: 'job.counters step Infinity',
      call: (c) => trainSync(c.h, c.job({ counters: new Float64Array([Infinity, 0, 0]) }), 1),
      cls: R,
      param: 'job.counters',
    },
    {
      name: 'job.counters cursor 2.5',
      call: (c) => trainSync(c.h, c.job({ counters: new Float64Array([0, 2.5, 0]) }), 1),
      cls: R,
      param: 'job.counters',
    },
    {
      name: 'job.counters epoch NaN',
      call: (c) => trainSync(c.h, c.job({ counters: new Float64Array([0, 0, NaN]) }), 1),
      cls: R,
      param: 'job.counters',
    },
    { name: 'logs 5', call: (c) => trainSync(c.h, c.job(), 1, 5 as never), cls: T, param: 'logs' },
    {
      name: 'logs.loss length 1 for 2 steps',
      call: (c) => trainSync(c.h, c.job(), 2, { loss: new Float64Array(1) }),
      cls: R,
      param: 'logs.loss',
    },
    {
      name: 'logs.lr a Float32Array',
      call: (c) => trainSync(c.h, c.job(), 1, { lr: new Float32Array(1) as never }),
      cls: T,
      param: 'logs.lr',
    },
    {
      name: 'logs.accuracy detached',
      call: (c) => trainSync(c.h, c.job(), 1, { accuracy: detached64(1) }),
      cls: T,
      param: 'logs.accuracy',
    },
    {
      name: 'trainAsync: a bad job rejects synchronously with a named error',
      call: (c) => trainAsync(c.h, c.job({ grads: new Float32Array(1) }), 1),
      cls: R,
      param: 'job.grads',
    },
    {
      name: 'SharedArrayBuffer-backed job.x is accepted',
      call: (c) => {
        const x = shared(64);
        x.set(c.base.x);
        return trainSync(c.h, c.job({ x }), 1);
      },
      expect: 'ok',
    },
    // Reentrancy: getters on the job run JS in the middle of argument conversion.
    {
      name: 'reentrancy: a job getter closes the model',
      call: (c) =>
        trainSync(
          c.h,
          withGetter(c.job(), 'x', () => c.h.close()),
          1,
        ),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'reentrancy: a job getter runs trainSync on the same model',
      call: (c) =>
        trainSync(
          c.h,
          withGetter(c.job(), 'grads', () => trainSync(c.h, c.job(), 1)),
          1,
        ),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'reentrancy: a job getter starts trainAsync on the same model',
      call: (c) =>
        trainAsync(
          c.h,
          withGetter(c.job(), 'optState', () => void trainAsync(c.h, c.job(), 1)),
          1,
        ),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'reentrancy: a job getter calls lossAndGrad on the same model',
      call: (c) =>
        trainSync(
          c.h,
          withGetter(c.job(), 'perm', () =>
            c.h.lossAndGrad(c.m.params, null, new Float32Array(4), new Int32Array(1), 1, c.m.grads),
          ),
          1,
        ),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'reentrancy: a job getter detaches job.params after it was read',
      call: (c) => {
        const j = c.job();
        const params = j.params;
        return trainSync(
          c.h,
          withGetter(j, 'counters', () => structuredClone(params.buffer, { transfer: [params.buffer] })),
          1,
        );
      },
      cls: T,
      param: 'job',
    },
    {
      name: 'a job Proxy whose trap throws (the trap error propagates)',
      call: (c) =>
        trainSync(
          c.h,
          new Proxy(c.job(), {
            get(t, k) {
              if (k === 'grads') throw new RangeError('trap: grads unavailable');
              return Reflect.get(t, k);
            },
          }),
          1,
        ),
      cls: R,
      param: 'trap: grads unavailable',
    },
    {
      name: 'the model is idle and usable after the reentrancy cases',
      call: (c) => trainSync(c.h, c.job(), 3),
      expect: 'ok',
    },
  ],
};

// ---- calls while an async chunk runs --------------------------------------------------------------

interface BusyCtx extends TrainCtx {
  running: Promise<unknown>;
}

const busy: Group<BusyCtx> = {
  name: 'busy',
  setup: () => {
    const c = trainCtx();
    // A long chunk: every case below runs synchronously before it can complete.
    const running = trainAsync(c.h, c.job(), 200000);
    return { ...c, running };
  },
  teardown: async (c) => {
    await c.running;
  },
  cases: [
    {
      name: 'isBusy() is true while a chunk runs',
      call: (c) => {
        if (!c.h.isBusy()) throw new Error('isBusy() should be true');
      },
      expect: 'ok',
    },
    {
      name: 'trainSync while a chunk runs',
      call: (c) => trainSync(c.h, c.job(), 1),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'trainAsync while a chunk runs',
      call: (c) => trainAsync(c.h, c.job(), 1),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'lossAndGrad while a chunk runs',
      call: (c) => c.h.lossAndGrad(c.m.params, null, new Float32Array(4), new Int32Array(1), 1, c.m.grads),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'lossSums while a chunk runs',
      call: (c) => c.h.lossSums(c.m.params, null, new Float32Array(4), new Int32Array(1), 1, 0, 1),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    {
      name: 'forward while a chunk runs',
      call: (c) => c.h.forward(c.m.params, null, new Float32Array(4), 1, new Float32Array(2)),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
    { name: 'init while a chunk runs', call: (c) => c.h.init(c.m.params, null, 0), cls: E, param: 'busy', code: BUSY },
    { name: 'layout while a chunk runs', call: (c) => c.h.layout(), cls: E, param: 'busy', code: BUSY },
    { name: 'workspaceBytes while a chunk runs', call: (c) => c.h.workspaceBytes(), cls: E, param: 'busy', code: BUSY },
    { name: 'close while a chunk runs', call: (c) => c.h.close(), cls: E, param: 'busy', code: BUSY },
    {
      name: 'Trainer on the busy model: step()',
      call: (c) =>
        new Trainer(c.m, {
          data: { x: new Float32Array(16), y: new Int32Array(4) },
          optimizer: sgd({ lr: 0.1 }),
        }).step(),
      cls: E,
      param: 'busy',
      code: BUSY,
    },
  ],
};

// ---- landscape functions --------------------------------------------------------------------------

interface LandCtx {
  inst: ReturnType<typeof native.landscapeCreate>;
  bad: (over: Record<string, unknown>) => never;
  minima: { points: Float64Array; globalIndex: number };
  starts: Float64Array;
  run: Record<string, unknown>;
}

const landscape: Group<LandCtx> = {
  name: 'landscape',
  setup: () => {
    const inst = native.landscapeCreate({ dim: 2, dips: 3, seed: 1 });
    const bad = (over: Record<string, unknown>) => ({ ...inst, ...over }) as never;
    return {
      inst,
      bad,
      minima: { points: new Float64Array([0, 0]), globalIndex: 0 },
      starts: new Float64Array([0.1, 0.1, 1, 1]),
      run: { eta: 0.1, steps: 5, classifyRadius: 0.1 },
    };
  },
  cases: [
    {
      name: 'landscapeCreate: options missing',
      call: () => native.landscapeCreate(undefined as never),
      cls: T,
      param: 'options',
    },
    {
      name: 'landscapeCreate: dim missing',
      call: () => native.landscapeCreate({ dips: 1 } as never),
      cls: T,
      param: 'options.dim',
    },
    {
      name: 'landscapeCreate: dim 0',
      call: () => native.landscapeCreate({ dim: 0, dips: 1 }),
      cls: R,
      param: 'options.dim',
    },
    {
      name: 'landscapeCreate: dim 2^32+1',
      call: () => native.landscapeCreate({ dim: 2 ** 32 + 1, dips: 1 }),
      cls: R,
      param: 'options.dim',
    },
    {
      name: 'landscapeCreate: dips -1',
      call: () => native.landscapeCreate({ dim: 2, dips: -1 }),
      cls: R,
      param: 'options.dips',
    },
    {
      name: 'landscapeCreate: dips 1.5',
      call: () => native.landscapeCreate({ dim: 2, dips: 1.5 }),
      cls: R,
      param: 'options.dips',
    },
    {
      name: 'landscapeCreate: dips x dim = 6.5e9 centre coordinates',
      call: () => native.landscapeCreate({ dim: 65536, dips: 100000 }),
      cls: R,
      param: 'options.dips',
    },
    {
      name: 'landscapeCreate: mu 0',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, mu: 0 }),
      cls: R,
      param: 'options.mu',
    },
    {
      name: 'landscapeCreate: mu NaN',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, mu: NaN }),
      cls: R,
      param: 'options.mu',
    },
    {
      name: 'landscapeCreate: seed -1',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, seed: -1 }),
      cls: R,
      param: 'options.seed',
    },
    {
      name: 'landscapeCreate: radiusMin > radiusMax',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, radiusMin: 3, radiusMax: 1 }),
      cls: R,
      param: 'options.radiusMin',
    },
    {
      name: 'landscapeCreate: depthMax 1',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, depthMax: 1 }),
      cls: R,
      param: 'options.depthMin',
    },
    {
      name: 'landscapeCreate: sharpnessMin 1',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, sharpnessMin: 1 }),
      cls: R,
      param: 'options.sharpnessMin',
    },
    {
      name: 'landscapeCreate: separation -1',
      call: () => native.landscapeCreate({ dim: 2, dips: 1, separation: -1 }),
      cls: R,
      param: 'options.separation',
    },
    {
      name: 'landscapeSample: count -1',
      call: () => native.landscapeSample({ dim: 2, count: -1, radius: 1 }),
      cls: R,
      param: 'options.count',
    },
    {
      name: 'landscapeSample: radius 0',
      call: () => native.landscapeSample({ dim: 2, count: 1, radius: 0 }),
      cls: R,
      param: 'options.radius',
    },
    {
      name: 'landscapeSample: radius NaN',
      call: () => native.landscapeSample({ dim: 2, count: 1, radius: NaN }),
      cls: R,
      param: 'options.radius',
    },
    {
      name: 'landscapeSample: dim x count > 2^28',
      call: () => native.landscapeSample({ dim: 65536, count: 2 ** 24, radius: 1 }),
      cls: R,
      param: 'options.count',
    },
    {
      name: 'landscapeEval: instance 5',
      call: () => native.landscapeEval(5 as never, new Float64Array(2)),
      cls: T,
      param: 'instance',
    },
    {
      name: 'landscapeEval: instance.dim missing',
      call: (c) => native.landscapeEval(c.bad({ dim: undefined }), new Float64Array(2)),
      cls: T,
      param: 'instance.dim',
    },
    {
      name: 'landscapeEval: instance.mu Infinity',
      call: (c) => native.landscapeEval(c.bad({ mu: Infinity }), new Float64Array(2)),
      cls: R,
      param: 'instance.mu',
    },
    {
      name: 'landscapeEval: instance.centers wrong length',
      call: (c) => native.landscapeEval(c.bad({ centers: new Float64Array(5) }), new Float64Array(2)),
      cls: R,
      param: 'instance.centers',
    },
    {
      name: 'landscapeEval: instance.centers a Float32Array',
      call: (c) => native.landscapeEval(c.bad({ centers: new Float32Array(6) }), new Float64Array(2)),
      cls: T,
      param: 'instance.centers',
    },
    {
      name: 'landscapeEval: instance.centers detached',
      call: (c) => native.landscapeEval(c.bad({ centers: detached64(6) }), new Float64Array(2)),
      cls: T,
      param: 'instance.centers',
    },
    {
      name: 'landscapeEval: instance.depths negative',
      call: (c) => native.landscapeEval(c.bad({ depths: new Float64Array([1, -1, 1]) }), new Float64Array(2)),
      cls: R,
      param: 'instance.depths',
    },
    {
      name: 'landscapeEval: instance.widths 0',
      call: (c) => native.landscapeEval(c.bad({ widths: new Float64Array(3) }), new Float64Array(2)),
      cls: R,
      param: 'instance.widths',
    },
    {
      name: 'landscapeEval: points length 3 for dim 2',
      call: (c) => native.landscapeEval(c.inst, new Float64Array(3)),
      cls: R,
      param: 'points',
    },
    {
      name: 'landscapeEval: points an Array',
      call: (c) => native.landscapeEval(c.inst, [0, 0] as never),
      cls: T,
      param: 'points',
    },
    {
      name: 'landscapeEval: points detached',
      call: (c) => native.landscapeEval(c.inst, detached64(2)),
      cls: T,
      param: 'points',
    },
    {
      name: 'landscapeEval: options.hessian "yes"',
      call: (c) => native.landscapeEval(c.inst, new Float64Array(2), { hessian: 'yes' as never }),
      cls: T,
      param: 'options.hessian',
    },
    {
      name: 'landscapeEval: Hessians of 2^31 doubles (aborted the process before the fix)',
      call: () => {
        const inst = native.landscapeCreate({ dim: 4096, dips: 1, seed: 1 });
        return native.landscapeEval(inst, new Float64Array(4096 * 128), { hessian: true });
      },
      cls: R,
      param: 'options.hessian',
    },
    {
      name: 'landscapeEval: an options getter that detaches points',
      call: (c) => {
        const pts = new Float64Array(2);
        return native.landscapeEval(c.inst, pts, {
          get hessian() {
            structuredClone(pts.buffer, { transfer: [pts.buffer] });
            return false;
          },
        });
      },
      cls: T,
      param: 'points',
    },
    {
      name: 'landscapeMinima: options 5',
      call: (c) => native.landscapeMinima(c.inst, 5 as never),
      cls: T,
      param: 'options',
    },
    {
      name: 'landscapeMinima: randomStarts -1',
      call: (c) => native.landscapeMinima(c.inst, { randomStarts: -1 }),
      cls: R,
      param: 'options.randomStarts',
    },
    {
      name: 'landscapeMinima: gradTol 0',
      call: (c) => native.landscapeMinima(c.inst, { gradTol: 0 }),
      cls: R,
      param: 'options.gradTol',
    },
    {
      name: 'landscapeMinima: maxIters 0',
      call: (c) => native.landscapeMinima(c.inst, { maxIters: 0 }),
      cls: R,
      param: 'options.maxIters',
    },
    {
      name: 'landscapeMinima: gridSpacing Infinity',
      call: (c) => native.landscapeMinima(c.inst, { gridSpacing: Infinity }),
      cls: R,
      param: 'options.gridSpacing',
    },
    {
      name: 'landscapeMinima: instance.widths NaN',
      call: (c) => native.landscapeMinima(c.bad({ widths: new Float64Array([1, NaN, 1]) })),
      cls: R,
      param: 'instance.widths',
    },
    {
      name: 'landscapeRun: minima 5',
      call: (c) => native.landscapeRun(c.inst, 5 as never, c.starts, c.run as never),
      cls: T,
      param: 'minima',
    },
    {
      name: 'landscapeRun: minima.points empty',
      call: (c) =>
        native.landscapeRun(c.inst, { ...c.minima, points: new Float64Array(0) } as never, c.starts, c.run as never),
      cls: R,
      param: 'minima.points',
    },
    {
      name: 'landscapeRun: minima.globalIndex 1 of 1',
      call: (c) => native.landscapeRun(c.inst, { ...c.minima, globalIndex: 1 } as never, c.starts, c.run as never),
      cls: R,
      param: 'minima.globalIndex',
    },
    {
      name: 'landscapeRun: starts length 3',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, new Float64Array(3), c.run as never),
      cls: R,
      param: 'starts',
    },
    {
      name: 'landscapeRun: starts a Float32Array',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, new Float32Array(4) as never, c.run as never),
      cls: T,
      param: 'starts',
    },
    {
      name: 'landscapeRun: options missing',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, undefined as never),
      cls: T,
      param: 'options',
    },
    {
      name: 'landscapeRun: eta 0',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, eta: 0 } as never),
      cls: R,
      param: 'options.eta',
    },
    {
      name: 'landscapeRun: steps -1',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, steps: -1 } as never),
      cls: R,
      param: 'options.steps',
    },
    {
      name: 'landscapeRun: steps 2^32+1',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, steps: 2 ** 32 + 1 } as never),
      cls: R,
      param: 'options.steps',
    },
    {
      name: 'landscapeRun: classifyRadius missing',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { eta: 0.1, steps: 5 } as never),
      cls: T,
      param: 'options.classifyRadius',
    },
    {
      name: 'landscapeRun: anneal "cubic"',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, anneal: 'cubic' } as never),
      cls: R,
      param: 'options.anneal',
    },
    {
      name: 'landscapeRun: noiseStd NaN',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, noiseStd: NaN } as never),
      cls: R,
      param: 'options.noiseStd',
    },
    {
      name: 'landscapeRun: recordCount > n',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, recordCount: 3 } as never),
      cls: R,
      param: 'options.recordCount',
    },
    {
      name: 'landscapeRun: recordEvery 0',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, recordEvery: 0 } as never),
      cls: R,
      param: 'options.recordEvery',
    },
    {
      name: 'landscapeRun: basinMaxMove -1',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, basinMaxMove: -1 } as never),
      cls: R,
      param: 'options.basinMaxMove',
    },
    {
      name: 'landscapeRun: recorded trajectories > 2^27 doubles',
      call: (c) =>
        native.landscapeRun(c.inst, c.minima as never, c.starts, { ...c.run, steps: 1e9, recordCount: 2 } as never),
      cls: R,
      param: 'options.recordCount',
    },
    {
      name: 'landscapeRun with good arguments resolves',
      call: (c) => native.landscapeRun(c.inst, c.minima as never, c.starts, c.run as never),
      expect: 'ok',
    },
  ],
};

export const groups: Group<unknown>[] = [threads, spec, methods, closed, train, busy, landscape] as Group<unknown>[];
