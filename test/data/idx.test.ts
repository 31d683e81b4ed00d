import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DatasetFileError, loadDataset, loadIdxPair, readIdxImages, readIdxLabels } from '../../src/data/index.js';
import {
  idxImages,
  idxLabels,
  idxSet,
  labelsFor,
  listFiles,
  makeTemp,
  pixel,
  rejects,
  rmTemp,
  writeIdxSet,
} from './fixtures.js';

describe('IDX loader', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = makeTemp();
  });
  afterEach(() => rmTemp(tmp));

  for (const gz of [false, true]) {
    it(`readIdxImages() round-trips pixels as byte/255 in CHW [1,rows,cols] (${gz ? 'gzip' : 'raw'})`, async () => {
      const file = path.join(tmp, gz ? 'img.gz' : 'img');
      const raw = idxImages(5, 4, 3);
      fs.writeFileSync(file, gz ? zlib.gzipSync(raw) : raw);
      const img = await readIdxImages(file);
      assert.equal(img.n, 5);
      assert.equal(img.rows, 4);
      assert.equal(img.cols, 3);
      assert.equal(img.x.length, 5 * 12);
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 12; j++) assert.equal(img.x[i * 12 + j], Math.fround(pixel(i, j) / 255));
    });

    it(`readIdxLabels() round-trips labels as int32 (${gz ? 'gzip' : 'raw'})`, async () => {
      const file = path.join(tmp, 'lbl');
      const labels = [0, 9, 3, 3, 7];
      fs.writeFileSync(file, gz ? zlib.gzipSync(idxLabels(labels)) : idxLabels(labels));
      const got = await readIdxLabels(file);
      assert.ok(got instanceof Int32Array);
      assert.deepEqual(Array.from(got), labels);
    });
  }

  it('detects gzip by its magic bytes, not by the file name', async () => {
    const file = path.join(tmp, 'looks-raw-idx3-ubyte');
    fs.writeFileSync(file, zlib.gzipSync(idxImages(2, 2, 2)));
    const img = await readIdxImages(file);
    assert.equal(img.n, 2);
  });

  it('loadIdxPair() builds one contiguous dataset with labels and numClasses 10', async () => {
    fs.writeFileSync(path.join(tmp, 'i'), idxImages(6));
    fs.writeFileSync(path.join(tmp, 'l'), idxLabels(labelsFor(6)));
    const ds = await loadIdxPair({ images: path.join(tmp, 'i'), labels: path.join(tmp, 'l'), name: 'x/train' });
    assert.equal(ds.name, 'x/train');
    assert.equal(ds.n, 6);
    assert.deepEqual(ds.shape, [1, 28, 28]);
    assert.equal(ds.x.length, 6 * 784);
    assert.equal(ds.numClasses, 10);
    assert.deepEqual(Array.from(ds.labels!), labelsFor(6));
  });

  for (const gz of [false, true]) {
    it(`loadDataset('fashion-mnist', {dir}) loads both splits from ${gz ? '.gz' : 'raw'} files`, async () => {
      const dir = path.join(tmp, 'fm');
      writeIdxSet(dir, gz, 12, 7);
      const cache = path.join(tmp, 'cache');
      const s = await loadDataset('fashion-mnist', { dir, cacheDir: cache, systemDirs: [], download: false });
      assert.equal(s.train.name, 'fashion-mnist/train');
      assert.equal(s.test.name, 'fashion-mnist/test');
      assert.equal(s.train.n, 12);
      assert.equal(s.test.n, 7);
      assert.deepEqual(s.test.shape, [1, 28, 28]);
      assert.equal(s.test.x[783 + 784 * 6], Math.fround(pixel(6, 783) / 255));
      assert.deepEqual(Array.from(s.train.labels!), labelsFor(12));
      assert.deepEqual(listFiles(cache), []);
    });
  }

  it('loadDataset() finds files in <dir>/<name>/ and in <BIGSTEP_DATA>/<name>/', async () => {
    writeIdxSet(path.join(tmp, 'a', 'mnist'), true, 3, 2);
    const s1 = await loadDataset('mnist', { dir: path.join(tmp, 'a'), cacheDir: path.join(tmp, 'c'), download: false });
    assert.equal(s1.train.n, 3);
    writeIdxSet(path.join(tmp, 'root', 'mnist'), false, 4, 2);
    const s2 = await loadDataset('mnist', { env: { BIGSTEP_DATA: path.join(tmp, 'root') }, download: false });
    assert.equal(s2.train.n, 4);
  });

  it('loadDataset() uses the XDG cache directory when BIGSTEP_DATA is unset', async () => {
    writeIdxSet(path.join(tmp, 'xdg', 'bigstep', 'mnist'), true, 5, 2);
    const s = await loadDataset('mnist', { env: { XDG_CACHE_HOME: path.join(tmp, 'xdg') }, download: false });
    assert.equal(s.train.n, 5);
  });

  describe('bad files: a DatasetFileError naming the file and the problem, nothing cached', () => {
    type Case = {
      what: string;
      code: string;
      re: RegExp;
      file: string; // which of the four files is bad (basename on disk)
      setup: (dir: string) => void;
    };
    const set = idxSet(12, 7);
    const put = (dir: string, name: string, buf: Buffer | null): void => {
      const p = path.join(dir, name);
      fs.rmSync(p, { force: true, recursive: true });
      if (buf === null) fs.mkdirSync(p);
      else fs.writeFileSync(p, buf);
    };
    const cases: Case[] = [
      {
        what: 'wrong image magic',
        code: 'ERR_DATA_MAGIC',
        re: /bad magic number 0x00000801.*label file.*expected 0x00000803/,
        file: 'train-images-idx3-ubyte',
        setup: (d) => put(d, 'train-images-idx3-ubyte', set['train-labels-idx1-ubyte']),
      },
      {
        what: 'wrong label magic',
        code: 'ERR_DATA_MAGIC',
        re: /bad magic number 0x12345678, expected 0x00000801/,
        file: 't10k-labels-idx1-ubyte',
        setup: (d) => {
          const b = Buffer.from(set['t10k-labels-idx1-ubyte']);
          b.writeUInt32BE(0x12345678, 0);
          put(d, 't10k-labels-idx1-ubyte', b);
        },
      },
      {
        what: 'images that are not 28x28',
        code: 'ERR_DATA_DIMS',
        re: /images are 27x28, expected 28x28/,
        file: 't10k-images-idx3-ubyte',
        setup: (d) => put(d, 't10k-images-idx3-ubyte', idxImages(7, 27, 28)),
      },
      {
        what: 'zero images',
        code: 'ERR_DATA_DIMS',
        re: /0 images/,
        file: 'train-images-idx3-ubyte',
        setup: (d) => put(d, 'train-images-idx3-ubyte', idxImages(0)),
      },
      {
        what: 'truncated images',
        code: 'ERR_DATA_TRUNCATED',
        re: /truncated.*dims \[12, 28, 28\] = 9424 bytes, file has 9423/,
        file: 'train-images-idx3-ubyte',
        setup: (d) => put(d, 'train-images-idx3-ubyte', set['train-images-idx3-ubyte'].subarray(0, -1)),
      },
      {
        what: 'a header cut short',
        code: 'ERR_DATA_TRUNCATED',
        re: /shorter than the 16-byte IDX image header/,
        file: 'train-images-idx3-ubyte',
        setup: (d) => put(d, 'train-images-idx3-ubyte', set['train-images-idx3-ubyte'].subarray(0, 9)),
      },
      {
        what: 'trailing bytes',
        code: 'ERR_DATA_TOO_LONG',
        re: /too long.*3 trailing bytes/,
        file: 'train-labels-idx1-ubyte',
        setup: (d) =>
          put(d, 'train-labels-idx1-ubyte', Buffer.concat([set['train-labels-idx1-ubyte'], Buffer.from([1, 2, 3])])),
      },
      {
        what: 'images/labels count mismatch',
        code: 'ERR_DATA_COUNT_MISMATCH',
        re: /holds 12 images but the label file .*train-labels-idx1-ubyte holds 11 labels/,
        file: 'train-images-idx3-ubyte',
        setup: (d) => put(d, 'train-labels-idx1-ubyte', idxLabels(labelsFor(11))),
      },
      {
        what: 'a label >= 10',
        code: 'ERR_DATA_LABEL_RANGE',
        re: /label 10 at index 4 is out of range: expected 0\.\.9/,
        file: 't10k-labels-idx1-ubyte',
        setup: (d) => {
          const l = labelsFor(7);
          l[4] = 10;
          put(d, 't10k-labels-idx1-ubyte', idxLabels(l));
        },
      },
      {
        what: 'a directory instead of a file',
        code: 'ERR_DATA_NOT_A_FILE',
        re: /is a directory, expected a data file/,
        file: 't10k-images-idx3-ubyte',
        setup: (d) => put(d, 't10k-images-idx3-ubyte', null),
      },
      {
        what: 'an empty file',
        code: 'ERR_DATA_EMPTY',
        re: /file is empty \(0 bytes\)/,
        file: 'train-labels-idx1-ubyte',
        setup: (d) => put(d, 'train-labels-idx1-ubyte', Buffer.alloc(0)),
      },
      {
        what: 'corrupt gzip',
        code: 'ERR_DATA_GZIP',
        re: /corrupt or truncated gzip data/,
        file: 'train-images-idx3-ubyte.gz',
        setup: (d) => {
          fs.rmSync(path.join(d, 'train-images-idx3-ubyte'));
          const gz = zlib.gzipSync(set['train-images-idx3-ubyte']);
          put(d, 'train-images-idx3-ubyte.gz', gz.subarray(0, gz.length >> 1));
        },
      },
      {
        what: 'gzip with a bad CRC',
        code: 'ERR_DATA_GZIP',
        re: /corrupt or truncated gzip data/,
        file: 't10k-labels-idx1-ubyte.gz',
        setup: (d) => {
          fs.rmSync(path.join(d, 't10k-labels-idx1-ubyte'));
          const gz = Buffer.from(zlib.gzipSync(set['t10k-labels-idx1-ubyte']));
          gz[gz.length - 6]! ^= 0xff; // inside the CRC32 trailer
          put(d, 't10k-labels-idx1-ubyte.gz', gz);
        },
      },
    ];
    for (const c of cases) {
      it(`rejects ${c.what} with ${c.code}`, async () => {
        const dir = path.join(tmp, 'data');
        writeIdxSet(dir, false, 12, 7);
        c.setup(dir);
        const cache = path.join(tmp, 'cache');
        const bad = path.join(dir, c.file);
        const err = await rejects(() =>
          loadDataset('fashion-mnist', {
            dir,
            cacheDir: cache,
            systemDirs: [],
            mirror: 'http://127.0.0.1:1/',
            progress: false,
          }),
        );
        assert.ok(err instanceof DatasetFileError, `expected DatasetFileError, got ${err.name}: ${err.message}`);
        assert.ok(err instanceof Error);
        assert.equal(err.code, c.code);
        assert.equal(err.file, bad);
        assert.ok(err.message.includes(bad), `message should name ${bad}: ${err.message}`);
        assert.match(err.message, c.re);
        assert.deepEqual(listFiles(cache), [], 'nothing may be written to the cache');
      });
    }
  });
});
