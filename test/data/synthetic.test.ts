import assert from 'node:assert/strict';
import {
  gaussianMixture,
  linearlySeparable,
  synthetic,
  type SyntheticSpec,
  teacherClassification,
  teacherRegression,
  twoSpirals,
} from '../../src/data/index.js';
import type { DatasetSplits } from '../../src/data/index.js';

const specs: SyntheticSpec[] = [
  { kind: 'gaussian-mixture', k: 4, d: 5, nTrain: 40, nTest: 12, seed: 1 },
  { kind: 'two-spirals', nTrain: 30, nTest: 10, seed: 1 },
  { kind: 'teacher-regression', d: 6, hidden: 8, targetDim: 2, noise: 0.1, nTrain: 25, nTest: 5, seed: 1 },
  { kind: 'teacher-classification', d: 6, numClasses: 3, nTrain: 25, nTest: 5, seed: 1 },
  { kind: 'linearly-separable', d: 3, margin: 0.2, nTrain: 30, nTest: 8, seed: 1 },
];

function sameSplits(a: DatasetSplits, b: DatasetSplits): boolean {
  const eq = (u?: ArrayLike<number>, v?: ArrayLike<number>): boolean =>
    u === undefined
      ? v === undefined
      : v !== undefined &&
        u.length === v.length &&
        Array.prototype.every.call(u, (x: number, i: number) => Object.is(x, v[i]));
  return (['train', 'test'] as const).every(
    (s) => eq(a[s].x, b[s].x) && eq(a[s].labels, b[s].labels) && eq(a[s].targets, b[s].targets),
  );
}

