import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Model, Trainer, mlp } from '../../src/index.js';
import { sgd } from '../../src/optim/optimizer.js';
import {
  ResumeStore,
  checkpointSecondsFromEnv,
  decodeValue,
  encodeValue,
  fingerprint,
  verifyCheckpointDir,
  type Unit,
} from '../../src/run/resume.js';
import { separableBlobs } from '../engine/helpers.js';
import { tempDir } from './helpers.js';

type Rec = Record<string, unknown>;

function store(dir: string | null, log: Rec[] = [], warnings: string[] = []): ResumeStore {
  return new ResumeStore({
    dir,
    configHash: 'run-1',
    log: (r) => log.push(r),
    intervalSeconds: 0,
    warn: (m) => warnings.push(m),
  });
}

const data = separableBlobs(64, 8, 3, 5);
function trainer(): Trainer {
  const model = new Model(mlp({ input: 8, hidden: [16], outputs: 3 }), { seed: 2 });
  return new Trainer(model, {
    data,
    optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 8 },
    seed: 4,
  });
}

describe('encodeValue() / decodeValue()', () => {
  it('round-trips typed arrays, NaN, ±Infinity and −0 bit for bit', () => {
    const f32 = Float32Array.from([1.1, -0, NaN, 3e-38]);
    const v = {
      a: [NaN, Infinity, -Infinity, -0, 0.1 + 0.2],
      f32,
      f64: Float64Array.from([Math.PI]),
      i32: Int32Array.from([-7]),
      nested: { x: null, s: 'NaN' },
    };
    const back = decodeValue<typeof v>(encodeValue(v));
    expect(back.a.map((x) => Object.is(x, NaN) || x)).to.deep.equal([true, Infinity, -Infinity, -0, 0.1 + 0.2]);
    expect(Object.is(back.a[3], -0)).to.equal(true);
    expect(back.f32).to.be.instanceOf(Float32Array);
    expect(Buffer.from(back.f32.buffer).equals(Buffer.from(f32.buffer))).to.equal(true);
    expect(back.f64[0]).to.equal(Math.PI);
    expect(back.i32).to.be.instanceOf(Int32Array);
    expect(back.nested).to.deep.equal({ x: null, s: 'NaN' });
  });
});

