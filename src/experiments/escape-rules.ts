/**
 * E2's decision rules as pure functions of measured numbers (no native calls), so that each rule
 * is stated once, tested on constructed inputs, and quoted word for word in the verdicts:
 *  - is θ_s a minimum (gradient-norm tolerance);
 *  - the catapult regime of one phase-diagram cell;
 *  - did one large-η arm escape the basin of θ_s (loss barrier AND the return test).
 * Thresholds come from the config (fixed before any run; docs/experiments.md, E2).
 */

/** Thresholds of the escape test (config.escape). */
export interface EscapeRule {
  /** Loss barrier on the segment θ_s → θ_end (train loss units) that counts as a barrier: barrier > barrierMin. */
  barrierMin: number;
  /** GD steps at η_small from θ_end in the return test. */
  returnSteps: number;
  /** Returned when ‖θ_return − θ_s‖ ≤ returnFraction · ‖θ_end − θ_s‖. */
  returnFraction: number;
}

/** Thresholds of the catapult phase diagram (config.catapult). */
export interface CatapultRule {
  /** Steps over which the spike max_t L(θ_t)/L(θ₀) is taken. */
  spikeWindow: number;
  /** A cell is a catapult when its spike ≥ catapultRatio and it is not divergent. */
  catapultRatio: number;
  /** A cell is divergent when its loss becomes non-finite or exceeds divergeRatio·L(θ₀), or it ends above L(θ₀). */
  divergeRatio: number;
}

export type Regime = 'stable' | 'catapult' | 'divergent';

/** The regime of a cell from its train-loss curve L(θ_t), t = 0 … (loss[0] = L(θ₀)); `stopped` = run was cut at the divergence bound or went non-finite. */
export function catapultRegime(
  loss: readonly number[],
  stopped: boolean,
  rule: CatapultRule,
): { regime: Regime; spike: number; finalRatio: number } {
  const l0 = loss[0];
  let spike = -Infinity;
  for (let t = 0; t < Math.min(loss.length, rule.spikeWindow + 1); t++)
    spike = Math.max(spike, Number.isFinite(loss[t]) ? loss[t] / l0 : Infinity);
  const finalRatio = loss.length ? loss[loss.length - 1] / l0 : NaN;
  const divergent =
    stopped || !Number.isFinite(finalRatio) || finalRatio > 1 || loss.some((l) => !(l <= rule.divergeRatio * l0));
  return { regime: divergent ? 'divergent' : spike >= rule.catapultRatio ? 'catapult' : 'stable', spike, finalRatio };
}

export function catapultRuleText(r: CatapultRule): string {
  return (
    `divergent: the train loss becomes non-finite or exceeds ${r.divergeRatio}·L(θ₀), or ends above L(θ₀); ` +
    `catapult: not divergent and max over the first ${r.spikeWindow} steps of L(θ_t)/L(θ₀) ≥ ${r.catapultRatio}; stable: otherwise`
  );
}

/** What the escape test measured for one large-η arm. */
export interface EscapeEvidence {
  diverged: boolean;
  /** Loss barrier on the segment θ_s → θ_end (train loss). */
  barrier: number;
  /** ‖θ_end − θ_s‖. */
  distanceEnd: number;
  /** ‖θ_return − θ_s‖ after returnSteps GD steps at η_small from θ_end. */
  distanceReturn: number;
}

/** Escape = not diverged AND barrier > barrierMin AND ‖θ_return − θ_s‖ > returnFraction·‖θ_end − θ_s‖. */
export function escapeDecision(
  e: EscapeEvidence,
  rule: EscapeRule,
): { escaped: boolean; barrierAbove: boolean; returned: boolean } {
  if (e.diverged || !Number.isFinite(e.barrier) || !Number.isFinite(e.distanceReturn))
    return { escaped: false, barrierAbove: false, returned: false };
  const barrierAbove = e.barrier > rule.barrierMin;
  const returned = e.distanceReturn <= rule.returnFraction * e.distanceEnd;
  return { escaped: barrierAbove && !returned, barrierAbove, returned };
}

export function escapeRuleText(r: EscapeRule): string {
  return (
    `escape = the arm did not diverge AND the loss barrier on the straight segment θ_s → θ_end, ` +
    `max_α [L((1−α)θ_s + αθ_end) − ((1−α)L(θ_s) + αL(θ_end))] on the train set, is above ${r.barrierMin} ` +
    `AND the return test fails: GD at η_small for ${r.returnSteps} steps from θ_end ends at θ_return with ` +
    `‖θ_return − θ_s‖ > ${r.returnFraction}·‖θ_end − θ_s‖ (it does not come back to θ_s)`
  );
}

/**
 * θ accepted as a minimum: ‖∇L(θ)‖ ≤ gradTol (absolute) AND λ_min(θ) ≥ −negativeCurvatureTol·λ_max(θ)
 * (no direction of negative curvature beyond the tolerance: not a saddle or plateau edge).
 */
export function isMinimum(
  m: { gradNorm: number; lambdaMax: number; lambdaMin: number },
  rule: { gradTol: number; negativeCurvatureTol: number },
): boolean {
  if (![m.gradNorm, m.lambdaMax, m.lambdaMin].every(Number.isFinite)) return false;
  return m.gradNorm <= rule.gradTol && m.lambdaMin >= -rule.negativeCurvatureTol * Math.abs(m.lambdaMax);
}

export function minimumRuleText(r: { gradTol: number; negativeCurvatureTol: number }): string {
  return `‖∇L(θ_s)‖ ≤ ${r.gradTol}·‖∇L(θ₀)‖ and λ_min(θ_s) ≥ −${r.negativeCurvatureTol}·λ_max(θ_s)`;
}
