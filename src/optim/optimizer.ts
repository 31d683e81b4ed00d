/**
 * Optimizers as chains of gradient transforms (optax style) with explicit state in the flat
 * parameter layout. TS compiles a chain into a plain-data plan; native code executes it in the
 * sync step and the async chunk alike.
 *
 * Starting from the gradient g of the mean batch loss, each transform maps the update u (u₀ = g)
 * in order, then θ ← θ + u:
 * - `clipGlobalNorm(c)`:        u ← u · min(1, c / ‖u‖₂)
 * - `addWeightDecay(λ)`:        u ← u + λθ            (coupled L2, as torch.optim.SGD weight_decay)
 * - `gaussianNoise(σ)`:         u ← u + σξ, ξ ~ N(0, I), own RNG stream; optional linear annealing
 *                               σ_t = σ · max(0, 1 − t / annealSteps). `mode: 'norm'`: u ← u + σ_t ξ/‖ξ‖
 *                               (noise of norm exactly σ_t); `mode: 'relative'`: u ← u + σ_t‖u‖ ξ/‖ξ‖
 * - `momentum(β)`:              v ← βv + u; u ← v            (heavy ball, PyTorch convention: v₀ = 0
 *                               so the first step is u = g, no dampening)
 *   `momentum(β, nesterov)`:    v ← βv + u; u ← u + βv
 * - `scaleByLearningRate()`:    u ← −η(t) u
 * - `decoupledWeightDecay(λ)`:  u ← u − η(t) λ θ        (AdamW-style, after scaleByLearningRate)
 */
import type {
  NativeLayout,
  NativeOptimizerPlan,
  NativeSchedule,
  NativeTransform,
  TensorEntry,
} from '../native/binding.js';
import { z } from 'zod';

import { formatValue } from '../util/format.js';
import { kinds, type NoiseModeName } from '../native/kinds.js';
import {
  boolean,
  finiteAtLeast,
  instanceOf,
  kindName,
  kindUnionError,
  learningRateNumber,
  parseNamed,
} from '../util/schema.js';
import { scheduleSchema, type ScheduleSpec } from './schedules.js';

/**
 * How a `gaussianNoise` transform's σ_t (after annealing) sets the noise added to the update u,
 * over the masked coordinates (d of them), with ξ ~ N(0, I_d) from the trainer's noise stream:
 * - `'std'` (default): u ← u + σ_t ξ — σ_t is the per-coordinate standard deviation, E‖σ_t ξ‖² = σ_t² d;
 * - `'norm'`:          u ← u + σ_t ξ/‖ξ‖ — a uniformly random direction with norm exactly σ_t;
 * - `'relative'`:      u ← u + σ_t ‖u‖ ξ/‖ξ‖ — norm σ_t times the norm of the incoming update.
 * Every mode draws the same d normals per step, so the noise stream advances identically.
 */
export type NoiseMode = NoiseModeName;

/** One gradient transform of an optimizer chain, as plain data (see the module comment for each `kind`). */
export type TransformSpec =
  | { kind: 'clipGlobalNorm'; maxNorm: number }
  | { kind: 'addWeightDecay'; weightDecay: number; mask?: Uint8Array }
  | { kind: 'gaussianNoise'; std: number; annealSteps?: number; mode?: NoiseMode; mask?: Uint8Array }
  | { kind: 'momentum'; beta: number; nesterov?: boolean }
  | { kind: 'scaleByLearningRate' }
  | { kind: 'decoupledWeightDecay'; weightDecay: number; mask?: Uint8Array };

/** An optimizer as plain data: the transform chain applied to the gradient, and the learning-rate schedule. Build one with {@link sgd}, {@link noisySgd} or {@link chain}. */
export interface OptimizerSpec {
  transforms: TransformSpec[];
  schedule: ScheduleSpec;
}

// ---- The option kinds, as zod schemas (one per kind; messages name the parameter) -------------------

/** A learning rate: a finite number >= 0 (0 allowed; a constant schedule) or a schedule object. */
const learningRateSchema = z.union([learningRateNumber(), scheduleSchema], {
  error: (i) =>
    typeof i.input === 'number'
      ? `must be a finite number >= 0 (got ${i.input}; 0 is allowed, a negative rate would ascend the loss)`
      : `must be a number or a schedule such as cosine(0.1, 1000) (got ${formatValue(i.input)})`,
});

