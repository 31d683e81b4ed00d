import { expect } from 'chai';

import { Model, Trainer, gd } from '../../src/index.js';
import {
  RandomProjection,
  gradientFlow,
  modelGradientFlow,
  trajectoryDistances,
  type GradientFn,
} from '../../src/measure/flow.js';
import { Rng } from '../../src/util/random.js';
import { knownQuadratic, randomOrthogonal } from './quadratic.js';

/** L(θ) = ½θᵀAθ with A = Qᵀ diag(λ) Q; the flow is θ(t) = Qᵀ exp(−Λt) Q θ₀. */
function quadratic(lambdas: number[], seed: number) {
  const d = lambdas.length;
  const q = randomOrthogonal(d, Rng.fromSeed(seed, 8));
  const toEigen = (v: ArrayLike<number>) =>
    Array.from({ length: d }, (_, k) => {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[k * d + i] * v[i];
      return s;
    });
  const fromEigen = (c: number[]) => {
    const v = new Float64Array(d);
    for (let k = 0; k < d; k++) for (let i = 0; i < d; i++) v[i] += q[k * d + i] * c[k];
    return v;
  };
  const grad: GradientFn = (theta, out) => {
    const c = toEigen(theta);
    out.set(fromEigen(c.map((x, k) => lambdas[k] * x)));
    return 0.5 * c.reduce((s, x, k) => s + lambdas[k] * x * x, 0);
  };
  const exact = (theta0: ArrayLike<number>, t: number) =>
    fromEigen(toEigen(theta0).map((x, k) => Math.exp(-lambdas[k] * t) * x));
  return { grad, exact, d };
}

