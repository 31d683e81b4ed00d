import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEBIAN_FASHION_MNIST_DIR, loadDataset } from '../../src/data/index.js';
import { listFiles, makeTemp, rmTemp } from './fixtures.js';

describe("loadDataset('fashion-mnist') from Debian's dataset-fashion-mnist package", function () {
  this.timeout(60000);
  let tmp: string;
  before(function () {
    if (!fs.existsSync(DEBIAN_FASHION_MNIST_DIR)) {
      console.log(
        `    (skipped: ${DEBIAN_FASHION_MNIST_DIR} is absent; apt-get install dataset-fashion-mnist to run this)`,
      );
      this.skip();
    }
    tmp = makeTemp();
  });
  after(() => {
    if (tmp) rmTemp(tmp);
  });

  it('loads 60000 + 10000 images of [1,28,28] with 6000 training images per class, without downloading', async () => {
    const cache = path.join(tmp, 'empty-cache');
    // An unreachable mirror: if the loader tried to download, the call would fail.
    const s = await loadDataset('fashion-mnist', { cacheDir: cache, mirror: 'http://127.0.0.1:1/', progress: false });
    assert.equal(s.train.n, 60000);
    assert.equal(s.test.n, 10000);
    assert.deepEqual(s.train.shape, [1, 28, 28]);
    assert.deepEqual(s.test.shape, [1, 28, 28]);
    assert.equal(s.train.x.length, 60000 * 784);
    assert.equal(s.test.x.length, 10000 * 784);
    assert.equal(s.train.numClasses, 10);
    const counts = new Array<number>(10).fill(0);
    for (const l of s.train.labels!) counts[l]!++;
    assert.deepEqual(counts, new Array(10).fill(6000));
    const testCounts = new Array<number>(10).fill(0);
    for (const l of s.test.labels!) testCounts[l]!++;
    assert.deepEqual(testCounts, new Array(10).fill(1000));
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of s.train.x) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    // The well-known Fashion-MNIST training mean (0.2860) pins the byte/255 scaling and pixel order.
    assert.ok(Math.abs(sum / s.train.x.length - 0.286) < 1e-3, `mean ${sum / s.train.x.length}`);
    assert.deepEqual(listFiles(cache), []);
  });
});
