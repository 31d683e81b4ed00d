import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Model, MultiTrainer, Trainer, mlp, sgd, type MultiTrainerState } from '../../src/index.js';
import { noisySgd } from '../../src/optim/optimizer.js';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  MULTI_CHECKPOINT_VERSION,
  loadCheckpoint,
  loadMultiCheckpoint,
  readAnyCheckpoint,
  readMultiCheckpoint,
  saveCheckpoint,
  saveMultiCheckpoint,
} from '../../src/train/checkpoint.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';

const META = { configHash: 'multi-1' };
const data = separableBlobs(40, 5, 3, 6);
const spec = mlp({ input: 5, hidden: [6], outputs: 3 });

/** Three models on one batch stream: momentum, isotropic noise, and one that diverges at once. */
function makeMulti(options: { init?: number; count?: number; momentum?: number } = {}): MultiTrainer {
  const models = [
    { optimizer: sgd({ lr: 0.05, momentum: options.momentum ?? 0.9 }), init: options.init ?? 1 },
    { optimizer: noisySgd({ lr: 0.05, noiseStd: 0.01 }), init: options.init ?? 1 },
    { optimizer: sgd({ lr: 1e30 }), init: options.init ?? 1 },
  ].slice(0, options.count ?? 3);
  return new MultiTrainer(spec, { data, models, batch: { mode: 'shuffle', size: 16 }, seed: 3 });
}

function sameState(a: MultiTrainerState, b: MultiTrainerState): boolean {
  const bytes = (x: ArrayBufferView): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return (Object.keys(a) as Array<keyof MultiTrainerState>).every((k) => bytes(a[k]).equals(bytes(b[k])));
}

function expectCheckpointError(fn: () => void, file: string, reason: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'an error').to.be.instanceOf(CheckpointError);
  expect((caught as Error).message).to.contain(file);
  expect((caught as Error).message).to.match(reason);
}

describe('saveMultiCheckpoint() / loadMultiCheckpoint()', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-multi-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function trainedCheckpoint(steps = 7): Promise<{ file: string; multi: MultiTrainer }> {
    const multi = makeMulti();
    await multi.run({ steps, chunkSize: 3 }); // mid-epoch (40 examples, batches of 16)
    const file = path.join(dir, 'multi.ckpt');
    saveMultiCheckpoint(file, multi, META);
    return { file, multi };
  }

  it('round-trips the whole state (a diverged model included) bitwise, and training continues bit for bit', async () => {
    const { file, multi } = await trainedCheckpoint();
    expect(multi.divergedAt[2], 'model 2 diverged').to.be.a('number');
    const restored = makeMulti({ init: 99 });
    loadMultiCheckpoint(file, restored, META);
    expect(sameState(restored.exportState(), multi.exportState())).to.equal(true);
    expect(restored.stepCount).to.equal(7);
    expect(restored.divergedAt).to.deep.equal(multi.divergedAt);
    const [a, b] = await Promise.all([multi.run({ steps: 23, chunkSize: 4 }), restored.run({ steps: 23 })]);
    expect(bitwiseEqual(restored.params, multi.params)).to.equal(true);
    for (let k = 0; k < 3; k++) expect(bitwiseEqual(b.models[k].loss, a.models[k].loss), `loss log of model ${k}`).to.equal(true);
    // … and equals the same 30 steps in one go
    const straight = makeMulti();
    await straight.run({ steps: 30 });
    expect(bitwiseEqual(straight.params, restored.params)).to.equal(true);
    expect(straight.divergedAt).to.deep.equal(restored.divergedAt);
  });

  it('writes format version 3 with kind "multi" and a header naming the models; the same state gives the same bytes', async () => {
    const { file, multi } = await trainedCheckpoint(5);
    const bytes = fs.readFileSync(file);
    expect(bytes.readUInt32LE(8)).to.equal(MULTI_CHECKPOINT_VERSION);
    const { header } = readMultiCheckpoint(file);
    expect(header).to.deep.include({ format: 'bigstep-checkpoint', kind: 'multi', configHash: 'multi-1', step: 5, count: 3, paramCount: multi.paramCount, n: 40 });
    expect(header.divergedAt).to.deep.equal(multi.divergedAt);
    const again = path.join(dir, 'again.ckpt');
    saveMultiCheckpoint(again, multi, META);
    expect(fs.readFileSync(again).equals(bytes)).to.equal(true);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['again.ckpt', 'multi.ckpt']);
  });

  it('keeps Trainer checkpoints at version 2; each loader names the other kind; readAnyCheckpoint reads both', async () => {
    const { file: multiFile } = await trainedCheckpoint(2);
    const trainer = new Trainer(new Model(spec, { seed: 1 }), { data, optimizer: sgd({ lr: 0.05 }), batch: { mode: 'shuffle', size: 16 }, seed: 3 });
    trainer.step();
    const soloFile = path.join(dir, 'solo.ckpt');
    saveCheckpoint(soloFile, trainer, META);
    expect(fs.readFileSync(soloFile).readUInt32LE(8)).to.equal(CHECKPOINT_VERSION);
    expect(CHECKPOINT_VERSION).to.equal(2);
    expect(readAnyCheckpoint(soloFile).kind).to.equal('trainer');
    expect(readAnyCheckpoint(soloFile).header).to.not.have.property('kind');
    expect(readAnyCheckpoint(multiFile).kind).to.equal('multi');
    expectCheckpointError(() => loadCheckpoint(multiFile, trainer, META), multiFile, /is a MultiTrainer checkpoint .*loadMultiCheckpoint/);
    const multi = makeMulti();
    const before = multi.exportState();
    expectCheckpointError(() => loadMultiCheckpoint(soloFile, multi, META), soloFile, /is a Trainer checkpoint \(format version 2\).*loadCheckpoint/);
    expect(sameState(multi.exportState(), before)).to.equal(true);
    expect(() => saveMultiCheckpoint(path.join(dir, 'x'), trainer as never, META)).to.throw(TypeError, /trainer must be a MultiTrainer/);
    expect(() => saveCheckpoint(path.join(dir, 'x'), multi as never, META)).to.throw(TypeError, /trainer must be a Trainer/);
  });

  it('rejects a flipped byte at every position and every truncation, leaving the multi-trainer unchanged', async () => {
    const multi = new MultiTrainer(mlp({ input: 5, hidden: [2], outputs: 3 }), { data, models: [{ optimizer: sgd({ lr: 0.1, momentum: 0.9 }) }, { optimizer: sgd({ lr: 0.2 }) }], batch: { mode: 'shuffle', size: 8 } });
    await multi.run({ steps: 2 });
    const file = path.join(dir, 'small.ckpt');
    saveMultiCheckpoint(file, multi, META);
    const bytes = fs.readFileSync(file);
    const before = multi.exportState();
    const bad = path.join(dir, 'bad.ckpt');
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] ^= 1 << i % 8;
      fs.writeFileSync(bad, copy);
      expectCheckpointError(() => loadMultiCheckpoint(bad, multi, META), bad, /not a bigstep checkpoint|version|truncated|corrupt/);
    }
    for (const length of [0, 5, 23, 24, 100, bytes.length - 1]) {
      fs.writeFileSync(bad, bytes.subarray(0, length));
      expectCheckpointError(() => loadMultiCheckpoint(bad, multi, META), bad, /not a bigstep checkpoint|truncated/);
    }
    expect(sameState(multi.exportState(), before)).to.equal(true);
  });

  it('rejects a checkpoint of another configuration, model count or optimizer chain', async () => {
    const { file } = await trainedCheckpoint();
    const check = (multi: MultiTrainer, meta: { configHash: string }, reason: RegExp): void => {
      const before = multi.exportState();
      expectCheckpointError(() => loadMultiCheckpoint(file, multi, meta), file, reason);
      expect(sameState(multi.exportState(), before)).to.equal(true);
    };
    check(makeMulti(), { configHash: 'other' }, /config hash "multi-1" but this run's config hash is "other"/);
    check(makeMulti({ count: 2 }), META, /holds 3 models but the multi-trainer has 2/);
    check(makeMulti({ momentum: 0 }), META, /optimizer state values/);
  });
});

