import { expect } from 'chai';

import { Model } from '../../src/index.js';
import { hessianTrace, topEigenvalue } from '../../src/measure/sharpness.js';
import {
  densityCdf,
  densityMoment,
  hessianSpectrum,
  layerCurvature,
  restrictOperator,
  spectralDensity,
  type SymmetricApply,
} from '../../src/measure/spectrum.js';
import { Rng } from '../../src/util/random.js';
import { knownQuadratic, randomOrthogonal } from './quadratic.js';

/** A = Qᵀ diag(λ) Q as a dense float64 operator. */
function explicit(lambdas: number[], seed: number): { apply: SymmetricApply; a: Float64Array } {
  const d = lambdas.length;
  const q = randomOrthogonal(d, Rng.fromSeed(seed, 5));
  const a = new Float64Array(d * d);
  for (let k = 0; k < d; k++)
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] += lambdas[k] * q[k * d + i] * q[k * d + j];
  const apply: SymmetricApply = (v, out) => {
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j] * v[j];
      out[i] = s;
    }
  };
  return { apply, a };
}

describe('spectrum: stochastic Lanczos quadrature', () => {
  // A spectrum with a negative tail, a bulk and outliers, like a trained network's Hessian.
  const d = 120;
  const lambdas = Array.from({ length: d }, (_, i) =>
    i < 3 ? [50, 30, 20][i] : i < 10 ? -0.5 * (i - 2) : 0.02 * (i - 10),
  );
  const { apply } = explicit(lambdas, 3);
  const exactMoment = (k: number) => lambdas.reduce((s, l) => s + l ** k, 0) / d;

  it("matches the exact spectrum in moments 1–4 (within the probes' error) and exactly in the extreme Ritz values", () => {
    const r = spectralDensity(apply, d, { probes: 40, steps: 40, seed: 1 });
    // With m = 40 steps Gauss quadrature is exact for polynomials of degree ≤ 79 per probe, so a
    // moment's only error is the probes' sampling error: within 4 standard errors over the probes.
    for (const k of [1, 2, 3, 4]) {
      const perProbe = r.quadrature.map((q) => q.nodes.reduce((s, x, j) => s + q.weights[j] * x ** k, 0));
      const m = perProbe.reduce((a, b) => a + b, 0) / perProbe.length;
      const se = Math.sqrt(perProbe.reduce((a, b) => a + (b - m) ** 2, 0) / (perProbe.length - 1) / perProbe.length);
      expect(densityMoment(r, k)).to.be.closeTo(m, 1e-9 * Math.abs(m));
      expect(Math.abs(m - exactMoment(k)), `moment ${k} (se ${se})`).to.be.below(4 * se);
      expect(se, `moment ${k} is estimated to 25 %`).to.be.below(0.25 * Math.abs(exactMoment(k)));
    }
    expect(r.max).to.be.closeTo(50, 1e-6);
    expect(r.min).to.be.closeTo(-3.5, 1e-6);
    expect(r.trace / d).to.be.closeTo(densityMoment(r, 1), 1e-9);
  });

  it('gives the exact CDF within 0.05 at several points, and a density that integrates to 1', () => {
    const r = spectralDensity(apply, d, { probes: 40, steps: 40, seed: 2 });
    for (const x of [-2, -0.1, 0.5, 1, 1.5, 25, 40]) {
      const exact = lambdas.filter((l) => l <= x).length / d;
      expect(Math.abs(densityCdf(r, x) - exact), `F(${x})`).to.be.below(0.05);
    }
    const dx = r.grid[1] - r.grid[0];
    expect(r.density.reduce((a, b) => a + b, 0) * dx).to.be.closeTo(1, 1e-9);
    expect(r.density.every((v) => Number.isFinite(v) && v >= 0)).to.equal(true);
    expect(r.products).to.equal(40 * 40);
  });

  it('is exact when the Krylov space is exhausted (steps ≥ distinct eigenvalues)', () => {
    const few = [5, 5, 5, 2, 2, 1, 1, 1];
    const op = explicit(few, 4);
    const r = spectralDensity(op.apply, few.length, { probes: 3, steps: 8, seed: 3 });
    for (const q of r.quadrature) expect(q.nodes.length).to.be.at.most(3);
    // Per probe, the first moment is vᵀAv exactly.
    expect(densityMoment(r, 2)).to.be.closeTo(
      r.quadrature.reduce((s, q) => s + q.nodes.reduce((t, x, j) => t + q.weights[j] * x * x, 0), 0) / 3,
      1e-12,
    );
    for (const x of [0.5, 1.5, 3, 6]) expect(densityCdf(r, x)).to.be.within(0, 1 + 1e-12);
  });

  it('rejects unknown options and bad values with errors naming them', () => {
    expect(() => spectralDensity(apply, d, { probs: 3 } as never)).to.throw(TypeError, /probs.*probes/);
    expect(() => spectralDensity(apply, d, { steps: 0 })).to.throw(RangeError, /options.steps/);
    expect(() => spectralDensity(apply, d, { distribution: 'cauchy' as never })).to.throw(
      RangeError,
      /options.distribution/,
    );
  });

  it('restrictOperator gives the diagonal block of the matrix', () => {
    const { apply: ap, a } = explicit([3, 2, 1, 0.5, -1], 6);
    const block = restrictOperator(ap, 5, 1, 3);
    const out = new Float64Array(3);
    block(Float64Array.from([1, 0, 0]), out);
    expect(Array.from(out)).to.deep.equal([a[1 * 5 + 1], a[2 * 5 + 1], a[3 * 5 + 1]]);
    expect(() => restrictOperator(ap, 5, 3, 3)).to.throw(RangeError, /slice/);
  });
});

