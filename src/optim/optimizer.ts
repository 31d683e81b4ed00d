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
import { formatValue } from '../util/format.js';
import { kinds, type NoiseModeName } from '../native/kinds.js';
import { checkKnownKeys, checkOneOf } from '../util/options.js';
import { checkSchedule, constant, type ScheduleSpec } from './schedules.js';

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
  if (!isObject(options))
    throw new TypeError(`sgd(options): options must be an object such as { lr: 0.1 } (got ${formatValue(options)})`);
  checkKnownKeys(options, SGD_KEYS, 'sgd(options)');
  return sgdChain(options, 'sgd(options)');
}

const SGD_KEYS = ['lr', 'momentum', 'nesterov', 'weightDecay'] as const;

/** The transforms of sgd() after its options are checked (shared with noisySgd). */
function sgdChain(
  options: { lr: unknown; momentum?: unknown; nesterov?: unknown; weightDecay?: unknown },
  where: string,
): OptimizerSpec {
  const lr = learningRate(options.lr, `${where}.lr`);
  const weightDecay =
    options.weightDecay === undefined ? 0 : checkNumber(options.weightDecay, `${where}.weightDecay`, 0);
  const beta = options.momentum === undefined ? 0 : checkMomentum(options.momentum, `${where}.momentum`);
  if (options.nesterov !== undefined && typeof options.nesterov !== 'boolean')
    throw new TypeError(`${where}.nesterov must be a boolean (got ${formatValue(options.nesterov)})`);
  const transforms: TransformSpec[] = [];
  if (weightDecay) transforms.push({ kind: 'addWeightDecay', weightDecay });
  if (beta) transforms.push({ kind: 'momentum', beta, nesterov: (options.nesterov as boolean | undefined) ?? false });
  else if (options.nesterov) throw new RangeError(`${where}.nesterov requires momentum > 0`);
  transforms.push({ kind: 'scaleByLearningRate' });
  return { transforms, schedule: lr };
}

/** A learning rate: a finite number >= 0 (0 allowed) or a checked schedule. */
function learningRate(v: unknown, param: string): ScheduleSpec {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0)
      throw new RangeError(
        `${param} must be a finite number >= 0 (got ${v}; 0 is allowed, a negative rate would ascend the loss)`,
      );
    return constant(v);
  }
  if (isObject(v)) return checkSchedule(v, param);
  throw new TypeError(`${param} must be a number or a schedule such as cosine(0.1, 1000) (got ${formatValue(v)})`);
}

/** Momentum β in [0, 1): β = 1 never forgets a gradient, β > 1 grows without bound. */
function checkMomentum(v: unknown, param: string): number {
  if (typeof v !== 'number') throw new TypeError(`${param} must be a number (got ${formatValue(v)})`);
  if (!(v >= 0 && v < 1)) throw new RangeError(`${param} must be in [0, 1) (got ${v})`);
  return v;
}

/** Gradient descent: `sgd` meant for full-batch training (the trainer's default batching). */
export const gd = sgd;

// ---- Transform constructors (for hand-built chains) --------------------------------------------

/** u ← u · min(1, c/‖u‖₂) (global norm over all parameters). */
export function clipGlobalNorm(maxNorm: number): TransformSpec {
  checkNumber(maxNorm, 'clipGlobalNorm(maxNorm)', 0);
  return { kind: 'clipGlobalNorm', maxNorm };
}

/** u ← u + λθ on the masked parameters (coupled L2 weight decay). */
export function addWeightDecay(weightDecay: number, options: { mask?: Uint8Array } = {}): TransformSpec {
  checkNumber(weightDecay, 'addWeightDecay(weightDecay)', 0);
  checkKnownKeys(options, ['mask'], 'addWeightDecay(weightDecay, options)');
  return { kind: 'addWeightDecay', weightDecay, ...(options.mask ? { mask: options.mask } : {}) };
}

/**
 * Isotropic Gaussian noise on the update (see {@link NoiseMode}); σ_t = std · max(0, 1 − t/annealSteps)
 * when `annealSteps` > 0, else σ_t = std.
 */
export function gaussianNoise(
  std: number,
  options: { annealSteps?: number; mode?: NoiseMode; mask?: Uint8Array } = {},
): TransformSpec {
  checkNumber(std, 'gaussianNoise(std)', 0);
  checkKnownKeys(options, ['annealSteps', 'mode', 'mask'], 'gaussianNoise(std, options)');
  if (options.annealSteps !== undefined)
    checkNonNegativeInteger(options.annealSteps, 'gaussianNoise(std, options).annealSteps');
  return {
    kind: 'gaussianNoise',
    std,
    ...(options.annealSteps !== undefined ? { annealSteps: options.annealSteps } : {}),
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
    ...(options.mask ? { mask: options.mask } : {}),
  };
}

