import { expect } from 'chai';

import { Model, Trainer, mlp, sgd } from '../../src/index.js';
import {
  hessianTrace,
  hessianVectorProduct,
  symmetricEigenvalues,
  topEigenvalue,
  topEigenvalues,
} from '../../src/measure/sharpness.js';
import { Rng } from '../../src/util/random.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';
import { knownQuadratic, testSpectrum } from './quadratic.js';

const report = (s: string) => {
  if (process.env.BIGSTEP_REPORT_FIGURES) console.log(`      ${s}`);
};

describe('sharpness on a quadratic with a known spectrum', () => {
  const quad = knownQuadratic(testSpectrum(40), 3);
  const lambdaMax = quad.lambdas[0];
  const trace = quad.lambdas.reduce((a, b) => a + b, 0);

  function model(): Model {
    const m = new Model(quad.spec, { seed: 2 });
    return m;
  }

  it('hessianVectorProduct equals (2/n)XᵀX v (exact by default)', () => {
    const m = model();
    const rng = Rng.fromSeed(5, 0);
    const v = Float64Array.from({ length: quad.d }, () => rng.normal());
    const out = new Float64Array(quad.d);
    hessianVectorProduct(m, quad.data, v, out, { batchSize: 7 });
    const ref = quad.hv(v);
    const err = Math.hypot(...out.map((o, i) => o - ref[i])) / Math.hypot(...ref);
    const fd = hessianVectorProduct(m, quad.data, v, undefined, { batchSize: 7, method: 'finite-difference' });
    const fdErr = Math.hypot(...fd.map((o, i) => o - ref[i])) / Math.hypot(...ref);
    report(
      `HVP relative error on the quadratic: exact ${err.toExponential(2)}, finite differences ${fdErr.toExponential(2)}`,
    );
    expect(err).to.be.lessThan(1e-5);
    expect(fdErr).to.be.lessThan(1e-4);
  });

  it('topEigenvalue (restarted Lanczos) matches λ_max within 1%', () => {
    const r = topEigenvalue(model(), quad.data, { tolerance: 1e-6, iterations: 200 });
    report(
      `λ_max: estimate ${r.value.toFixed(5)} vs true ${lambdaMax} (${r.iterations} iterations, rel. error ${(Math.abs(r.value - lambdaMax) / lambdaMax).toExponential(2)})`,
    );
    expect(r.converged).to.equal(true);
    expect(Math.abs(r.value - lambdaMax) / lambdaMax).to.be.lessThan(0.01);
    // The vector is the top eigenvector q₀ (up to sign).
    const overlap = Math.abs(r.vector.reduce((s, v, j) => s + v * quad.q[j], 0));
    expect(overlap).to.be.greaterThan(0.99);
  });

  it('topEigenvalues (Lanczos) matches the top 4 eigenvalues within 1%', () => {
    const r = topEigenvalues(model(), quad.data, 4);
    report(
      `Lanczos top-4: ${r.values.map((v) => v.toFixed(4)).join(', ')} vs ${quad.lambdas.slice(0, 4).join(', ')} (${r.iterations} steps)`,
    );
    expect(r.values).to.have.length(4);
    r.values.forEach((v, i) => expect(Math.abs(v - quad.lambdas[i]) / quad.lambdas[i], `λ${i}`).to.be.lessThan(0.01));
  });

  it('hessianTrace (Hutchinson) matches tr(H) within 4 standard errors', () => {
    const r = hessianTrace(model(), quad.data, { samples: 200, seed: 1 });
    report(`Hutchinson trace: ${r.value.toFixed(3)} ± ${r.stderr.toFixed(3)} vs true ${trace.toFixed(3)}`);
    expect(Math.abs(r.value - trace)).to.be.lessThan(4 * r.stderr);
    expect(r.stderr / trace).to.be.lessThan(0.05);
  });

  it('restores params and grads bitwise', () => {
    const m = model();
    m.lossAndGrad({ x: quad.data.x.subarray(0, quad.d * 3), y: quad.data.y.subarray(0, 3) });
    const params = m.params.slice();
    const grads = m.grads.slice();
    topEigenvalue(m, quad.data, { iterations: 5 });
    topEigenvalues(m, quad.data, 2, { iterations: 5 });
    hessianTrace(m, quad.data, { samples: 3 });
    expect(bitwiseEqual(m.params, params)).to.equal(true);
    expect(bitwiseEqual(m.grads, grads)).to.equal(true);
  });

  it('names the bad option', () => {
    const m = model();
    expect(() => topEigenvalue(m, quad.data, { iterations: 0 })).to.throw(RangeError, /options\.iterations/);
    expect(() => topEigenvalue(m, quad.data, { epsilon: -1 })).to.throw(RangeError, /options\.epsilon/);
    expect(() => topEigenvalues(m, quad.data, 0)).to.throw(RangeError, /\bk must/);
    expect(() => hessianTrace(m, quad.data, { samples: 1.5 })).to.throw(RangeError, /options\.samples/);
    expect(() => hessianVectorProduct(m, quad.data, new Float64Array(3), new Float64Array(quad.d))).to.throw(
      RangeError,
      /\bv must have length/,
    );
    expect(() => topEigenvalue(m, { x: new Float32Array(5), y: quad.data.y })).to.throw(RangeError, /data\.x/);
  });
});

