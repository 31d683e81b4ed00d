import assert from 'node:assert/strict';
import {
  applyNormalization,
  channelStats,
  type Dataset,
  type DatasetSplits,
  normalize,
  subset,
} from '../../src/data/index.js';

/** n examples of shape [3, 2, 2], channel c filled with values around 10·c with spread c + 1. */
function images(n: number, name: string, shift = 0): Dataset {
  const x = new Float32Array(n * 12);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < 4; p++) x[i * 12 + c * 4 + p] = 10 * c + (c + 1) * Math.sin(i * 1.7 + p * 0.9) + shift;
  }
  return { name, n, shape: [3, 2, 2], x, labels, numClasses: 3 };
}

describe('normalize()', () => {
  it('gives each train channel mean ≈ 0 and std ≈ 1, in place', () => {
    const splits: DatasetSplits = { train: images(50, 'tr'), test: images(20, 'te', 1) };
    const xRef = splits.train.x;
    const stats = normalize(splits);
    assert.equal(splits.train.x, xRef, 'normalised in place');
    assert.equal(stats.mean.length, 3);
    assert.ok(Math.abs(stats.mean[2]! - 20) < 1, `channel 2 mean ${stats.mean[2]}`);
    const after = channelStats(splits.train);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(after.mean[c]!) < 1e-5, `mean[${c}] = ${after.mean[c]}`);
      assert.ok(Math.abs(after.std[c]! - 1) < 1e-5, `std[${c}] = ${after.std[c]}`);
    }
  });

  it('applies the train statistics to the test split (no test statistics are used)', () => {
    const splits: DatasetSplits = { train: images(50, 'tr'), test: images(20, 'te', 1) };
    const trainStats = channelStats(splits.train);
    const before = Float32Array.from(splits.test.x);
    normalize(splits);
    for (let i = 0; i < before.length; i++) {
      const c = Math.floor((i % 12) / 4);
      const want = (before[i]! - trainStats.mean[c]!) / trainStats.std[c]!;
      assert.ok(Math.abs(splits.test.x[i]! - want) < 1e-5);
    }
    // the test split was shifted by +1, so its normalised mean is positive, not 0
    assert.ok(channelStats(splits.test).mean[0]! > 0.1);
  });

  it('treats each feature of a [d] dataset as a channel', () => {
    const x = Float32Array.from([1, 100, 3, 300, 5, 500]);
    const ds: Dataset = { name: 'v', n: 3, shape: [2], x };
    const st = channelStats(ds);
    assert.deepEqual(st.mean, [3, 300]);
    applyNormalization(ds, st);
    assert.ok(Math.abs(ds.x[0]! + Math.sqrt(1.5)) < 1e-6);
    assert.ok(Math.abs(ds.x[1]! + Math.sqrt(1.5)) < 1e-6);
  });

  it('only centres a constant channel (no NaN)', () => {
    const ds: Dataset = { name: 'c', n: 2, shape: [1, 1, 2], x: Float32Array.from([4, 4, 4, 4]) };
    applyNormalization(ds, channelStats(ds));
    assert.deepEqual(Array.from(ds.x), [0, 0, 0, 0]);
  });

  it('rejects statistics with the wrong channel count', () => {
    assert.throws(() => applyNormalization(images(2, 'a'), { mean: [0], std: [1] }), /stats must have 3 channels/);
  });
});

describe('subset()', () => {
  const ds = images(30, 'base');

  it('{ n } takes the first n examples into fresh contiguous arrays', () => {
    const s = subset(ds, { n: 7 });
    assert.equal(s.n, 7);
    assert.deepEqual(s.x, ds.x.slice(0, 7 * 12));
    assert.deepEqual(s.labels, ds.labels!.slice(0, 7));
    assert.notEqual(s.x.buffer, ds.x.buffer, 'a copy, not a view');
    assert.equal(s.x.byteOffset, 0);
    assert.equal(s.numClasses, 3);
  });

  it('{ perClass, seed } takes exactly perClass examples of each class, deterministically', () => {
    const a = subset(ds, { perClass: 4, seed: 11 });
    assert.equal(a.n, 12);
    const counts = [0, 0, 0];
    for (const l of a.labels!) counts[l]!++;
    assert.deepEqual(counts, [4, 4, 4]);
    assert.deepEqual(subset(ds, { perClass: 4, seed: 11 }).x, a.x);
    assert.notDeepEqual(subset(ds, { perClass: 4, seed: 12 }).x, a.x);
    // every selected example is a real example of the parent, with its own label
    for (let k = 0; k < a.n; k++) {
      const row = a.x.subarray(k * 12, (k + 1) * 12);
      const i = [...Array(ds.n).keys()].find((j) => ds.x.subarray(j * 12, (j + 1) * 12).every((v, p) => v === row[p]));
      assert.ok(i !== undefined);
      assert.equal(ds.labels![i], a.labels![k]);
    }
  });

  it('{ n, seed } draws n distinct examples at random, in original order', () => {
    const s = subset(ds, { n: 10, seed: 3 });
    assert.equal(s.n, 10);
    const firstValues = Array.from({ length: 10 }, (_, k) => s.x[k * 12 + 1]!);
    const parentIdx = firstValues.map((v) => [...Array(ds.n).keys()].find((j) => ds.x[j * 12 + 1] === v)!);
    assert.equal(new Set(parentIdx).size, 10);
    assert.deepEqual(
      parentIdx,
      [...parentIdx].sort((a, b) => a - b),
    );
    assert.notDeepEqual(parentIdx, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('copies targets of regression datasets', () => {
    const r: Dataset = {
      name: 'r',
      n: 3,
      shape: [1],
      x: Float32Array.from([1, 2, 3]),
      targets: Float32Array.from([10, 11, 20, 21, 30, 31]),
      targetDim: 2,
    };
    const s = subset(r, { n: 2, seed: 0 });
    for (let k = 0; k < 2; k++) assert.equal(s.targets![2 * k], 10 * s.x[k]!);
  });

  it('rejects sizes larger than available with RangeErrors naming the option', () => {
    assert.throws(() => subset(ds, { n: 31 }), /opts\.n = 31 exceeds the size of base \(30\)/);
    assert.throws(() => subset(ds, { perClass: 11, seed: 0 }), /opts\.perClass = 11 exceeds the smallest class size/);
    assert.throws(
      () => subset({ name: 'r', n: 1, shape: [1], x: new Float32Array(1) }, { perClass: 1, seed: 0 }),
      /needs a classification dataset/,
    );
  });
});
