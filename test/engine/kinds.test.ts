import { expect } from 'chai';

import { Model, Trainer, describe as describeSpec, mlp, sgd } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import {
  kinds,
  type BatchModeName,
  type InitKindName,
  type LayerTypeName,
  type LossKindName,
  type NoiseModeName,
  type ScheduleKindName,
  type TransformKindName,
} from '../../src/native/kinds.js';
import type { LayerSpec, LossName } from '../../src/model/spec.js';
import type { ScheduleSpec } from '../../src/optim/schedules.js';
import type { TransformSpec } from '../../src/optim/optimizer.js';
import type { BatchMode } from '../../src/train/trainer.js';
import { trainSync } from '../support/train-job.js';

// Every member of each TS union, once: adding or removing a kind on one side fails to compile
// here (a missing or unknown key) or fails the comparisons below.
const tsBatchModes: Record<BatchModeName & BatchMode, true> = {
  full: true,
  sequential: true,
  shuffle: true,
  replacement: true,
};
const tsScheduleKinds: Record<ScheduleKindName & ScheduleSpec['kind'], true> = {
  constant: true,
  step: true,
  cosine: true,
  piecewise: true,
};
const tsTransformKinds: Record<TransformKindName & TransformSpec['kind'], true> = {
  clipGlobalNorm: true,
  addWeightDecay: true,
  gaussianNoise: true,
  momentum: true,
  scaleByLearningRate: true,
  decoupledWeightDecay: true,
};
const tsNoiseModes: Record<NoiseModeName, true> = { std: true, norm: true, relative: true };
const tsLayerTypes: Record<LayerTypeName & LayerSpec['type'], true> = {
  dense: true,
  conv2d: true,
  maxpool: true,
  avgpool: true,
  globalavgpool: true,
  flatten: true,
  relu: true,
  tanh: true,
  gelu: true,
  resblock: true,
  batchnorm: true,
};
const tsLosses: Record<LossKindName & LossName, true> = { 'softmax-cross-entropy': true, mse: true };
const tsInits: Record<InitKindName, true> = { he: true, xavier: true };

/** The message after its parameter path ("must be one of …"). */
function tail(fn: () => unknown, param: string): { cls: string; rest: string } {
  try {
    fn();
  } catch (e) {
    const message = (e as Error).message;
    expect(message.startsWith(`${param} `), message).to.equal(true);
    return { cls: (e as Error).constructor.name, rest: message.slice(param.length + 1) };
  }
  throw new Error(`no error for ${param}`);
}

describe('option kinds (one list per kind, exported by the addon)', () => {
  it("the addon's lists name exactly the kinds of the TypeScript types", () => {
    const pairs: Array<[readonly string[], Record<string, true>]> = [
      [kinds.batchModes, tsBatchModes],
      [kinds.scheduleKinds, tsScheduleKinds],
      [kinds.transformKinds, tsTransformKinds],
      [kinds.noiseModes, tsNoiseModes],
      [kinds.layerTypes, tsLayerTypes],
      [kinds.losses, tsLosses],
      [kinds.inits, tsInits],
    ];
    for (const [list, ts] of pairs) expect([...list].sort()).to.deep.equal(Object.keys(ts).sort());
  });

  it('the lists are frozen (nobody can add a kind at run time)', () => {
    expect(Object.isFrozen(native.kinds)).to.equal(true);
    expect(Object.isFrozen(kinds.batchModes)).to.equal(true);
  });

  it('a bad kind gets the same message from TypeScript and from the binding', () => {
    const model = new Model(mlp({ input: 4, hidden: [3], outputs: 2 }), { seed: 1 });
    const data = { x: new Float32Array(16), y: new Int32Array(4) };
    const job = new Trainer(model, { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 'shuffle', size: 2 } }).job;
    const cases: Array<[() => unknown, string, () => unknown, string]> = [
      [
        () => new Trainer(model, { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 'random' as never, size: 2 } }),
        'options.batch.mode',
        () => trainSync(model.handle, { ...job, batch: { ...job.batch, mode: 'random' as never } }, 1),
        'job.batch.mode',
      ],
      [
        () => new Trainer(model, { data, optimizer: { transforms: [], schedule: { kind: 'exp' } as never } }),
        'optimizer.schedule.kind',
        () =>
          trainSync(
            model.handle,
            { ...job, optimizer: { ...job.optimizer, schedule: { kind: 'exp' as never, lr: 0.1 } } },
            1,
          ),
        'job.optimizer.schedule.kind',
      ],
      [
        () =>
          new Trainer(model, {
            data,
            optimizer: { transforms: [{ kind: 'adam' } as never], schedule: { kind: 'constant', lr: 1 } },
          }),
        'optimizer.transforms[0].kind',
        () =>
          trainSync(
            model.handle,
            { ...job, optimizer: { ...job.optimizer, transforms: [{ kind: 'adam' as never }] } },
            1,
          ),
        'job.optimizer.transforms[0].kind',
      ],
    ];
    for (const [ts, tsParam, bindingCall, bindingParam] of cases) {
      const a = tail(ts, tsParam);
      const b = tail(bindingCall, bindingParam);
      expect(a).to.deep.equal(b);
      expect(a.cls).to.equal('RangeError');
    }
  });

  it('the noise mode and the model spec kinds use the same template', () => {
    const spec = mlp({ input: 4, hidden: [3], outputs: 2 });
    const model = new Model(spec, { seed: 1 });
    const data = { x: new Float32Array(16), y: new Int32Array(4) };
    const noise = tail(
      () =>
        new Trainer(model, {
          data,
          optimizer: {
            transforms: [{ kind: 'gaussianNoise', std: 0.1, mode: 'loud' } as never],
            schedule: { kind: 'constant', lr: 0.1 },
          },
        }),
      'optimizer.transforms[0].mode',
    );
    expect(noise.rest).to.equal('must be one of std, norm, relative (got "loud")');
    const layer = tail(() => describeSpec({ input: [4], layers: [{ type: 'lstm' }] } as never), 'spec.layers[0].type');
    expect(layer.rest).to.equal(`must be one of ${kinds.layerTypes.join(', ')} (got "lstm")`);
  });
});
