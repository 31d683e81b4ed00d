import { expect } from 'chai';

import { Model } from '../../src/index.js';
import { describe as describeSpec } from '../../src/model/model.js';
import {
  filterNormalize,
  interpolationPath,
  lossSurface1d,
  lossSurface2d,
  randomFilterDirection,
  trajectorySurface,
} from '../../src/measure/landscape-surface.js';
import { knownQuadratic } from './quadratic.js';

describe('landscape surfaces', () => {
  // dense 2×3 weight + bias 2, then dense 1×2 weight + bias 1: 6 + 2 + 2 + 1 = 11 parameters.
  const spec = {
    input: [3],
    layers: [{ type: 'dense' as const, units: 2 }, { type: 'tanh' as const }, { type: 'dense' as const, units: 1 }],
    loss: 'mse' as const,
  };
  const layout = describeSpec(spec);

  it("filter normalisation against a hand-computed example (rows scaled to θ's row norms, biases zeroed or copied)", () => {
    const names = layout.params.map((e) => `${e.name}:${e.shape.join('x')}@${e.offset}`);
    expect(names).to.deep.equal(['0.weight:2x3@0', '0.bias:2@6', '2.weight:1x2@8', '2.bias:1@10']);
    const params = Float32Array.from([3, 4, 0, /**/ 0, 0, 2, /**/ 0.5, -0.5, /**/ 1, 2, /**/ 7]);
    const dir = Float32Array.from([1, 0, 0, /**/ 1, 1, 0, /**/ 9, 9, /**/ 0, -4, /**/ 9]);
    // Row 1: ‖θ‖ = 5, ‖d‖ = 1 → [5, 0, 0]. Row 2: ‖θ‖ = 2, ‖d‖ = √2 → [√2, √2, 0]. Row 3: ‖θ‖ = √5, ‖d‖ = 4 → [0, −√5].
    const r2 = Math.SQRT2;
    const s5 = Math.sqrt(5);
    const expected = [5, 0, 0, r2, r2, 0, 0, 0, 0, -s5, 0];
    Array.from(filterNormalize(layout, params, dir)).forEach((v, i) =>
      expect(v, `element ${i}`).to.be.closeTo(expected[i], 1e-6),
    );
    const withBias = filterNormalize(layout, params, dir, { excludeBiasAndNorm: false });
    expect([withBias[6], withBias[7], withBias[10]]).to.deep.equal([0.5, -0.5, 7]);
    expect(() => filterNormalize(layout, params, dir, { ignore: 'biasbn' } as never)).to.throw(TypeError, /ignore/);
  });

  it('2-D surface on a quadratic equals the analytic loss at every grid point and restores θ', () => {
    const q = knownQuadratic([4, 2, 1, 0.5], 3);
    const model = new Model(q.spec, { seed: 2 });
    const center = model.params.slice();
    const d1 = Float32Array.from([1, 0, 0, 0]);
    const d2 = Float32Array.from([0, 0.5, 0.5, 0]);
    const s = lossSurface2d(model, q.data, { d1, d2, range: [-1, 2, -0.5, 0.5], resolution: 5 });
    expect(s.x).to.deep.equal([-1, -0.25, 0.5, 1.25, 2]);
    s.y.forEach((y, j) =>
      s.x.forEach((x, i) => {
        const w = Array.from(center, (c, k) => Math.fround(c + x * d1[k] + y * d2[k]));
        expect(s.loss[j][i]).to.be.closeTo(q.loss(w), 1e-4 * (1 + q.loss(w)));
      }),
    );
    expect(Array.from(model.params)).to.deep.equal(Array.from(center));
    expect(s.batchNorm).to.equal('none');
    expect(s.directions).to.equal('given');
    model.close();
  });

  it('random filter-normalised directions give finite surfaces on an MLP; 1-D slice matches the 2-D axis', () => {
    const q = knownQuadratic([3, 1, 0.5], 1);
    const model = new Model(spec, { seed: 1 });
    const data = { x: q.data.x.subarray(0, 6 * 3), y: new Float32Array(6).fill(0.5) };
    const s = lossSurface2d(model, data, { resolution: 3, seed: 4 });
    expect(s.loss.flat().every(Number.isFinite)).to.equal(true);
    const d1 = randomFilterDirection(model.layout, model.params, 4);
    expect([d1[6], d1[7], d1[10]]).to.deep.equal([0, 0, 0]);
    const one = lossSurface1d(model, data, { d1, resolution: 3 });
    one.loss.forEach((l, i) => expect(l).to.be.closeTo(s.loss[1][i], 1e-6));
    const interp = interpolationPath(model, model.params.slice(), d1, data, { points: 3 });
    expect(interp.batchNorm).to.equal('none');
    expect(interp.alpha).to.deep.equal([0, 0.5, 1]);
    model.close();
  });

  it('trajectorySurface: a path lying in a plane is recovered (explained variance 1) and its points match the surface', () => {
    const q = knownQuadratic([4, 2, 1, 0.5, 0.25], 5);
    const model = new Model(q.spec, { seed: 3 });
    const end = model.params.slice();
    const u = [0.6, 0.8, 0, 0, 0];
    const v = [0, 0, 1, 0, 0];
    const snaps = [0, 1, 2, 3, 4, 5].map((t) =>
      Float32Array.from(end, (c, k) => c + (5 - t) * 0.2 * u[k] + Math.sin(t) * 0.3 * v[k]),
    );
    const r = trajectorySurface(model, snaps, q.data, { resolution: 7 });
    expect(r.explained[0] + r.explained[1]).to.be.closeTo(1, 1e-6);
    expect(r.path[r.path.length - 1][0]).to.be.closeTo(0, 1e-6);
    // Each path point, mapped back through the surface's plane (last + x·d1 + y·d2), is the snapshot
    // itself, so the path sits on its own contours.
    for (let t = 0; t < snaps.length; t++) {
      const [x, y] = r.path[t];
      const back = Array.from(snaps[snaps.length - 1], (c, k) => c + x * r.d1[k] + y * r.d2[k]);
      back.forEach((b, k) => expect(b).to.be.closeTo(snaps[t][k], 1e-5));
      expect(q.loss(back)).to.be.closeTo(q.loss(Array.from(snaps[t])), 1e-4);
    }
    expect(r.surface.x[0]).to.be.below(Math.min(...r.path.map((p) => p[0])));
    expect(r.surface.x[6]).to.be.above(Math.max(...r.path.map((p) => p[0])));
    expect(r.surface.loss.flat().every(Number.isFinite)).to.equal(true);
    model.close();
  });
});
