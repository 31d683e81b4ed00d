import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SOURCES, loadDataset, locateDataset } from '../../src/data/index.js';
import { listFiles, makeTemp, rmTemp, writeIdxSet } from './fixtures.js';

describe('locateDataset()', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = makeTemp();
  });
  afterEach(() => rmTemp(tmp));
  // A private environment: the data root is tmp/root, Debian's directory is not searched.
  const env = (): Record<string, string> => ({ BIGSTEP_DATA: path.join(tmp, 'root'), HOME: tmp });

  it('finds a set in the data root ($BIGSTEP_DATA/<name>/) and names where that directory comes from', () => {
    writeIdxSet(path.join(tmp, 'root', 'mnist'), true);
    const l = locateDataset('mnist', { env: env(), systemDirs: [] });
    assert.equal(l.dir, path.join(tmp, 'root', 'mnist'));
    assert.equal(l.source, 'BIGSTEP_DATA');
    assert.equal(l.howTo, null);
    assert.deepEqual(
      l.searched.map((s) => s.missing),
      [[]],
    );
  });

  it('the directory it names is the one loadDataset reads (same search order: option dir before the data root)', async () => {
    writeIdxSet(path.join(tmp, 'root', 'mnist'), true, 12, 7);
    writeIdxSet(path.join(tmp, 'mine'), false, 5, 3);
    const opts = { env: env(), systemDirs: [], dir: path.join(tmp, 'mine') };
    const l = locateDataset('mnist', opts);
    assert.equal(l.dir, path.join(tmp, 'mine'));
    assert.equal(l.source, 'option dir');
    const s = await loadDataset('mnist', { ...opts, download: false });
    assert.equal(s.train.n, 5); // the 5-example set in tmp/mine, not the 12-example one in the root
  });

  it('a directory with some of the files is not a hit; the missing ones are listed for it', () => {
    writeIdxSet(path.join(tmp, 'root', 'fashion-mnist'), true);
    fs.rmSync(path.join(tmp, 'root', 'fashion-mnist', 't10k-labels-idx1-ubyte.gz'));
    const l = locateDataset('fashion-mnist', { env: env(), systemDirs: [] });
    assert.equal(l.dir, null);
    assert.equal(l.source, null);
    assert.deepEqual(l.searched, [
      {
        dir: path.join(tmp, 'root', 'fashion-mnist'),
        source: 'BIGSTEP_DATA',
        missing: ['t10k-labels-idx1-ubyte[.gz]'],
        exists: true,
      },
    ]);
    assert.equal(l.howTo, SOURCES['fashion-mnist'].howTo[0]);
    assert.match(l.howTo!, /apt-get install dataset-fashion-mnist/);
  });

  it('searches system directories after the data root, and CIFAR archives one level down', () => {
    const sys = path.join(tmp, 'system');
    fs.mkdirSync(path.join(sys, 'cifar-10-batches-bin'), { recursive: true });
    for (const f of [...(SOURCES.cifar10 as { train: string[]; test: string[] }).train, 'test_batch.bin'])
      fs.writeFileSync(path.join(sys, 'cifar-10-batches-bin', f), '');
    const l = locateDataset('cifar10', { env: env(), systemDirs: [sys] });
    assert.equal(l.dir, path.join(sys, 'cifar-10-batches-bin'));
    assert.equal(l.source, 'option systemDirs');
    assert.deepEqual(
      l.searched.map((s) => s.dir),
      [
        path.join(tmp, 'root', 'cifar10'),
        path.join(tmp, 'root', 'cifar10', 'cifar-10-batches-bin'),
        sys,
        path.join(sys, 'cifar-10-batches-bin'),
      ],
    );
  });

  it('reads and writes nothing (no download, no directory created)', () => {
    const l = locateDataset('cifar100', { env: env(), systemDirs: [] });
    assert.equal(l.dir, null);
    assert.ok(l.searched.every((s) => !s.exists));
    assert.deepEqual(listFiles(tmp), []);
    assert.equal(fs.existsSync(path.join(tmp, 'root')), false);
  });

  it('rejects an unknown name with a RangeError naming the choices', () => {
    assert.throws(
      () => locateDataset('imagenet' as 'mnist'),
      (e: Error) =>
        e instanceof RangeError && /name must be one of mnist, fashion-mnist, cifar10, cifar100/.test(e.message),
    );
  });
});