describe('ResumeStore#unit()', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('bigstep-resume-store-');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs a unit once: a later store loads its value and re-emits its records instead of running it', async () => {
    const log1: Rec[] = [];
    const v1 = await store(dir, log1).unit('a', async (u) => {
      u.log({ step: 1, loss: NaN });
      return { x: Float64Array.from([1, 2]) };
    });
    const log2: Rec[] = [];
    const s2 = store(dir, log2);
    let ran = false;
    let loaded: unknown;
    const v2 = await s2.unit(
      'a',
      async () => {
        ran = true;
        return { x: new Float64Array(0) };
      },
      (v) => (loaded = v),
    );
    expect(ran).to.equal(false);
    expect(loaded).to.equal(v2);
    expect(Array.from(v2.x)).to.deep.equal(Array.from(v1.x));
    expect(log2).to.have.length(1);
    expect(log2[0].step).to.equal(1);
    expect(Number.isNaN(log2[0].loss)).to.equal(true);
    expect(s2.stats).to.include({ unitsLoaded: 1, unitsSaved: 0 });
  });

  it('stores nothing without a directory', async () => {
    const s = store(null);
    await s.unit('a', async () => 1);
    let ran = false;
    await store(null).unit('a', async () => ((ran = true), 1));
    expect(ran).to.equal(true);
    expect(s.stats.unitsSaved).to.equal(0);
  });

  it('rejects a repeated or unsafe key', async () => {
    const s = store(dir);
    await s.unit('a', async () => 1);
    let caught: unknown;
    await s.unit('a', async () => 1).catch((e) => (caught = e));
    expect((caught as Error)?.message).to.match(/used twice/);
    await s.unit('../x', async () => 1).catch((e) => (caught = e));
    expect(caught).to.be.instanceOf(RangeError);
  });

  it('continues a unit from its partial checkpoint and ends bitwise equal to an uninterrupted unit', async () => {
    const trainTo = async (u: Unit, t: Trainer, stopAt: number | null): Promise<Float32Array> => {
      const saved = u.restore<{ done: number }>([t]);
      let done = saved?.done ?? 0;
      while (done < 40) {
        await t.run({ steps: 5, chunkSize: 5 });
        done += 5;
        u.log({ done });
        u.save([t], { done });
        if (done === stopAt) throw new Error('crash');
      }
      return t.model.params.slice();
    };
    const ref = await store(null).unit('train', (u) => trainTo(u, trainer(), null));

    const log1: Rec[] = [];
    const crashed = await store(dir, log1)
      .unit('train', (u) => trainTo(u, trainer(), 15))
      .catch((e: Error) => e.message);
    expect(crashed).to.equal('crash');
    expect(verifyCheckpointDir(dir).problems).to.deep.equal([]);
    const log2: Rec[] = [];
    const s2 = store(dir, log2);
    const resumed = await s2.unit('train', (u) => trainTo(u, trainer(), null));
    expect(s2.stats.partialsResumed).to.equal(1);
    expect(Buffer.from(resumed.buffer).equals(Buffer.from(ref.buffer))).to.equal(true);
    expect(log2.map((r) => r.done)).to.deep.equal([5, 10, 15, 20, 25, 30, 35, 40]);
    // finished: only the unit file is left
    expect(fs.readdirSync(dir)).to.deep.equal(['unit-train.json']);
  });

  it('continues a unit of two Trainers (one diverging) from its partial checkpoint, bitwise', async () => {
    // The second trainer's learning rate makes it diverge in its first steps: its state (and the
    // divergence) must be restored as exactly as the healthy one's.
    const wild = (): Trainer =>
      new Trainer(new Model(mlp({ input: 8, hidden: [16], outputs: 3 }), { seed: 2 }), {
        data,
        optimizer: sgd({ lr: 1e30 }),
        batch: { mode: 'shuffle', size: 8 },
        seed: 4,
      });
    const trainTo = async (
      u: Unit,
      a: Trainer,
      b: Trainer,
      stopAt: number | null,
    ): Promise<{ params: Float32Array; divergedAt: number | null }> => {
      const saved = u.restore<{ done: number }>([a, b]);
      let done = saved?.done ?? 0;
      let divergedAt: number | null = null;
      while (done < 40) {
        const [, rb] = await Promise.all([a.run({ steps: 5, chunkSize: 5 }), b.run({ steps: 5, chunkSize: 5 })]);
        if (rb.diverged && divergedAt === null) divergedAt = rb.divergedAt;
        done += 5;
        u.log({ done });
        u.save([a, b], { done });
        if (done === stopAt) throw new Error('crash');
      }
      return { params: Float32Array.from([...a.model.params, ...b.model.params]), divergedAt };
    };
    const ref = await store(null).unit('train', (u) => trainTo(u, trainer(), wild(), null));
    expect(ref.divergedAt, 'the wild trainer diverged').to.be.a('number');

    const crashed = await store(dir)
      .unit('train', (u) => trainTo(u, trainer(), wild(), 15))
      .catch((e: Error) => e.message);
    expect(crashed).to.equal('crash');
    expect(
      fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.ckpt'))
        .sort(),
    ).to.deep.equal(['partial-train.g3.t0.ckpt', 'partial-train.g3.t1.ckpt']);
    const v = verifyCheckpointDir(dir);
    expect(v.problems).to.deep.equal([]);
    expect(v.files).to.equal(3);
    const log2: Rec[] = [];
    const s2 = store(dir, log2);
    const resumed = await s2.unit('train', (u) => trainTo(u, trainer(), wild(), null));
    expect(s2.stats.partialsResumed).to.equal(1);
    expect(Buffer.from(resumed.params.buffer).equals(Buffer.from(ref.params.buffer))).to.equal(true);
    expect(log2.map((r) => r.done)).to.deep.equal([5, 10, 15, 20, 25, 30, 35, 40]);
  });

  it('starts a unit over when its partial holds a retired MultiTrainer checkpoint (format version 3), and says so', async () => {
    await store(dir)
      .unit('x', async (u) => {
        const t = trainer();
        await t.run({ steps: 3 });
        u.save([t], { done: 3 });
        throw new Error('crash');
      })
      .catch(() => undefined);
    // Turn the saved trainer file into a version-3 container (checksum recomputed): what an
    // earlier bigstep's MultiTrainer unit left behind, as far as the version word is concerned.
    const ckpt = path.join(dir, 'partial-x.g1.t0.ckpt');
    const bytes = fs.readFileSync(ckpt);
    bytes.writeUInt32LE(3, 8);
    createHash('sha256')
      .update(bytes.subarray(0, bytes.length - 32))
      .digest()
      .copy(bytes, bytes.length - 32);
    fs.writeFileSync(ckpt, bytes);
    expect(verifyCheckpointDir(dir).problems.join('\n')).to.match(
      /is a MultiTrainer checkpoint \(format version 3\), which bigstep no longer reads/,
    );
    const warnings: string[] = [];
    const restored = await store(dir, [], warnings).unit(
      'x',
      async (u) => u.restore<{ done: number }>([trainer()]) ?? null,
    );
    expect(restored).to.equal(null);
    expect(warnings.join('\n')).to.match(
      /is a MultiTrainer checkpoint \(format version 3\).*starting the unit from its beginning/,
    );
  });

  it('ignores a corrupt unit file (reports it, computes the unit again)', async () => {
    await store(dir).unit('a', async () => ({ v: 1 }));
    const file = path.join(dir, 'unit-a.json');
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] ^= 0x01;
    fs.writeFileSync(file, bytes);
    expect(verifyCheckpointDir(dir).problems).to.have.length(1);
    const warnings: string[] = [];
    const s = store(dir, [], warnings);
    let ran = false;
    const v = await s.unit('a', async () => ((ran = true), { v: 1 }));
    expect(ran).to.equal(true);
    expect(v).to.deep.equal({ v: 1 });
    expect(s.stats.corrupt).to.have.length(1);
    expect(warnings[0]).to.match(/checksum mismatch; computing the unit again/);
    expect(verifyCheckpointDir(dir).problems).to.deep.equal([]);
  });

  it('discards the stored units when a pinned value (e.g. the data fingerprint) changed', async () => {
    const s1 = store(dir);
    s1.pin('data', { fingerprint: fingerprint(Float32Array.from([1, 2]), 'train') });
    await s1.unit('a', async () => 1);
    const same = store(dir);
    same.pin('data', { fingerprint: fingerprint(Float32Array.from([1, 2]), 'train') });
    expect(await same.unit('a', async () => 2)).to.equal(1);
    const warnings: string[] = [];
    const changed = store(dir, [], warnings);
    changed.pin('data', { fingerprint: fingerprint(Float32Array.from([1, 3]), 'train') });
    expect(await changed.unit('a', async () => 2)).to.equal(2);
    expect(warnings[0]).to.match(/discarding the stored units/);
  });

  it('refuses files of another run', async () => {
    await store(dir).unit('a', async () => 1);
    const other = new ResumeStore({ dir, configHash: 'run-2', log: () => undefined, warn: () => undefined });
    let ran = false;
    await other.unit('a', async () => ((ran = true), 1));
    expect(ran).to.equal(true);
    expect(other.stats.corrupt[0]).to.match(/belongs to run run-1/);
  });

  it('refuses, when opened, a directory whose units were written on another number of data-parallel ranks', async () => {
    await store(dir).unit('a', async () => 1);
    // The unit file as a 2-rank run writes it: the same file with "ranks": 2 in its header.
    const file = path.join(dir, 'unit-a.json');
    const [header, body] = fs.readFileSync(file, 'utf8').split('\n');
    fs.writeFileSync(file, `${JSON.stringify({ ...JSON.parse(header), ranks: 2 })}\n${body}\n`);
    expect(() => store(dir))
      .to.throw(
        /checkpoint .*: holds the units of a run on 2 data-parallel ranks, but this run is on one process: a run resumes on the same number of ranks/,
      )
      .with.property('code', 'ERR_BIGSTEP_CHECKPOINT');
    expect(fs.readFileSync(file, 'utf8')).to.contain('"ranks":2'); // left as it was
  });

  it('rejects a malformed world naming the option', () => {
    for (const world of [{ rank: 2, size: 2 }, { rank: 0 }, 'rank 0'])
      expect(
        () => new ResumeStore({ dir, configHash: 'x', log: () => undefined, world: world as unknown as null }),
      ).to.throw(TypeError, /options\.world must be null or \{ rank, size \}/);
  });
});

describe('checkpointSecondsFromEnv()', () => {
  it('reads BIGSTEP_CHECKPOINT_SECONDS (default 30) and names it when invalid', () => {
    expect(checkpointSecondsFromEnv({})).to.equal(30);
    expect(checkpointSecondsFromEnv({ BIGSTEP_CHECKPOINT_SECONDS: '0.5' })).to.equal(0.5);
    expect(() => checkpointSecondsFromEnv({ BIGSTEP_CHECKPOINT_SECONDS: '-1' })).to.throw(
      RangeError,
      /BIGSTEP_CHECKPOINT_SECONDS/,
    );
  });
});