describe('gradient flow (Dormand–Prince 5(4))', () => {
  const lambdas = [40, 10, 3, 1, 0.3, 0.05];
  const { grad, exact, d } = quadratic(lambdas, 1);
  const theta0 = Float64Array.from({ length: d }, (_, i) => 1 - 0.3 * i);

  it('matches θ(t) = exp(−At)θ₀ at every matched time t = η·k to the requested tolerance', () => {
    const r = gradientFlow(grad, theta0, { eta: 0.02, steps: 100, saveEvery: 5, rtol: 1e-8, atol: 1e-12 });
    expect(r.matchedSteps).to.deep.equal(Array.from({ length: 21 }, (_, i) => 5 * i));
    r.times.forEach((t, i) => expect(t).to.be.closeTo(0.02 * r.matchedSteps[i], 1e-15));
    const err = r.times.map((t, i) => Math.max(...trajectoryDistances([r.iterates[i]], [exact(theta0, t)])));
    expect(Math.max(...err)).to.be.below(1e-6);
    // Looser tolerance ⇒ larger (but still controlled) error and fewer gradients.
    const loose = gradientFlow(grad, theta0, { eta: 0.02, steps: 100, saveEvery: 5, rtol: 1e-4, atol: 1e-8 });
    expect(loose.gradients).to.be.below(r.gradients);
    const looseErr = loose.times.map((t, i) => trajectoryDistances([loose.iterates[i]], [exact(theta0, t)])[0]);
    expect(Math.max(...looseErr)).to.be.below(1e-2);
    expect(r.diverged).to.equal(false);
  });

  it('saves at exactly the given `times` (several GD rates at once), each matching exp(−At)θ₀', () => {
    // The union of two GD runs' times η·k: 0.03·k and 0.05·k, not on one grid.
    const times = [...new Set([1, 2, 3, 4, 5].flatMap((k) => [0.03 * k, 0.05 * k]))].sort((a, b) => a - b);
    const r = gradientFlow(grad, theta0, { eta: 0.03, times, rtol: 1e-8, atol: 1e-12 });
    expect(r.times).to.deep.equal([0, ...times]);
    r.matchedSteps.forEach((k, i) => expect(k).to.be.closeTo(r.times[i] / 0.03, 1e-12));
    const err = r.times.map((t, i) => trajectoryDistances([r.iterates[i]], [exact(theta0, t)])[0]);
    expect(Math.max(...err)).to.be.below(1e-6);
  });

  it('rejects `times` that are not ascending and positive, or given with steps', () => {
    expect(() => gradientFlow(grad, theta0, { eta: 0.1, times: [0.2, 0.1] })).to.throw(RangeError, /options\.times/);
    expect(() => gradientFlow(grad, theta0, { eta: 0.1, times: [0, 0.1] })).to.throw(RangeError, /options\.times/);
    expect(() => gradientFlow(grad, theta0, { eta: 0.1, times: [] })).to.throw(RangeError, /options\.times/);
    expect(() => gradientFlow(grad, theta0, { eta: 0.1, steps: 3, times: [0.1] })).to.throw(
      RangeError,
      /options\.times replaces options\.steps/,
    );
    expect(() => gradientFlow(grad, theta0, { eta: 0.1 })).to.throw(RangeError, /options\.steps/);
  });

  it('bounds every step by alpha/λ_max from the sharpness callback', () => {
    let calls = 0;
    const r = gradientFlow(grad, theta0, {
      eta: 0.1,
      steps: 20,
      rtol: 1e-3,
      alpha: 0.5,
      sharpness: () => {
        calls++;
        return 40;
      },
      lambdaEvery: 5,
    });
    expect(r.maxStepTaken).to.be.at.most(0.5 / 40 + 1e-15);
    expect(calls).to.equal(r.lambdas.length);
    expect(calls).to.equal(1 + Math.floor(r.accepted / 5));
  });

  it('GD at small η tracks the flow; at η near 2/λ_max it leaves it (distance at matched times)', () => {
    const gdRun = (eta: number, steps: number) => {
      const it = [Float64Array.from(theta0)];
      const g = new Float64Array(d);
      const th = Float64Array.from(theta0);
      for (let s = 0; s < steps; s++) {
        grad(th, g);
        for (let i = 0; i < d; i++) th[i] -= eta * g[i];
        it.push(Float64Array.from(th));
      }
      return it;
    };
    const small = gradientFlow(grad, theta0, { eta: 0.001, steps: 200 });
    const big = gradientFlow(grad, theta0, { eta: 0.045, steps: 4 });
    const dSmall = Math.max(...trajectoryDistances(gdRun(0.001, 200), small.iterates));
    const dBig = Math.max(...trajectoryDistances(gdRun(0.045, 4), big.iterates));
    expect(dSmall).to.be.below(0.02);
    expect(dBig).to.be.above(0.5); // 1 − ηλ = −0.8 on the top direction: GD oscillates, the flow decays
  });

  it('RandomProjection is linear and keeps norms to ±√(2/p)', () => {
    const dim = 3000;
    const P = new RandomProjection(dim, 500, 3);
    const rng = Rng.fromSeed(9, 1);
    const a = Float64Array.from({ length: dim }, () => rng.normal());
    const b = Float64Array.from({ length: dim }, () => rng.normal());
    const pa = P.project(a);
    const pb = P.project(b);
    const pd = P.project(a.map((x, i) => x - b[i]));
    pd.forEach((v, j) => expect(v).to.be.closeTo(pa[j] - pb[j], 1e-9));
    const ratio = trajectoryDistances([pa], [pb])[0] / trajectoryDistances([a], [b])[0];
    expect(ratio).to.be.within(1 - 5 * Math.sqrt(0.5 / 500), 1 + 5 * Math.sqrt(0.5 / 500));
    expect(Array.from(new RandomProjection(dim, 500, 3).project(a))).to.deep.equal(Array.from(pa)); // fixed seed
    expect(() => P.project(new Float64Array(10))).to.throw(RangeError, /length 3000/);
  });

  it('rejects unknown options', () => {
    expect(() => gradientFlow(grad, theta0, { eta: 0.1, steps: 1, rtoll: 1 } as never)).to.throw(
      TypeError,
      /rtoll.*rtol/,
    );
    expect(() => gradientFlow(grad, theta0, { eta: -1, steps: 1 })).to.throw(RangeError, /options.eta/);
  });

  it('modelGradientFlow on a real quadratic model matches the analytic flow and restores the model', () => {
    const q = knownQuadratic([8, 4, 2, 1, 0.5], 2);
    const model = new Model(q.spec, { seed: 3 });
    const w0 = Float64Array.from(model.params);
    const before = model.params.slice();
    const r = modelGradientFlow(model, q.data, { eta: 0.05, steps: 20, saveEvery: 10, rtol: 1e-7 });
    expect(Array.from(model.params)).to.deep.equal(Array.from(before));
    expect(r.lambdas[0].value).to.be.closeTo(8, 8e-3);
    expect(r.maxStepTaken).to.be.at.most(1 / r.lambdas[0].value + 1e-12);
    expect(r.batchNorm).to.equal('none');
    // θ(t) − w* = exp(−Ht)(θ₀ − w*), by its Taylor series in the float64 Hessian (q.hv).
    const t = r.times[2];
    let term = Float64Array.from(w0, (v, i) => v - q.wStar[i]);
    const sum = Float64Array.from(term);
    for (let n = 1; n < 80; n++) {
      term = q.hv(term).map((v) => (-t * v) / n);
      for (let i = 0; i < sum.length; i++) sum[i] += term[i];
    }
    const expected = sum.map((v, i) => v + q.wStar[i]);
    expect(trajectoryDistances([r.iterates[2]], [expected])[0]).to.be.below(1e-4 * (1 + Math.hypot(...expected)));
    // GD from the same θ₀ with a Trainer, compared at matched times.
    const trainer = new Trainer(model, { data: q.data, optimizer: gd({ lr: 0.05 }) });
    const gdIt = [Float64Array.from(model.params)];
    for (let s = 1; s <= 20; s++) {
      trainer.step();
      if (s % 10 === 0) gdIt.push(Float64Array.from(model.params));
    }
    const dist = trajectoryDistances(gdIt, r.iterates);
    expect(dist[0]).to.equal(0);
    expect(dist[2])
      .to.be.above(0)
      .and.below(0.2 * Math.hypot(...w0.map((v, i) => v - q.wStar[i])));
    model.close();
  });
});
