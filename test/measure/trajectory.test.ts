import { expect } from 'chai';

import { Model, Trainer, mlp, sgd } from '../../src/index.js';
import {
  distance,
  filterNormalizedDirection,
  interpolationLosses,
  lossSurface,
  projectTrajectory,
} from '../../src/measure/trajectory.js';
import { Rng } from '../../src/util/random.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';
import { knownQuadratic, randomOrthogonal, testSpectrum } from './quadratic.js';
import { expectClose } from '../support/close.js';

describe('distance()', () => {
  it('is ‖a − b‖₂ in double', () => {
    expect(distance(new Float32Array([1, 2, 3]), new Float32Array([4, 6, 3]))).to.equal(5);
    const big = new Float32Array(1000).fill(1e-3);
    expect(distance(big, new Float32Array(1000))).to.be.closeTo(Math.sqrt(1000) * Math.fround(1e-3), 1e-12);
  });

  it('names the mismatching argument', () => {
    expect(() => distance(new Float32Array(2), new Float32Array(3))).to.throw(RangeError, /\bb must have length 2/);
    expect(() => distance([1] as unknown as Float32Array, new Float32Array(1))).to.throw(
      TypeError,
      /\ba must be a Float32Array/,
    );
  });
});

describe('interpolationLosses()', () => {
  const quad = knownQuadratic(testSpectrum(12), 5);

  it('on a quadratic: L(α) = chord − ½α(1−α)(a−b)ᵀH(a−b), barrier 0, params restored bitwise', () => {
    const model = new Model(quad.spec, { seed: 1 });
    const before = model.params.slice();
    const rng = Rng.fromSeed(1, 0);
    const a = Float32Array.from({ length: quad.d }, () => rng.normal());
    const b = Float32Array.from({ length: quad.d }, () => rng.normal());
    const r = interpolationLosses(model, a, b, quad.data, { points: 11, batchSize: 5 });
    expect(bitwiseEqual(model.params, before)).to.equal(true);
    expect(r.alpha).to.have.length(11);
    const diff = Array.from(a, (v, i) => v - b[i]);
    const curvature = quad.hv(diff).reduce((s, v, i) => s + v * diff[i], 0);
    const [la, lb] = [quad.loss(a), quad.loss(b)];
    r.alpha.forEach((t, k) => {
      const expected = (1 - t) * la + t * lb - 0.5 * t * (1 - t) * curvature;
      expect(r.loss[k], `α = ${t}`).to.be.closeTo(expected, 1e-4 * (1 + Math.abs(expected)));
    });
    expect(r.barrier).to.be.closeTo(0, 1e-4 * la);
  });

  it('finds a positive barrier between a network and its hidden-unit permutation (same loss at both ends)', () => {
    const data = separableBlobs(90, 4, 3, 2);
    const model = new Model(mlp({ input: 4, hidden: [6], outputs: 3, activation: 'tanh' }), { seed: 3 });
    const trainer = new Trainer(model, { data, optimizer: sgd({ lr: 0.3 }) });
    for (let i = 0; i < 200; i++) trainer.step();
    const a = model.params.slice();
    // Reverse the hidden units: rows of W0 and b0, columns of W2.
    const b = a.slice();
    const [W0, b0, W2] = ['0.weight', '0.bias', '2.weight'].map((n) => model.layout.params.find((e) => e.name === n)!);
    for (let h = 0; h < 6; h++) {
      const g = 5 - h;
      for (let i = 0; i < 4; i++) b[W0.offset + h * 4 + i] = a[W0.offset + g * 4 + i];
      b[b0.offset + h] = a[b0.offset + g];
      for (let o = 0; o < 3; o++) b[W2.offset + o * 6 + h] = a[W2.offset + o * 6 + g];
    }
    const r = interpolationLosses(model, a, b, data);
    expect(r.loss[0]).to.be.closeTo(r.loss[r.loss.length - 1], 1e-5);
    const manual = Math.max(
      ...r.loss.map((l, k) => l - ((1 - r.alpha[k]) * r.loss[0] + r.alpha[k] * r.loss[r.loss.length - 1])),
    );
    expect(r.barrier).to.equal(manual);
    expect(r.barrier).to.be.greaterThan(0.05);
    expect(r.accuracy.every((x) => x >= 0 && x <= 1)).to.equal(true);
  });
});

