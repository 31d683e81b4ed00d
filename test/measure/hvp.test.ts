import { readFileSync } from 'node:fs';

import { expect } from 'chai';

import { Model, Trainer, mlp, sgd, type ModelSpec } from '../../src/index.js';
import {
  bottomEigenvalue,
  extremeEigenvalues,
  hessianTrace,
  hessianVectorProduct,
  topEigenvalue,
  topEigenvalues,
} from '../../src/measure/sharpness.js';
import { Rng } from '../../src/util/random.js';
import { bitwiseEqual, separableBlobs } from '../engine/helpers.js';
import { relErrorL2 } from '../support/close.js';

const report = (s: string) => {
  if (process.env.BIGSTEP_REPORT_FIGURES) console.log(`      ${s}`);
};

/** Made by scripts/reference/hvp_torch.py: float64 PyTorch double-backward HVPs and full-Hessian spectra. */
interface Fixture {
  cases: {
    name: string;
    spec: ModelSpec;
    names: string[];
    n: number;
    x: number[];
    y: number[];
    v: number[];
    points: {
      point: string;
      etaLambda: number | null;
      params: number[];
      hv: number[];
      lambdaMax: number;
      lambdaMin: number;
    }[];
  }[];
}
const fixture: Fixture = JSON.parse(
  readFileSync(new URL('../../../test/measure/fixtures/hvp-reference.json', import.meta.url), 'utf8'),
);

describe('exact Hessian-vector products against float64 PyTorch double backward (stored fixture)', () => {
  for (const c of fixture.cases) {
    const data = {
      x: Float32Array.from(c.x),
      y: c.spec.loss === 'mse' ? Float32Array.from(c.y) : Int32Array.from(c.y),
    };
    const v = Float64Array.from(c.v);
    for (const p of c.points) {
      const label = `${c.name}, ${p.point}${p.etaLambda === null ? '' : ` (η·λ_max = ${p.etaLambda.toFixed(2)})`}`;
      const model = (): Model => {
        const m = new Model(c.spec);
        expect(m.layout.params.map((e) => e.name)).to.deep.equal(c.names);
        m.params.set(p.params);
        return m;
      };

      it(`${label}: H·v within 1e-5 (relative, 2-norm)`, () => {
        const err = relErrorL2(hessianVectorProduct(model(), data, v, undefined, { batchSize: 7 }), p.hv);
        report(`${label}: HVP rel. error ${err.toExponential(2)}`);
        expect(err).to.be.lessThan(1e-5);
      });

      it(`${label}: λ_max within 0.5 % (and λ_min within 1e-3·λ_max)`, () => {
        const m = model();
        const top = topEigenvalue(m, data, { tolerance: 1e-6 });
        // λ_min sits in a dense cluster near 0 at a minimum: judged against 1e-2·max|Ritz| (module docs)
        const bottom = bottomEigenvalue(m, data, { tolerance: 1e-4 });
        const fd = topEigenvalue(m, data, { method: 'finite-difference' });
        const rel = (top.value - p.lambdaMax) / p.lambdaMax;
        report(
          `${label}: λ_max ${p.lambdaMax.toPrecision(6)}: exact ${(100 * rel).toExponential(1)} % (${top.iterations} its, residual ${top.residual.toExponential(1)}), ` +
            `finite differences ${((100 * (fd.value - p.lambdaMax)) / p.lambdaMax).toFixed(2)} %; λ_min ${p.lambdaMin.toPrecision(3)} vs ${bottom.value.toPrecision(3)}`,
        );
        expect(top.converged).to.equal(true);
        expect(top.method).to.equal('exact');
        expect(Math.abs(rel)).to.be.lessThan(0.005);
        expect(top.residual).to.be.lessThan(1e-2);
        expect(bottom.converged).to.equal(true);
        expect(Math.abs(bottom.value - p.lambdaMin)).to.be.lessThan(1e-3 * p.lambdaMax);
      });
    }
  }
});

