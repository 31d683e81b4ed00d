import { expect } from 'chai';

import { Model, Trainer, gd, mlp } from '../../src/index.js';
import { checkStepCurvature } from '../../src/measure/step-check.js';
import { SharpnessTracker } from '../../src/measure/tracking.js';
import { Rng } from '../../src/util/random.js';

// The edge-of-stability example's setting in small: a tanh MLP on one-hot MSE targets, full-batch
// GD by a Trainer, λ tracked on all n examples between runs (examples/edge-of-stability.ts).
function eosProblem(n: number, classes: number) {
  const rng = Rng.fromSeed(7, 1);
  const inputs = 12;
  const x = new Float32Array(n * inputs).map(() => rng.normal());
  const y = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(Math.abs(x[i * inputs] * 3 + x[i * inputs + 1] * 2)) % classes;
    y[i * classes + c] = 1;
  }
  const spec = mlp({ input: inputs, hidden: [24, 24], outputs: classes, activation: 'tanh', loss: 'mse' });
  return { spec, data: { x, y } };
}

/** Cohen et al.'s square loss: ½‖f(x) − y‖² summed over outputs, averaged over examples. */
function cohenLoss(model: Model, data: { x: Float32Array; y: Float32Array }, classes: number): number {
  const out = model.predict(data.x);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += 0.5 * (out[i] - data.y[i]) ** 2;
  return s / (out.length / classes);
}

describe('checkStepCurvature: the measured λ_max against the GD step itself', () => {
  it('a λ tracked after a GD run is the curvature the next GD step sees: multipliers 1 − ηλ at η = 1.9/λ and 2.1/λ', async () => {
    const { spec, data } = eosProblem(96, 10);
    const model = new Model(spec, { seed: 2 });
    const trainer = new Trainer(model, { data, optimizer: gd({ lr: 0.3 }) });
    await trainer.run({ steps: 40 });
    // The example's tracker: all n examples, measured at the parameters the run left.
    const tracked = new SharpnessTracker(model, data, { k: 2, subset: 96, tolerance: 1e-6, iterations: 200 }).measure(
      40,
    );
    const before = model.params.slice();
    const grads = model.grads.slice();
    const c = checkStepCurvature(model, data);
    expect(c.lambdaConverged).to.equal(true);
    expect(Math.abs(tracked.values[0] / c.lambda - 1), 'tracker vs topEigenvalue').to.be.below(1e-4);
    expect(Math.abs(c.secondDifference / c.lambda - 1), 'second difference of the loss along v').to.be.below(1e-2);
    expect(c.quadraticModelError, 'quadratic model at θ ± εv').to.be.below(0.05);
    expect(c.responses.map((r) => r.factor)).to.deep.equal([1.9, 2.1]);
    for (const r of c.responses) {
      expect(r.diverged).to.equal(false);
      expect(Math.abs(r.measured - r.predicted), `one-step multiplier at ${r.factor}/λ`).to.be.below(0.02);
    }
    // Below 2/λ the perturbation along v shrinks (0.9^10 ≈ 0.35), above it grows (1.1^10 ≈ 2.6).
    expect(c.responses[0].growth).to.be.below(0.6);
    expect(c.responses[1].growth).to.be.above(1.6);
    expect(Buffer.from(model.params.buffer).equals(Buffer.from(before.buffer)), 'params restored').to.equal(true);
    expect(Buffer.from(model.grads.buffer).equals(Buffer.from(grads.buffer)), 'grads restored').to.equal(true);
    model.close();
  });

  it("Cohen et al.'s ½‖f − y‖² (summed over C = 10 outputs) has C/2 = 5 times bigstep's MSE curvature", () => {
    // The example reports every eigenvalue ×5 and trains at 5η for this reason.
    const { spec, data } = eosProblem(64, 10);
    const model = new Model(spec, { seed: 3 });
    const c = checkStepCurvature(model, data, { factors: [1.9], steps: 1 });
    const theta = model.params.slice();
    const eps = 1e-2;
    const along = (s: number): number => {
      for (let i = 0; i < theta.length; i++) model.params[i] = theta[i] + s * c.vector[i];
      return cohenLoss(model, data, 10);
    };
    const second = (along(eps) - 2 * along(0) + along(-eps)) / eps ** 2;
    model.params.set(theta);
    expect(Math.abs(second / (5 * c.lambda) - 1)).to.be.below(2e-2);
    expect(Math.abs(cohenLoss(model, data, 10) / (5 * c.loss) - 1)).to.be.below(1e-5);
    model.close();
  });

  it('names bad options and refuses batch norm', () => {
    const { spec, data } = eosProblem(16, 10);
    const model = new Model(spec, { seed: 1 });
    expect(() => checkStepCurvature(model, data, { factors: [] })).to.throw(RangeError, /options.factors/);
    expect(() => checkStepCurvature(model, data, { factors: [-1] })).to.throw(RangeError, /options.factors\[0\]/);
    expect(() => checkStepCurvature(model, data, { steps: 0 })).to.throw(RangeError, /options.steps/);
    expect(() => checkStepCurvature(model, data, { delt: 1 } as never)).to.throw(TypeError, /delt/);
    model.close();
    const bn = new Model(
      {
        input: [12],
        layers: [{ type: 'dense', units: 8 }, { type: 'batchnorm' }, { type: 'tanh' }, { type: 'dense', units: 10 }],
        loss: 'mse',
      },
      { seed: 1 },
    );
    expect(() => checkStepCurvature(bn, data)).to.throw(RangeError, /batch norm/);
    bn.close();
  });
});
