// Tests of the small helpers the dataset layer is built on: util/random, util/atomic, util/progress, data/tar.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { walkTar, type TarEntry } from '../../src/data/index.js';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/util/atomic.js';
import { createProgress, formatBytes } from '../../src/util/progress.js';
import { Rng, splitmix64 } from '../../src/util/random.js';
import { makeTemp, paxPath, rejects, rmTemp, tarArchive, tarEntry } from './fixtures.js';

const M = (1n << 64n) - 1n;
/** Straightforward BigInt xoshiro256** (the oracle), seeded like native/rng.h. */
function oracle(seed: bigint, stream: bigint): () => bigint {
  let x = seed ^ ((0xd1b54a32d192ed03n * (stream + 1n)) & M);
  const s: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    const [out, next] = splitmix64(x);
    s.push(out);
    x = next;
  }
  const rotl = (v: bigint, k: bigint): bigint => ((v << k) | (v >> (64n - k))) & M;
  return () => {
    const result = (rotl((s[1]! * 5n) & M, 7n) * 9n) & M;
    const t = (s[1]! << 17n) & M;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 45n);
    return result;
  };
}

describe('util/random Rng', () => {
  it('splitmix64 matches the published reference value for state 0', () => {
    // First output of Vigna's splitmix64.c with x = 0.
    assert.equal(splitmix64(0n)[0], 0xe220a8397b1dcdafn);
  });

  it('matches values printed by native/rng.h (seed 42, stream 3), so TS and C++ streams agree', () => {
    // Produced by a C++ program calling bigstep::Rng::seed_state(st, 42, 3) then next_u64 ×3,
    // uniform(), below(1000003), normal().
    const r = Rng.fromSeed(42, 3);
    assert.equal(r.nextU64(), 0xefbde50fc44e4b4en);
    assert.equal(r.nextU64(), 0x4a2df451b7809365n);
    assert.equal(r.nextU64(), 0xb590a318946627d6n);
    assert.equal(r.uniform(), 0.54995919171444063);
    assert.equal(r.below(1000003), 392238);
    assert.ok(Math.abs(r.normal() - 1.7783079372382717) < 1e-15);
  });

  for (const [seed, stream] of [
    [0n, 0n],
    [42n, 0n],
    [42n, 3n],
    [(1n << 64n) - 1n, 7n],
  ] as const) {
    it(`nextU64() equals a BigInt xoshiro256** oracle (seed ${seed}, stream ${stream})`, () => {
      const r = Rng.fromSeed(seed, stream);
      const o = oracle(seed, stream);
      for (let i = 0; i < 2000; i++) assert.equal(r.nextU64(), o());
    });
  }

  it('uniform() is the top 53 bits / 2^53, in [0, 1)', () => {
    const r = Rng.fromSeed(5);
    const o = oracle(5n, 0n);
    for (let i = 0; i < 1000; i++) {
      const u = r.uniform();
      assert.equal(u, Number(o() >> 11n) / 2 ** 53);
      assert.ok(u >= 0 && u < 1);
    }
  });

  it('below(n) equals Lemire’s method on the oracle stream and stays in range', () => {
    const r = Rng.fromSeed(8, 1);
    const o = oracle(8n, 1n);
    for (const n of [1, 2, 3, 10, 1000, 2 ** 31 + 11, 2 ** 40 + 3]) {
      for (let i = 0; i < 50; i++) {
        const bn = BigInt(n);
        let m = o() * bn;
        if ((m & M) < bn) {
          const threshold = (M + 1n - bn) % bn;
          while ((m & M) < threshold) m = o() * bn;
        }
        const v = r.below(n);
        assert.equal(v, Number(m >> 64n));
        assert.ok(v >= 0 && v < n);
      }
    }
  });

  it('normal() has mean ≈ 0 and variance ≈ 1', () => {
    const r = Rng.fromSeed(1);
    let s = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    assert.ok(Math.abs(s / n) < 0.03, `mean ${s / n}`);
    assert.ok(Math.abs(s2 / n - 1) < 0.05, `var ${s2 / n}`);
  });

  it('state can be saved and restored to continue the same stream', () => {
    const r = Rng.fromSeed(9);
    for (let i = 0; i < 10; i++) r.uniform();
    const saved = r.state;
    const a = [r.uniform(), r.uniform(), r.below(17)];
    const r2 = Rng.fromState(saved);
    assert.deepEqual([r2.uniform(), r2.uniform(), r2.below(17)], a);
  });

  it('different streams of one seed differ; permutation() is a permutation', () => {
    assert.notEqual(Rng.fromSeed(3, 0).nextU64(), Rng.fromSeed(3, 1).nextU64());
    const p = Rng.fromSeed(3).permutation(100);
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      [...Array(100).keys()],
    );
    assert.notDeepEqual(Array.from(p), [...Array(100).keys()]);
  });

  it('rejects bad seeds and states', () => {
    assert.throws(() => Rng.fromSeed(-1), RangeError);
    assert.throws(() => Rng.fromSeed(1.5), RangeError);
    assert.throws(() => Rng.fromSeed(1n << 64n), RangeError);
    assert.throws(() => Rng.fromState(new Uint32Array(8)), /all zero/);
    assert.throws(() => Rng.fromSeed(0).below(0), RangeError);
  });
});

