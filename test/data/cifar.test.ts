import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  CIFAR10_FORMAT,
  CIFAR100_COARSE_FORMAT,
  DatasetFileError,
  DatasetNotFoundError,
  loadCifarBatches,
  loadDataset,
  parseCifarBatch,
} from '../../src/data/index.js';
import { cifarBatch, listFiles, makeTemp, pixel, rejects, rmTemp } from './fixtures.js';

const C10_TRAIN = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];

/** Writes a CIFAR-10 layout: batch b has 3 + b records with label (b + i) % 10, pixels seeded by 100·b. */
function writeCifar10(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  C10_TRAIN.forEach((f, b) =>
    fs.writeFileSync(
      path.join(dir, f),
      cifarBatch(3 + b, 1, (i) => (b + i) % 10, 100 * b),
    ),
  );
  fs.writeFileSync(
    path.join(dir, 'test_batch.bin'),
    cifarBatch(4, 1, (i) => 9 - i, 1000),
  );
}

function writeCifar100(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'train.bin'),
    cifarBatch(6, 2, (i, k) => (k === 0 ? i % 20 : 90 + i), 0),
  );
  fs.writeFileSync(
    path.join(dir, 'test.bin'),
    cifarBatch(3, 2, (i, k) => (k === 0 ? 19 - i : i), 500),
  );
}