/** Momentum β in [0, 1): β = 1 never forgets a gradient, β > 1 grows without bound. */
const momentumSchema = z
  .number({
    error: (i) =>
      typeof i.input === 'number'
        ? `must be in [0, 1) (got ${i.input})`
        : `must be a number (got ${formatValue(i.input)})`,
  })
  .min(0, { error: (i) => `must be in [0, 1) (got ${String(i.input)})` })
  .lt(1, { error: (i) => `must be in [0, 1) (got ${String(i.input)})` });

const nonNegative = () => finiteAtLeast(0);
const annealStepsSchema = z
  .number({
    error: (i) =>
      typeof i.input === 'number'
        ? `must be a non-negative integer (got ${i.input})`
        : `must be a number (got ${formatValue(i.input)})`,
  })
  .int({ error: (i) => `must be a non-negative integer (got ${String(i.input)})` })
  .min(0, { error: (i) => `must be a non-negative integer (got ${String(i.input)})` });
// Any Uint8Array (its buffer may be shared), not only the ArrayBuffer-backed ones `new Uint8Array` types.
const maskSchema = instanceOf(Uint8Array, 'a Uint8Array (see parameterMask)') as unknown as z.ZodType<Uint8Array>;
const noiseModeSchema = kindName(kinds.noiseModes);
const optionsObject = <T extends z.ZodRawShape>(shape: T, what: string) =>
  z.strictObject(shape, { error: (i) => `must be ${what} (got ${formatValue(i.input)})` });

/** The options of {@link sgd}. */
const sgdShape = {
  lr: learningRateSchema,
  momentum: momentumSchema.optional(),
  nesterov: boolean().optional(),
  weightDecay: nonNegative().optional(),
};
const nesterovNeedsMomentum = (o: { momentum?: number; nesterov?: boolean }, ctx: z.RefinementCtx): void => {
  if (o.nesterov && !o.momentum) ctx.addIssue({ code: 'custom', path: ['nesterov'], message: 'requires momentum > 0' });
};
const sgdOptionsSchema = optionsObject(sgdShape, 'an object such as { lr: 0.1 }').superRefine(nesterovNeedsMomentum);

const NOISE_KEYS = ['noiseStd', 'noiseNorm', 'noiseRelative'] as const;
/** The options of {@link noisySgd}: sgd's, one noise magnitude, annealing and a mask. */
const noisySgdOptionsSchema = optionsObject(
  {
    ...sgdShape,
    noiseStd: nonNegative().optional(),
    noiseNorm: nonNegative().optional(),
    noiseRelative: nonNegative().optional(),
    annealSteps: annealStepsSchema.optional(),
    mask: maskSchema.optional(),
  },
  'an object such as { lr: 0.1, noiseStd: 0.01 }',
).superRefine((o, ctx) => {
  const given = NOISE_KEYS.filter((k) => o[k] !== undefined);
  if (given.length !== 1)
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: `must give exactly one of ${NOISE_KEYS.join(', ')} (got ${given.length ? given.join(', ') : 'none'})`,
    });
  nesterovNeedsMomentum(o, ctx);
});

/** One gradient transform, by `kind` (see the module comment); kind names in messages are the addon's. */
const transformSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('clipGlobalNorm'), maxNorm: nonNegative() }),
    z.strictObject({ kind: z.literal('addWeightDecay'), weightDecay: nonNegative(), mask: maskSchema.optional() }),
    z.strictObject({
      kind: z.literal('gaussianNoise'),
      std: nonNegative(),
      annealSteps: annealStepsSchema.optional(),
      mode: noiseModeSchema.optional(),
      mask: maskSchema.optional(),
    }),
    z.strictObject({ kind: z.literal('momentum'), beta: momentumSchema, nesterov: boolean().optional() }),
    z.strictObject({ kind: z.literal('scaleByLearningRate') }),
    z.strictObject({
      kind: z.literal('decoupledWeightDecay'),
      weightDecay: nonNegative(),
      mask: maskSchema.optional(),
    }),
  ],
  { error: kindUnionError('a transform object such as momentum(0.9)', kinds.transformKinds) },
);

/** An optimizer spec: the transform chain and the schedule. */
const optimizerSpecSchema = optionsObject(
  {
    transforms: z.array(transformSchema, { error: (i) => `must be an array (got ${formatValue(i.input)})` }),
    schedule: scheduleSchema,
  },
  'an object { transforms, schedule } such as sgd({ lr: 0.1 })',
);

// The schemas and the hand-written, documented types describe the same objects (a compile-time check).
type SchemaTransform = z.infer<typeof transformSchema>;
const sameShape: [
  SchemaTransform extends TransformSpec ? true : false,
  TransformSpec extends SchemaTransform ? true : false,
  z.infer<typeof optimizerSpecSchema> extends OptimizerSpec ? true : false,
] = [true, true, true];
void sameShape;