/** Heavy-ball momentum v ← βv + u; u ← v (or u ← u + βv with `nesterov`), PyTorch convention, v₀ = 0. */
export function momentum(beta: number, options: { nesterov?: boolean } = {}): TransformSpec {
  checkMomentum(beta, 'momentum(beta)');
  checkKnownKeys(options, ['nesterov'], 'momentum(beta, options)');
  return { kind: 'momentum', beta, nesterov: options.nesterov ?? false };
}

/** u ← −η(t)·u with η from the optimizer's schedule. */
export function scaleByLearningRate(): TransformSpec {
  return { kind: 'scaleByLearningRate' };
}

/** u ← u − η(t)λθ on the masked parameters (AdamW-style; place after `scaleByLearningRate`). */
export function decoupledWeightDecay(weightDecay: number, options: { mask?: Uint8Array } = {}): TransformSpec {
  checkNumber(weightDecay, 'decoupledWeightDecay(weightDecay)', 0);
  checkKnownKeys(options, ['mask'], 'decoupledWeightDecay(weightDecay, options)');
  return { kind: 'decoupledWeightDecay', weightDecay, ...(options.mask ? { mask: options.mask } : {}) };
}

/**
 * An optimizer from an explicit transform chain, applied in order to u₀ = g, then θ ← θ + u.
 * Order matters: `chain(0.1, clipGlobalNorm(1), momentum(0.9), scaleByLearningRate())` clips the
 * gradient before it enters the momentum buffer; swapping the first two clips the momentum output.
 */
export function chain(lr: number | ScheduleSpec, ...transforms: TransformSpec[]): OptimizerSpec {
  return { transforms, schedule: learningRate(lr, 'chain(lr)') };
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
  if (!isObject(options))
    throw new TypeError(`noisySgd(options): options must be an object (got ${formatValue(options)})`);
  checkKnownKeys(options, NOISY_SGD_KEYS, 'noisySgd(options)');
  const given = (['noiseStd', 'noiseNorm', 'noiseRelative'] as const).filter((k) => options[k] !== undefined);
  if (given.length !== 1) {
    throw new RangeError(
      `exactly one of options.noiseStd, options.noiseNorm, options.noiseRelative must be given (got ${given.length ? given.join(', ') : 'none'})`,
    );
  }
  const key = given[0];
  const mode: NoiseMode = key === 'noiseStd' ? 'std' : key === 'noiseNorm' ? 'norm' : 'relative';
  const std = checkNumber(options[key], `options.${key}`, 0);
  if (options.annealSteps !== undefined) checkNonNegativeInteger(options.annealSteps, 'options.annealSteps');
  const base = sgdChain(options, 'noisySgd(options)');
  // Noise joins the gradient before momentum: [addWeightDecay?] gaussianNoise [momentum?] scale.
  const at = base.transforms[0]?.kind === 'addWeightDecay' ? 1 : 0;
  base.transforms.splice(at, 0, gaussianNoise(std, { annealSteps: options.annealSteps, mode, mask: options.mask }));
  return base;
}

const NOISY_SGD_KEYS = [
  'lr',
  'noiseStd',
  'noiseNorm',
  'noiseRelative',
  'annealSteps',
  'momentum',
  'nesterov',
  'weightDecay',
  'mask',
] as const;

/**
 * The coefficient c of the amplified mini-batch estimator g = g₁ + c(g₁ − g₂) for amplification
 * k ≥ 1: (1 + c)² + c² = k², c = (√(2k² − 1) − 1)/2. The trainer applies it when
 * `batch.amplify = k`; the estimator keeps the mean and multiplies the covariance by k².
 */
