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
 *                               σ_t = σ · max(0, 1 − t / annealSteps)
 * - `momentum(β)`:              v ← βv + u; u ← v            (heavy ball, PyTorch convention: v₀ = 0
 *                               so the first step is u = g, no dampening)
 *   `momentum(β, nesterov)`:    v ← βv + u; u ← u + βv
 * - `scaleByLearningRate()`:    u ← −η(t) u
 * - `decoupledWeightDecay(λ)`:  u ← u − η(t) λ θ        (AdamW-style, after scaleByLearningRate)
 */
import type { NativeOptimizerPlan, NativeSchedule, NativeTransform } from '../native/binding.js';
import { constant, type ScheduleSpec } from './schedules.js';

export type TransformSpec =
  | { kind: 'clipGlobalNorm'; maxNorm: number }
  | { kind: 'addWeightDecay'; weightDecay: number; mask?: Uint8Array }
  | { kind: 'gaussianNoise'; std: number; annealSteps?: number; mask?: Uint8Array }
  | { kind: 'momentum'; beta: number; nesterov?: boolean }
  | { kind: 'scaleByLearningRate' }
  | { kind: 'decoupledWeightDecay'; weightDecay: number; mask?: Uint8Array };

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
  const transforms: TransformSpec[] = [];
  if (options.weightDecay) transforms.push({ kind: 'addWeightDecay', weightDecay: options.weightDecay });
  if (options.momentum) transforms.push({ kind: 'momentum', beta: options.momentum, nesterov: options.nesterov ?? false });
  else if (options.nesterov) throw new RangeError('nesterov requires momentum > 0');
  transforms.push({ kind: 'scaleByLearningRate' });
  return { transforms, schedule: typeof options.lr === 'number' ? constant(options.lr) : options.lr };
}

/** Gradient descent: `sgd` meant for full-batch training (the trainer's default batching). */
export const gd = sgd;

function checkNumber(value: unknown, param: string, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${param} must be a number`);
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${param} must be a finite number >= ${min} (got ${value})`);
  return value;
}

function compileSchedule(s: ScheduleSpec): NativeSchedule {
  if (s.kind === 'piecewise') {
    return {
      kind: 'piecewise',
      lr: s.values[0] ?? 0,
      boundaries: Float64Array.from(s.boundaries),
      values: Float64Array.from(s.values),
      warmupSteps: s.warmupSteps,
    };
  }
  return { ...s };
}

/** Plain-data plan for the native loop; momentum buffers get consecutive slices of the state. */
export function compilePlan(spec: OptimizerSpec, paramCount: number): NativeOptimizerPlan {
  if (!spec || !Array.isArray(spec.transforms)) throw new TypeError('optimizer.transforms must be an array');
  let stateCount = 0;
  const transforms: NativeTransform[] = spec.transforms.map((t, i) => {
    const p = `optimizer.transforms[${i}]`;
    switch (t.kind) {
      case 'clipGlobalNorm':
        return { kind: t.kind, value: checkNumber(t.maxNorm, `${p}.maxNorm`, 0) };
      case 'addWeightDecay':
      case 'decoupledWeightDecay':
        return { kind: t.kind, value: checkNumber(t.weightDecay, `${p}.weightDecay`, 0), mask: t.mask };
      case 'gaussianNoise':
        return { kind: t.kind, value: checkNumber(t.std, `${p}.std`, 0), annealSteps: t.annealSteps ?? 0, mask: t.mask };
      case 'momentum': {
        const value = checkNumber(t.beta, `${p}.beta`, 0);
        const stateOffset = stateCount;
        stateCount += paramCount;
        return { kind: t.kind, value, nesterov: t.nesterov ?? false, stateOffset };
      }
      case 'scaleByLearningRate':
        return { kind: t.kind };
      default:
        throw new RangeError(`${p}.kind is not a known transform (got ${JSON.stringify((t as { kind: unknown }).kind)})`);
    }
  });
  return { transforms, schedule: compileSchedule(spec.schedule), stateCount };
}