// ---- SGD ------------------------------------------------------------------------------------------

/**
 * Stochastic gradient descent, torch.optim.SGD semantics:
 * g ← ∇L + λθ; v ← βv + g; u = v (or g + βv with Nesterov); θ ← θ − η(t)·u.
 * With full-batch data this is gradient descent.
 */
export function sgd(options: {
  lr: number | ScheduleSpec;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}): OptimizerSpec {
  return sgdChain(parseNamed(sgdOptionsSchema, options, 'sgd(options)'));
}

/** The transforms of sgd() from its checked options (shared with noisySgd). */
function sgdChain(o: z.infer<typeof sgdOptionsSchema>): OptimizerSpec {
  const transforms: TransformSpec[] = [];
  if (o.weightDecay) transforms.push({ kind: 'addWeightDecay', weightDecay: o.weightDecay });
  if (o.momentum) transforms.push({ kind: 'momentum', beta: o.momentum, nesterov: o.nesterov ?? false });
  transforms.push({ kind: 'scaleByLearningRate' });
  return { transforms, schedule: asSchedule(o.lr) };
}

/** A checked learning rate as a schedule (a number is a constant one). */
const asSchedule = (lr: number | ScheduleSpec): ScheduleSpec =>
  typeof lr === 'number' ? { kind: 'constant', lr } : lr;

/** Gradient descent: `sgd` meant for full-batch training (the trainer's default batching). */
export const gd = sgd;

// ---- Transform constructors (for hand-built chains) --------------------------------------------

/** u ← u · min(1, c/‖u‖₂) (global norm over all parameters). */
export function clipGlobalNorm(maxNorm: number): TransformSpec {
  return { kind: 'clipGlobalNorm', maxNorm: parseNamed(nonNegative(), maxNorm, 'clipGlobalNorm(maxNorm)') };
}

const maskOptionsSchema = optionsObject({ mask: maskSchema.optional() }, 'an object such as { mask }');

/** u ← u + λθ on the masked parameters (coupled L2 weight decay). */
export function addWeightDecay(weightDecay: number, options: { mask?: Uint8Array } = {}): TransformSpec {
  const value = parseNamed(nonNegative(), weightDecay, 'addWeightDecay(weightDecay)');
  const { mask } = parseNamed(maskOptionsSchema, options, 'addWeightDecay(weightDecay, options)');
  return { kind: 'addWeightDecay', weightDecay: value, ...(mask ? { mask } : {}) };
}

const noiseOptionsSchema = optionsObject(
  { annealSteps: annealStepsSchema.optional(), mode: noiseModeSchema.optional(), mask: maskSchema.optional() },
  'an object such as { annealSteps: 1000 }',
);

/**
 * Isotropic Gaussian noise on the update (see {@link NoiseMode}); σ_t = std · max(0, 1 − t/annealSteps)
 * when `annealSteps` > 0, else σ_t = std.
 */
export function gaussianNoise(
  std: number,
  options: { annealSteps?: number; mode?: NoiseMode; mask?: Uint8Array } = {},
): TransformSpec {
  const value = parseNamed(nonNegative(), std, 'gaussianNoise(std)');
  const o = parseNamed(noiseOptionsSchema, options, 'gaussianNoise(std, options)');
  return {
    kind: 'gaussianNoise',
    std: value,
    ...(o.annealSteps !== undefined ? { annealSteps: o.annealSteps } : {}),
    ...(o.mode !== undefined ? { mode: o.mode } : {}),
    ...(o.mask ? { mask: o.mask } : {}),
  };
}

const momentumOptionsSchema = optionsObject({ nesterov: boolean().optional() }, 'an object such as { nesterov: true }');

/** Heavy-ball momentum v ← βv + u; u ← v (or u ← u + βv with `nesterov`), PyTorch convention, v₀ = 0. */
export function momentum(beta: number, options: { nesterov?: boolean } = {}): TransformSpec {
  const value = parseNamed(momentumSchema, beta, 'momentum(beta)');
  const { nesterov } = parseNamed(momentumOptionsSchema, options, 'momentum(beta, options)');
  return { kind: 'momentum', beta: value, nesterov: nesterov ?? false };
}

/** u ← −η(t)·u with η from the optimizer's schedule. */
export function scaleByLearningRate(): TransformSpec {
  return { kind: 'scaleByLearningRate' };
}

