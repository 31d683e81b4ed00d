/**
 * Learning-rate schedules: pure functions of the step t (0-based), evaluated per step inside the
 * native chunk loop. The learning rate actually used is logged per step.
 */
import { formatValue } from '../util/format.js';
import { kinds } from '../native/kinds.js';
import { checkKnownKeys, checkOneOf } from '../util/options.js';

/** A learning-rate schedule as plain data (what `constant`, `stepDecay`, `cosine`, … return), by `kind`. */
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
//
// Every learning rate (lr, finalLr, values) must be finite and >= 0, and gamma >= 0, so every
// schedule output is >= 0. A rate of 0 is allowed (a frozen control run); a negative rate would
// ascend the loss and is a RangeError. Step counts are integers: stepSize, totalSteps >= 1,
// warmupSteps and boundaries >= 0 (boundaries strictly increasing), all below 2^52.

/** Largest step count a schedule accepts (the native loop's limit). */
export const MAX_SCHEDULE_STEPS = 2 ** 52;

const KEYS: Record<ScheduleSpec['kind'], readonly string[]> = {
  constant: ['kind', 'lr', 'warmupSteps'],
  step: ['kind', 'lr', 'stepSize', 'gamma', 'warmupSteps'],
  cosine: ['kind', 'lr', 'totalSteps', 'finalLr', 'warmupSteps'],
  piecewise: ['kind', 'boundaries', 'values', 'warmupSteps'],
};

function rate(v: unknown, param: string): number {
  if (typeof v !== 'number') throw new TypeError(`${param} must be a number (got ${formatValue(v)})`);
  if (!Number.isFinite(v) || v < 0)
    throw new RangeError(
      `${param} must be a finite number >= 0 (got ${v}; 0 is allowed, a negative rate would ascend the loss)`,
    );
  return v;
}

function steps(v: unknown, param: string, min: number): number {
  if (typeof v !== 'number') throw new TypeError(`${param} must be a number (got ${formatValue(v)})`);
  if (!Number.isInteger(v) || v < min || v >= MAX_SCHEDULE_STEPS)
    throw new RangeError(`${param} must be an integer in [${min}, 2^52) (got ${v})`);
  return v;
}

/**
 * Checks a schedule object (keys, types, ranges; see the rules above) and returns it. Throws a
 * TypeError / RangeError whose message starts with `param` (e.g. `optimizer.schedule.values[1]`).
 */
export function checkSchedule(s: unknown, param = 'schedule'): ScheduleSpec {
  if (typeof s !== 'object' || s === null || Array.isArray(s))
    throw new TypeError(`${param} must be a schedule object such as constant(0.1) (got ${formatValue(s)})`);
  const o = s as Record<string, unknown>;
  const kind = checkOneOf(o.kind, kinds.scheduleKinds, `${param}.kind`);
  checkKnownKeys(o, KEYS[kind], param);
  if (o.warmupSteps !== undefined) steps(o.warmupSteps, `${param}.warmupSteps`, 0);
  switch (kind) {
    case 'constant':
      rate(o.lr, `${param}.lr`);
      break;
    case 'step':
      rate(o.lr, `${param}.lr`);
      steps(o.stepSize, `${param}.stepSize`, 1);
      rate(o.gamma, `${param}.gamma`);
      break;
    case 'cosine':
      rate(o.lr, `${param}.lr`);
      steps(o.totalSteps, `${param}.totalSteps`, 1);
      if (o.finalLr !== undefined) rate(o.finalLr, `${param}.finalLr`);
      break;
    case 'piecewise': {
      if (!Array.isArray(o.boundaries))
        throw new TypeError(`${param}.boundaries must be an array of step numbers (got ${formatValue(o.boundaries)})`);
      if (!Array.isArray(o.values))
        throw new TypeError(`${param}.values must be an array of learning rates (got ${formatValue(o.values)})`);
      o.boundaries.forEach((b, i) => {
        steps(b, `${param}.boundaries[${i}]`, 0);
        if (i > 0 && (b as number) <= (o.boundaries as number[])[i - 1])
          throw new RangeError(`${param}.boundaries must be strictly increasing (boundaries[${i}] = ${b})`);
      });
      o.values.forEach((v, i) => rate(v, `${param}.values[${i}]`));
      if (o.values.length !== o.boundaries.length + 1)
        throw new RangeError(
          `${param}.values must have one more entry than ${param}.boundaries (got ${o.values.length} and ${o.boundaries.length})`,
        );
      break;
    }
  }
  return s as ScheduleSpec;
}

/** η(t) = lr (a constant learning rate). */
export const constant = (lr: number): ScheduleSpec => checkSchedule({ kind: 'constant', lr }, 'constant(lr)');

/** η = before for t < step, then after: the escape experiment's switch from a small to a large rate. */
export const switchAt = (step: number, before: number, after: number): ScheduleSpec =>
  checkSchedule({ kind: 'piecewise', boundaries: [step], values: [before, after] }, 'switchAt(step, before, after)');

/** η(t) = lr · gamma^⌊t / stepSize⌋ (step decay). */
export const stepDecay = (lr: number, stepSize: number, gamma: number): ScheduleSpec =>
  checkSchedule({ kind: 'step', lr, stepSize, gamma }, 'stepDecay(lr, stepSize, gamma)');

/** η(t) = finalLr + ½(lr − finalLr)(1 + cos(π·min(t, totalSteps)/totalSteps)) (cosine annealing). */
export const cosine = (lr: number, totalSteps: number, finalLr = 0): ScheduleSpec =>
  checkSchedule({ kind: 'cosine', lr, totalSteps, finalLr }, 'cosine(lr, totalSteps, finalLr)');

/** η(t) = values[i] for boundaries[i−1] ≤ t < boundaries[i]; `values` has one more entry than `boundaries`. */
export const piecewise = (boundaries: number[], values: number[]): ScheduleSpec => {
  if (!Array.isArray(boundaries))
    throw new TypeError(`piecewise(boundaries, values).boundaries must be an array (got ${formatValue(boundaries)})`);
  if (!Array.isArray(values))
    throw new TypeError(`piecewise(boundaries, values).values must be an array (got ${formatValue(values)})`);
  return checkSchedule(
    { kind: 'piecewise', boundaries: [...boundaries], values: [...values] },
    'piecewise(boundaries, values)',
  );
};

/** The same schedule multiplied by (t + 1)/warmupSteps for t < warmupSteps (linear warmup). */
export const withWarmup = (schedule: ScheduleSpec, warmupSteps: number): ScheduleSpec =>
  checkSchedule(
    { ...checkSchedule(schedule, 'withWarmup(schedule)'), warmupSteps },
    'withWarmup(schedule, warmupSteps)',
  );

/**
 * η(t) of a schedule evaluated in TypeScript, the same formula (in double) as the native loop's
 * `schedule_lr`; the trainer logs the value it actually used per step (`RunResult.lr`).
 */
export function scheduleLr(s: ScheduleSpec, t: number): number {
  checkSchedule(s, 'schedule');
  if (typeof t !== 'number') throw new TypeError(`t must be a number (got ${formatValue(t)})`);
  if (!Number.isInteger(t) || t < 0) throw new RangeError(`t must be a non-negative integer step (got ${t})`);
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
      throw new RangeError(
        `schedule.kind is not a known schedule (got ${JSON.stringify((s as { kind: unknown }).kind)})`,
      );
  }
  const w = s.warmupSteps ?? 0;
  if (w > 0 && t < w) lr *= (t + 1) / w;
  return lr;
}