describe('projectTrajectory()', () => {
  const d = 30;
  const rng = Rng.fromSeed(2, 0);
  const basis = randomOrthogonal(d, rng);
  const e1 = basis.subarray(0, d);
  const e2 = basis.subarray(d, 2 * d);
  const center = Float32Array.from({ length: d }, () => rng.normal());
  // A planar spiral around `center` with more spread along e1 than along e2.
  const T = 25;
  const path = Array.from({ length: T }, (_, t) => [
    3 * Math.cos(t / 4) * (1 - t / T),
    1 * Math.sin(t / 4) * (1 - t / T),
  ]);
  const snaps = path.map(([p, q]) => Float32Array.from({ length: d }, (_, i) => center[i] + p * e1[i] + q * e2[i]));

  it("'pca' recovers the plane of a planar trajectory: in-plane unit directions, distances kept, ~all variance explained", () => {
    const r = projectTrajectory(snaps, { directions: 'pca', center });
    for (const dir of [r.d1, r.d2]) {
      const a = dir.reduce((s, v, i) => s + v * e1[i], 0);
      const b = dir.reduce((s, v, i) => s + v * e2[i], 0);
      expect(Math.hypot(a, b)).to.be.closeTo(1, 1e-5); // lies in span(e1, e2)
    }
    // The PCs are a rotation of (e1, e2) within the plane: distances to the centre are kept.
    expectClose(
      r.coords.map(([x, y]) => Math.hypot(x, y)),
      path.map(([x, y]) => Math.hypot(x, y)),
      { abs: 1e-4 },
      'distance to the centre',
    );
    expect(r.explained![0] + r.explained![1]).to.be.closeTo(1, 1e-6);
    expect(r.explained![0]).to.be.greaterThan(r.explained![1]);
    expect(Math.hypot(...r.d1)).to.be.closeTo(1, 1e-6);
    expect(Math.abs(r.d1.reduce((s, v, i) => s + v * r.d2[i], 0))).to.be.lessThan(1e-6);
  });

  it('centres on the last snapshot by default (its coordinates are (0, 0))', () => {
    const r = projectTrajectory(snaps, { directions: 'pca' });
    expect(r.coords[T - 1][0]).to.equal(0);
    expect(r.coords[T - 1][1]).to.equal(0);
  });

  it("'random' gives seeded orthonormal directions and the projections onto them", () => {
    const r = projectTrajectory(snaps, { directions: 'random', seed: 7, center });
    const again = projectTrajectory(snaps, { directions: 'random', seed: 7, center });
    expect(bitwiseEqual(r.d1, again.d1)).to.equal(true);
    expect(Math.hypot(...r.d2)).to.be.closeTo(1, 1e-6);
    expect(Math.abs(r.d1.reduce((s, v, i) => s + v * r.d2[i], 0))).to.be.lessThan(1e-6);
    const t = 3;
    const x = snaps[t].reduce((s, v, i) => s + (v - center[i]) * r.d1[i], 0);
    expect(r.coords[t][0]).to.be.closeTo(x, 1e-5);
  });

  it('names bad options', () => {
    expect(() => projectTrajectory(snaps, { directions: 'tsne' as never })).to.throw(RangeError, /options\.directions/);
    expect(() => projectTrajectory([snaps[0], new Float32Array(3)], { directions: 'random' })).to.throw(
      RangeError,
      /snapshots\[1\]/,
    );
    expect(() => projectTrajectory(snaps.slice(0, 2), { directions: 'pca' })).to.throw(RangeError, /at least 3/);
  });
});

describe('lossSurface()', () => {
  it('on a quadratic equals ½(θ − w*)ᵀH(θ − w*) on the grid, rows per y; params restored bitwise', () => {
    const quad = knownQuadratic(testSpectrum(10), 4);
    const model = new Model(quad.spec, { seed: 1 });
    const before = model.params.slice();
    const center = Float32Array.from(quad.wStar);
    const d1 = Float32Array.from(quad.q.subarray(0, quad.d));
    const d2 = Float32Array.from(quad.q.subarray(quad.d, 2 * quad.d));
    const r = lossSurface(model, center, d1, d2, quad.data, { range: [-1, 1, -2, 2], resolution: 5 });
    expect(bitwiseEqual(model.params, before)).to.equal(true);
    expect(r.x).to.deep.equal([-1, -0.5, 0, 0.5, 1]);
    expect(r.y).to.deep.equal([-2, -1, 0, 1, 2]);
    r.y.forEach((y, j) =>
      r.x.forEach((x, i) => {
        const theta = Array.from(center, (c, k) => c + x * d1[k] + y * d2[k]);
        const expected = quad.loss(theta); // ≈ ½(λ₀x² + λ₁y²)
        expect(r.loss[j][i], `(${x}, ${y})`).to.be.closeTo(expected, 1e-4 * (1 + expected));
      }),
    );
    expect(r.loss[4][2]).to.be.closeTo(0.5 * quad.lambdas[1] * 4, 1e-3);
  });

  it('names bad options', () => {
    const quad = knownQuadratic(testSpectrum(6), 4);
    const model = new Model(quad.spec);
    const v = new Float32Array(6);
    expect(() => lossSurface(model, v, v, v, quad.data, { range: [0, 1, 0] as never, resolution: 3 })).to.throw(
      RangeError,
      /options\.range/,
    );
    expect(() => lossSurface(model, v, v, v, quad.data, { range: [0, 1, 0, 1], resolution: 1 })).to.throw(
      RangeError,
      /options\.resolution/,
    );
    expect(() =>
      lossSurface(model, v, new Float32Array(2), v, quad.data, { range: [0, 1, 0, 1], resolution: 2 }),
    ).to.throw(RangeError, /\bd1 must have length 6/);
  });
});

describe('filterNormalizedDirection()', () => {
  it('gives every filter (row) the norm of the same filter in θ and zeros on biases', () => {
    const model = new Model(mlp({ input: 5, hidden: [4], outputs: 3 }), { seed: 2 });
    const dir = filterNormalizedDirection(model.layout, model.params, 1);
    for (const e of model.layout.params) {
      if (e.shape.length < 2) {
        expect(
          dir.subarray(e.offset, e.offset + e.size).every((v) => v === 0),
          e.name,
        ).to.equal(true);
        continue;
      }
      const row = e.size / e.shape[0];
      for (let r = 0; r < e.shape[0]; r++) {
        const o = e.offset + r * row;
        expect(Math.hypot(...dir.subarray(o, o + row))).to.be.closeTo(
          Math.hypot(...model.params.subarray(o, o + row)),
          1e-5,
        );
      }
    }
  });
});
