/**
 * The options of the measure toolkit as zod schemas, one per option kind, checked by `parseNamed`
 * (src/util/schema.ts) where each public function takes them: an unknown key is a TypeError naming
 * it and the nearest known key, a wrong type a TypeError, a value out of range (or NaN, ±Infinity)
 * a RangeError, each naming `options.<key>`. Rules that need the model or the data (k ≤ paramCount,
 * subset ≤ n, restart ≥ 2 when paramCount > 1, tensor names in the layout) stay next to the code
 * that knows them. The TS interfaces the functions document are checked against these shapes at
 * compile time ({@link SameKeys}, asserted in each module).
 */
import { z } from 'zod';

import { formatValue } from '../util/format.js';
import {
  boolean,
  instanceOf,
  intBelow,
  nonEmptyArray,
  nonNegativeInt,
  oneOf,
  parseNamed,
  positiveNumber,
} from '../util/schema.js';

/** A count (probes, Lanczos steps, samples, grid points): an integer in [1, 2^31). */
const count = () => intBelow(1, 2 ** 31, '2^31');
/** Examples per float pass: an integer in [1, 2^53), as Model#evaluate takes it. */
const batchSize = () => intBelow(1, 2 ** 53, '2^53');
const seed = () => nonNegativeInt();

const optionsObject = <T extends z.ZodRawShape>(shape: T, what: string) =>
  z.strictObject(shape, { error: (i) => `must be an object such as ${what} (got ${formatValue(i.input)})` });

/** The Hessian operator's options (hessian.ts), shared by every curvature probe. */
const hessianShape = {
  method: oneOf(['exact', 'finite-difference']).optional(),
  batchSize: batchSize().optional(),
  epsilon: positiveNumber().optional(),
  batchNorm: oneOf(['train', 'eval']).optional(),
  dataParallel: boolean().optional(),
};

/** The restarted-Lanczos options of topEigenvalue / bottomEigenvalue / extremeEigenvalues / topEigenvalues. */
const sharpnessShape = {
  ...hessianShape,
  iterations: count().optional(),
  tolerance: positiveNumber().optional(),
  seed: seed().optional(),
  restart: count().optional(),
  start: instanceOf(Float64Array, 'a Float64Array of length paramCount').optional(),
};

/** Stochastic Lanczos quadrature (spectralDensity). */
const densityShape = {
  probes: count().optional(),
  steps: count().optional(),
  distribution: oneOf(['rademacher', 'gaussian']).optional(),
  gridPoints: count().optional(),
  sigma: positiveNumber().optional(),
  seed: seed().optional(),
};

export const hessianOptionsSchema = optionsObject(hessianShape, "{ method: 'exact', batchSize: 1000 }");
export const sharpnessOptionsSchema = optionsObject(sharpnessShape, '{ iterations: 200, tolerance: 1e-4 }');
export const traceOptionsSchema = optionsObject({ ...sharpnessShape, samples: count().optional() }, '{ samples: 30 }');
export const densityOptionsSchema = optionsObject(densityShape, '{ probes: 10, steps: 80 }');
export const spectrumOptionsSchema = optionsObject(
  { ...hessianShape, ...densityShape, traceSamples: count().optional() },
  '{ probes: 10, steps: 80, traceSamples: 30 }',
);
export const layerCurvatureOptionsSchema = optionsObject(
  {
    ...hessianShape,
    tensors: z
      .array(z.string({ error: 'must be a tensor name' }), { error: 'must be an array of tensor names' })
      .optional(),
    traceSamples: count().optional(),
    steps: count().optional(),
    seed: seed().optional(),
  },
  "{ tensors: ['0.weight'], steps: 100 }",
);

/** SharpnessTracker: the subset, top-k, the Lanczos budget and the warm start. */
const trackingShape = {
  ...hessianShape,
  k: count().optional(),
  subset: count().optional(),
  warmStart: boolean().optional(),
  tolerance: positiveNumber().optional(),
  iterations: count().optional(),
  randomWeight: positiveNumber().optional(),
  compareFull: boolean().optional(),
  seed: seed().optional(),
};
export const trackingOptionsSchema = optionsObject(trackingShape, '{ k: 2, subset: 5000 }');
/** trackSharpness: the tracker's options, the run's length and cadence, its two callbacks. */
export const trackRunOptionsSchema = optionsObject(
  {
    ...trackingShape,
    steps: count(),
    every: count(),
    stopWhen: instanceOf(Function, 'a function (point, step) => boolean').optional(),
    onMeasure: instanceOf(Function, 'a function (point)').optional(),
  },
  '{ steps: 1000, every: 50 }',
);

