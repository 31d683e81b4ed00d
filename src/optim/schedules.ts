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

export const constant = (lr: number): ScheduleSpec => ({ kind: 'constant', lr });

/** η = before for t < step, then after: the escape experiment's switch from a small to a large rate. */
export const switchAt = (step: number, before: number, after: number): ScheduleSpec => ({
  kind: 'piecewise',
  boundaries: [step],
  values: [before, after],
});
