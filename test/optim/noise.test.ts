import { expect } from 'chai';

import { Model, Trainer, mlp, sgd, type BatchOptions } from '../../src/index.js';
import { chain, gaussianNoise, noisySgd, scaleByLearningRate } from '../../src/optim/optimizer.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';
import { Rng } from '../../src/util/random.js';
import { rngFromState } from './reference.js';
import { expectClose } from '../support/close.js';

// A linear model without bias on all-zero inputs and targets has gradient exactly 0, so every
// change of θ is the injected noise: θ_T − θ_0 = −η Σ_t σ_t ξ_t.
const D = 12;
const N = 32;
const zeroSpec = { input: [D], layers: [{ type: 'dense' as const, units: 1, bias: false }], loss: 'mse' as const };
const zeroData = { x: new Float32Array(N * D), y: new Float32Array(N) };

function noiseOnly(batch: BatchOptions, optimizer = noisySgd({ lr: 0.5, noiseStd: 0.1 }), steps = 5): Model {
  const model = new Model(zeroSpec, { seed: 1 });
  const trainer = new Trainer(model, { data: zeroData, optimizer, batch, seed: 9 });
  for (let i = 0; i < steps; i++) trainer.step();
  return model;
}

describe('gaussianNoise: the noise stream', () => {
  it('does not depend on the batch size or batching mode (same draws, bitwise)', () => {
    const full = noiseOnly({ mode: 'full' });
    for (const batch of [
      { mode: 'shuffle', size: 4 },
      { mode: 'shuffle', size: 16 },
      { mode: 'replacement', size: 8 },
      { mode: 'sequential', size: 32 },
    ] as BatchOptions[]) {
      expect(bitwiseEqual(noiseOnly(batch).params, full.params), JSON.stringify(batch)).to.equal(true);
    }
  });

  it('draws ξ ~ N(0, I) from the trainer noise stream: θ_T − θ_0 = −η Σ σ ξ_t (TS reference generator)', () => {
    const model = new Model(zeroSpec, { seed: 1 });
    const theta0 = Float64Array.from(model.params);
    const trainer = new Trainer(model, { data: zeroData, optimizer: noisySgd({ lr: 0.5, noiseStd: 0.1 }), seed: 9 });
    const rng = rngFromState(trainer.job.noiseRng);
    for (let i = 0; i < 5; i++) {
      trainer.step();
      for (let j = 0; j < D; j++) theta0[j] -= 0.5 * 0.1 * rng.normalZiggurat();
    }
    expectClose(model.params, theta0, { abs: 1e-6 }, 'params');
  });

  it('native ziggurat draws = the TS mirror (Rng.normalZiggurat) over 10⁵ draws, tail and wedge branches included', () => {
    // 2000 coordinates × 50 steps: about 26 draws past R = 3.65 and 700 wedge tests; one
    // desynchronised branch would shift every later draw.
    const d = 2000;
    const spec = { input: [d], layers: [{ type: 'dense' as const, units: 1, bias: false }], loss: 'mse' as const };
    const model = new Model(spec, { seed: 1 });
    const data = { x: new Float32Array(4 * d), y: new Float32Array(4) };
    const trainer = new Trainer(model, { data, optimizer: noisySgd({ lr: 1, noiseStd: 1 }), seed: 3 });
    const rng = rngFromState(trainer.job.noiseRng);
    let worst = 0;
    let beyond = 0;
    for (let step = 0; step < 50; step++) {
      const before = Float64Array.from(model.params);
      trainer.step();
      for (let j = 0; j < d; j++) {
        const z = rng.normalZiggurat();
        if (Math.abs(z) > 3.6541528853610088) beyond++;
        worst = Math.max(worst, Math.abs(before[j]! - model.params[j]! - z));
      }
    }
    expect(worst, 'largest |Δθ + ξ_TS|').to.be.below(1e-5);
    expect(beyond, 'draws past the tail edge R').to.be.within(5, 60);
  });

  it('Rng.normalZiggurat has the moments of N(0, 1) (2·10⁵ draws)', () => {
    const r = Rng.fromSeed(11, 3);
    const n = 200_000;
    let s1 = 0;
    let s2 = 0;
    let s4 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normalZiggurat();
      s1 += z;
      s2 += z * z;
      s4 += z ** 4;
    }
    // 4 standard errors: mean 0.0089, variance 0.0126, E z⁴ 0.047.
    expect(Math.abs(s1 / n), 'mean').to.be.below(0.0089);
    expect(Math.abs(s2 / n - 1), 'variance − 1').to.be.below(0.0126);
    expect(Math.abs(s4 / n - 3), 'E z⁴ − 3').to.be.below(0.047);
  });

  it('advances identically on a real network for any batch size', () => {
    const data = separableBlobs(64, 6, 3, 2);
    const states = [{ mode: 'full' }, { mode: 'shuffle', size: 8 }, { mode: 'replacement', size: 32 }].map((batch) => {
      const trainer = new Trainer(new Model(mlp({ input: 6, hidden: [10], outputs: 3 }), { seed: 1 }), {
        data,
        optimizer: noisySgd({ lr: 0.1, noiseStd: 0.01, momentum: 0.9 }),
        batch: batch as BatchOptions,
        seed: 4,
      });
      for (let i = 0; i < 10; i++) trainer.step();
      return Array.from(trainer.job.noiseRng);
    });
    expect(states[1]).to.deep.equal(states[0]);
    expect(states[2]).to.deep.equal(states[0]);
  });

  it("mode 'norm' adds noise of norm exactly σ_t, annealed linearly to 0", () => {
    const model = new Model(zeroSpec, { seed: 1 });
    const trainer = new Trainer(model, {
      data: zeroData,
      optimizer: chain(1, gaussianNoise(0.2, { mode: 'norm', annealSteps: 4 }), scaleByLearningRate()),
    });
    const norms: number[] = [];
    for (let t = 0; t < 6; t++) {
      const before = model.params.slice();
      trainer.step();
      norms.push(Math.hypot(...model.params.map((v, i) => v - before[i])));
    }
    const expected = [0.2, 0.15, 0.1, 0.05, 0, 0];
    expectClose(norms, expected, { abs: 1e-6 }, 'noise norm per step');
  });

  it('does not consume the noise stream when there is no noise transform', () => {
    const trainer = new Trainer(new Model(zeroSpec, { seed: 1 }), {
      data: zeroData,
      optimizer: sgd({ lr: 0.1 }),
      seed: 3,
    });
    const before = Array.from(trainer.job.noiseRng);
    trainer.step();
    expect(Array.from(trainer.job.noiseRng)).to.deep.equal(before);
  });
});

