/**
 * Learning-rate schedules: pure functions of the step t (0-based), evaluated per step inside the
 * native chunk loop. The learning rate actually used is logged per step.
 */
import { z } from 'zod';

import { formatValue } from '../util/format.js';
import { kinds } from '../native/kinds.js';
import { intBelow, kindUnionError, learningRateNumber, parseNamed } from '../util/schema.js';

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

const steps = (min: number) => intBelow(min, MAX_SCHEDULE_STEPS, '2^52');
const warmupSteps = steps(0).optional();

/**
 * The schedule kinds, defined once: the runtime check ({@link checkSchedule}) and, through
 * {@link ScheduleSpec}'s compile-time check below, the TS type. The kind names in messages are the
 * addon's (`kinds.scheduleKinds`).
 */
export const scheduleSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('constant'), lr: learningRateNumber(), warmupSteps }),
    z.strictObject({
      kind: z.literal('step'),
      lr: learningRateNumber(),
      stepSize: steps(1),
      gamma: learningRateNumber(),
      warmupSteps,
    }),
    z.strictObject({
      kind: z.literal('cosine'),
      lr: learningRateNumber(),
      totalSteps: steps(1),
      finalLr: learningRateNumber().optional(),
      warmupSteps,
    }),
    z
      .strictObject({
        kind: z.literal('piecewise'),
        boundaries: z.array(steps(0), {
          error: (i) => `must be an array of step numbers (got ${formatValue(i.input)})`,
        }),
        values: z.array(learningRateNumber(), {
          error: (i) => `must be an array of learning rates (got ${formatValue(i.input)})`,
        }),
        warmupSteps,
      })
      .superRefine(piecewiseRules),
  ],
  { error: kindUnionError('a schedule object such as constant(0.1)', kinds.scheduleKinds) },
);

/** Boundaries strictly increasing; one more value than boundaries. */
function piecewiseRules(s: { boundaries: number[]; values: number[] }, ctx: z.RefinementCtx): void {
  const b = s.boundaries;
  const i = b.findIndex((x, k) => k > 0 && x <= b[k - 1]!);
  if (i > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['boundaries'],
      message: `must be strictly increasing (boundaries[${i}] = ${b[i]})`,
    });
  if (s.values.length !== b.length + 1)
    ctx.addIssue({
      code: 'custom',
      path: ['values'],
      message: `must have one more entry than the boundaries (got ${s.values.length} and ${b.length})`,
    });
}

// The schema and the hand-written ScheduleSpec (documented per kind) describe the same objects.
type SchemaSchedule = z.infer<typeof scheduleSchema>;
const sameShape: [
  SchemaSchedule extends ScheduleSpec ? true : false,
  ScheduleSpec extends SchemaSchedule ? true : false,
] = [true, true];
void sameShape;

/**
 * Checks a schedule object (keys, types, ranges; see the rules above) and returns a checked copy.
 * Throws a TypeError / RangeError whose message starts with `param` (e.g. `optimizer.schedule.values[1]`).
 */
export function checkSchedule(s: unknown, param = 'schedule'): ScheduleSpec {
  return parseNamed(scheduleSchema, s, param);
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
export const piecewise = (boundaries: number[], values: number[]): ScheduleSpec =>
  checkSchedule({ kind: 'piecewise', boundaries, values }, 'piecewise(boundaries, values)');

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
