import { expect } from 'chai';

import { Model, type Examples } from '../../src/model/model.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { modelGradientFlow } from '../../src/measure/flow.js';
import { interpolationPath, lossSurface1d } from '../../src/measure/landscape-surface.js';
import { symmetricEigenvalues, topEigenvalue } from '../../src/measure/sharpness.js';
import { hessianSpectrum } from '../../src/measure/spectrum.js';
import { SharpnessTracker } from '../../src/measure/tracking.js';
import { Rng } from '../../src/util/random.js';

// A small batch-norm network: dense → batch norm → tanh → dense, cross-entropy, 32 examples.
const spec: ModelSpec = {
  input: [4],
  layers: [{ type: 'dense', units: 6 }, { type: 'batchnorm' }, { type: 'tanh' }, { type: 'dense', units: 3 }],
  loss: 'softmax-cross-entropy',
};
const n = 32;
const rng = Rng.fromSeed(9, 0);
const data: Examples = {
  x: Float32Array.from({ length: n * 4 }, () => rng.normal()),
  y: Int32Array.from({ length: n }, (_, i) => i % 3),
};

function bnModel(): Model {
  const m = new Model(spec, { seed: 2 });
  // Running statistics far from this data's batch statistics, so the two modes are different losses.
  m.state.set(m.state.map((_, i) => (i < 6 ? 0.4 : 2.5)));
  return m;
}

/** The train-mode loss's gradient (batch statistics of all n examples) in double; running stats put back. */
function trainGradient(m: Model, theta: Float64Array): Float64Array {
  const state = m.state.slice();
  m.params.set(theta);
  m.lossAndGrad(data, { training: true });
  m.state.set(state);
  return Float64Array.from(m.grads);
}

/** Dense Hessian of the train-mode loss by central differences of its gradient, symmetrised. */
function referenceHessian(m: Model): Float64Array {
  const theta = Float64Array.from(m.params);
  const d = theta.length;
  const h = new Float64Array(d * d);
  const eps = 1e-3;
  for (let j = 0; j < d; j++) {
    const plus = Float64Array.from(theta);
    const minus = Float64Array.from(theta);
    plus[j] += eps;
    minus[j] -= eps;
    const gp = trainGradient(m, plus);
    const gm = trainGradient(m, minus);
    for (let i = 0; i < d; i++) h[i * d + j] = (gp[i] - gm[i]) / (2 * eps);
  }
  m.params.set(theta);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < i; j++) {
      const s = 0.5 * (h[i * d + j] + h[j * d + i]);
      h[i * d + j] = s;
      h[j * d + i] = s;
    }
  return h;
}

describe("batch norm in curvature and landscape measurements (batchNorm: 'train' | 'eval')", () => {
  const m = bnModel();
  const exactTop = Math.max(...symmetricEigenvalues(referenceHessian(m), m.params.length));
  const opts = { batchSize: n, tolerance: 1e-6, iterations: 300 };

  after(() => m.close());

  it("train-mode λ_max equals the top eigenvalue of the train-mode loss's finite-difference Hessian", () => {
    const r = topEigenvalue(m, data, { ...opts, batchNorm: 'train' });
    expect(r.batchNorm).to.equal('train');
    expect(r.value).to.be.closeTo(exactTop, 2e-3 * exactTop);
  });

  it('eval mode (the default) is a different Hessian, and says so', () => {
    const evalTop = topEigenvalue(m, data, opts);
    expect(evalTop.batchNorm).to.equal('eval');
    expect(Math.abs(evalTop.value - exactTop) / exactTop).to.be.above(0.05);
  });

  it('the spectrum, the tracker and the flow use the requested mode and state it', () => {
    const s = hessianSpectrum(m, data, { batchNorm: 'train', batchSize: n, probes: 4, steps: 40 });
    expect(s.batchNorm).to.equal('train');
    expect(s.lambdaMax).to.be.closeTo(exactTop, 2e-3 * exactTop);
    const tracker = new SharpnessTracker(m, data, { k: 1, batchNorm: 'train', batchSize: n, tolerance: 1e-6 });
    expect(tracker.batchNorm).to.equal('train');
    expect(tracker.measure(0).values[0]).to.be.closeTo(exactTop, 2e-3 * exactTop);
    expect(new SharpnessTracker(m, data, { k: 1 }).batchNorm).to.equal('eval');
    const flow = modelGradientFlow(m, data, {
      eta: 0.01,
      steps: 1,
      batchNorm: 'train',
      batchSize: n,
      sharpness: false,
    });
    expect(flow.batchNorm).to.equal('train');
    const state = m.state.slice();
    const trainLoss = m.lossAndGrad(data, { training: true }).loss;
    m.state.set(state);
    expect(flow.loss[0]).to.be.closeTo(trainLoss, 1e-6);
  });

  it('landscapes evaluate the train-mode loss (batch statistics) and leave the running statistics alone', () => {
    const state = m.state.slice();
    const trainLoss = m.lossAndGrad(data, { training: true }).loss;
    m.state.set(state);
    const evalLoss = m.evaluate(data).loss;
    expect(Math.abs(trainLoss - evalLoss)).to.be.above(1e-3);
    const d = new Float32Array(m.params.length).fill(0.01);
    const line = lossSurface1d(m, data, { d1: d, range: [0, 1], resolution: 2, batchNorm: 'train', batchSize: n });
    expect(line.batchNorm).to.equal('train');
    expect(line.loss[0]).to.be.closeTo(trainLoss, 1e-6);
    expect(lossSurface1d(m, data, { d1: d, range: [0, 1], resolution: 2 }).loss[0]).to.be.closeTo(evalLoss, 1e-6);
    const path = interpolationPath(m, m.params.slice(), m.params.slice(), data, {
      points: 2,
      batchNorm: 'train',
      batchSize: n,
    });
    expect(path.batchNorm).to.equal('train');
    expect(path.loss[0]).to.be.closeTo(trainLoss, 1e-6);
    expect(Array.from(m.state)).to.deep.equal(Array.from(state));
  });

  it("rejects a batchNorm other than 'train' or 'eval', naming the option", () => {
    for (const call of [
      () => topEigenvalue(m, data, { batchNorm: 'batch' as 'train' }),
      () => hessianSpectrum(m, data, { batchNorm: 'batch' as 'train' }),
      () => new SharpnessTracker(m, data, { batchNorm: 'batch' as 'train' }),
      () => lossSurface1d(m, data, { batchNorm: 'batch' as 'train' }),
      () => modelGradientFlow(m, data, { eta: 0.1, steps: 1, batchNorm: 'batch' as 'train' }),
    ])
      expect(call).to.throw(RangeError, /options\.batchNorm must be one of 'train', 'eval' \(got "batch"\)/);
  });
});
