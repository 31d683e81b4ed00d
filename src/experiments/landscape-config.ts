/**
 * The E1 (landscape) config: its TS shape and its zod schema, defined once. The runtime check
 * ({@link validateLandscapeConfig}), the compile-time check against the interfaces below and
 * schemas/landscape-config.schema.json (src/experiments/config-schemas.ts) come from the schema.
 * Rules across fields (unique names, grid indices below their count, the dips' sharpness against
 * their depth, the fixed paper-1d instance) are refinements: the runtime check's alone, not the
 * JSON Schema's.
 */
import { z } from 'zod';

import { SCALES } from '../run/experiment.js';
import { nonNegativeInt, oneOf, parseNamed, positiveInt, positiveNumber } from '../util/schema.js';
import type { ConstantsSampling } from './landscape-constants.js';
import type { Scale } from './types.js';

export type LandscapeScale = Scale;
export type LandscapeKind = 'paper-1d' | 'compact' | 'gaussian';

/** A family of instances: `count` generator seeds seed, seed + 1, …; `name` labels results. */
export interface LandscapeInstanceConfig {
  name: string;
  /** Default 'gaussian' (bigstep's earlier family, beyond the class). */
  kind?: LandscapeKind;
  dim: number;
  dips: number;
  seed: number;
  /** Instances in the family (default 1). */
  count?: number;
  /** W: 'ball' (uniform in ‖x‖ ≤ initRadiusFactor · max(‖cᵢ‖ + sᵢ)) or 'dips' (uniform in the balls B(cᵢ, 2sᵢ)). Default 'ball'. */
  startSet?: 'ball' | 'dips';
  mu?: number;
  radiusMin?: number;
  radiusMax?: number;
  depthMin?: number;
  depthMax?: number;
  sharpnessMin?: number;
  sharpnessMax?: number;
  separation?: number;
}

export interface LandscapeVerdictRules {
  /** Theorem 1 on an instance: success ≥ this at every grid γ inside the window … */
  success: number;
  /** … and ≥ this share of starts in M at x† at every grid γ below the small-step bound. */
  stay: number;
  /** A family: supported if ≥ this share of its in-class instances are supported. */
  familyShare: number;
  /** Noise proposition: settled fraction near x* ≤ this at every small-γ cell … */
  settledMax: number;
  /** … while the large γ with the smallest σ settles at x* with a fraction ≥ this. */
  largeSettledMin: number;
}

export interface LandscapeConfig {
  scale: LandscapeScale;
  instances: LandscapeInstanceConfig[];
  /** N: starts per start set and cell (the same N points in every cell of an instance). */
  points: number;
  /** T: GD steps per sweep cell. */
  steps: number;
  initRadiusFactor: number;
  /** x_T within classifyRadiusFactor · min sᵢ of a minimum ⇒ at that minimum. */
  classifyRadiusFactor: number;
  etaGrid: {
    count: number;
    /** lowest γ = minFactor · μ†/L_global² */
    minFactor: number;
    /** highest γ = maxFactor · μ* / L² */
    maxFactor: number;
    /** Run only these grid points (0-based; default all): a sweep can run one cell per task. */
    indices?: number[];
  };
  constants: Omit<ConstantsSampling, 'seed'>;
  noise: {
    enabled: boolean;
    /** Small step sizes as fractions of the small-step bound μ†/L_global² (the theorem's small regime); each < 1. */
    etaFactors: number[];
    /** σ = factor · sup‖∇f‖ on M, log-spaced from stdMinFactor to stdMaxFactor. */
    stdCount: number;
    stdMinFactor: number;
    stdMaxFactor: number;
    stdIndices?: number[];
    /** Families whose first instance gets the noise arm (default: all). */
    instances?: string[];
    /** Starts per noise cell (the first of the M starts). */
    points: number;
    /** Cap on the equal-γT budget's step count. */
    maxSteps: number;
    /** ε = max(classify radius, jitterFactor · stationary jitter at x*), capped at half the distance from x* to the nearest dip. */
    jitterFactor: number;
  };
  trajectories: { count: number; every: number };
  seeds: { starts: number; noise: number; minima: number };
  minimaRandomStarts: number;
  concurrency: number;
  /** Fixed before the runs (docs/experiments.md, E1). */
  verdict: LandscapeVerdictRules;
}

// ---- the schema ------------------------------------------------------------------------------------

const object = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape, { error: 'must be an object' });

/** A share in [0, 1] (a verdict threshold). */
const share = () =>
  z
    .number({
      error: (i) => (typeof i.input === 'number' ? `must be in [0, 1] (got ${i.input})` : 'must be a number in [0, 1]'),
    })
    .min(0, { error: (i) => `must be in [0, 1] (got ${String(i.input)})` })
    .max(1, { error: (i) => `must be in [0, 1] (got ${String(i.input)})` });

/** A list of grid indices; their range and repeats are checked against the grid's count ({@link checkIndices}). */
const indices = (countField: string) =>
  z
    .array(z.number({ error: 'must be an integer' }), {
      error: `must be an array of indices into the grid (0 … ${countField} − 1)`,
    })
    .optional();