describe('GD on the quadratic: the 2/λ_max law', () => {
  const quad = knownQuadratic(testSpectrum(40), 3);

  async function train(
    eta: number,
  ): Promise<{ diverged: boolean; divergedAt: number | null; loss: number; start: number }> {
    const m = new Model(quad.spec, { seed: 2 });
    const start = m.evaluate(quad.data).loss;
    const trainer = new Trainer(m, { data: quad.data, optimizer: sgd({ lr: eta }) });
    const r = await trainer.run({ steps: 3000, chunkSize: 1000 });
    return {
      diverged: r.diverged,
      divergedAt: r.divergedAt,
      loss: r.diverged ? Infinity : m.evaluate(quad.data).loss,
      start,
    };
  }

  it('converges for η = 0.95·2/λ̂ and diverges (reported by the trainer) for η = 1.05·2/λ̂, λ̂ from topEigenvalue', async () => {
    const lambdaHat = topEigenvalue(new Model(quad.spec, { seed: 2 }), quad.data).value;
    const below = await train((0.95 * 2) / lambdaHat);
    const above = await train((1.05 * 2) / lambdaHat);
    expect(below.diverged).to.equal(false);
    expect(below.loss).to.be.lessThan(1e-6 * below.start);
    expect(above.diverged).to.equal(true);
    expect(above.divergedAt).to.be.a('number');
  });
});

describe('hessianVectorProduct on a small tanh network', () => {
  const data = separableBlobs(60, 4, 3, 8);
  const spec = mlp({ input: 4, hidden: [5], outputs: 3, activation: 'tanh' });

  /** Dense Hessian by central differences of the full-data gradient along each coordinate (double). */
  function denseHessian(model: Model, h: number): Float64Array {
    const d = model.params.length;
    const theta = model.params.slice();
    const H = new Float64Array(d * d);
    const grad = (): Float64Array => {
      model.lossAndGrad(data);
      return Float64Array.from(model.grads);
    };
    for (let j = 0; j < d; j++) {
      model.params.set(theta);
      model.params[j] = theta[j] + h;
      const gp = grad();
      model.params[j] = theta[j] - h;
      const gm = grad();
      const hp = Math.fround(theta[j] + h) - Math.fround(theta[j] - h); // the step actually taken
      for (let i = 0; i < d; i++) H[i * d + j] = (gp[i] - gm[i]) / hp;
    }
    model.params.set(theta);
    // Symmetrise.
    for (let i = 0; i < d; i++)
      for (let j = i + 1; j < d; j++) H[i * d + j] = H[j * d + i] = 0.5 * (H[i * d + j] + H[j * d + i]);
    return H;
  }

  function trainedModel(): Model {
    const m = new Model(spec, { seed: 4 });
    const t = new Trainer(m, { data, optimizer: sgd({ lr: 0.2 }) });
    for (let i = 0; i < 30; i++) t.step();
    return m;
  }

  it('matches a dense finite-difference Hessian (relative error < 1e-3) and its top eigenvalues', () => {
    const m = trainedModel();
    const d = m.params.length;
    const H = denseHessian(m, 1e-2);
    const rng = Rng.fromSeed(3, 0);
    let worst = 0;
    for (let trial = 0; trial < 3; trial++) {
      const v = Float64Array.from({ length: d }, () => rng.normal());
      const out = new Float64Array(d);
      hessianVectorProduct(m, data, v, out);
      const ref = new Float64Array(d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) ref[i] += H[i * d + j] * v[j];
      worst = Math.max(worst, Math.hypot(...out.map((o, i) => o - ref[i])) / Math.hypot(...ref));
    }
    const eig = symmetricEigenvalues(H.slice(), d).reverse();
    const top = topEigenvalue(m, data, { tolerance: 1e-7, iterations: 500 });
    const lanczos = topEigenvalues(m, data, 3, { iterations: d });
    report(
      `tanh net (d=${d}): HVP rel. error ${worst.toExponential(2)}; λ_max dense ${eig[0].toFixed(5)}, power ${top.value.toFixed(5)}, Lanczos ${lanczos.values.map((v) => v.toFixed(5)).join(', ')} vs dense ${eig
        .slice(0, 3)
        .map((v) => v.toFixed(5))
        .join(', ')}`,
    );
    expect(worst).to.be.lessThan(1e-3);
    expect(Math.abs(top.value - eig[0]) / eig[0]).to.be.lessThan(0.01);
    lanczos.values.forEach((v, i) => expect(Math.abs(v - eig[i]) / Math.abs(eig[0]), `λ${i}`).to.be.lessThan(0.01));
  });
});
