import { expect } from 'chai';

import { Model, Trainer, sgd, type TransformSpec } from '../../src/index.js';
import {
  addWeightDecay,
  amplifyCoefficient,
  chain,
  clipGlobalNorm,
  compilePlan,
  decoupledWeightDecay,
  gaussianNoise,
  isBiasOrNorm,
  isWeight,
  momentum,
  noisySgd,
  parameterMask,
  scaleByLearningRate,
} from '../../src/optim/optimizer.js';
import { bitwiseEqual } from '../engine/helpers.js';
import { relErrorMax } from '../support/close.js';
import { compareWithReference, tinyData, tinySpec } from './reference.js';

const STEPS = 6;
const TOL = 2e-6; // float32 update vs float64 reference, relative to 1 + max|θ|

function biasMask(): Uint8Array {
  return parameterMask(new Model(tinySpec).layout, isBiasOrNorm);
}

describe('optimizer transforms vs a float64 reference', () => {
  const cases: Array<[string, () => TransformSpec[]]> = [
    ['scaleByLearningRate (plain GD)', () => [scaleByLearningRate()]],
    ['clipGlobalNorm (active)', () => [clipGlobalNorm(0.05), scaleByLearningRate()]],
    ['addWeightDecay', () => [addWeightDecay(0.3), scaleByLearningRate()]],
    ['addWeightDecay with a mask', () => [addWeightDecay(0.3, { mask: biasMask() }), scaleByLearningRate()]],
    ['momentum (fused path)', () => [momentum(0.9), scaleByLearningRate()]],
    ['momentum (generic path)', () => [clipGlobalNorm(1e9), momentum(0.9), scaleByLearningRate()]],
    [
      'Nesterov momentum (fused path)',
      () => [addWeightDecay(0.01), momentum(0.8, { nesterov: true }), scaleByLearningRate()],
    ],
    [
      'Nesterov momentum (generic path)',
      () => [clipGlobalNorm(1e9), momentum(0.8, { nesterov: true }), scaleByLearningRate()],
    ],
    ['decoupledWeightDecay', () => [scaleByLearningRate(), decoupledWeightDecay(0.5)]],
    [
      'decoupledWeightDecay with a mask',
      () => [scaleByLearningRate(), decoupledWeightDecay(0.5, { mask: biasMask() })],
    ],
    ['gaussianNoise (std)', () => [gaussianNoise(0.02), scaleByLearningRate()]],
    ['gaussianNoise (std, annealed)', () => [gaussianNoise(0.02, { annealSteps: 4 }), scaleByLearningRate()]],
    ['gaussianNoise (norm)', () => [gaussianNoise(0.1, { mode: 'norm' }), scaleByLearningRate()]],
    [
      'gaussianNoise (relative, masked)',
      () => [gaussianNoise(0.5, { mode: 'relative', mask: biasMask() }), scaleByLearningRate()],
    ],
    [
      'a long chain',
      () => [
        addWeightDecay(0.01),
        gaussianNoise(0.01),
        clipGlobalNorm(0.2),
        momentum(0.9),
        scaleByLearningRate(),
        decoupledWeightDecay(0.1),
      ],
    ],
  ];
  for (const [name, make] of cases) {
    it(`${name}: matches for ${STEPS} steps`, () => {
      const { maxError } = compareWithReference(chain(0.3, ...make()), STEPS);
      expect(maxError).to.be.lessThan(TOL);
    });
  }

  it('chain order matters: clip before momentum ≠ clip after momentum, both match their references', () => {
    const before = compareWithReference(chain(0.3, clipGlobalNorm(0.05), momentum(0.9), scaleByLearningRate()), STEPS);
    const after = compareWithReference(chain(0.3, momentum(0.9), clipGlobalNorm(0.05), scaleByLearningRate()), STEPS);
    expect(before.maxError).to.be.lessThan(TOL);
    expect(after.maxError).to.be.lessThan(TOL);
    expect(relErrorMax(before.params, after.reference)).to.be.greaterThan(100 * TOL);
  });
});

describe('momentum convention (PyTorch, no dampening)', () => {
  // One bias b, x = 0 so the output is b and L = (b − 1)², g = 2(b − 1); b₀ = 0, η = 0.1, β = 0.9.
  const spec = { input: [1], layers: [{ type: 'dense' as const, units: 1 }], loss: 'mse' as const };
  const data = { x: new Float32Array(1), y: new Float32Array([1]) };
  function twoSteps(transforms: TransformSpec[]): number[] {
    const model = new Model(spec, { seed: 1 });
    model.params.fill(0);
    const trainer = new Trainer(model, { data, optimizer: chain(0.1, ...transforms) });
    const out: number[] = [];
    for (let i = 0; i < 2; i++) {
      trainer.step();
      out.push(model.params[1]);
    }
    return out;
  }
  for (const generic of [false, true]) {
    const pre = generic ? [clipGlobalNorm(1e9)] : [];
    it(`heavy ball: v₁ = g₁, θ₁ = θ₀ − ηg₁; v₂ = βv₁ + g₂ (${generic ? 'generic' : 'fused'} path)`, () => {
      // g₁ = −2 → θ₁ = 0.2; g₂ = −1.6, v₂ = −1.8 − 1.6 = −3.4 → θ₂ = 0.54
      const [t1, t2] = twoSteps([...pre, momentum(0.9), scaleByLearningRate()]);
      expect(t1).to.be.closeTo(0.2, 1e-6);
      expect(t2).to.be.closeTo(0.54, 1e-6);
    });
    it(`Nesterov: u = g + βv (${generic ? 'generic' : 'fused'} path)`, () => {
      // v₁ = −2, u₁ = −3.8 → θ₁ = 0.38; g₂ = −1.24, v₂ = −3.04, u₂ = −3.976 → θ₂ = 0.7776
      const [t1, t2] = twoSteps([...pre, momentum(0.9, { nesterov: true }), scaleByLearningRate()]);
      expect(t1).to.be.closeTo(0.38, 1e-6);
      expect(t2).to.be.closeTo(0.7776, 1e-6);
    });
  }
  it('sgd({momentum}) is the same chain as momentum() + scaleByLearningRate()', () => {
    expect(sgd({ lr: 0.1, momentum: 0.9 })).to.deep.equal(chain(0.1, momentum(0.9), scaleByLearningRate()));
  });
});