/** u ← u − η(t)λθ on the masked parameters (AdamW-style; place after `scaleByLearningRate`). */
export function decoupledWeightDecay(weightDecay: number, options: { mask?: Uint8Array } = {}): TransformSpec {
  const value = parseNamed(nonNegative(), weightDecay, 'decoupledWeightDecay(weightDecay)');
  const { mask } = parseNamed(maskOptionsSchema, options, 'decoupledWeightDecay(weightDecay, options)');
  return { kind: 'decoupledWeightDecay', weightDecay: value, ...(mask ? { mask } : {}) };
}

/**
 * An optimizer from an explicit transform chain, applied in order to u₀ = g, then θ ← θ + u.
 * Order matters: `chain(0.1, clipGlobalNorm(1), momentum(0.9), scaleByLearningRate())` clips the
 * gradient before it enters the momentum buffer; swapping the first two clips the momentum output.
 */
export function chain(lr: number | ScheduleSpec, ...transforms: TransformSpec[]): OptimizerSpec {
  return { transforms, schedule: asSchedule(parseNamed(learningRateSchema, lr, 'chain(lr)')) };
}

// ---- The noise family -------------------------------------------------------------------------

/**
 * SGD with isotropic Gaussian gradient noise (Langevin-style perturbed GD when batches are full):
 *
 *   g̃ = ∇L + λθ + σ_t ξ,  v ← βv + g̃,  θ ← θ − η(t)·v   (momentum optional)
 *
 * with σ_t = σ·max(0, 1 − t/annealSteps) (constant σ without `annealSteps`). Give exactly one of
 * - `noiseStd`: σ is the per-coordinate standard deviation (E‖σξ‖² = σ²·d);
 * - `noiseNorm`: the noise vector has norm exactly σ (uniform random direction), i.e. the noise
 *   "as a norm", directly comparable with ‖g₁ − g‖ of mini-batch noise;
 * - `noiseRelative`: the noise has norm σ·‖∇L + λθ‖ (a fixed signal-to-noise ratio).
 * The noise comes from the trainer's noise stream: its draws do not depend on the batch size or
 * data order (with `batch.amplify` the second batch is drawn from the same stream, before the noise).
 * `mask` restricts the noise to some parameters (see {@link parameterMask}).
 */
export function noisySgd(options: {
  lr: number | ScheduleSpec;
  noiseStd?: number;
  noiseNorm?: number;
  noiseRelative?: number;
  annealSteps?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  mask?: Uint8Array;
}): OptimizerSpec {
  const o = parseNamed(noisySgdOptionsSchema, options, 'noisySgd(options)');
  const key = NOISE_KEYS.find((k) => o[k] !== undefined)!;
  const mode: NoiseMode = key === 'noiseStd' ? 'std' : key === 'noiseNorm' ? 'norm' : 'relative';
  const base = sgdChain(o);
  // Noise joins the gradient before momentum: [addWeightDecay?] gaussianNoise [momentum?] scale.
  const at = base.transforms[0]?.kind === 'addWeightDecay' ? 1 : 0;
  const noise: TransformSpec = {
    kind: 'gaussianNoise',
    std: o[key]!,
    ...(o.annealSteps !== undefined ? { annealSteps: o.annealSteps } : {}),
    mode,
    ...(o.mask ? { mask: o.mask } : {}),
  };
  base.transforms.splice(at, 0, noise);
  return base;
}

/**
 * The coefficient c of the amplified mini-batch estimator g = g₁ + c(g₁ − g₂) for amplification
 * k ≥ 1: (1 + c)² + c² = k², c = (√(2k² − 1) − 1)/2. The trainer applies it when
 * `batch.amplify = k`; the estimator keeps the mean and multiplies the covariance by k².
 */
export function amplifyCoefficient(k: number): number {
  parseNamed(finiteAtLeast(1), k, 'k');
  return (Math.sqrt(2 * k * k - 1) - 1) / 2;
}

/**
 * The amplification for SVAG's noise multiplier l ≥ 1 (Li, Malladi, Arora 2021, "On the validity of
 * modeling SGD with stochastic differential equations"). SVAG mixes two independent batch gradients,
 *
 *   g = (1 + √(2l − 1))/2 · g₁ + (1 − √(2l − 1))/2 · g₂,
 *
 * which keeps the mean and multiplies the covariance by l. Those are the weights 1 + c and −c of
 * `batch.amplify = √l` (c = amplifyCoefficient(√l) = (√(2l − 1) − 1)/2), so SVAG runs on the same
 * estimator: `batch: { amplify: svagAmplification(l) }`. SVAG's recipe pairs it with the learning
 * rate η/l for l times the steps (the same SDE as SGD at η).
 */