/** gradientFlow: the saved times (steps/saveEvery or times), tolerances, the λ_max step bound. */
const flowShape = {
  eta: positiveNumber(),
  steps: count().optional(),
  saveEvery: count().optional(),
  times: nonEmptyArray(z.number({ error: 'must be a number' }), 'ascending times > 0').optional(),
  rtol: positiveNumber().optional(),
  atol: positiveNumber().optional(),
  alpha: positiveNumber().optional(),
  sharpness: instanceOf(Function, 'a function (theta) => λ_max').optional(),
  lambdaEvery: count().optional(),
  maxStep: positiveNumber().optional(),
  // Structural (flow.ts's RandomProjection, or any object with the same project(v)): importing the
  // class here would make an import circle with flow.ts.
  projection: z
    .custom<{ project(v: ArrayLike<number>): Float64Array }>(
      (v) => v !== null && typeof v === 'object' && typeof (v as { project?: unknown }).project === 'function',
      { error: (i) => `must be a RandomProjection (got ${formatValue(i.input)})`, params: { typeError: true } },
    )
    .optional(),
  progress: boolean().optional(),
};
export const flowOptionsSchema = optionsObject(flowShape, '{ eta: 0.1, steps: 100 }');
/** modelGradientFlow: gradientFlow's options, `sharpness: false` for no step bound, the model's passes. */
export const modelFlowOptionsSchema = optionsObject(
  {
    ...flowShape,
    sharpness: z
      .custom<((theta: Float64Array) => number) | false>((v) => v === false || typeof v === 'function', {
        error: (i) => `must be a function (theta) => λ_max or false (got ${formatValue(i.input)})`,
        params: { typeError: true },
      })
      .optional(),
    batchSize: batchSize().optional(),
    batchNorm: hessianShape.batchNorm,
  },
  '{ eta: 0.1, steps: 100 }',
);

/** checkStepCurvature: the step factors around 2/λ, the difference steps and the λ solve. */
export const stepCheckOptionsSchema = optionsObject(
  {
    factors: nonEmptyArray(positiveNumber(), 'positive numbers').optional(),
    epsilon: positiveNumber().optional(),
    delta: positiveNumber().optional(),
    steps: count().optional(),
    tolerance: positiveNumber().optional(),
    iterations: count().optional(),
    batchSize: batchSize().optional(),
    start: instanceOf(Float64Array, 'a Float64Array of length paramCount').optional(),
  },
  '{ factors: [1.9, 2.1] }',
);

/** Filter-normalised directions (landscape-surface.ts). */
const directionShape = { excludeBiasAndNorm: boolean().optional() };
export const directionOptionsSchema = optionsObject(directionShape, '{ excludeBiasAndNorm: true }');

const finiteNumbers = (n: number, what: string) =>
  z
    .array(z.number({ error: `must be ${n} finite numbers ${what}` }), { error: `must be ${n} finite numbers ${what}` })
    .length(n, { error: (i) => `must be ${n} finite numbers ${what} (got ${(i.input as unknown[]).length})` });

/** lossSurface2d / lossSurface1d: directions, grid, range; `range` has 4 or 2 numbers. */
const surfaceShape = (dims: 1 | 2) => ({
  ...directionShape,
  d1: instanceOf(Float32Array, 'a Float32Array of length paramCount').optional(),
  ...(dims === 2 ? { d2: instanceOf(Float32Array, 'a Float32Array of length paramCount').optional() } : {}),
  seed: seed().optional(),
  range: (dims === 2 ? finiteNumbers(4, '[xMin, xMax, yMin, yMax]') : finiteNumbers(2, '[min, max]')).optional(),
  resolution: intBelow(2, 2 ** 16, '2^16').optional(),
  includeBatchNormState: boolean().optional(),
  batchSize: batchSize().optional(),
  batchNorm: hessianShape.batchNorm,
  progress: boolean().optional(),
});
export const surface2dOptionsSchema = optionsObject(surfaceShape(2), '{ resolution: 21, range: [-1, 1, -1, 1] }');
export const surface1dOptionsSchema = optionsObject(surfaceShape(1), '{ resolution: 21, range: [-1, 1] }');
export const trajectorySurfaceOptionsSchema = optionsObject(
  {
    resolution: intBelow(2, 2 ** 16, '2^16').optional(),
    margin: z
      .number({ error: 'must be a number' })
      .min(0, { error: (i) => `must be a finite number >= 0 (got ${formatValue(i.input)})` })
      .optional(),
    batchSize: batchSize().optional(),
    batchNorm: hessianShape.batchNorm,
    progress: boolean().optional(),
  },
  '{ resolution: 21, margin: 0.25 }',
);

/** interpolationPath (landscape-surface.ts), and with `dataParallel` interpolationLosses (trajectory.ts). */
const interpolationShape = {
  points: intBelow(2, 2 ** 31, '2^31').optional(),
  batchSize: batchSize().optional(),
  batchNorm: hessianShape.batchNorm,
};
export const interpolationPathOptionsSchema = optionsObject(interpolationShape, '{ points: 21 }');
export const interpolationOptionsSchema = optionsObject(
  { ...interpolationShape, dataParallel: boolean().optional() },
  '{ points: 21 }',
);
/** projectTrajectory: how the two directions are made. */
export const projectionOptionsSchema = optionsObject(
  {
    directions: oneOf(['pca', 'random']),
    seed: seed().optional(),
    center: instanceOf(Float32Array, 'a Float32Array of length paramCount').optional(),
  },
  "{ directions: 'pca' }",
);
/** lossSurface (trajectory.ts): the plane's range and grid, both required. */
export const planeSurfaceOptionsSchema = optionsObject(
  {
    range: finiteNumbers(4, '[xMin, xMax, yMin, yMax]'),
    resolution: intBelow(2, 2 ** 16, '2^16'),
    batchSize: batchSize().optional(),
  },
  '{ range: [-1, 1, -1, 1], resolution: 21 }',
);

/** `options` (undefined: {}) checked against `schema`, errors naming `options.<key>`. */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown): z.infer<S> {
  return parseNamed(schema, options === undefined ? {} : options, 'options');
}

/**
 * True when A and B have the same keys: each measure module asserts it between a schema and the
 * interface it documents (`const sameKeys: SameKeys<…> = true`), so a key added to one and not the
 * other fails to compile.
 */
export type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;
