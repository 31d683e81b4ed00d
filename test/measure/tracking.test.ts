import { expect } from 'chai';

import { Model, Trainer, gd } from '../../src/index.js';
import { symmetricEigenvalues } from '../../src/measure/lanczos.js';
import { SharpnessTracker, trackSharpness } from '../../src/measure/tracking.js';
import { Rng } from '../../src/util/random.js';
import { knownQuadratic } from './quadratic.js';
import { expectClose } from '../support/close.js';

function tanhProblem(n: number) {
  const rng = Rng.fromSeed(5, 1);
  const x = new Float32Array(n * 8).map(() => rng.normal());
  const y = new Int32Array(n).map((_, i) => (x[i * 8] + x[i * 8 + 1] > 0 ? 1 : 0) + (x[i * 8 + 2] > 0.5 ? 1 : 0));
  const spec = {
    input: [8],
    layers: [{ type: 'dense' as const, units: 16 }, { type: 'tanh' as const }, { type: 'dense' as const, units: 3 }],
  };
  return { spec, data: { x, y } };
}

describe('sharpness tracking', () => {
  it('on a quadratic the tracked top-k equal the dense (Jacobi) eigenvalues of the exact Hessian', () => {
    const lambdas = [9, 6, 2, 1.5, 1, 0.5, 0.25, 0.1];
    const q = knownQuadratic(lambdas, 4);
    const model = new Model(q.spec, { seed: 1 });
    const tracker = new SharpnessTracker(model, q.data, { k: 3, tolerance: 1e-6 });
    const p = tracker.measure(0);
    const d = q.d;
    const h = new Float64Array(d * d);
    for (let j = 0; j < d; j++) {
      const e = new Float64Array(d);
      e[j] = 1;
      const col = q.hv(e);
      for (let i = 0; i < d; i++) h[i * d + j] = col[i];
    }
    const dense = symmetricEigenvalues(h, d).reverse().slice(0, 3);
    expectClose(p.values, dense, { rel: 1e-4 }, 'eigenvalues');
    expect(p.converged).to.equal(true);
    expect(p.products).to.be.at.least(3);
    expect(tracker.subsetEffect).to.equal(null); // subset = all data
    model.close();
  });

  it('warm-started tracking equals cold starts within tolerance, with fewer products, and keeps eigenvector signs aligned', async () => {
    const { spec, data } = tanhProblem(400);
    const run = async (warmStart: boolean) => {
      const model = new Model(spec, { seed: 3 });
      const trainer = new Trainer(model, { data, optimizer: gd({ lr: 0.5 }) });
      const r = await trackSharpness(trainer, model, data, {
        steps: 60,
        every: 10,
        k: 2,
        subset: 200,
        warmStart,
        tolerance: 1e-5,
        iterations: 150,
        seed: 1,
      });
      model.close();
      return r;
    };
    const warm = await run(true);
    const cold = await run(false);
    expect(warm.points.map((p) => p.step)).to.deep.equal([0, 10, 20, 30, 40, 50, 60]);
    expect(warm.subset).to.equal(200);
    expect(warm.subsetEffect!.subset).to.equal(200);
    expect(warm.subsetEffect!.full).to.equal(400);
    expect(Number.isFinite(warm.subsetEffect!.relative)).to.equal(true);
    expect(warm.batchNorm).to.equal('none');
    warm.points.forEach((p, t) => {
      expect(p.converged, `step ${p.step}`).to.equal(true);
      expectClose(p.values, cold.points[t].values, { rel: 1e-3 }, `step ${p.step} eigenvalues`);
    });
    const cost = (r: typeof warm) => r.points.slice(1).reduce((s, p) => s + p.products, 0);
    expect(cost(warm)).to.be.below(cost(cold));
  });

  it('aligns the signs of successive eigenvectors', () => {
    const { spec, data } = tanhProblem(200);
    const model = new Model(spec, { seed: 4 });
    const trainer = new Trainer(model, { data, optimizer: gd({ lr: 0.3 }) });
    const tracker = new SharpnessTracker(model, data, { k: 2, tolerance: 1e-6, iterations: 150 });
    tracker.measure(0);
    const before = tracker.lastVectors!.map((v) => Float64Array.from(v));
    trainer.step();
    tracker.measure(1);
    const after = tracker.lastVectors!;
    for (let j = 0; j < 2; j++) {
      let c = 0;
      for (let i = 0; i < after[j].length; i++) c += after[j][i] * before[j][i];
      expect(c, `vector ${j}`).to.be.above(0.9); // one small GD step: the same direction, same sign
    }
    model.close();
  });

  it('rejects bad options with errors naming them', () => {
    const { spec, data } = tanhProblem(50);
    const model = new Model(spec, { seed: 4 });
    expect(() => new SharpnessTracker(model, data, { subset: 51 })).to.throw(RangeError, /options.subset/);
    expect(() => new SharpnessTracker(model, data, { kk: 2 } as never)).to.throw(TypeError, /kk/);
    model.close();
  });
});