/** A σ factor: σ ≤ 0 would be no noise at all. */
const sigmaFactor = () => {
  const range = (v: unknown) => `must be a finite σ factor > 0 (σ ≤ 0 is no noise; got ${String(v)})`;
  return z
    .number({ error: (i) => (typeof i.input === 'number' ? range(i.input) : 'must be a number > 0') })
    .gt(0, { error: (i) => range(i.input) });
};

const optionalPositive = (what: string) => positiveNumber().optional().describe(what);

const instanceSchema = object({
  name: z
    .string({ error: 'must be a non-empty string' })
    .min(1, { error: 'must be a non-empty string' })
    .describe('Labels the results; unique in config.instances.'),
  kind: oneOf(['paper-1d', 'compact', 'gaussian'])
    .optional()
    .describe(
      "paper-1d: the paper's 1-D illustration; compact: a bowl with C² compact dips (the class C_l); gaussian (default): Gaussian dips, beyond the class.",
    ),
  dim: positiveInt(1000).describe('Dimension d.'),
  dips: positiveInt(100000).describe('Dips (local minima) of the generator.'),
  seed: nonNegativeInt().describe('Generator seed of the first instance (the family uses seed, seed + 1, …).'),
  count: positiveInt(100000).optional().describe('Instances in the family (default 1).'),
  startSet: oneOf(['ball', 'dips'])
    .optional()
    .describe("W: 'ball' (default, uniform in a ball around all dips) or 'dips' (uniform in the balls B(cᵢ, 2sᵢ))."),
  mu: optionalPositive('Curvature μ of the bowl.'),
  radiusMin: optionalPositive('Smallest dip radius.'),
  radiusMax: optionalPositive('Largest dip radius.'),
  depthMin: optionalPositive('Smallest dip depth.'),
  depthMax: optionalPositive('Largest dip depth (default 0.8).'),
  sharpnessMin: optionalPositive(
    'Smallest dip sharpness (default 30); at least 1 + 12·depthMax (compact) or 1 + 36·depthMax (gaussian).',
  ),
  sharpnessMax: optionalPositive('Largest dip sharpness.'),
  separation: optionalPositive('Least distance between dips, in dip radii.'),
}).superRefine(instanceRules);

/** One instance's rules across fields. */
function instanceRules(inst: LandscapeInstanceConfig, ctx: z.RefinementCtx): void {
  if (inst.kind === 'paper-1d') {
    if (inst.dim !== 1 || inst.dips !== 1)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: "kind 'paper-1d' is the fixed 1-D illustration: dim must be 1 and dips 1",
      });
    else if ((inst.count ?? 1) !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: "must be 1 for kind 'paper-1d' (a single fixed instance)",
      });
    return;
  }
  // Dips overlapping the global minimum: the generator's worst case (native/landscape.h), checked here to name the field.
  const factor = inst.kind === 'compact' ? 12 : 36;
  const need = 1 + factor * (inst.depthMax ?? 0.8);
  const smin = inst.sharpnessMin ?? 30;
  if (smin < need)
    ctx.addIssue({
      code: 'custom',
      path: ['sharpnessMin'],
      message: `must be >= ${+need.toPrecision(12)} (1 + ${factor} · depthMax): with a smaller sharpness a dip can overlap the global minimum at 0 (got ${smin})`,
    });
}

/**
 * The E1 config, defined once: its runtime check ({@link validateLandscapeConfig}), its TS shape
 * (checked against LandscapeConfig below) and schemas/landscape-config.schema.json come from here.
 */
