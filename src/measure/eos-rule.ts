/**
 * The edge-of-stability rule (Cohen et al. 2021: under full-batch GD at step size η, λ_max rises
 * — progressive sharpening — until it reaches 2/η and then hovers there), written down before the
 * runs that it judges, as a pure function of the tracked λ_max series so it can be tested.
 *
 * With E = 2/η and λ_max measured every few steps:
 * - uninformative: λ_max ≥ 0.9·E at the first measurement (no sharpening to observe);
 * - sharpening: some later measurement has λ_max ≥ 0.9·E;
 * - arrival: the first measurement with λ_max ≥ 0.95·E (the edge itself, with 5 % slack for the
 *   sampling interval); the sharpening rate is (λ(arrival) − λ(0)) / (steps to arrival);
 * - the late window: every measurement from arrival to the end; it needs at least `minLate`
 *   measurements (default 20, i.e. 1,000 steps at one measurement per 50);
 * - hovering: at least `fraction` (default 80 %) of the late window within ±`band` (default 10 %)
 *   of E, AND λ_max has stopped rising: the least-squares slope of the late window is at most
 *   `maxSlope` (default 25 %) of the sharpening rate in absolute value. (Without the slope test a
 *   steady rise through the band, never stopping at E, would count as hovering whenever the run
 *   ends before λ leaves the band.)
 * Verdicts, for a run that ended by its own criterion (train accuracy target or step budget /
 * stated cap): supported (sharpening, arrival, a full late window, hovering); not-reproduced (GD
 * diverged; or no sharpening; or a full late window less than `fraction` in the band);
 * inconclusive (sharpening but no arrival; a late window shorter than `minLate`; or in the band but
 * still moving faster than `maxSlope` of the sharpening rate). A run that has not ended is
 * unfinished (unless uninformative or diverged).
 */

export interface EosRuleOptions {
  /** Half-width of the hovering band, relative to 2/η (default 0.1). */
  band?: number;
  /** Share of the late window that must lie in the band (default 0.8). */
  fraction?: number;
  /** Measurements the late window needs (default 20). */
  minLate?: number;
  /** Largest |slope| of the late window, relative to the sharpening rate (default 0.25). */
  maxSlope?: number;
}

export type EosVerdict = 'supported' | 'not-reproduced' | 'inconclusive' | 'uninformative' | 'unfinished';

export interface EosJudgement {
  verdict: EosVerdict;
  /** Why, in one sentence with the numbers. */
  reason: string;
  /** Index of the first measurement ≥ 0.9·E, and of arrival (≥ 0.95·E); -1 if none. */
  sharpened: number;
  arrived: number;
  /** Measurements in the late window, the share of them within the band, their median λ/E. */
  late: number;
  inBand: number;
  medianRatio: number;
  /** λ per step: the sharpening rate up to arrival, and the late window's least-squares slope (NaN if undefined). */
  sharpeningRate: number;
  lateSlope: number;
}

/** The rule's text, as results and reports state it. */
export const EOS_RULE =
  'uninformative if λ1 ≥ 0.9·2/η at step 0; sharpening: λ1 ≥ 0.9·2/η later; arrival: first λ1 ≥ 0.95·2/η; ' +
  'supported if, over the ≥ 20 measurements from arrival on, ≥ 80 % lie within ±10 % of 2/η and the least-squares ' +
  'slope is ≤ 25 % of the sharpening rate (λ(arrival) − λ(0))/steps; not-reproduced if GD diverged, the run ended ' +
  'without sharpening, or a full late window is < 80 % in the band; inconclusive if it ended before arrival, with ' +
  '< 20 late measurements, or in the band but still moving; unfinished while the run has not ended';

function fractionIn(value: unknown, param: string): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1))
    throw new RangeError(`${param} must be in (0, 1] (got ${String(value)})`);
  return value;
}

