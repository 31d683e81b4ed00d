import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ChecksumError, DatasetNotFoundError, loadDataset } from '../../src/data/index.js';
import {
  cifarBatch,
  deadUrl,
  type FixtureServer,
  IDX_NAMES,
  idxSet,
  labelsFor,
  listFiles,
  makeTemp,
  md5,
  paxPath,
  rejects,
  rmTemp,
  sha256,
  startServer,
  tarArchive,
  tarEntry,
} from './fixtures.js';

/** The four gzipped MNIST-style files and their checksums (fixtures, not the real MNIST). */
function idxGzFiles(): { files: Record<string, Buffer>; checksums: Record<string, { md5?: string; sha256?: string }> } {
  const files: Record<string, Buffer> = {};
  const checksums: Record<string, { md5?: string; sha256?: string }> = {};
  for (const [name, buf] of Object.entries(idxSet(12, 7))) {
    const gz = zlib.gzipSync(buf);
    files[`${name}.gz`] = gz;
    // exercise both algorithms: md5 for images, sha256 for labels
    checksums[`${name}.gz`] = name.includes('images') ? { md5: md5(gz) } : { sha256: sha256(gz) };
  }
  return { files, checksums };
}

describe('loadDataset() download', function () {
  this.timeout(20000);
  let tmp: string;
  let server: FixtureServer | undefined;
  beforeEach(() => {
    tmp = makeTemp();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmTemp(tmp);
  });

  it('downloads, verifies and caches IDX files; a second load does not hit the server', async () => {
    const { files, checksums } = idxGzFiles();
    server = await startServer(files);
    const cache = path.join(tmp, 'cache');
    const opts = { cacheDir: cache, mirror: server.url, checksums, progress: false };
    const s = await loadDataset('mnist', opts);
    assert.equal(s.train.n, 12);
    assert.equal(s.test.n, 7);
    assert.deepEqual(Array.from(s.train.labels!), labelsFor(12));
    assert.deepEqual([...server.requests].sort(), IDX_NAMES.map((n) => `${n}.gz`).sort());
    assert.deepEqual(listFiles(cache), IDX_NAMES.map((n) => path.join('mnist', `${n}.gz`)).sort());
    for (const [name, buf] of Object.entries(files))
      assert.ok(fs.readFileSync(path.join(cache, 'mnist', name)).equals(buf));

    const again = await loadDataset('mnist', opts);
    assert.equal(server.requests.length, 4, 'the second load must come from the cache');
    assert.deepEqual(again.train.x, s.train.x);
  });

  it('uses BIGSTEP_DATA_MIRROR and BIGSTEP_DATA from the environment', async () => {
    const { files, checksums } = idxGzFiles();
    server = await startServer(files);
    const root = path.join(tmp, 'root');
    const s = await loadDataset('mnist', {
      env: { BIGSTEP_DATA: root, BIGSTEP_DATA_MIRROR: server.url.slice(0, -1) },
      checksums,
      progress: false,
    });
    assert.equal(s.train.n, 12);
    assert.equal(listFiles(path.join(root, 'mnist')).length, 4);
  });

  it('a corrupted download fails the checksum and leaves no file in the cache', async () => {
    const { files, checksums } = idxGzFiles();
    const bad = Buffer.from(files['train-labels-idx1-ubyte.gz']!);
    bad[bad.length - 3]! ^= 0x55;
    server = await startServer({ ...files, 'train-labels-idx1-ubyte.gz': bad });
    const cache = path.join(tmp, 'cache');
    const err = await rejects(() =>
      loadDataset('mnist', { cacheDir: cache, mirror: server!.url, checksums, progress: false }),
    );
    assert.ok(err instanceof ChecksumError, `${err.name}: ${err.message}`);
    const dest = path.join(cache, 'mnist', 'train-labels-idx1-ubyte.gz');
    assert.equal(err.code, 'ERR_DATA_CHECKSUM');
    assert.equal(err.file, dest);
    assert.match(err.message, /checksum mismatch/);
    assert.match(err.message, /sha256 is [0-9a-f]{64}, expected [0-9a-f]{64}/);
    assert.ok(err.message.includes(`${server.url}train-labels-idx1-ubyte.gz`));
    const left = listFiles(cache);
    assert.ok(!left.some((f) => f.includes('train-labels')), `no trace of the bad file may remain: ${left.join(', ')}`);
    assert.ok(!left.some((f) => f.includes('.tmp-')), `no temporary file may remain: ${left.join(', ')}`);
  });

  it('the published checksums are enforced by default (fixture bytes are rejected)', async () => {
    const { files } = idxGzFiles();
    server = await startServer(files);
    const cache = path.join(tmp, 'cache');
    const err = await rejects(() =>
      loadDataset('fashion-mnist', { cacheDir: cache, systemDirs: [], mirror: server!.url, progress: false }),
    );
    assert.ok(err instanceof ChecksumError, err.message);
    assert.match(err.message, /md5 is [0-9a-f]{32}, expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d/);
    assert.deepEqual(listFiles(cache), []);
  });

  it('server unreachable: DatasetNotFoundError lists missing files, every directory and how to get them', async () => {
    const url = await deadUrl();
    const dir = path.join(tmp, 'mine');
    const sys = path.join(tmp, 'usr-share');
    const cache = path.join(tmp, 'cache');
    const err = await rejects(() =>
      loadDataset('fashion-mnist', { dir, cacheDir: cache, systemDirs: [sys], mirror: url, progress: false }),
    );
    assert.ok(err instanceof DatasetNotFoundError, `${err.name}: ${err.message}`);
    assert.equal(err.code, 'ERR_DATA_NOT_FOUND');
    assert.deepEqual(
      err.missing,
      IDX_NAMES.map((n) => `${n}[.gz]`),
    );
    for (const n of IDX_NAMES) assert.ok(err.message.includes(n));
    for (const d of [dir, path.join(dir, 'fashion-mnist'), path.join(cache, 'fashion-mnist'), sys]) {
      assert.ok(err.message.includes(`  ${d}  (`), `message should list ${d}:\n${err.message}`);
    }
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(err.message.includes(`${url}train-images-idx3-ubyte.gz`));
    assert.match(err.message, /apt-get install dataset-fashion-mnist/);
    assert.match(err.message, /BIGSTEP_DATA=/);
    assert.deepEqual(listFiles(cache), []);
    assert.ok(!fs.existsSync(path.join(cache, 'fashion-mnist')), 'the empty dataset directory is removed again');
  });

  it('download: false reports the missing files without any network access', async () => {
    const err = await rejects(() => loadDataset('mnist', { cacheDir: path.join(tmp, 'c'), download: false }));
    assert.ok(err instanceof DatasetNotFoundError);
    assert.match(err.message, /Download: disabled/);
    assert.deepEqual(err.downloadErrors, []);
  });

  it('HTTP 404 is reported per URL', async () => {
    server = await startServer({});
    const err = await rejects(() =>
      loadDataset('mnist', { cacheDir: path.join(tmp, 'c'), mirror: server!.url, progress: false }),
    );
    assert.ok(err instanceof DatasetNotFoundError);
    assert.match(err.message, /train-images-idx3-ubyte\.gz: HTTP 404/);
  });

  it('a stalled download times out and leaves nothing behind', async () => {
    const { files, checksums } = idxGzFiles();
    server = await startServer(files);
    server.stall.add('train-images-idx3-ubyte.gz');
    const cache = path.join(tmp, 'cache');
    const t0 = Date.now();
    const err = await rejects(() =>
      loadDataset('mnist', { cacheDir: cache, mirror: server!.url, checksums, idleTimeoutMs: 300, progress: false }),
    );
    assert.ok(Date.now() - t0 < 5000);
    assert.ok(err instanceof DatasetNotFoundError, err.message);
    assert.match(err.message, /timed out/);
    assert.deepEqual(listFiles(cache), []);
  });

  describe('CIFAR archives', () => {
    function cifar10Archive(): Buffer {
      const sub = 'cifar-10-batches-bin';
      const entries = [tarEntry(`${sub}/`, Buffer.alloc(0), '5')];
      for (let b = 1; b <= 5; b++)
        entries.push(
          tarEntry(
            `${sub}/data_batch_${b}.bin`,
            cifarBatch(2, 1, (i) => (b + i) % 10, b),
          ),
        );
      entries.push(tarEntry(`${sub}/batches.meta.txt`, Buffer.from('airplane\nautomobile\n')));
      // the test batch is stored under a pax long-path header, as GNU/pax tars do for long names
      entries.push(paxPath(`./${sub}/test_batch.bin`));
      entries.push(
        tarEntry(
          'ignored-short-name',
          cifarBatch(3, 1, (i) => i, 77),
        ),
      );
      return zlib.gzipSync(tarArchive(entries));
    }

    it('downloads the tar.gz, verifies it, extracts the batches and removes the archive', async () => {
      const archive = cifar10Archive();
      server = await startServer({ 'cifar-10-binary.tar.gz': archive });
      const cache = path.join(tmp, 'cache');
      const opts = {
        cacheDir: cache,
        mirror: server.url,
        checksums: { 'cifar-10-binary.tar.gz': { md5: md5(archive) } },
        progress: false,
      };
      const s = await loadDataset('cifar10', opts);
      assert.equal(s.train.n, 10);
      assert.equal(s.test.n, 3);
      assert.deepEqual(Array.from(s.test.labels!), [0, 1, 2]);
      assert.deepEqual(Array.from(s.train.labels!.subarray(0, 4)), [1, 2, 2, 3]);
      assert.deepEqual(
        listFiles(cache),
        [
          'data_batch_1.bin',
          'data_batch_2.bin',
          'data_batch_3.bin',
          'data_batch_4.bin',
          'data_batch_5.bin',
          'test_batch.bin',
        ].map((f) => path.join('cifar10', 'cifar-10-batches-bin', f)),
      );
      await loadDataset('cifar10', opts);
      assert.equal(server.requests.length, 1);
    });

    it('a corrupted archive fails the checksum and leaves no file', async () => {
      const archive = cifar10Archive();
      const bad = Buffer.from(archive);
      bad[100]! ^= 1;
      server = await startServer({ 'cifar-10-binary.tar.gz': bad });
      const cache = path.join(tmp, 'cache');
      const err = await rejects(() =>
        loadDataset('cifar10', {
          cacheDir: cache,
          mirror: server!.url,
          checksums: { 'cifar-10-binary.tar.gz': { md5: md5(archive) } },
          progress: false,
        }),
      );
      assert.ok(err instanceof ChecksumError, err.message);
      assert.ok(err.message.includes(path.join(cache, 'cifar10', 'cifar-10-binary.tar.gz')));
      assert.deepEqual(listFiles(cache), []);
    });

    it('an archive that lacks a batch is rejected and nothing is extracted', async () => {
      const sub = 'cifar-100-binary';
      const archive = zlib.gzipSync(
        tarArchive([
          tarEntry(
            `${sub}/train.bin`,
            cifarBatch(2, 2, () => 1),
          ),
        ]),
      );
      server = await startServer({ 'cifar-100-binary.tar.gz': archive });
      const cache = path.join(tmp, 'cache');
      const err = await rejects(() =>
        loadDataset('cifar100', {
          cacheDir: cache,
          mirror: server!.url,
          checksums: { 'cifar-100-binary.tar.gz': { sha256: sha256(archive) } },
          progress: false,
        }),
      );
      assert.equal(err.code, 'ERR_DATA_ARCHIVE');
      assert.match(err.message, /archive does not contain cifar-100-binary\/test\.bin/);
      assert.deepEqual(listFiles(cache), []);
    });
  });
});