describe('curvature probes: contracts', () => {
  const data = separableBlobs(40, 6, 3, 2);
  const spec = mlp({ input: 6, hidden: [8], outputs: 3 });

  function trained(): Model {
    const m = new Model(spec, { seed: 1 });
    const t = new Trainer(m, { data, optimizer: sgd({ lr: 0.1 }) });
    for (let i = 0; i < 5; i++) t.step();
    return m;
  }

  it('leave params, grads and state bitwise unchanged, for both methods and every probe', () => {
    const m = trained();
    m.grads.fill(0.25);
    const p0 = m.params.slice();
    const g0 = m.grads.slice();
    const v = Float64Array.from({ length: m.params.length }, (_, i) => Math.sin(i));
    for (const method of ['exact', 'finite-difference'] as const) {
      hessianVectorProduct(m, data, v, undefined, { method });
      topEigenvalue(m, data, { method, iterations: 10 });
      bottomEigenvalue(m, data, { method, iterations: 10 });
      extremeEigenvalues(m, data, { method, iterations: 10 });
      topEigenvalues(m, data, 2, { method, iterations: 10 });
      hessianTrace(m, data, { method, samples: 3 });
      expect(bitwiseEqual(m.params, p0), method).to.equal(true);
      expect(bitwiseEqual(m.grads, g0), method).to.equal(true);
    }
  });

  it('exact and finite-difference products agree on a smooth (tanh) network to 1e-3', () => {
    const m = new Model(mlp({ input: 6, hidden: [8], outputs: 3, activation: 'tanh' }), { seed: 3 });
    const rng = Rng.fromSeed(4, 0);
    const v = Float64Array.from({ length: m.params.length }, () => rng.normal());
    const exact = hessianVectorProduct(m, data, v);
    const fd = hessianVectorProduct(m, data, v, undefined, { method: 'finite-difference' });
    expect(relErrorL2(fd, exact)).to.be.lessThan(1e-3);
  });

  it('batch norm in both modes: exact matches finite differences on a smooth network', () => {
    const bn: ModelSpec = {
      input: [6],
      layers: [{ type: 'dense', units: 8 }, { type: 'batchnorm' }, { type: 'tanh' }, { type: 'dense', units: 3 }],
      loss: 'softmax-cross-entropy',
    };
    const m = new Model(bn, { seed: 5 });
    m.state.set(m.state.map((_, i) => (i < 8 ? 0.1 : 1.5)));
    const s0 = m.state.slice();
    const rng = Rng.fromSeed(6, 0);
    const v = Float64Array.from({ length: m.params.length }, () => rng.normal());
    for (const batchNorm of ['eval', 'train'] as const) {
      const exact = hessianVectorProduct(m, data, v, undefined, { batchNorm, batchSize: 16 });
      const fd = hessianVectorProduct(m, data, v, undefined, { batchNorm, batchSize: 16, method: 'finite-difference' });
      expect(relErrorL2(fd, exact), `batchNorm ${batchNorm}`).to.be.lessThan(2e-3);
      expect(bitwiseEqual(m.state, s0)).to.equal(true);
    }
    const evalMode = hessianVectorProduct(m, data, v);
    expect(relErrorL2(hessianVectorProduct(m, data, v, undefined, { batchNorm: 'train' }), evalMode)).to.be.greaterThan(
      1e-3,
    );
    expect(() => hessianVectorProduct(m, data, v, undefined, { batchNorm: 'training' as 'train' })).to.throw(
      RangeError,
      /options\.batchNorm must be one of 'train', 'eval' \(got "training"\)/,
    );
  });

  it('a product at the θ and data of the previous one (primal pass reused) equals a fresh model’s bit for bit, also after θ or the data change in place', () => {
    const m = trained();
    const v = Float64Array.from({ length: m.params.length }, (_, i) => Math.cos(i));
    const u = Float64Array.from({ length: m.params.length }, (_, i) => Math.sin(3 * i));
    const own = { x: data.x.slice(), y: (data.y as Int32Array).slice() };
    const fresh = (w: Float64Array): Float64Array => {
      const f = new Model(spec);
      f.params.set(m.params);
      const r = hessianVectorProduct(f, own, w);
      f.close();
      return r;
    };
    hessianVectorProduct(m, own, v);
    expect(bitwiseEqual(hessianVectorProduct(m, own, u), fresh(u))).to.equal(true);
    const t = new Trainer(m, { data: own, optimizer: sgd({ lr: 0.1 }) });
    t.step();
    expect(bitwiseEqual(hessianVectorProduct(m, own, u), fresh(u)), 'after a training step').to.equal(true);
    own.x[7] += 0.5;
    expect(bitwiseEqual(hessianVectorProduct(m, own, u), fresh(u)), 'after an input changed').to.equal(true);
    own.y[3] = (own.y[3] + 1) % 3;
    expect(bitwiseEqual(hessianVectorProduct(m, own, u), fresh(u)), 'after a label changed').to.equal(true);
  });

  it('the product does not depend on batchSize beyond float32 rounding', () => {
    const m = trained();
    const v = Float64Array.from({ length: m.params.length }, (_, i) => Math.cos(i));
    const a = hessianVectorProduct(m, data, v, undefined, { batchSize: 40 });
    const b = hessianVectorProduct(m, data, v, undefined, { batchSize: 3 });
    expect(relErrorL2(b, a)).to.be.lessThan(1e-5);
  });

  it('extremeEigenvalues gives both ends of one Lanczos run, matching the separate probes', () => {
    const m = trained();
    const both = extremeEigenvalues(m, data, { tolerance: 1e-6 });
    const top = topEigenvalue(m, data, { tolerance: 1e-6 });
    const bottom = bottomEigenvalue(m, data, { tolerance: 1e-6 });
    expect(both.converged).to.equal(true);
    expect(Math.abs(both.top.value - top.value)).to.be.lessThan(1e-4 * top.value);
    expect(Math.abs(both.bottom.value - bottom.value)).to.be.lessThan(1e-4 * top.value);
    expect(both.bottom.value).to.be.lessThan(both.top.value);
  });

  it('topEigenvalue from a given start vector (warm start) converges in fewer products to the same value', () => {
    const m = trained();
    const cold = topEigenvalue(m, data, { tolerance: 1e-6 });
    const warm = topEigenvalue(m, data, { tolerance: 1e-6, start: cold.vector });
    expect(Math.abs(warm.value - cold.value)).to.be.lessThan(1e-5 * cold.value);
    expect(warm.iterations).to.be.lessThan(cold.iterations);
    expect(() => topEigenvalue(m, data, { start: new Float64Array(3) })).to.throw(
      RangeError,
      /^options\.start must have length/,
    );
  });

  it('reports an unconverged run as such (iterations exhausted)', () => {
    const r = topEigenvalue(trained(), data, { iterations: 2, tolerance: 1e-12 });
    expect(r.converged).to.equal(false);
    expect(r.iterations).to.equal(2);
    expect(r.residual).to.be.greaterThan(0);
  });

  it('names a vector of the wrong type or length', () => {
    const m = trained();
    expect(() => hessianVectorProduct(m, data, new Float32Array(m.params.length) as unknown as Float64Array)).to.throw(
      TypeError,
      /^v must be a Float64Array/,
    );
    expect(() => hessianVectorProduct(m, data, new Float64Array(3))).to.throw(
      RangeError,
      /^v must have length paramCount/,
    );
    expect(() => hessianVectorProduct(m, data, new Float64Array(m.params.length), new Float64Array(2))).to.throw(
      RangeError,
      /^out must have length/,
    );
    const bad = new Float64Array(m.params.length);
    bad[0] = NaN;
    expect(() => hessianVectorProduct(m, data, bad)).to.throw(RangeError, /^v must be finite/);
  });

  it('names non-finite parameters instead of returning NaN', () => {
    const m = trained();
    m.params[3] = Infinity;
    expect(() => topEigenvalue(m, data)).to.throw(
      RangeError,
      /^model\.params must be finite \(element 3 is Infinity\)/,
    );
    expect(() => topEigenvalue(m, data, { method: 'finite-difference' })).to.throw(
      RangeError,
      /^model\.params must be finite/,
    );
  });

  it('rejects unknown options and a bad method by name', () => {
    const m = trained();
    expect(() => topEigenvalue(m, data, { tolerence: 1e-3 } as never)).to.throw(
      TypeError,
      /unknown option "tolerence" \(did you mean "tolerance"\?\)/,
    );
    expect(() =>
      hessianVectorProduct(m, data, new Float64Array(m.params.length), undefined, { method: 'fd' } as never),
    ).to.throw(RangeError, /^options\.method/);
  });

  it('throws ERR_BIGSTEP_BUSY while a trainer runs the model, and leaves it alone', async () => {
    const m = new Model(spec, { seed: 1 });
    const trainer = new Trainer(m, { data, optimizer: sgd({ lr: 0.1 }) });
    const running = trainer.run({ steps: 200, chunkSize: 200 });
    for (const method of ['exact', 'finite-difference'] as const) {
      expect(() => topEigenvalue(m, data, { method }))
        .to.throw(Error)
        .with.property('code', 'ERR_BIGSTEP_BUSY');
    }
    await running;
    expect(topEigenvalue(m, data, { iterations: 5 }).value).to.be.a('number');
  });
});