export function svagAmplification(l: number): number {
  parseNamed(finiteAtLeast(1), l, 'l');
  return Math.sqrt(l);
}

// ---- Parameter groups ---------------------------------------------------------------------------

/**
 * A per-parameter mask over the flat layout: 1 for every coordinate of the tensors for which
 * `predicate(entry)` is true, 0 elsewhere. Pass it as `mask` to `addWeightDecay`,
 * `decoupledWeightDecay` or `gaussianNoise` (or `noisySgd`) to restrict them to a parameter group:
 *
 * ```ts
 * const mask = parameterMask(model.layout, isWeight);     // no weight decay on biases
 * chain(0.1, addWeightDecay(5e-4, { mask }), momentum(0.9), scaleByLearningRate());
 * ```
 */
export function parameterMask(layout: NativeLayout, predicate: (entry: TensorEntry) => boolean): Uint8Array {
  if (!layout || !Array.isArray(layout.params) || typeof layout.paramCount !== 'number') {
    throw new TypeError('layout must be a model layout (model.layout or describe(spec))');
  }
  if (typeof predicate !== 'function') throw new TypeError('predicate must be a function (entry) => boolean');
  const mask = new Uint8Array(layout.paramCount);
  for (const entry of layout.params) if (predicate(entry)) mask.fill(1, entry.offset, entry.offset + entry.size);
  return mask;
}

/** Predicate for {@link parameterMask}: weight matrices and kernels (tensors of rank ≥ 2), i.e. not biases or norm scales. */
export const isWeight = (entry: TensorEntry): boolean => entry.shape.length >= 2;

/** Predicate for {@link parameterMask}: rank-1 tensors (biases, batch-norm scales and shifts). */
export const isBiasOrNorm = (entry: TensorEntry): boolean => entry.shape.length < 2;

/** A mask checked against the model's parameter count (the schema checked its type). */
function checkMaskLength(mask: Uint8Array | undefined, param: string, paramCount: number): Uint8Array | undefined {
  if (mask !== undefined && mask.length !== paramCount)
    throw new RangeError(`${param} must have length paramCount ${paramCount} (got ${mask.length})`);
  return mask;
}

/** The native form of a checked schedule: piecewise lists as Float64Arrays, `lr` its first value. */
function nativeSchedule(s: ScheduleSpec): NativeSchedule {
  if (s.kind === 'piecewise')
    return {
      kind: 'piecewise',
      lr: s.values[0]!,
      boundaries: Float64Array.from(s.boundaries),
      values: Float64Array.from(s.values),
      warmupSteps: s.warmupSteps,
    };
  return { ...(s as unknown as NativeSchedule) };
}

/**
 * Plain-data plan for the native loop; momentum buffers get consecutive slices of the state.
 * Malformed specs throw a TypeError / RangeError whose message starts with the parameter's path
 * (`optimizer.transforms[1].beta …`, `optimizer.schedule.values …`).
 */
export function compilePlan(spec: OptimizerSpec, paramCount: number): NativeOptimizerPlan {
  const checked = parseNamed(optimizerSpecSchema, spec, 'optimizer');
  let stateCount = 0;
  const transforms: NativeTransform[] = checked.transforms.map((t, i) => {
    const p = `optimizer.transforms[${i}]`;
    switch (t.kind) {
      case 'clipGlobalNorm':
        return { kind: t.kind, value: t.maxNorm };
      case 'addWeightDecay':
      case 'decoupledWeightDecay':
        return { kind: t.kind, value: t.weightDecay, mask: checkMaskLength(t.mask, `${p}.mask`, paramCount) };
      case 'gaussianNoise': {
        const out: NativeTransform & { noiseMode?: NoiseMode } = {
          kind: t.kind,
          value: t.std,
          annealSteps: t.annealSteps ?? 0,
          mask: checkMaskLength(t.mask, `${p}.mask`, paramCount),
        };
        // Only non-default modes are passed, so plans of the 'std' mode are unchanged.
        if (t.mode !== undefined && t.mode !== 'std') out.noiseMode = t.mode;
        return out;
      }
      case 'momentum': {
        const stateOffset = stateCount;
        stateCount += paramCount;
        return { kind: t.kind, value: t.beta, nesterov: t.nesterov ?? false, stateOffset };
      }
      case 'scaleByLearningRate':
        return { kind: t.kind };
    }
  });
  return { transforms, schedule: nativeSchedule(checked.schedule), stateCount };
}