function slope(points: readonly { step: number; value: number }[]): number {
  if (points.length < 2) return NaN;
  const n = points.length;
  const ms = points.reduce((a, p) => a + p.step, 0) / n;
  const mv = points.reduce((a, p) => a + p.value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.step - ms) * (p.value - mv);
    sxx += (p.step - ms) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/**
 * Judges one run by {@link EOS_RULE}. `points`: λ_max at each measurement (its step and value),
 * in order, in the same units as `threshold` = 2/η; `ended`: the run stopped by its own criterion;
 * `diverged`: GD diverged.
 */
export function edgeOfStabilityVerdict(
  points: readonly { step: number; value: number }[],
  threshold: number,
  run: { ended: boolean; diverged: boolean },
  options: EosRuleOptions = {},
): EosJudgement {
  if (!(threshold > 0 && Number.isFinite(threshold)))
    throw new RangeError(`threshold (2/η) must be a positive number (got ${threshold})`);
  if (points.length === 0) throw new RangeError('points must hold at least one measurement');
  const band = fractionIn(options.band ?? 0.1, 'options.band');
  const share = fractionIn(options.fraction ?? 0.8, 'options.fraction');
  const maxSlope = fractionIn(options.maxSlope ?? 0.25, 'options.maxSlope');
  const minLate = options.minLate ?? 20;
  if (!Number.isInteger(minLate) || minLate < 1)
    throw new RangeError(`options.minLate must be a positive integer (got ${minLate})`);
  const values = points.map((p) => p.value);
  const sharpened = values.findIndex((v, i) => i > 0 && v >= 0.9 * threshold);
  const arrived = values.findIndex((v, i) => i > 0 && v >= 0.95 * threshold);
  const window = arrived >= 0 ? points.slice(arrived) : [];
  const inside = window.filter((p) => Math.abs(p.value / threshold - 1) <= band).length;
  const inBand = window.length ? inside / window.length : NaN;
  const sorted = window.map((p) => p.value / threshold).sort((a, b) => a - b);
  const medianRatio = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
  const sharpeningRate = arrived > 0 ? (values[arrived] - values[0]) / (points[arrived].step - points[0].step) : NaN;
  const lateSlope = slope(window);
  const base = { sharpened, arrived, late: window.length, inBand, medianRatio, sharpeningRate, lateSlope };
  const pct = (x: number): string => `${(100 * x).toFixed(0)} %`;
  const say = (verdict: EosVerdict, reason: string): EosJudgement => ({ verdict, reason, ...base });
  const max = Math.max(...values);
  if (values[0] >= 0.9 * threshold)
    return say('uninformative', `λ1 at the start is already ${pct(values[0] / threshold)} of 2/η`);
  if (run.diverged) return say('not-reproduced', 'GD diverged');
  const sofar =
    arrived >= 0
      ? `${window.length} measurements since arrival, ${pct(inBand)} of them within ±${pct(band)} of 2/η`
      : `λ1 at most ${pct(max / threshold)} of 2/η so far`;
  if (!run.ended) return say('unfinished', `the run has not ended (${sofar})`);
  if (sharpened < 0) return say('not-reproduced', `λ1 never reached 0.9·2/η (max ${pct(max / threshold)})`);
  if (arrived < 0)
    return say('inconclusive', `sharpened to ${pct(max / threshold)} of 2/η but the run ended before arrival`);
  if (window.length < minLate)
    return say('inconclusive', `the run ended ${window.length} measurements after arrival (the rule needs ${minLate})`);
  const where = `${pct(inBand)} of the ${window.length} measurements from arrival on lie within ±${pct(band)} of 2/η (median λ1 = ${medianRatio.toFixed(3)}·2/η)`;
  if (inBand < share) return say('not-reproduced', `only ${where}`);
  const moving = Math.abs(lateSlope) / sharpeningRate;
  const rates = `late slope ${lateSlope.toExponential(2)} per step = ${pct(moving)} of the sharpening rate ${sharpeningRate.toExponential(2)}`;
  if (!(moving <= maxSlope)) return say('inconclusive', `${where}, but λ1 is still moving: ${rates}`);
  return say('supported', `${where}; ${rates}`);
}