describe('spectrum: Hessian of a model', () => {
  it('hessianSpectrum on a quadratic: density moments and extremes match the known spectrum; first moment agrees with Hutchinson', () => {
    const lambdas = Array.from({ length: 30 }, (_, i) => (i === 0 ? 12 : 0.1 + 0.1 * i));
    const q = knownQuadratic(lambdas, 7);
    const model = new Model(q.spec, { seed: 1 });
    const before = model.params.slice();
    const r = hessianSpectrum(model, q.data, { probes: 20, steps: 30, traceSamples: 60 });
    const sum = lambdas.reduce((a, b) => a + b, 0);
    expect(Math.abs(r.density.trace - sum)).to.be.below(4 * r.density.traceStderr);
    expect(r.density.traceStderr).to.be.below(0.1 * sum);
    expect(r.lambdaMax).to.be.closeTo(12, 12 * 1e-3);
    expect(r.lambdaMin).to.be.closeTo(0.2, 0.2 * 1e-2);
    expect(Math.abs(r.traceAgreement)).to.be.below(4);
    expect(r.batchNorm).to.equal('none');
    expect(r.method).to.equal('exact');
    expect(Array.from(model.params)).to.deep.equal(Array.from(before));
    model.close();
  });

  it('layerCurvature on a tanh MLP: per-tensor blocks, traces summing to the full trace', () => {
    const rng = Rng.fromSeed(3, 1);
    const n = 64;
    const x = new Float32Array(n * 6).map(() => rng.normal());
    const y = new Int32Array(n).map(() => rng.below(3));
    const model = new Model(
      { input: [6], layers: [{ type: 'dense', units: 8 }, { type: 'tanh' }, { type: 'dense', units: 3 }] },
      { seed: 2 },
    );
    const data = { x, y };
    const r = layerCurvature(model, data, { traceSamples: 200, steps: 60 });
    expect(r.layers.map((l) => l.tensor)).to.deep.equal(model.layout.params.map((e) => e.name));
    const total = hessianTrace(model, data, { samples: 200 });
    const sum = r.layers.reduce((s, l) => s + l.trace, 0);
    const se = Math.hypot(total.stderr, ...r.layers.map((l) => l.traceStderr));
    expect(Math.abs(sum - total.value)).to.be.below(4 * se + 1e-6);
    // A block's λ_max is at most the full λ_max (Cauchy interlacing) and its λ_min at least the full λ_min.
    const top = topEigenvalue(model, data).value;
    for (const l of r.layers) expect(l.lambdaMax).to.be.at.most(top * (1 + 1e-3));
    expect(() => layerCurvature(model, data, { tensors: ['9.weight'] })).to.throw(RangeError, /9.weight/);
    model.close();
  });
});