export const landscapeConfigSchema = object({
  scale: oneOf(SCALES).describe('The preset this config is (or derives from).'),
  instances: z
    .array(instanceSchema, { error: 'must be an array' })
    .min(1, { error: 'must not be empty' })
    .describe('The families of instances, in order.'),
  points: positiveInt(2 ** 24).describe('N: starts per start set and cell.'),
  steps: positiveInt(1e9).describe('T: GD steps per sweep cell.'),
  initRadiusFactor: positiveNumber().describe("W = 'ball': radius initRadiusFactor · max(‖cᵢ‖ + sᵢ)."),
  classifyRadiusFactor: positiveNumber().describe('x_T within classifyRadiusFactor · min sᵢ of a minimum is at it.'),
  etaGrid: object({
    count: z
      .number({ error: 'must be a positive integer' })
      .int({ error: (i) => `must be a positive integer <= 10000 (got ${String(i.input)})` })
      .min(1, { error: (i) => `must be >= 1: the γ grid is empty (got ${String(i.input)})` })
      .max(10000, { error: (i) => `must be a positive integer <= 10000 (got ${String(i.input)})` })
      .describe('Points of the log grid of γ.'),
    minFactor: positiveNumber().describe('Lowest γ = minFactor · μ†/L_global².'),
    maxFactor: positiveNumber().describe('Highest γ = maxFactor · μ*/L².'),
    indices: indices('config.etaGrid.count').describe('Run only these grid points (0-based; default all).'),
  }).describe('The γ grid of the sweep (plus one cell at the window’s geometric middle).'),
  constants: object({
    grid1d: positiveInt(1e7).min(3, { error: 'must be >= 3' }),
    grid2d: positiveInt(1e7).min(3, { error: 'must be >= 3' }),
    samples: positiveInt(1e7),
    directions: positiveInt(1e7),
    radial: positiveInt(1e7),
  }).describe('Sampling of the measured constants of Theorem 1 (landscape-constants.ts).'),
  noise: object({
    enabled: z.boolean({ error: 'must be a boolean' }),
    etaFactors: z
      .array(positiveNumber().lt(1, { error: 'must be < 1 (small steps: below the small-step bound μ†/L_global²)' }), {
        error: 'must be a non-empty array of numbers in (0, 1)',
      })
      .min(1, { error: 'must be a non-empty array of numbers in (0, 1)' })
      .describe('Small step sizes as fractions of the small-step bound μ†/L_global²; each < 1.'),
    stdCount: positiveInt(10000).describe('σ values, log-spaced from stdMinFactor to stdMaxFactor.'),
    stdMinFactor: sigmaFactor().describe('Smallest σ as a factor of sup‖∇f‖ on M.'),
    stdMaxFactor: sigmaFactor().describe('Largest σ as a factor of sup‖∇f‖ on M.'),
    stdIndices: indices('config.noise.stdCount').describe('Run only these σ values (0-based; default all).'),
    instances: z
      .array(z.string({ error: 'must name an instance in config.instances' }), {
        error: 'must be an array of instance names',
      })
      .optional()
      .describe('Families whose first instance gets the noise arm (default: all).'),
    points: positiveInt(2 ** 24).describe('Starts per noise cell.'),
    maxSteps: positiveInt(1e9).describe('Cap on the equal-γT budget’s step count.'),
    jitterFactor: positiveNumber().describe('ε = max(classify radius, jitterFactor · stationary jitter at x*).'),
  }).describe('The noise arm: uniform noise at small γ against the large step.'),
  trajectories: object({ count: nonNegativeInt(), every: positiveInt() }).describe('Example trajectories (d = 1).'),
  seeds: object({ starts: nonNegativeInt(), noise: nonNegativeInt(), minima: nonNegativeInt() }),
  minimaRandomStarts: nonNegativeInt().describe('Random starts of the minima search.'),
  concurrency: positiveInt(64).describe('Instances at once.'),
  verdict: object({
    success: share(),
    stay: share(),
    familyShare: share(),
    settledMax: share(),
    largeSettledMin: share(),
  }).describe('Rules of the verdicts, fixed before the runs (docs/experiments.md, E1).'),
}).superRefine(configRules);

/** The config's rules across fields. Runs after the field checks, also on a config they rejected: every read is guarded. */
function configRules(c: LandscapeConfig, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  c.instances.forEach((inst, i) => {
    if (names.has(inst.name))
      ctx.addIssue({
        code: 'custom',
        path: ['instances', i, 'name'],
        message: `must be unique ("${inst.name}" repeats)`,
      });
    names.add(inst.name);
  });
  checkIndices(c.etaGrid.indices, c.etaGrid.count, ['etaGrid', 'indices'], 'config.etaGrid.count', ctx);
  checkIndices(c.noise.stdIndices, c.noise.stdCount, ['noise', 'stdIndices'], 'config.noise.stdCount', ctx);
  if (c.noise.stdMaxFactor < c.noise.stdMinFactor)
    ctx.addIssue({
      code: 'custom',
      path: ['noise', 'stdMaxFactor'],
      message: 'must be >= config.noise.stdMinFactor',
    });
  c.noise.instances?.forEach((name, i) => {
    if (!names.has(name))
      ctx.addIssue({
        code: 'custom',
        path: ['noise', 'instances', i],
        message: `must name an instance in config.instances (got ${JSON.stringify(name)})`,
      });
  });
}

/** Distinct integer indices in [0, count). */
function checkIndices(
  list: readonly number[] | undefined,
  count: number,
  path: Array<string | number>,
  countField: string,
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<number>();
  list?.forEach((x, i) => {
    if (!Number.isInteger(x) || x < 0 || x >= count)
      ctx.addIssue({
        code: 'custom',
        path: [...path, i],
        message: `must be an integer in [0, ${count - 1}] (${countField} = ${count}; got ${x})`,
      });
    else if (seen.has(x))
      ctx.addIssue({ code: 'custom', path: [...path, i], message: `must not repeat an index (${x})` });
    seen.add(x);
  });
}

// The schema and the hand-written interfaces describe the same config (a compile-time check).
type SchemaConfig = z.infer<typeof landscapeConfigSchema>;
const sameShape: [
  SchemaConfig extends LandscapeConfig ? true : false,
  LandscapeConfig extends SchemaConfig ? true : false,
] = [true, true];
void sameShape;

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.steps must be a positive integer". */
export function validateLandscapeConfig(config: unknown): asserts config is LandscapeConfig {
  parseNamed(landscapeConfigSchema, config, 'config');
}
