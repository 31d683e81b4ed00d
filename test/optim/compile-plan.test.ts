// compilePlan (optimizer spec → native plan) and the Trainer's batch options reject malformed
// input with a TypeError / RangeError whose message starts with the parameter's path — never an
// engine error from dereferencing null, iterating undefined or serialising a BigInt.
import { expect } from 'chai';

import { Model, Trainer, constant, mlp, sgd } from '../../src/index.js';
import { compilePlan, type OptimizerSpec } from '../../src/optim/optimizer.js';

type Cls = typeof TypeError | typeof RangeError;

function expectNamed(fn: () => unknown, cls: Cls, path: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a ${cls.name} naming ${path}`).to.be.instanceOf(cls);
  const message = (caught as Error).message;
  expect(message.startsWith(`${path} `), `message "${message}" should start with "${path} "`).to.equal(true);
}

const lr = constant(0.1);
const scale = { kind: 'scaleByLearningRate' };
const plan = (transforms: unknown, schedule: unknown = lr): OptimizerSpec =>
  ({ transforms, schedule }) as unknown as OptimizerSpec;

describe('compilePlan: malformed optimizer specs name the parameter', () => {
  const cases: Array<[string, unknown, Cls, string]> = [
    ['spec null', null, TypeError, 'optimizer'],
    ['spec undefined', undefined, TypeError, 'optimizer'],
    ['spec a BigInt', 5n, TypeError, 'optimizer'],
    ['spec an array', [], TypeError, 'optimizer'],
    ['transforms null', plan(null), TypeError, 'optimizer.transforms'],
    ['transforms a BigInt', plan(1n), TypeError, 'optimizer.transforms'],
    ['a transform null', plan([null]), TypeError, 'optimizer.transforms[0]'],
    ['a transform undefined', plan([scale, undefined]), TypeError, 'optimizer.transforms[1]'],
    ['a transform a number', plan([7]), TypeError, 'optimizer.transforms[0]'],
    ['kind a BigInt', plan([{ kind: 5n }]), TypeError, 'optimizer.transforms[0].kind'],
    ['kind missing', plan([{}]), TypeError, 'optimizer.transforms[0].kind'],
    ['kind unknown', plan([{ kind: 'adam' }]), RangeError, 'optimizer.transforms[0].kind'],
    ['beta a BigInt', plan([{ kind: 'momentum', beta: 9n }, scale]), TypeError, 'optimizer.transforms[0].beta'],
    [
      'nesterov a BigInt',
      plan([{ kind: 'momentum', beta: 0.9, nesterov: 1n }, scale]),
      TypeError,
      'optimizer.transforms[0].nesterov',
    ],
    [
      'nesterov a string',
      plan([{ kind: 'momentum', beta: 0.9, nesterov: 'yes' }, scale]),
      TypeError,
      'optimizer.transforms[0].nesterov',
    ],
    [
      'noise mode a BigInt',
      plan([{ kind: 'gaussianNoise', std: 0.1, mode: 2n }, scale]),
      TypeError,
      'optimizer.transforms[0].mode',
    ],
    [
      'noise mode unknown',
      plan([{ kind: 'gaussianNoise', std: 0.1, mode: 'loud' }, scale]),
      RangeError,
      'optimizer.transforms[0].mode',
    ],
    [
      'annealSteps a BigInt',
      plan([{ kind: 'gaussianNoise', std: 0.1, annealSteps: 3n }, scale]),
      TypeError,
      'optimizer.transforms[0].annealSteps',
    ],
    [
      'weightDecay null',
      plan([{ kind: 'addWeightDecay', weightDecay: null }, scale]),
      TypeError,
      'optimizer.transforms[0].weightDecay',
    ],
    ['schedule missing', { transforms: [scale] }, TypeError, 'optimizer.schedule'],
    ['schedule null', plan([scale], null), TypeError, 'optimizer.schedule'],
    ['schedule a BigInt', plan([scale], 1n), TypeError, 'optimizer.schedule'],
    ['schedule kind a BigInt', plan([scale], { kind: 1n, lr: 0.1 }), TypeError, 'optimizer.schedule.kind'],
    ['schedule kind unknown', plan([scale], { kind: 'exp', lr: 0.1 }), RangeError, 'optimizer.schedule.kind'],
    [
      'piecewise boundaries missing',
      plan([scale], { kind: 'piecewise', values: [0.1] }),
      TypeError,
      'optimizer.schedule.boundaries',
    ],
    [
      'piecewise values null',
      plan([scale], { kind: 'piecewise', boundaries: [2], values: null }),
      TypeError,
      'optimizer.schedule.values',
    ],
    [
      'piecewise boundary a BigInt',
      plan([scale], { kind: 'piecewise', boundaries: [2n], values: [0.1, 0.2] }),
      TypeError,
      'optimizer.schedule.boundaries[0]',
    ],
    [
      'piecewise value a BigInt',
      plan([scale], { kind: 'piecewise', boundaries: [2], values: [0.1, 2n] }),
      TypeError,
      'optimizer.schedule.values[1]',
    ],
    [
      'piecewise value a string',
      plan([scale], { kind: 'piecewise', boundaries: [2], values: ['0.1', 0.2] }),
      TypeError,
      'optimizer.schedule.values[0]',
    ],
    [
      'piecewise one value too few',
      plan([scale], { kind: 'piecewise', boundaries: [2, 4], values: [0.1, 0.2] }),
      RangeError,
      'optimizer.schedule.values',
    ],
    [
      'piecewise no values',
      plan([scale], { kind: 'piecewise', boundaries: [], values: [] }),
      RangeError,
      'optimizer.schedule.values',
    ],
  ];
  for (const [name, spec, cls, path] of cases) {
    it(`${name} → ${cls.name} naming ${path}`, () =>
      expectNamed(() => compilePlan(spec as OptimizerSpec, 10), cls, path));
  }

  it('well-formed plans compile as before', () => {
    expect(compilePlan(sgd({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }), 10)).to.deep.equal({
      transforms: [
        { kind: 'addWeightDecay', value: 1e-4, mask: undefined },
        { kind: 'momentum', value: 0.9, nesterov: false, stateOffset: 0 },
        { kind: 'scaleByLearningRate' },
      ],
      schedule: { kind: 'constant', lr: 0.1 },
      stateCount: 10,
    });
    const pw = compilePlan(
      plan([scale], { kind: 'piecewise', boundaries: [3], values: [0.2, 0.1], warmupSteps: 2 }),
      4,
    );
    expect(pw.schedule).to.deep.equal({
      kind: 'piecewise',
      lr: 0.2,
      boundaries: Float64Array.from([3]),
      values: Float64Array.from([0.2, 0.1]),
      warmupSteps: 2,
    });
  });
});

describe('Trainer options: malformed values name the parameter', () => {
  const spec = mlp({ input: 4, hidden: [3], outputs: 2 });
  const data = { x: new Float32Array(16), y: new Int32Array(4) };
  let model: Model;
  before(() => (model = new Model(spec, { seed: 1 })));
  after(() => model.close());

  it('a null transform through the Trainer → TypeError naming optimizer.transforms[0]', () =>
    expectNamed(() => new Trainer(model, { data, optimizer: plan([null]) }), TypeError, 'optimizer.transforms[0]'));
  it('batch.mode a BigInt → TypeError naming options.batch.mode (not a string, as for every kind)', () =>
    expectNamed(
      () => new Trainer(model, { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 3n as never } }),
      TypeError,
      'options.batch.mode',
    ));
  it('batch a BigInt → TypeError naming options.batch', () =>
    expectNamed(
      () => new Trainer(model, { data, optimizer: sgd({ lr: 0.1 }), batch: 3n as never }),
      TypeError,
      'options.batch',
    ));
});
