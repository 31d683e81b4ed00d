import { expect } from 'chai';

import { LanczosWorkspace, lanczos } from '../../src/measure/lanczos.js';
import { Rng } from '../../src/util/random.js';

/** A = Q·diag(lambdas)·Qᵀ, Q a product of two seeded Householder reflections (row-major, dense). */
function knownMatrix(lambdas: number[], seed: number): Float64Array {
  const d = lambdas.length;
  const rng = Rng.fromSeed(seed, 3);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) a[i * d + i] = lambdas[i];
  for (let r = 0; r < 2; r++) {
    const u = Array.from({ length: d }, () => rng.normal());
    const n = Math.sqrt(u.reduce((s, x) => s + x * x, 0));
    for (let i = 0; i < d; i++) u[i] /= n;
    // A ← H A H, H = I − 2uuᵀ
    const au = Array.from({ length: d }, (_, i) => u.reduce((s, x, j) => s + a[i * d + j] * x, 0));
    const uau = au.reduce((s, x, i) => s + x * u[i], 0);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) a[i * d + j] += -2 * u[i] * au[j] - 2 * au[i] * u[j] + 4 * uau * u[i] * u[j];
  }
  return a;
}

const operator = (a: Float64Array, d: number) => (v: Float64Array, out: Float64Array) => {
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[i * d + j] * v[j];
    out[i] = s;
  }
};

const unit = (d: number, seed: number): Float64Array => {
  const rng = Rng.fromSeed(seed, 4);
  const v = Float64Array.from({ length: d }, () => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('lanczos (full reorthogonalisation)', () => {
  const lambdas = Array.from({ length: 30 }, (_, i) => (i < 3 ? 10 - 2 * i : 4 * Math.cos(i)));
  const d = lambdas.length;
  const a = knownMatrix(lambdas, 1);
  const sorted = [...lambdas].sort((x, y) => y - x);
  const options = { k: 3, which: 'both' as const, maxIterations: 30, tolerance: 1e-10, vectors: true };

  it('finds the k largest and smallest eigenvalues of a known symmetric matrix, with orthonormal Ritz vectors', () => {
    // The basis is stored in float32: eigenvalues to ~1e-7 relative.
    const r = lanczos(operator(a, d), d, { ...options, start: unit(d, 2) });
    r.largest.forEach((p, i) => expect(Math.abs(p.value - sorted[i]), `λ${i + 1}`).to.be.lessThan(1e-6));
    r.smallest.forEach((p, i) => expect(Math.abs(p.value - sorted[d - 1 - i]), `λ_min+${i}`).to.be.lessThan(1e-6));
    const vs = r.largest.map((p) => p.vector!);
    for (let i = 0; i < vs.length; i++)
      for (let j = 0; j < vs.length; j++) {
        const dotij = vs[i].reduce((s, x, t) => s + x * vs[j][t], 0);
        expect(Math.abs(dotij - (i === j ? 1 : 0)), `v${i}·v${j}`).to.be.lessThan(1e-6);
      }
    expect(r.largest.every((p) => p.converged)).to.equal(true);
  });

  it('gives the same result with a reused workspace that a larger run left dirty', () => {
    const fresh = lanczos(operator(a, d), d, { ...options, start: unit(d, 5) });
    const ws = new LanczosWorkspace(d);
    lanczos(operator(knownMatrix([...lambdas].reverse(), 9), d), d, { ...options, start: unit(d, 6) }, ws);
    const reused = lanczos(operator(a, d), d, { ...options, start: unit(d, 5) }, ws);
    expect(reused.iterations).to.equal(fresh.iterations);
    expect(reused.largest.map((p) => p.value)).to.deep.equal(fresh.largest.map((p) => p.value));
    expect(reused.smallest.map((p) => p.value)).to.deep.equal(fresh.smallest.map((p) => p.value));
    expect(() => lanczos(operator(a, d), d, { ...options, start: unit(d, 5) }, new LanczosWorkspace(d + 1))).to.throw(
      RangeError,
      /^workspace must have dim 30/,
    );
  });

  it('from a start in the span of the top two eigenvectors (a perfect warm start), stops after 3 products with both', () => {
    // diag(5, 3, 1, -2): eigenvectors e1, e2; start (3e1 + 4e2)/5.
    const diag = [5, 3, 1, -2];
    const apply = (v: Float64Array, out: Float64Array) => diag.forEach((l, i) => (out[i] = l * v[i]));
    const r = lanczos(apply, 4, {
      ...options,
      k: 2,
      which: 'largest',
      tolerance: 1e-6,
      start: Float64Array.from([0.6, 0.8, 0, 0]),
    });
    expect(r.iterations).to.be.at.most(3);
    r.largest.forEach((p, i) => expect(Math.abs(p.value - diag[i]), `λ${i + 1}`).to.be.lessThan(1e-6));
    expect(r.largest.every((p) => p.converged)).to.equal(true);
  });
});