describe('CIFAR loader', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = makeTemp();
  });
  afterEach(() => rmTemp(tmp));

  it('parseCifarBatch() decodes 1-label-byte records into [3,32,32] float32 in [0,1]', () => {
    const buf = cifarBatch(3, 1, (i) => i + 4);
    const b = parseCifarBatch(buf, 'mem', CIFAR10_FORMAT);
    assert.equal(b.n, 3);
    assert.deepEqual(Array.from(b.labels), [4, 5, 6]);
    for (const j of [0, 1023, 1024, 2047, 2048, 3071]) assert.equal(b.x[2 * 3072 + j], Math.fround(pixel(2, j) / 255));
  });

  it('loadCifarBatches() concatenates gzipped and raw batches into one contiguous array', async () => {
    const a = path.join(tmp, 'a.bin');
    const bgz = path.join(tmp, 'b.bin.gz');
    fs.writeFileSync(
      a,
      cifarBatch(2, 1, () => 1, 0),
    );
    fs.writeFileSync(bgz, zlib.gzipSync(cifarBatch(3, 1, () => 2, 50)));
    const ds = await loadCifarBatches([a, bgz], CIFAR10_FORMAT, 't');
    assert.equal(ds.n, 5);
    assert.equal(ds.x.length, 5 * 3072);
    assert.deepEqual(Array.from(ds.labels!), [1, 1, 2, 2, 2]);
    assert.equal(ds.x[2 * 3072 + 17], Math.fround(pixel(50, 17) / 255));
  });

  it("loadDataset('cifar10') reads data_batch_1..5 + test_batch from <dir>/cifar-10-batches-bin", async () => {
    writeCifar10(path.join(tmp, 'd', 'cifar-10-batches-bin'));
    const s = await loadDataset('cifar10', {
      dir: path.join(tmp, 'd'),
      cacheDir: path.join(tmp, 'c'),
      download: false,
    });
    assert.equal(s.train.n, 3 + 4 + 5 + 6 + 7);
    assert.equal(s.test.n, 4);
    assert.deepEqual(s.train.shape, [3, 32, 32]);
    assert.equal(s.train.numClasses, 10);
    // first record of data_batch_3 (b = 2, index 3+4 = 7): label (2+0)%10, pixels seeded 200
    assert.equal(s.train.labels![7], 2);
    assert.equal(s.train.x[7 * 3072 + 3000], Math.fround(pixel(200, 3000) / 255));
    assert.equal(s.train.labels![s.train.n - 1], (4 + 6) % 10);
    assert.deepEqual(Array.from(s.test.labels!), [9, 8, 7, 6]);
  });

  it("loadDataset('cifar100') uses fine labels by default and coarse ones on request", async () => {
    writeCifar100(path.join(tmp, 'd'));
    const opts = { dir: path.join(tmp, 'd'), cacheDir: path.join(tmp, 'c'), download: false };
    const fine = await loadDataset('cifar100', opts);
    assert.equal(fine.train.numClasses, 100);
    assert.deepEqual(Array.from(fine.train.labels!), [90, 91, 92, 93, 94, 95]);
    assert.equal(fine.test.x[2 * 3072 + 5], Math.fround(pixel(502, 5) / 255));
    const coarse = await loadDataset('cifar100', { ...opts, label: 'coarse' });
    assert.equal(coarse.train.numClasses, 20);
    assert.deepEqual(Array.from(coarse.test.labels!), [19, 18, 17]);
  });

  describe('bad files: a DatasetFileError naming the file and the problem, nothing cached', () => {
    const cases: {
      what: string;
      code: string;
      re: RegExp;
      file: string;
      name: 'cifar10' | 'cifar100';
      label?: 'coarse';
      setup: (d: string) => void;
    }[] = [
      {
        what: 'a size that is not a multiple of 3073',
        code: 'ERR_DATA_RECORD_SIZE',
        name: 'cifar10',
        file: 'data_batch_2.bin',
        re: /file size 12293 bytes is not a multiple of the 3073-byte CIFAR record.*4 whole records and 1 extra bytes/,
        setup: (d) => fs.appendFileSync(path.join(d, 'data_batch_2.bin'), Buffer.from([7])),
      },
      {
        what: 'a file shorter than one record',
        code: 'ERR_DATA_TRUNCATED',
        name: 'cifar10',
        file: 'test_batch.bin',
        re: /file size 100 bytes is not a multiple of the 3073-byte CIFAR record/,
        setup: (d) => fs.writeFileSync(path.join(d, 'test_batch.bin'), Buffer.alloc(100)),
      },
      {
        what: 'a CIFAR-10 label >= 10',
        code: 'ERR_DATA_LABEL_RANGE',
        name: 'cifar10',
        file: 'data_batch_4.bin',
        re: /label 10 in record 1 \(byte offset 3073\) is out of range: expected 0\.\.9/,
        setup: (d) =>
          fs.writeFileSync(
            path.join(d, 'data_batch_4.bin'),
            cifarBatch(3, 1, (i) => (i === 1 ? 10 : 0)),
          ),
      },
      {
        what: 'a CIFAR-100 fine label >= 100',
        code: 'ERR_DATA_LABEL_RANGE',
        name: 'cifar100',
        file: 'train.bin',
        re: /fine label 100 in record 2 .* out of range: expected 0\.\.99/,
        setup: (d) =>
          fs.writeFileSync(
            path.join(d, 'train.bin'),
            cifarBatch(3, 2, (i, k) => (k === 1 && i === 2 ? 100 : 0)),
          ),
      },
      {
        what: 'a CIFAR-100 coarse label >= 20',
        code: 'ERR_DATA_LABEL_RANGE',
        name: 'cifar100',
        label: 'coarse',
        file: 'test.bin',
        re: /coarse label 20 in record 0 .* out of range: expected 0\.\.19/,
        setup: (d) =>
          fs.writeFileSync(
            path.join(d, 'test.bin'),
            cifarBatch(1, 2, (_i, k) => (k === 0 ? 20 : 5)),
          ),
      },
      {
        what: 'a directory instead of a file',
        code: 'ERR_DATA_NOT_A_FILE',
        name: 'cifar10',
        file: 'data_batch_5.bin',
        re: /is a directory/,
        setup: (d) => {
          fs.rmSync(path.join(d, 'data_batch_5.bin'));
          fs.mkdirSync(path.join(d, 'data_batch_5.bin'));
        },
      },
      {
        what: 'an empty file',
        code: 'ERR_DATA_EMPTY',
        name: 'cifar100',
        file: 'test.bin',
        re: /file is empty/,
        setup: (d) => fs.writeFileSync(path.join(d, 'test.bin'), Buffer.alloc(0)),
      },
      {
        what: 'a corrupt gzip file',
        code: 'ERR_DATA_GZIP',
        name: 'cifar10',
        file: 'data_batch_1.bin',
        re: /corrupt or truncated gzip data/,
        setup: (d) =>
          fs.writeFileSync(path.join(d, 'data_batch_1.bin'), zlib.gzipSync(cifarBatch(2, 1, () => 0)).subarray(0, 40)),
      },
    ];
    for (const c of cases) {
      it(`${c.name}: rejects ${c.what} with ${c.code}`, async () => {
        const dir = path.join(tmp, 'd');
        if (c.name === 'cifar10') writeCifar10(dir);
        else writeCifar100(dir);
        c.setup(dir);
        const cache = path.join(tmp, 'cache');
        const err = await rejects(() =>
          loadDataset(c.name, { dir, cacheDir: cache, label: c.label, mirror: 'http://127.0.0.1:1/', progress: false }),
        );
        assert.ok(err instanceof DatasetFileError, `expected DatasetFileError, got ${err.name}: ${err.message}`);
        const bad = path.join(dir, c.file);
        assert.equal(err.code, c.code);
        assert.equal(err.file, bad);
        assert.ok(err.message.startsWith(`${bad}: `), err.message);
        assert.match(err.message, c.re);
        assert.deepEqual(listFiles(cache), []);
      });
    }

    it('a missing batch gives DatasetNotFoundError naming it and every directory looked in', async () => {
      const dir = path.join(tmp, 'd');
      writeCifar10(dir);
      fs.rmSync(path.join(dir, 'data_batch_3.bin'));
      const cache = path.join(tmp, 'cache');
      const err = await rejects(() => loadDataset('cifar10', { dir, cacheDir: cache, download: false }));
      assert.ok(err instanceof DatasetNotFoundError, err.message);
      assert.deepEqual(err.missing, ['data_batch_3.bin']);
      assert.match(
        err.message,
        new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  \\(option dir\\): missing data_batch_3\\.bin`),
      );
      for (const d of [
        dir,
        path.join(dir, 'cifar-10-batches-bin'),
        path.join(cache, 'cifar10'),
        path.join(cache, 'cifar10', 'cifar-10-batches-bin'),
      ]) {
        assert.ok(err.message.includes(d), `message should list ${d}:\n${err.message}`);
      }
      assert.match(err.message, /cifar-10-binary\.tar\.gz/);
      assert.match(err.message, /BIGSTEP_DATA/);
      assert.deepEqual(listFiles(cache), []);
    });
  });

  it('CIFAR100_COARSE_FORMAT reads the first label byte', () => {
    const b = parseCifarBatch(
      cifarBatch(2, 2, (i, k) => (k === 0 ? 7 + i : 50)),
      'mem',
      CIFAR100_COARSE_FORMAT,
    );
    assert.deepEqual(Array.from(b.labels), [7, 8]);
  });
});