export function amplifyCoefficient(k: number): number {
  checkNumber(k, 'k', 1);
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
  checkNumber(l, 'l', 1);
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

function checkNumber(value: unknown, param: string, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${param} must be a number`);
  if (!Number.isFinite(value) || value < min)
    throw new RangeError(`${param} must be a finite number >= ${min} (got ${value})`);
  return value;
}

function checkNonNegativeInteger(value: unknown, param: string): number {
  if (typeof value !== 'number') throw new TypeError(`${param} must be a number`);
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`${param} must be a non-negative integer (got ${value})`);
  return value;
}

function checkMask(mask: unknown, param: string, paramCount: number): Uint8Array | undefined {
  if (mask === undefined) return undefined;
  if (!(mask instanceof Uint8Array)) throw new TypeError(`${param} must be a Uint8Array (see parameterMask)`);
  if (mask.length !== paramCount)
    throw new RangeError(`${param} must have length paramCount ${paramCount} (got ${mask.length})`);
  return mask;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkNumberArray(value: unknown, param: string): number[] {
  if (!Array.isArray(value)) throw new TypeError(`${param} must be an array of numbers (got ${formatValue(value)})`);
  value.forEach((v, i) => {
    if (typeof v !== 'number') throw new TypeError(`${param}[${i}] must be a number (got ${formatValue(v)})`);
  });
  return value as number[];
}

/** Checks the shape the plan conversion relies on; the native side checks the values (ranges, integers). */
function compileSchedule(raw: unknown, param: string): NativeSchedule {
  const s = checkSchedule(raw, param) as unknown as Record<string, unknown>;
  if (s.kind === 'piecewise') {
    const boundaries = checkNumberArray(s.boundaries, `${param}.boundaries`);
    const values = checkNumberArray(s.values, `${param}.values`);
    if (values.length !== boundaries.length + 1) {
      throw new RangeError(
        `${param}.values must have one more entry than ${param}.boundaries (got ${values.length} and ${boundaries.length})`,
      );
    }
    return {
      kind: 'piecewise',
      lr: values[0]!,
      boundaries: Float64Array.from(boundaries),
      values: Float64Array.from(values),
      warmupSteps: s.warmupSteps as number | undefined,
    };
  }
  return { ...(s as unknown as NativeSchedule) };
}

const TRANSFORM_KEYS: Record<TransformSpec['kind'], readonly string[]> = {
  clipGlobalNorm: ['kind', 'maxNorm'],
  addWeightDecay: ['kind', 'weightDecay', 'mask'],
  decoupledWeightDecay: ['kind', 'weightDecay', 'mask'],
  gaussianNoise: ['kind', 'std', 'annealSteps', 'mode', 'mask'],
  momentum: ['kind', 'beta', 'nesterov'],
  scaleByLearningRate: ['kind'],
};

/**
 * Plain-data plan for the native loop; momentum buffers get consecutive slices of the state.
 * Malformed specs throw a TypeError / RangeError whose message starts with the parameter's path
 * (`optimizer.transforms[1].beta …`, `optimizer.schedule.values …`).
 */
export function compilePlan(spec: OptimizerSpec, paramCount: number): NativeOptimizerPlan {
  if (!isObject(spec))
    throw new TypeError(
      `optimizer must be an object { transforms, schedule } such as sgd({ lr: 0.1 }) (got ${formatValue(spec)})`,
    );
  checkKnownKeys(spec, ['transforms', 'schedule'], 'optimizer');
  if (!Array.isArray(spec.transforms))
    throw new TypeError(`optimizer.transforms must be an array (got ${formatValue(spec.transforms)})`);
  let stateCount = 0;
  const transforms: NativeTransform[] = (spec.transforms as unknown[]).map((t, i) => {
    const p = `optimizer.transforms[${i}]`;
    if (!isObject(t))
      throw new TypeError(`${p} must be a transform object such as momentum(0.9) (got ${formatValue(t)})`);
    const kind = checkOneOf(t.kind, kinds.transformKinds, `${p}.kind`);
    checkKnownKeys(t, TRANSFORM_KEYS[kind], p);
    switch (kind) {
      case 'clipGlobalNorm':
        return { kind, value: checkNumber(t.maxNorm, `${p}.maxNorm`, 0) };
      case 'addWeightDecay':
      case 'decoupledWeightDecay':
        return {
          kind,
          value: checkNumber(t.weightDecay, `${p}.weightDecay`, 0),
          mask: checkMask(t.mask, `${p}.mask`, paramCount),
        };
      case 'gaussianNoise': {
        const mode = checkOneOf(t.mode ?? 'std', kinds.noiseModes, `${p}.mode`);
        const out: NativeTransform & { noiseMode?: NoiseMode } = {
          kind,
          value: checkNumber(t.std, `${p}.std`, 0),
          annealSteps: checkNonNegativeInteger(t.annealSteps ?? 0, `${p}.annealSteps`),
          mask: checkMask(t.mask, `${p}.mask`, paramCount),
        };
        // Only non-default modes are passed, so plans of the 'std' mode are unchanged.
        if (mode !== 'std') out.noiseMode = mode;
        return out;
      }
      case 'momentum': {
        const value = checkMomentum(t.beta, `${p}.beta`);
        const nesterov = t.nesterov ?? false;
        if (typeof nesterov !== 'boolean')
          throw new TypeError(`${p}.nesterov must be a boolean (got ${formatValue(nesterov)})`);
        const stateOffset = stateCount;
        stateCount += paramCount;
        return { kind, value, nesterov, stateOffset };
      }
      case 'scaleByLearningRate':
        return { kind };
    }
  });
  return { transforms, schedule: compileSchedule(spec.schedule, 'optimizer.schedule'), stateCount };
}
