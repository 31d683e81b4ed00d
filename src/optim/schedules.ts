/**
 * Learning-rate schedules: pure functions of the step t (0-based), evaluated per step inside the
 * native chunk loop. The learning rate actually used is logged per step.
 */
export type ScheduleSpec =
  /** η(t) = lr */
  | { kind: 'constant'; lr: number; warmupSteps?: number }
  /** η(t) = lr · gamma^⌊t / stepSize⌋ */
  | { kind: 'step'; lr: number; stepSize: number; gamma: number; warmupSteps?: number }
  /** η(t) = finalLr + ½(lr − finalLr)(1 + cos(π·min(t, totalSteps)/totalSteps)) */
  | { kind: 'cosine'; lr: number; totalSteps: number; finalLr?: number; warmupSteps?: number }
  /** η(t) = values[i] for boundaries[i−1] ≤ t < boundaries[i] (values has one more entry) */
  | { kind: 'piecewise'; boundaries: number[]; values: number[]; warmupSteps?: number };
// With warmupSteps = w > 0, any schedule is multiplied by (t + 1)/w for t < w.

/** η(t) = lr (a constant learning rate). */
export const constant = (lr: number): ScheduleSpec => ({ kind: 'constant', lr });

/** η = before for t < step, then after: the escape experiment's switch from a small to a large rate. */
export const switchAt = (step: number, before: number, after: number): ScheduleSpec => ({
  kind: 'piecewise',
  boundaries: [step],
  values: [before, after],
});

/** η(t) = lr · gamma^⌊t / stepSize⌋ (step decay). */
export const stepDecay = (lr: number, stepSize: number, gamma: number): ScheduleSpec => ({ kind: 'step', lr, stepSize, gamma });

/** η(t) = finalLr + ½(lr − finalLr)(1 + cos(π·min(t, totalSteps)/totalSteps)) (cosine annealing). */
export const cosine = (lr: number, totalSteps: number, finalLr = 0): ScheduleSpec => ({ kind: 'cosine', lr, totalSteps, finalLr });

/** η(t) = values[i] for boundaries[i−1] ≤ t < boundaries[i]; `values` has one more entry than `boundaries`. */
export const piecewise = (boundaries: number[], values: number[]): ScheduleSpec => ({ kind: 'piecewise', boundaries: [...boundaries], values: [...values] });

/** The same schedule multiplied by (t + 1)/warmupSteps for t < warmupSteps (linear warmup). */
export const withWarmup = (schedule: ScheduleSpec, warmupSteps: number): ScheduleSpec => ({ ...schedule, warmupSteps });

/**
 * η(t) of a schedule evaluated in TypeScript, the same formula (in double) as the native loop's
 * `schedule_lr`; the trainer logs the value it actually used per step (`RunResult.lr`).
 */
export function scheduleLr(s: ScheduleSpec, t: number): number {
  let lr: number;
  switch (s.kind) {
    case 'constant':
      lr = s.lr;
      break;
    case 'step':
      lr = s.lr * Math.pow(s.gamma, Math.floor(t / s.stepSize));
      break;
    case 'cosine': {
      const progress = Math.min(1, t / s.totalSteps);
      const finalLr = s.finalLr ?? 0;
      lr = finalLr + 0.5 * (s.lr - finalLr) * (1 + Math.cos(Math.PI * progress));
      break;
    }
    case 'piecewise': {
      let i = 0;
      while (i < s.boundaries.length && t >= s.boundaries[i]) i++;
      lr = s.values[i];
      break;
    }
    default:
      throw new RangeError(`schedule.kind is not a known schedule (got ${JSON.stringify((s as { kind: unknown }).kind)})`);
  }
  const w = s.warmupSteps ?? 0;
  if (w > 0 && t < w) lr *= (t + 1) / w;
  return lr;
}