describe('batch.amplify: mini-batch noise amplification', () => {
  // At fixed θ (lr = 0) model.grads after each step() is the estimator g. Plain with-replacement
  // batches of size b have Cov(g₁) = Σ/b with Σ the per-example gradient covariance; the amplified
  // estimator g = g₁ + c(g₁ − g₂) must keep the mean and have covariance k²Σ/b.
  const n = 120;
  const b = 8;
  const k = 3;
  const draws = 4000;
  const data = separableBlobs(n, 6, 3, 11);
  const spec = mlp({ input: 6, hidden: [8], outputs: 3, activation: 'tanh' });

  function exactMoments(): { mean: Float64Array; trace: number } {
    const model = new Model(spec, { seed: 5 });
    const d = model.params.length;
    const grads: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      model.lossAndGrad({ x: data.x.subarray(i * 6, (i + 1) * 6), y: data.y.subarray(i, i + 1) });
      grads.push(Float64Array.from(model.grads));
    }
    const mean = new Float64Array(d);
    for (const g of grads) for (let j = 0; j < d; j++) mean[j] += g[j] / n;
    let trace = 0;
    for (const g of grads) for (let j = 0; j < d; j++) trace += (g[j] - mean[j]) ** 2 / n;
    return { mean, trace };
  }

  function empirical(amplify: number): {
    mean: Float64Array;
    trace: number;
    theta: Float32Array;
    theta0: Float32Array;
  } {
    const model = new Model(spec, { seed: 5 });
    const theta0 = model.params.slice();
    const trainer = new Trainer(model, {
      data,
      optimizer: sgd({ lr: 0 }),
      batch: { mode: 'replacement', size: b, amplify },
      seed: 2,
    });
    const d = model.params.length;
    const sum = new Float64Array(d);
    const sq = new Float64Array(d);
    for (let s = 0; s < draws; s++) {
      trainer.step();
      const g = model.grads;
      for (let j = 0; j < d; j++) {
        sum[j] += g[j];
        sq[j] += g[j] * g[j];
      }
    }
    const mean = sum.map((v) => v / draws);
    let trace = 0;
    for (let j = 0; j < d; j++) trace += (sq[j] - draws * mean[j] * mean[j]) / (draws - 1);
    return { mean, trace, theta: model.params, theta0 };
  }

  it(`multiplies the covariance trace by k² = ${k * k} and keeps the mean (${draws} draws each)`, function () {
    this.timeout(30000);
    const exact = exactMoments();
    const plain = empirical(1);
    const amp = empirical(k);
    expect(bitwiseEqual(amp.theta, amp.theta0), 'θ stays put at lr = 0').to.equal(true);
    const plainRatio = plain.trace / (exact.trace / b);
    const ampRatio = amp.trace / (exact.trace / b);
    const measured = amp.trace / plain.trace;
    // Trace estimates from 4000 draws have a relative standard error of a few per cent.
    expect(plainRatio, 'plain estimator vs Σ/b').to.be.closeTo(1, 0.12);
    expect(ampRatio / (k * k), 'amplified estimator vs k²Σ/b').to.be.closeTo(1, 0.12);
    expect(measured / (k * k), `measured ratio ${measured.toFixed(3)} vs k² = ${k * k}`).to.be.closeTo(1, 0.15);
    // Means: ‖ḡ_emp − ∇L‖ ≲ 4·√(tr Cov / draws).
    for (const [name, r] of [
      ['plain', plain],
      ['amplified', amp],
    ] as const) {
      const err = Math.hypot(...r.mean.map((v, j) => v - exact.mean[j]));
      expect(err, `${name} mean`).to.be.lessThan(4 * Math.sqrt(r.trace / draws));
    }
    if (process.env.BIGSTEP_REPORT_FIGURES)
      console.log(
        `      covariance trace ratio amplified/plain = ${measured.toFixed(3)} (k² = ${k * k}); plain/(Σ/b) = ${plainRatio.toFixed(3)}`,
      );
  });
});
