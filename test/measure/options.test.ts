// The measure toolkit's options (src/measure/options.ts) through every public function that takes
// them: an unknown key is a TypeError naming it and the nearest known key, a wrong type a
// TypeError, a value out of range (NaN included) a RangeError, each naming options.<key>; a bad
// option is refused before any Hessian-vector product or evaluation runs (θ stays as it was).
import { expect } from 'chai';

import { Model } from '../../src/index.js';
import { gradientFlow, modelGradientFlow } from '../../src/measure/flow.js';
import {
  filterNormalize,
  interpolationPath,
  lossSurface1d,
  lossSurface2d,
  trajectorySurface,
} from '../../src/measure/landscape-surface.js';
import {
  bottomEigenvalue,
  extremeEigenvalues,
  hessianTrace,
  hessianVectorProduct,
  topEigenvalue,
  topEigenvalues,
} from '../../src/measure/sharpness.js';
import { hessianSpectrum, layerCurvature, spectralDensity } from '../../src/measure/spectrum.js';
import { checkStepCurvature } from '../../src/measure/step-check.js';
import { SharpnessTracker } from '../../src/measure/tracking.js';
import { interpolationLosses, lossSurface, projectTrajectory } from '../../src/measure/trajectory.js';
import { knownQuadratic } from './quadratic.js';

type Cls = typeof TypeError | typeof RangeError;

function thrown(call: () => unknown): Error {
  try {
    call();
  } catch (e) {
    return e as Error;
  }
  throw new Error('nothing was thrown');
}

