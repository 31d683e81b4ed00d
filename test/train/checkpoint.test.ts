import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Model, Trainer, mlp, sgd } from '../../src/index.js';
import { noisySgd } from '../../src/optim/optimizer.js';
import { CheckpointError, loadCheckpoint, readCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainerState } from '../../src/train/trainer.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';

const META = { configHash: 'abc123' };
const data = separableBlobs(40, 5, 3, 6);

function makeTrainer(options: { hidden?: number; modelSeed?: number; momentum?: number } = {}): Trainer {
  const model = new Model(mlp({ input: 5, hidden: [options.hidden ?? 6], outputs: 3 }), {
    seed: options.modelSeed ?? 1,
  });
  return new Trainer(model, {
    data,
    optimizer: noisySgd({ lr: 0.05, noiseStd: 0.01, momentum: options.momentum ?? 0.9 }),
    batch: { mode: 'shuffle', size: 16, amplify: 2 },
    seed: 3,
  });
}

function sameState(a: TrainerState, b: TrainerState): boolean {
  const keys = ['params', 'grads', 'modelState', 'optState', 'perm', 'counters'] as const;
  return (
    keys.every((k) => bitwiseEqual(new Float32Array(a[k].buffer.slice(0)), new Float32Array(b[k].buffer.slice(0)))) &&
    Array.from(a.dataRng).join() === Array.from(b.dataRng).join() &&
    Array.from(a.noiseRng).join() === Array.from(b.noiseRng).join()
  );
}