describe('util/atomic writeFileAtomic()', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = makeTemp();
  });
  afterEach(() => rmTemp(tmp));

  it('writes the whole content and leaves no temporary file', async () => {
    const f = path.join(tmp, 'sub', 'a.bin');
    await writeFileAtomic(f, Buffer.from([1, 2, 3]), { mkdir: true });
    assert.deepEqual([...fs.readFileSync(f)], [1, 2, 3]);
    await writeFileAtomic(f, 'replaced');
    assert.equal(fs.readFileSync(f, 'utf8'), 'replaced');
    assert.deepEqual(fs.readdirSync(path.dirname(f)), ['a.bin']);
  });

  it('on failure leaves the destination untouched and removes the temporary file', async () => {
    const f = path.join(tmp, 'target');
    fs.mkdirSync(f); // rename over a non-empty directory fails
    fs.writeFileSync(path.join(f, 'keep'), 'x');
    const err = await rejects(() => writeFileAtomic(f, 'data'));
    assert.ok(['EISDIR', 'ENOTEMPTY', 'EEXIST', 'EPERM'].includes(String(err.code)), String(err.code));
    assert.deepEqual(fs.readdirSync(tmp), ['target']);
    assert.throws(() => writeFileAtomicSync(f, 'data'));
    assert.deepEqual(fs.readdirSync(tmp), ['target']);
  });

  it('fails cleanly when the directory is missing', async () => {
    await rejects(() => writeFileAtomic(path.join(tmp, 'nope', 'x'), 'data'));
    assert.deepEqual(fs.readdirSync(tmp), []);
  });
});

describe('util/progress createProgress()', () => {
  function sink(isTTY: boolean): { stream: Writable & { isTTY?: boolean }; text: () => string } {
    const chunks: string[] = [];
    const stream = new Writable({
      write(c, _e, cb) {
        chunks.push(String(c));
        cb();
      },
    }) as Writable & { isTTY?: boolean };
    stream.isTTY = isTTY;
    return { stream, text: () => chunks.join('') };
  }

  it('prints plain periodic lines and a final line when not on a TTY', () => {
    const s = sink(false);
    const p = createProgress({ label: 'dl', total: 2048, unit: 'bytes', stream: s.stream, intervalMs: 0 });
    p.update(1024);
    p.increment(1024);
    p.done();
    p.done();
    const lines = s.text().trim().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], 'dl: 1.0 KiB / 2.0 KiB (50%)');
    assert.match(lines[2]!, /^dl: 2\.0 KiB \/ 2\.0 KiB \(100%\) done in \d+\.\d s$/);
    assert.ok(!s.text().includes('\u001b'), 'no escape codes in plain mode');
  });

  it('rate-limits plain lines', () => {
    const s = sink(false);
    const p = createProgress({ label: 'x', total: 100, stream: s.stream, intervalMs: 60000 });
    for (let i = 0; i < 100; i++) p.update(i);
    p.done();
    assert.equal(s.text().trim().split('\n').length, 1);
  });

  it('draws a bar (with escape codes) on a TTY', () => {
    const s = sink(true);
    const p = createProgress({ label: 'bar', total: 10, stream: s.stream, tty: true });
    p.update(5);
    p.done();
    assert.ok(s.text().includes('bar'));
    assert.ok(s.text().includes('\u001b'), 'terminal control codes expected');
  });

  it('quiet prints nothing; formatBytes is human-readable', () => {
    const s = sink(false);
    const p = createProgress({ label: 'q', total: 1, stream: s.stream, quiet: true });
    p.update(1);
    p.done();
    assert.equal(s.text(), '');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
  });
});

describe('data/tar walkTar()', () => {
  async function* chunks(buf: Buffer, size: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  }

  async function read(buf: Buffer, size: number): Promise<{ entries: TarEntry[]; data: Map<string, Buffer> }> {
    const entries: TarEntry[] = [];
    const data = new Map<string, Buffer>();
    await walkTar(chunks(buf, size), 'mem.tar', (e) => {
      entries.push(e);
      const parts: Buffer[] = [];
      return { write: (c) => void parts.push(Buffer.from(c)), end: () => void data.set(e.name, Buffer.concat(parts)) };
    });
    return { entries, data };
  }

  const big = Buffer.alloc(1300, 7);
  big[1299] = 9;
  const archive = tarArchive([
    tarEntry('dir/', Buffer.alloc(0), '5'),
    tarEntry('./dir/a.txt', Buffer.from('hello')),
    tarEntry('dir/big.bin', big),
    paxPath('dir/' + 'n'.repeat(150) + '.bin'),
    tarEntry('short', Buffer.from('long-named')),
  ]);

  for (const size of [1, 7, 512, 100000]) {
    it(`reads names, types and data across chunk boundaries (chunk ${size} B)`, async () => {
      const { entries, data } = await read(archive, size);
      assert.deepEqual(
        entries.map((e) => [e.name, e.type, e.size]),
        [
          ['dir/', 'directory', 0],
          ['dir/a.txt', 'file', 5],
          ['dir/big.bin', 'file', 1300],
          ['dir/' + 'n'.repeat(150) + '.bin', 'file', 10],
        ],
      );
      assert.equal(data.get('dir/a.txt')!.toString(), 'hello');
      assert.ok(data.get('dir/big.bin')!.equals(big));
      assert.equal(data.get('dir/' + 'n'.repeat(150) + '.bin')!.toString(), 'long-named');
    });
  }

  it('rejects a truncated archive naming the member', async () => {
    const cut = archive.subarray(0, 512 * 4 + 100);
    const err = await rejects(() => read(cut, 512));
    assert.equal(err.code, 'ERR_DATA_ARCHIVE');
    assert.match(err.message, /^mem\.tar: tar archive is truncated inside member dir\/big\.bin/);
  });

  it('rejects data that is not a tar archive (header checksum)', async () => {
    const err = await rejects(() => read(Buffer.alloc(1024, 65), 512));
    assert.equal(err.code, 'ERR_DATA_ARCHIVE');
    assert.match(err.message, /malformed tar header at byte 0/);
  });
});
