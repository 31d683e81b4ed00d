/**
 * The data, model and sharpness parts of the E2 and E3 configs, as zod schemas: the one
 * definition their runtime checks (escape-setup.ts), TS types and JSON Schemas (schemas/) come
 * from. Messages name the field (src/util/schema.ts).
 */
import { z } from 'zod';

import { SYNTHETIC_OPTION_SHAPES } from '../data/synthetic.js';
import { boolean, nonNegativeInt, oneOf, positiveInt, positiveNumber, unionError } from '../util/schema.js';

export const DATA_SOURCES = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'synthetic'] as const;

const sizes = {
  nTrain: positiveInt(2 ** 24).describe('Training examples.'),
  nTest: positiveInt(2 ** 24).describe('Test examples.'),
  seed: nonNegativeInt().describe('Seed of the generator (defines the problem).'),
};

/**
 * A synthetic classification set: the generator's own options (src/data/synthetic.ts), strict like
 * synthetic() itself, with the config's tighter limits on the sizes.
 */
export const syntheticDataSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('gaussian-mixture'),
      ...SYNTHETIC_OPTION_SHAPES['gaussian-mixture'],
      k: positiveInt(1000).min(2, { error: 'must be >= 2' }).describe('Classes (mixture components).'),
      d: positiveInt(1e6).describe('Input dimension.'),
      ...sizes,
    }),
    z.strictObject({ kind: z.literal('two-spirals'), ...SYNTHETIC_OPTION_SHAPES['two-spirals'], ...sizes }),
    z.strictObject({
      kind: z.literal('teacher-classification'),
      ...SYNTHETIC_OPTION_SHAPES['teacher-classification'],
      d: positiveInt(1e6).describe('Input dimension.'),
      ...sizes,
    }),
  ],
  {
    error: unionError('an object (a synthetic data spec) or null', [
      'gaussian-mixture',
      'two-spirals',
      'teacher-classification',
    ]),
  },
);

export const dataSchema = z
  .strictObject(
    {
      source: oneOf(DATA_SOURCES).describe("'synthetic' uses `synthetic`; a named set is read from local files."),
      trainPerClass: positiveInt(2 ** 24)
        .nullable()
        .describe('Training examples per class from the train split (null: the whole split).'),
      testSize: positiveInt(2 ** 24)
        .nullable()
        .describe('Test examples from the test split (null: the whole split).'),
      seed: nonNegativeInt().describe('Seed of the subset draws.'),
      download: boolean().describe('Download a named set when it is not found locally.'),
      synthetic: syntheticDataSchema
        .nullable()
        .describe('The synthetic set (source synthetic), or the fallback when a named set is missing (null: none).'),
    },
    { error: 'must be an object' },
  )
  .refine((d) => d.source !== 'synthetic' || d.synthetic !== null, {
    path: ['synthetic'],
    error: "must be given when source is 'synthetic'",
  });

const intList = (min: number, what = 'integers') =>
  z.array(
    z
      .number({ error: 'must be an integer' })
      .int({ error: (i) => `must be an integer >= ${min} (got ${String(i.input)})` })
      .min(min, { error: (i) => `must be an integer >= ${min} (got ${String(i.input)})` }),
    { error: `must be an array of ${what}` },
  );

export const modelSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('mlp'),
      hidden: intList(1).describe('Hidden widths.'),
      activation: oneOf(['relu', 'tanh', 'gelu']).optional(),
    }),
    z.strictObject({
      kind: z.literal('small-cnn'),
      channels: z
        .tuple([positiveInt(), positiveInt()], { error: 'must have 2 entries (positive integers)' })
        .optional()
        .describe('Channels of the two conv layers.'),
      hidden: positiveInt().optional().describe('Width of the dense layer.'),
    }),
    z.strictObject({
      kind: z.literal('resnet'),
      width: positiveInt(4096).optional().describe('Channels of the first stage.'),
      blocks: intList(0).min(1, { error: 'must not be empty' }).optional().describe('Residual blocks per stage.'),
      batchnorm: boolean().optional(),
    }),
  ],
  { error: unionError('an object', ['mlp', 'small-cnn', 'resnet']) },
);

export const sharpnessSchema = z.strictObject(
  {
    subset: positiveInt(2 ** 24).describe('Examples of the fixed train subset on which λ_max is measured.'),
    iterations: positiveInt(100000).describe('Power-iteration budget of topEigenvalue.'),
    tolerance: positiveNumber().describe('Relative tolerance of topEigenvalue.'),
  },
  { error: 'must be an object' },
);