describe('MultiTrainer#exportState() / importState()', () => {
  it('importState names a field of the wrong length, type or value and changes nothing', () => {
    const multi = makeMulti();
    const good = multi.exportState();
    const before = multi.exportState();
    expect(() => multi.importState({ ...good, optState: new Float32Array(3) })).to.throw(RangeError, /state\.optState must have length/);
    expect(() => multi.importState({ ...good, perm: new Float32Array(40) as never })).to.throw(TypeError, /state\.perm must be a Int32Array/);
    const rng = good.noiseRng.slice();
    rng.fill(0n, 4, 8);
    expect(() => multi.importState({ ...good, noiseRng: rng })).to.throw(RangeError, /state\.noiseRng words 4\.\.7 \(model 1\) must not be all zero/);
    expect(() => multi.importState({ ...good, divergedAt: Float64Array.from([-1, 5, -1]) })).to.throw(RangeError, /state\.divergedAt\[1\]/);
    expect(sameState(multi.exportState(), before)).to.equal(true);
  });

  it('exportState returns copies; state access is refused while a run is in progress', async () => {
    const multi = makeMulti();
    const s = multi.exportState();
    s.params[0] += 1;
    expect(multi.params[0]).to.not.equal(s.params[0]);
    const running = multi.run({ steps: 20, chunkSize: 20 });
    expect(multi.busy).to.equal(true);
    expect(() => multi.exportState()).to.throw(Error).with.property('code', 'ERR_BIGSTEP_BUSY');
    expect(() => saveMultiCheckpoint(path.join(os.tmpdir(), 'never.ckpt'), multi, META)).to.throw(Error).with.property('code', 'ERR_BIGSTEP_BUSY');
    await running;
    expect(multi.busy).to.equal(false);
  });

  it('modelStateOf(k) is empty without batch norm and names a bad k', () => {
    const multi = makeMulti();
    expect(multi.modelStateOf(1).length).to.equal(0);
    expect(() => multi.modelStateOf(3)).to.throw(RangeError, /k must be an integer in \[0, 3\)/);
  });
});