describe('synthetic datasets', () => {
  for (const spec of specs) {
    describe(`synthetic({ kind: '${spec.kind}' })`, () => {
      it('is identical for the same seed', () => {
        assert.ok(sameSplits(synthetic(spec), synthetic({ ...spec })));
      });

      it('differs for a different seed', () => {
        assert.ok(!sameSplits(synthetic(spec), synthetic({ ...spec, seed: 2 })));
      });

      it('has the declared shapes, sizes and label / target ranges', () => {
        const s = synthetic(spec);
        for (const [split, n] of [
          ['train', spec.nTrain],
          ['test', spec.nTest],
        ] as const) {
          const ds = s[split];
          assert.equal(ds.n, n);
          assert.equal(ds.name, `synthetic/${spec.kind}/${split}`);
          const d = ds.shape[0]!;
          assert.equal(ds.shape.length, 1);
          assert.equal(ds.x.length, n * d);
          assert.ok(ds.x.every(Number.isFinite));
          if (spec.kind === 'teacher-regression') {
            assert.equal(ds.targetDim, 2);
            assert.equal(ds.targets!.length, n * 2);
            assert.equal(ds.labels, undefined);
          } else {
            assert.equal(ds.labels!.length, n);
            assert.ok(
              ds.labels!.every((l) => l >= 0 && l < ds.numClasses!),
              `labels in [0, ${ds.numClasses})`,
            );
          }
        }
        assert.deepEqual(s.train.shape, s.test.shape);
      });

      it('train and test differ (separate streams of one generator)', () => {
        const s = synthetic(spec);
        assert.notDeepEqual(Array.from(s.train.x.subarray(0, 4)), Array.from(s.test.x.subarray(0, 4)));
      });
    });
  }

  it('changing nTest does not change the train split', () => {
    const a = gaussianMixture({ k: 3, d: 4, nTrain: 20, nTest: 5, seed: 9 });
    const b = gaussianMixture({ k: 3, d: 4, nTrain: 20, nTest: 50, seed: 9 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.train.labels, b.train.labels);
  });

  it('gaussianMixture() is balanced and its classes are centred on distinct means', () => {
    const s = gaussianMixture({ k: 4, d: 8, nTrain: 400, nTest: 0, seed: 3, separation: 6, noise: 0.5 });
    const counts = [0, 0, 0, 0];
    for (const l of s.train.labels!) counts[l]!++;
    assert.deepEqual(counts, [100, 100, 100, 100]);
    // nearest-class-mean classification of the training points is near perfect at this separation
    const means = Array.from({ length: 4 }, () => new Float64Array(8));
    for (let i = 0; i < 400; i++)
      for (let j = 0; j < 8; j++) means[s.train.labels![i]!]![j]! += s.train.x[i * 8 + j]! / 100;
    let correct = 0;
    for (let i = 0; i < 400; i++) {
      let best = -1;
      let bestD = Infinity;
      for (let c = 0; c < 4; c++) {
        let dist = 0;
        for (let j = 0; j < 8; j++) dist += (s.train.x[i * 8 + j]! - means[c]![j]!) ** 2;
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
      if (best === s.train.labels![i]) correct++;
    }
    assert.ok(correct >= 390, `${correct}/400`);
  });

  it('twoSpirals() puts points within radius ~1 with balanced classes', () => {
    const s = twoSpirals({ nTrain: 200, nTest: 0, seed: 4, noise: 0 });
    for (let i = 0; i < 200; i++) assert.ok(Math.hypot(s.train.x[2 * i]!, s.train.x[2 * i + 1]!) <= 1 + 1e-6);
    assert.equal(
      s.train.labels!.reduce((a, b) => a + b, 0),
      100,
    );
  });

  it('linearlySeparable() keeps the margin: a perceptron separates the training set perfectly', () => {
    const d = 5;
    const s = linearlySeparable({ d, nTrain: 300, nTest: 0, seed: 5, margin: 0.3 });
    const w = new Float64Array(d);
    let errors = 1;
    for (let epoch = 0; epoch < 1000 && errors > 0; epoch++) {
      errors = 0;
      for (let i = 0; i < 300; i++) {
        const y = s.train.labels![i] === 1 ? 1 : -1;
        let dot = 0;
        for (let j = 0; j < d; j++) dot += w[j]! * s.train.x[i * d + j]!;
        if (y * dot <= 0) {
          errors++;
          for (let j = 0; j < d; j++) w[j]! += y * s.train.x[i * d + j]!;
        }
      }
    }
    assert.equal(errors, 0);
  });

  it('teacherRegression() with noise 0 is a deterministic function of x (same teacher for train and test)', () => {
    const a = teacherRegression({ d: 3, nTrain: 10, nTest: 10, seed: 6 });
    const b = teacherRegression({ d: 3, nTrain: 10, nTest: 10, seed: 6, noise: 0.5 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.notDeepEqual(a.train.targets, b.train.targets);
    assert.equal(a.train.targetDim, 1);
  });

  it('teacherClassification() uses more than one class', () => {
    const s = teacherClassification({ d: 10, numClasses: 4, nTrain: 500, nTest: 0, seed: 7 });
    assert.ok(new Set(s.train.labels!).size >= 3);
  });

  it('rejects bad parameters with parameter-named RangeErrors', () => {
    assert.throws(() => gaussianMixture({ k: 1, d: 2, nTrain: 1, nTest: 1, seed: 0 }), /opts\.k must be >= 2/);
    assert.throws(
      () => gaussianMixture({ k: 2, d: 0, nTrain: 1, nTest: 1, seed: 0 }),
      /opts\.d must be a positive integer/,
    );
    assert.throws(() => twoSpirals({ nTrain: -1, nTest: 1, seed: 0 }), /opts\.nTrain must be a non-negative integer/);
    assert.throws(() => twoSpirals({ nTrain: 1, nTest: 1, seed: -3 }), /seed must be a non-negative safe integer/);
    assert.throws(
      () => linearlySeparable({ d: 2, nTrain: 1, nTest: 1, seed: 0, margin: 5 }),
      /opts\.margin must be <= 2/,
    );
    assert.throws(() => synthetic({ kind: 'nope' } as unknown as SyntheticSpec), /spec\.kind must be one of/);
  });
});