describe('measure options (zod schemas, src/measure/options.ts)', () => {
  const quad = knownQuadratic([4, 3, 2, 1], 1);
  const model = new Model(quad.spec);
  const data = quad.data;
  const d = model.params.length;
  const v = new Float32Array(d);
  const apply = (x: Float64Array, out: Float64Array) => out.set(x);
  const grad = (theta: Float64Array, out: Float64Array) => {
    out.set(theta);
    return 0;
  };
  const theta0 = new Float64Array(3).fill(1);
  const snaps = [0, 1, 2].map((i) => new Float32Array(d).fill(i));

  const cases: Array<[string, () => unknown, Cls, string]> = [
    // the Hessian operator's options, through every probe
    [
      'hessianVectorProduct: unknown key',
      () => hessianVectorProduct(model, data, new Float64Array(d), undefined, { batchsize: 10 } as never),
      TypeError,
      'options: unknown option "batchsize" (did you mean "batchSize"?)',
    ],
    [
      'topEigenvalue: method not a name',
      () => topEigenvalue(model, data, { method: 'lanczos' as never }),
      RangeError,
      "options.method must be one of 'exact', 'finite-difference' (got \"lanczos\")",
    ],
    [
      'topEigenvalue: method of the wrong type',
      () => topEigenvalue(model, data, { method: 1 as never }),
      TypeError,
      'options.method must be one of',
    ],
    [
      'topEigenvalue: batchSize 0',
      () => topEigenvalue(model, data, { batchSize: 0 }),
      RangeError,
      'options.batchSize must be an integer in [1, 2^53) (got 0)',
    ],
    [
      'topEigenvalue: epsilon NaN',
      () => topEigenvalue(model, data, { epsilon: NaN }),
      RangeError,
      'options.epsilon must be a positive number',
    ],
    [
      'topEigenvalue: dataParallel a string',
      () => topEigenvalue(model, data, { dataParallel: 'yes' as never }),
      TypeError,
      'options.dataParallel must be a boolean',
    ],
    [
      'topEigenvalue: seed negative',
      () => topEigenvalue(model, data, { seed: -1 }),
      RangeError,
      'options.seed must be a non-negative integer (got -1)',
    ],
    [
      'topEigenvalue: start not a Float64Array',
      () => topEigenvalue(model, data, { start: [1, 0, 0, 0] as never }),
      TypeError,
      'options.start must be a Float64Array',
    ],
    [
      'bottomEigenvalue: tolerance 0',
      () => bottomEigenvalue(model, data, { tolerance: 0 }),
      RangeError,
      'options.tolerance must be a positive number (got 0)',
    ],
    [
      'extremeEigenvalues: iterations 1.5',
      () => extremeEigenvalues(model, data, { iterations: 1.5 }),
      RangeError,
      'options.iterations must be an integer in [1, 2^31) (got 1.5)',
    ],
    [
      'topEigenvalues: unknown key',
      () => topEigenvalues(model, data, 2, { restrat: 5 } as never),
      TypeError,
      'options: unknown option "restrat" (did you mean "restart"?)',
    ],
    [
      'hessianTrace: samples 0',
      () => hessianTrace(model, data, { samples: 0 }),
      RangeError,
      'options.samples must be an integer in [1, 2^31) (got 0)',
    ],
    ['topEigenvalue: options null', () => topEigenvalue(model, data, null as never), TypeError, 'options must be'],
    // spectra
    [
      'spectralDensity: distribution',
      () => spectralDensity(apply, 4, { distribution: 'cauchy' as never }),
      RangeError,
      "options.distribution must be one of 'rademacher', 'gaussian'",
    ],
    [
      'spectralDensity: sigma -1',
      () => spectralDensity(apply, 4, { sigma: -1 }),
      RangeError,
      'options.sigma must be a positive number',
    ],
    [
      'hessianSpectrum: unknown key',
      () => hessianSpectrum(model, data, { traceSample: 3 } as never),
      TypeError,
      'options: unknown option "traceSample" (did you mean "traceSamples"?)',
    ],
    [
      'hessianSpectrum: gridPoints a string',
      () => hessianSpectrum(model, data, { gridPoints: '100' as never }),
      TypeError,
      'options.gridPoints must be a number',
    ],
    [
      'layerCurvature: tensors not an array',
      () => layerCurvature(model, data, { tensors: '0.weight' as never }),
      TypeError,
      'options.tensors must be an array of tensor names',
    ],
    // tracking
    [
      'SharpnessTracker: warmStart a string',
      () => new SharpnessTracker(model, data, { warmStart: 'false' as never }),
      TypeError,
      'options.warmStart must be a boolean',
    ],
    [
      'SharpnessTracker: randomWeight Infinity',
      () => new SharpnessTracker(model, data, { randomWeight: Infinity }),
      RangeError,
      'options.randomWeight must be a positive number',
    ],
    [
      'SharpnessTracker: k 0',
      () => new SharpnessTracker(model, data, { k: 0 }),
      RangeError,
      'options.k must be an integer in [1, 2^31) (got 0)',
    ],
    // flow
    [
      'gradientFlow: eta missing',
      () => gradientFlow(grad, theta0, { steps: 3 } as never),
      TypeError,
      'options.eta must be a positive number',
    ],
    [
      'gradientFlow: saveEvery 0',
      () => gradientFlow(grad, theta0, { eta: 0.1, steps: 3, saveEvery: 0 }),
      RangeError,
      'options.saveEvery must be an integer in [1, 2^31) (got 0)',
    ],
    [
      'gradientFlow: sharpness not a function',
      () => gradientFlow(grad, theta0, { eta: 0.1, steps: 3, sharpness: 5 as never }),
      TypeError,
      'options.sharpness must be a function',
    ],
    [
      'gradientFlow: projection not a projection',
      () => gradientFlow(grad, theta0, { eta: 0.1, steps: 3, projection: {} as never }),
      TypeError,
      'options.projection must be a RandomProjection',
    ],
    [
      'modelGradientFlow: unknown key',
      () => modelGradientFlow(model, data, { eta: 0.1, steps: 1, batchsize: 4 } as never),
      TypeError,
      'options: unknown option "batchsize" (did you mean "batchSize"?)',
    ],
    [
      'modelGradientFlow: sharpness true',
      () => modelGradientFlow(model, data, { eta: 0.1, steps: 1, sharpness: true as never }),
      TypeError,
      'options.sharpness must be a function (theta) => λ_max or false',
    ],
    // the step check
    [
      'checkStepCurvature: factors with NaN',
      () => checkStepCurvature(model, data, { factors: [1.9, NaN] }),
      RangeError,
      'options.factors[1] must be a positive number',
    ],
    // landscape surfaces
    [
      'filterNormalize: excludeBiasAndNorm a number',
      () => filterNormalize(model.layout, model.params, v, { excludeBiasAndNorm: 1 as never }),
      TypeError,
      'options.excludeBiasAndNorm must be a boolean',
    ],
    [
      'lossSurface2d: resolution 1',
      () => lossSurface2d(model, data, { resolution: 1 }),
      RangeError,
      'options.resolution must be an integer in [2, 2^16) (got 1)',
    ],
    [
      'lossSurface2d: range of 2 numbers',
      () => lossSurface2d(model, data, { range: [-1, 1] }),
      RangeError,
      'options.range must be 4 finite numbers [xMin, xMax, yMin, yMax] (got 2)',
    ],
    [
      'lossSurface1d: range with NaN',
      () => lossSurface1d(model, data, { range: [-1, NaN] }),
      RangeError,
      'options.range[1] must be 2 finite numbers [min, max]',
    ],
    [
      'lossSurface1d: d2 is a 2-D option',
      () => lossSurface1d(model, data, { d2: v } as never),
      TypeError,
      'options: unknown option "d2" (did you mean "d1"?)',
    ],
    [
      'interpolationPath: points 1',
      () => interpolationPath(model, v, v, data, { points: 1 }),
      RangeError,
      'options.points must be an integer in [2, 2^31) (got 1)',
    ],
    [
      'trajectorySurface: margin -0.1',
      () => trajectorySurface(model, snaps, data, { margin: -0.1 }),
      RangeError,
      'options.margin must be a finite number >= 0 (got -0.1)',
    ],
    // trajectories (these took unknown keys without a word before the schemas)
    [
      'interpolationLosses: unknown key',
      () => interpolationLosses(model, v, v, data, { point: 5 } as never),
      TypeError,
      'options: unknown option "point" (did you mean "points"?)',
    ],
    [
      'projectTrajectory: unknown key',
      () => projectTrajectory(snaps, { directions: 'pca', centre: v } as never),
      TypeError,
      'options: unknown option "centre" (did you mean "center"?)',
    ],
    [
      'projectTrajectory: directions missing',
      () => projectTrajectory(snaps, {} as never),
      TypeError,
      "options.directions must be one of 'pca', 'random'",
    ],
    [
      'lossSurface: unknown key',
      () => lossSurface(model, v, v, v, data, { range: [0, 1, 0, 1], resolution: 3, batchNorm: 'eval' } as never),
      TypeError,
      'options: unknown option "batchNorm"',
    ],
  ];

  for (const [what, call, cls, message] of cases)
    it(`${what} → ${cls.name} "${message}"`, () => {
      const before = model.params.slice();
      const e = thrown(call);
      expect(e).to.be.instanceOf(cls);
      expect(e.message.startsWith(message), e.message).to.equal(true);
      expect(Array.from(model.params)).to.deep.equal(Array.from(before));
    });

  it('good options still work: the defaults, and every key of topEigenvalue given', () => {
    const a = topEigenvalue(model, data);
    const b = topEigenvalue(model, data, {
      method: 'exact',
      batchSize: 1000,
      epsilon: 1e-3,
      batchNorm: 'eval',
      dataParallel: false,
      iterations: 200,
      tolerance: 1e-4,
      seed: 0,
      restart: 20,
    });
    expect(b.value).to.equal(a.value);
    expect(a.value).to.be.closeTo(quad.lambdas[0], 0.01 * quad.lambdas[0]);
  });
});