describe('parameterMask()', () => {
  it('marks every coordinate of the selected tensors and nothing else', () => {
    const model = new Model(tinySpec);
    const mask = parameterMask(model.layout, isWeight);
    for (const e of model.layout.params) {
      const slice = mask.subarray(e.offset, e.offset + e.size);
      expect(
        slice.every((m) => m === (e.shape.length >= 2 ? 1 : 0)),
        e.name,
      ).to.equal(true);
    }
    expect(parameterMask(model.layout, (e) => e.name === '0.bias').reduce((a, b) => a + b, 0)).to.equal(8);
  });

  it('excludes masked-out parameters from weight decay and noise (their update is the plain step, bitwise)', () => {
    const data = tinyData();
    const mask = parameterMask(new Model(tinySpec).layout, isWeight);
    const plain = new Model(tinySpec, { seed: 2 });
    const masked = new Model(tinySpec, { seed: 2 });
    const t1 = new Trainer(plain, { data, optimizer: chain(0.2, clipGlobalNorm(1e9), scaleByLearningRate()) });
    const t2 = new Trainer(masked, {
      data,
      optimizer: chain(
        0.2,
        clipGlobalNorm(1e9),
        addWeightDecay(0.5, { mask }),
        gaussianNoise(0.1, { mask }),
        scaleByLearningRate(),
        decoupledWeightDecay(0.3, { mask }),
      ),
    });
    t1.step();
    t2.step();
    for (const e of plain.layout.params) {
      const a = plain.params.subarray(e.offset, e.offset + e.size);
      const b = masked.params.subarray(e.offset, e.offset + e.size);
      expect(bitwiseEqual(a, b), e.name).to.equal(e.shape.length < 2);
    }
  });

  it('names the parameter when a mask has the wrong length or type', () => {
    expect(() =>
      compilePlan(chain(0.1, addWeightDecay(0.1, { mask: new Uint8Array(3) }), scaleByLearningRate()), 10),
    ).to.throw(RangeError, /optimizer\.transforms\[0\]\.mask must have length paramCount 10/);
    expect(() =>
      compilePlan(
        {
          transforms: [{ kind: 'gaussianNoise', std: 1, mask: [1] as unknown as Uint8Array }],
          schedule: { kind: 'constant', lr: 1 },
        },
        1,
      ),
    ).to.throw(TypeError, /transforms\[0\]\.mask must be a Uint8Array/);
    expect(() => parameterMask(new Model(tinySpec).layout, 3 as never)).to.throw(TypeError, /predicate/);
  });
});

describe('noise family aliases', () => {
  it('noisySgd puts the noise on the gradient, before momentum', () => {
    const o = noisySgd({ lr: 0.1, noiseStd: 0.01, annealSteps: 100, momentum: 0.9, weightDecay: 1e-4 });
    expect(o.transforms.map((t) => t.kind)).to.deep.equal([
      'addWeightDecay',
      'gaussianNoise',
      'momentum',
      'scaleByLearningRate',
    ]);
    expect(o.transforms[1]).to.deep.include({ std: 0.01, annealSteps: 100, mode: 'std' });
    expect(noisySgd({ lr: 0.1, noiseNorm: 2 }).transforms[0]).to.deep.include({
      kind: 'gaussianNoise',
      std: 2,
      mode: 'norm',
    });
    expect(noisySgd({ lr: 0.1, noiseRelative: 0.5 }).transforms[0]).to.deep.include({ mode: 'relative' });
  });

  it('noisySgd requires exactly one noise magnitude and names the options', () => {
    expect(() => noisySgd({ lr: 0.1 })).to.throw(
      RangeError,
      /noisySgd\(options\) must give exactly one of noiseStd, noiseNorm, noiseRelative \(got none\)/,
    );
    expect(() => noisySgd({ lr: 0.1, noiseStd: 1, noiseNorm: 1 })).to.throw(RangeError, /got noiseStd, noiseNorm/);
    expect(() => noisySgd({ lr: 0.1, noiseStd: -1 })).to.throw(RangeError, /noisySgd\(options\)\.noiseStd/);
    expect(() => noisySgd({ lr: 0.1, noiseStd: 1, annealSteps: 1.5 })).to.throw(
      RangeError,
      /noisySgd\(options\)\.annealSteps/,
    );
  });

  it('compilePlan rejects an unknown noise mode by name', () => {
    expect(() => compilePlan(chain(0.1, { kind: 'gaussianNoise', std: 1, mode: 'loud' as never }), 4)).to.throw(
      RangeError,
      /transforms\[0\]\.mode/,
    );
  });

  it('amplifyCoefficient solves (1 + c)² + c² = k²', () => {
    for (const k of [1, 1.5, 2, 4, 10]) {
      const c = amplifyCoefficient(k);
      expect((1 + c) ** 2 + c ** 2).to.be.closeTo(k * k, 1e-9 * k * k);
    }
    expect(() => amplifyCoefficient(0.5)).to.throw(RangeError, /k must be/);
  });
});