describe('saveCheckpoint() / loadCheckpoint()', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function trainedCheckpoint(steps = 7): { file: string; trainer: Trainer } {
    const trainer = makeTrainer();
    for (let i = 0; i < steps; i++) trainer.step(); // mid-epoch (40 examples, batches of 16)
    const file = path.join(dir, 'ckpt.bin');
    saveCheckpoint(file, trainer, META);
    return { file, trainer };
  }

  it('round-trips the whole trainer state bitwise, and training continues bit for bit', async () => {
    const { file, trainer } = trainedCheckpoint();
    const restored = makeTrainer({ modelSeed: 99 });
    loadCheckpoint(file, restored, META);
    expect(sameState(restored.exportState(), trainer.exportState())).to.equal(true);
    expect(restored.stepCount).to.equal(7);
    await Promise.all([trainer.run({ steps: 23, chunkSize: 4 }), restored.run({ steps: 23 })]);
    expect(bitwiseEqual(restored.model.params, trainer.model.params)).to.equal(true);
  });

  it('writes the same bytes for the same state (no timestamps) and leaves no temporary files', () => {
    const { file, trainer } = trainedCheckpoint();
    const again = path.join(dir, 'again.bin');
    saveCheckpoint(again, trainer, META);
    expect(fs.readFileSync(again).equals(fs.readFileSync(file))).to.equal(true);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['again.bin', 'ckpt.bin']);
  });

  it('readCheckpoint() exposes the header (step, sizes, config hash)', () => {
    const { file, trainer } = trainedCheckpoint(5);
    const { header } = readCheckpoint(file);
    expect(header).to.deep.include({
      format: 'bigstep-checkpoint',
      configHash: 'abc123',
      step: 5,
      paramCount: trainer.model.params.length,
      n: 40,
    });
  });

  function expectCheckpointError(fn: () => void, file: string, reason: RegExp): void {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught, 'an error').to.be.instanceOf(CheckpointError);
    const e = caught as CheckpointError;
    expect(e.message).to.contain(file);
    expect(e.code).to.equal('ERR_BIGSTEP_CHECKPOINT');
    expect(e.message).to.match(reason);
  }

  /** Loads `file` into a fresh trainer, expects a CheckpointError, and that the trainer is unchanged. */
  function expectRejected(file: string, reason: RegExp, trainer = makeTrainer({ modelSeed: 5 })): void {
    const before = trainer.exportState();
    expectCheckpointError(() => loadCheckpoint(file, trainer, META), file, reason);
    expect(sameState(trainer.exportState(), before), 'trainer unchanged').to.equal(true);
  }

  it('rejects every truncation with an error naming the file', () => {
    const { file } = trainedCheckpoint();
    const bytes = fs.readFileSync(file);
    const cut = path.join(dir, 'cut.bin');
    for (const length of [0, 3, 8, 20, 24, 100, bytes.length >> 1, bytes.length - 33, bytes.length - 1]) {
      fs.writeFileSync(cut, bytes.subarray(0, length));
      expectRejected(cut, length === 0 ? /not a bigstep checkpoint \(empty file\)/ : /truncated/);
    }
  });

  it('rejects a flipped byte at EVERY position of the file', () => {
    // A small model so that the exhaustive scan is quick.
    const trainer = new Trainer(new Model(mlp({ input: 2, hidden: [2], outputs: 2 }), { seed: 1 }), {
      data: { x: new Float32Array(8), y: new Int32Array(4) },
      optimizer: sgd({ lr: 0.1, momentum: 0.9 }),
    });
    trainer.step();
    const file = path.join(dir, 'small.bin');
    saveCheckpoint(file, trainer, META);
    const bytes = fs.readFileSync(file);
    const bad = path.join(dir, 'flipped.bin');
    let rejected = 0;
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] ^= 1 << (i % 8);
      fs.writeFileSync(bad, copy);
      expectCheckpointError(
        () => loadCheckpoint(bad, trainer, META),
        bad,
        /not a bigstep checkpoint|version|truncated|corrupt/,
      );
      rejected++;
    }
    expect(rejected).to.equal(bytes.length);
  });

  it('rejects a MultiTrainer checkpoint (format version 3, retired) by naming its format', () => {
    const { file } = trainedCheckpoint();
    const bytes = fs.readFileSync(file);
    // A well-formed container of version 3: the version word patched and the SHA-256 recomputed,
    // so only the version can be what is rejected.
    bytes.writeUInt32LE(3, 8);
    createHash('sha256')
      .update(bytes.subarray(0, bytes.length - 32))
      .digest()
      .copy(bytes, bytes.length - 32);
    const v3 = path.join(dir, 'multi.ckpt');
    fs.writeFileSync(v3, bytes);
    const reason = /is a MultiTrainer checkpoint \(format version 3\), which bigstep no longer reads/;
    expectRejected(v3, reason);
    expectCheckpointError(() => readCheckpoint(v3), v3, reason);
    // Any other unknown version is still reported as unsupported, not as a MultiTrainer file.
    bytes.writeUInt32LE(4, 8);
    createHash('sha256')
      .update(bytes.subarray(0, bytes.length - 32))
      .digest()
      .copy(bytes, bytes.length - 32);
    fs.writeFileSync(v3, bytes);
    expectRejected(v3, /has unsupported format version 4 \(this bigstep reads version 2/);
  });

  it('rejects a flipped payload byte as a checksum mismatch', () => {
    const { file } = trainedCheckpoint();
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 100] ^= 0x10;
    fs.writeFileSync(file, bytes);
    expectRejected(file, /SHA-256 checksum mismatch/);
  });

  it('rejects a checkpoint of another configuration (config hash)', () => {
    const { file } = trainedCheckpoint();
    const trainer = makeTrainer();
    expectCheckpointError(
      () => loadCheckpoint(file, trainer, { configHash: 'other' }),
      file,
      /config hash "abc123" but this run's config hash is "other"/,
    );
  });

  it('rejects a checkpoint of another model size or optimizer chain', () => {
    const { file } = trainedCheckpoint();
    expectRejected(
      file,
      /holds \d+ parameters but the trainer has \d+ \(a different model size\)/,
      makeTrainer({ hidden: 7 }),
    );
    expectRejected(file, /optimizer state values/, makeTrainer({ momentum: 0 }));
  });

  it('rejects files that are not checkpoints, and a missing file', () => {
    const other = path.join(dir, 'config.json');
    fs.writeFileSync(other, JSON.stringify({ hello: 'world', padding: 'x'.repeat(100) }));
    expectRejected(other, /not a bigstep checkpoint \(bad magic bytes/);
    expectRejected(path.join(dir, 'missing.bin'), /does not exist/);
  });

  it('removes temporary files left by killed writers of the same checkpoint', () => {
    let deadPid = 4_000_000;
    for (; ; deadPid--) {
      try {
        process.kill(deadPid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') break;
      }
    }
    const stale = path.join(dir, `.ckpt.bin.tmp-${deadPid}-0123456789ab`);
    const unrelated = path.join(dir, `.other.bin.tmp-${deadPid}-0123456789ab`);
    fs.writeFileSync(stale, 'partial');
    fs.writeFileSync(unrelated, 'partial');
    trainedCheckpoint(1);
    expect(fs.existsSync(stale)).to.equal(false);
    expect(fs.existsSync(unrelated)).to.equal(true);
  });

  it('names bad arguments and refuses while the trainer is running', async () => {
    const trainer = makeTrainer();
    const file = path.join(dir, 'x.bin');
    expect(() => saveCheckpoint(file, trainer, {} as never)).to.throw(TypeError, /meta\.configHash/);
    expect(() => saveCheckpoint('', trainer, META)).to.throw(TypeError, /path/);
    expect(() => saveCheckpoint(file, {} as never, META)).to.throw(TypeError, /trainer/);
    const running = trainer.run({ steps: 50, chunkSize: 50 });
    expect(() => saveCheckpoint(file, trainer, META))
      .to.throw(Error)
      .with.property('code', 'ERR_BIGSTEP_BUSY');
    await running;
  });
});

describe('Trainer#exportState() / importState()', () => {
  it('importState names a field of the wrong length or type and changes nothing', () => {
    const trainer = makeTrainer();
    const good = trainer.exportState();
    const before = trainer.exportState();
    expect(() => trainer.importState({ ...good, optState: new Float32Array(3) })).to.throw(
      RangeError,
      /state\.optState must have length/,
    );
    expect(() => trainer.importState({ ...good, perm: new Float32Array(40) as never })).to.throw(
      TypeError,
      /state\.perm must be a Int32Array/,
    );
    expect(() => trainer.importState({ ...good, noiseRng: new BigUint64Array(4) })).to.throw(
      RangeError,
      /state\.noiseRng must not be all zero/,
    );
    expect(sameState(trainer.exportState(), before)).to.equal(true);
  });

  it('exportState returns copies, not views', () => {
    const trainer = makeTrainer();
    const s = trainer.exportState();
    s.params[0] += 1;
    expect(trainer.model.params[0]).to.not.equal(s.params[0]);
  });
});
