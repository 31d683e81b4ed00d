/**
 * E2's summaries over seeds (every number with its spread and n) and its verdicts, from an
 * `EscapeResult` alone. The verdict rules are the config's thresholds applied to the per-seed
 * escape tests (escape-rules.ts); each verdict quotes its rule and the numbers it used.
 */
import type { Verdict } from '../run/verdict.js';
import { iqr, mean, pairedInterval, sd } from '../util/stats.js';
import type { EscapeResult, EscapeTest, SeedResult } from './escape.js';
import { escapeRuleText, minimumRuleText } from './escape-rules.js';
import { fmt } from './escape-setup.js';

/** median [q1, q3] (n) of the finite values, or n/a. */
export function spread(xs: Array<number | null | undefined>): {
  n: number;
  median: number | null;
  q1: number | null;
  q3: number | null;
  mean: number | null;
  sd: number | null;
} {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return { n: 0, median: null, q1: null, q3: null, mean: null, sd: null };
  const q = iqr(v);
  return { n: v.length, median: q.median, q1: q.q1, q3: q.q3, mean: mean(v), sd: v.length > 1 ? sd(v) : null };
}

export function spreadText(xs: Array<number | null | undefined>, p = 3): string {
  const s = spread(xs);
  return s.n === 0 ? 'n/a (n = 0)' : `median ${fmt(s.median, p)} [IQR ${fmt(s.q1, p)}, ${fmt(s.q3, p)}], n = ${s.n}`;
}

/** The test of large factor m in seed r (undefined when that seed stopped before the switch). */
export function testOf(r: SeedResult, m: number): EscapeTest | undefined {
  return r.tests.find((t) => t.factor === m);
}

export interface FactorSummary {
  factor: number;
  valid: number;
  escaped: number;
  diverged: number;
  barrierAbove: number;
  returned: number;
  accDiffSteps: ReturnType<typeof pairedIntervalOrNull>;
  accDiffEtaT: ReturnType<typeof pairedIntervalOrNull>;
}

function pairedIntervalOrNull(xs: Array<number | null>): { mean: number; lo: number; hi: number; n: number } | null {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length < 2) return null;
  const p = pairedInterval(v);
  return { mean: p.mean, lo: p.lo, hi: p.hi, n: p.n };
}

/** Seeds whose θ_s passed the gradient-norm tolerance. */
export function validSeeds(r: EscapeResult): SeedResult[] {
  return r.seeds.filter((s) => s.thetaS.isMinimum && s.switch !== null);
}

export function factorSummary(r: EscapeResult, m: number): FactorSummary {
  const valid = validSeeds(r);
  const tests = valid.map((s) => testOf(s, m)).filter((t): t is EscapeTest => t !== undefined);
  return {
    factor: m,
    valid: valid.length,
    escaped: tests.filter((t) => t.escaped).length,
    diverged: tests.filter((t) => t.diverged).length,
    barrierAbove: tests.filter((t) => t.barrierAbove).length,
    returned: tests.filter((t) => t.returned).length,
    accDiffSteps: pairedIntervalOrNull(tests.map((t) => t.testAccDiffSteps)),
    accDiffEtaT: pairedIntervalOrNull(tests.map((t) => t.testAccDiffEtaT)),
  };
}

/** Flat summary numbers for the headline: `<name>.median`, `.q1`, `.q3`, `.n` per quantity; counts; intervals. */
export function summarize(r: EscapeResult): { flat: Record<string, number | null> } {
  const flat: Record<string, number | null> = {};
  const put = (name: string, xs: Array<number | null | undefined>): void => {
    const s = spread(xs);
    flat[`${name}.median`] = s.median;
    flat[`${name}.q1`] = s.q1;
    flat[`${name}.q3`] = s.q3;
    flat[`${name}.n`] = s.n;
  };
  const S = r.seeds;
  put(
    'lambda0',
    S.map((s) => s.lambda0.value),
  );
  put(
    'etaSmall',
    S.map((s) => s.etaSmall),
  );
  put(
    'thetaS.steps',
    S.map((s) => s.thetaS.steps),
  );
  put(
    'thetaS.gradNorm',
    S.map((s) => s.thetaS.gradNorm),
  );
  flat['thetaS.minima'] = S.filter((s) => s.thetaS.isMinimum).length;
  put(
    'thetaS.trainLoss',
    S.map((s) => s.thetaS.eval.trainLoss),
  );
  put(
    'thetaS.lambdaMax',
    S.map((s) => s.thetaS.lambdaMax.value),
  );
  put(
    'thetaS.lambdaMin',
    S.map((s) => s.thetaS.lambdaMin.value),
  );
  put(
    'thetaS.lambdaMinOverLambdaMax',
    S.map((s) => s.thetaS.lambdaMin.value / s.thetaS.lambdaMax.value),
  );
  put(
    'thetaS.lambdaMaxTimesEtaSmall',
    S.map((s) => s.thetaS.lambdaMax.value * s.etaSmall),
  );
  put(
    'thetaS.testAccuracy',
    S.map((s) => s.thetaS.eval.testAccuracy),
  );
  // Catapult phase diagram: regime counts per η·λ₀ over seeds.
  const grid = r.config.catapult.etaLambda;
  for (const c of grid) {
    const cells = S.map((s) => s.catapult.find((x) => x.etaLambda === c)).filter((x) => x !== undefined);
    flat[`catapult.${c}.stable`] = cells.filter((x) => x!.regime === 'stable').length;
    flat[`catapult.${c}.catapult`] = cells.filter((x) => x!.regime === 'catapult').length;
    flat[`catapult.${c}.divergent`] = cells.filter((x) => x!.regime === 'divergent').length;
  }
  flat['catapult.seedsReachingDivergence'] = S.filter((s) => s.catapult.some((x) => x.regime === 'divergent')).length;
  put(
    'catapult.firstCatapultEtaLambda',
    S.map((s) => s.catapult.find((x) => x.regime === 'catapult')?.etaLambda),
  );
  put(
    'catapult.firstDivergentEtaLambda',
    S.map((s) => s.catapult.find((x) => x.regime === 'divergent')?.etaLambda),
  );
  put(
    'catapult.lambdaEndTimesEtaOverTwo.catapultCells',
    S.flatMap((s) =>
      s.catapult
        .filter((x) => x.regime === 'catapult')
        .map((x) => (x.lambdaEnd ? (x.lambdaEnd.value * x.eta) / 2 : null)),
    ),
  );
  // Edge of stability: λ_max·η/2 over the second half of each run.
  for (const c of r.config.eos.etaLambda) {
    put(
      `eos.${c}.lambdaTimesEtaOverTwo.lateHalf`,
      S.map((s) => lateHalfRatio(s, c)),
    );
    put(
      `eos.${c}.maxLambdaTimesEtaOverTwo`,
      S.map((s) => maxRatio(s, c)),
    );
  }
  // The switch.
  for (const m of r.config.switch.largeFactors) {
    const valid = validSeeds(r);
    const tests = valid.map((s) => testOf(s, m));
    const arms = valid.map((s) => s.switch!.arms.find((a) => a.factor === m));
    const f = factorSummary(r, m);
    const k = `switch.x${m}`;
    flat[`${k}.escaped`] = f.escaped;
    flat[`${k}.valid`] = f.valid;
    flat[`${k}.diverged`] = f.diverged;
    flat[`${k}.barrierAbove`] = f.barrierAbove;
    flat[`${k}.returned`] = f.returned;
    put(
      `${k}.barrier`,
      tests.map((t) => t?.barrier),
    );
    put(
      `${k}.barrierToReturn`,
      tests.map((t) => t?.barrierToReturn),
    );
    put(
      `${k}.endTrainLossOverThetaS`,
      valid.map((s, i) => (arms[i]?.end ? arms[i]!.end!.trainLoss / s.thetaS.eval.trainLoss : null)),
    );
    put(
      `${k}.distance`,
      tests.map((t) => t?.distanceEnd),
    );
    put(
      `${k}.returnRatio`,
      tests.map((t) => (t ? t.distanceReturn / t.distanceEnd : null)),
    );
    put(
      `${k}.spike`,
      arms.map((a) => a?.spike),
    );
    put(
      `${k}.lambdaMaxAfter`,
      arms.map((a) => a?.end?.lambdaMax.value),
    );
    put(
      `${k}.distanceToSmallEqualEtaT`,
      tests.map((t) => t?.distanceToSmallEtaT),
    );
    for (const [name, iv] of [
      ['testAccDiffEqualSteps', f.accDiffSteps],
      ['testAccDiffEqualEtaT', f.accDiffEtaT],
    ] as const) {
      flat[`${k}.${name}.mean`] = iv?.mean ?? null;
      flat[`${k}.${name}.lo95`] = iv?.lo ?? null;
      flat[`${k}.${name}.hi95`] = iv?.hi ?? null;
    }
  }
  // The gradient-flow reference: each arm's distance to the flow at the common horizon t_max.
  const flows = S.filter((s) => s.flow !== null);
  flat['flow.seeds'] = flows.length;
  const armKeys = [...r.config.eos.etaLambda.map((c) => ({ c, key: `flow.${c}` })), { c: null, key: 'flow.small' }];
  for (const { c, key } of armKeys) {
    const ends = flows.map((s) => {
      const a = s.flow!.arms.find((x) => x.etaLambda === c);
      return a && !a.diverged ? a.points[a.points.length - 1] : undefined;
    });
    put(
      `${key}.distanceAtHorizon`,
      ends.map((e) => e?.distance),
    );
    put(
      `${key}.distanceOverFlowTravel`,
      ends.map((e) => (e && e.flowTravel > 0 ? e.distance / e.flowTravel : null)),
    );
  }
  put(
    'flow.gradients',
    flows.map((s) => s.flow!.gradients),
  );
  put(
    'flow.lambdaMaxAtHorizonTimesEtaSmall',
    flows.map((s) => {
      const l = s.flow!.lambdas;
      return l.length ? l[l.length - 1].value * s.etaSmall : null;
    }),
  );
  // The Hessian spectrum at θ_s and after the switch.
  for (const where of ['thetaS', 'end'] as const) {
    const at = S.map((s) => (where === 'thetaS' ? s.spectrum[0] : s.spectrum[1]));
    flat[`spectrum.${where}.seeds`] = at.filter((x) => x !== undefined).length;
    for (const q of ['lambdaMax', 'lambdaMin', 'trace', 'traceAgreement'] as const)
      put(
        `spectrum.${where}.${q}`,
        at.map((x) => x?.[q]),
      );
  }
  const control = validSeeds(r).map((s) => s.tests.find((t) => t.factor === null));
  flat['switch.smallControl.escaped'] = control.filter((t) => t?.escaped).length;
  put(
    'switch.smallControl.barrier',
    control.map((t) => t?.barrier),
  );
  put(
    'switch.smallControl.distance',
    control.map((t) => t?.distanceEnd),
  );
  return { flat };
}

function eosArm(s: SeedResult, c: number): SeedResult['eos'][number] | undefined {
  return s.eos.find((a) => a.etaLambda === c);
}

/** Mean of λ_max·η/2 over the measurements in the second half of the run (null when diverged). */
export function lateHalfRatio(s: SeedResult, c: number): number | null {
  const a = eosArm(s, c);
  if (!a || a.diverged) return null;
  const late = a.lambda.filter((x) => x.step >= a.steps / 2).map((x) => (x.value * a.eta) / 2);
  return late.length ? mean(late) : null;
}

function maxRatio(s: SeedResult, c: number): number | null {
  const a = eosArm(s, c);
  if (!a || a.lambda.length === 0) return null;
  return Math.max(...a.lambda.map((x) => (x.value * a.eta) / 2));
}

// ---- verdicts -------------------------------------------------------------------------------------

/**
 * One verdict per large factor m for the paper's E2 claim "a large learning rate escapes a local
 * minimum that a small one stays in", with the rule:
 *  - uninformative-by-design checks first: fewer than verdict.minSeeds seeds whose θ_s passed the
 *    gradient-norm tolerance → "inconclusive" (θ_s is not shown to be a minimum);
 *  - the small-η control (the small arm's own end point at equal ηt) escaping in any seed →
 *    "inconclusive" (the test would not tell a basin from noise);
 *  - share of valid seeds whose η_m arm escaped (escape-rules.ts: barrier AND return test)
 *    ≥ supportShare → "supported"; ≤ rejectShare → "not-reproduced"; else "inconclusive".
 */
export function escapeVerdicts(r: EscapeResult): Verdict[] {
  const c = r.config;
  const valid = validSeeds(r);
  const control = valid.map((s) => s.tests.find((t) => t.factor === null)).filter((t) => t?.escaped).length;
  const minimaText = `θ_s = GD at η_small = ${c.smallFactor}·2/λ_max(θ₀) from θ₀ until ${minimumRuleText(c.converge)} (≤ ${c.converge.maxSteps} steps), MSE loss`;
  return c.switch.largeFactors.map((m): Verdict => {
    const f = factorSummary(r, m);
    const tests = valid.map((s) => testOf(s, m)).filter((t): t is EscapeTest => t !== undefined);
    const rule =
      `${minimaText}; η_large = ${m}·2/λ_max(θ_s) for ${c.switch.steps} steps from θ_s; ${escapeRuleText(c.escape)}. ` +
      `Supported when ≥ ${c.verdict.supportShare} of the seeds escape, not reproduced when ≤ ${c.verdict.rejectShare} do, else inconclusive; ` +
      `inconclusive when fewer than ${c.verdict.minSeeds} seeds reach such a minimum or the small-η control (the η_small arm's end at equal ηt) escapes in any seed`;
    const iv = (x: FactorSummary['accDiffEtaT']): string =>
      x ? `${fmt(x.mean * 100)} pp [95 % CI ${fmt(x.lo * 100)}, ${fmt(x.hi * 100)}], n = ${x.n}` : 'n/a';
    const evidence =
      `${f.escaped}/${tests.length} seeds escaped (barrier above ${c.escape.barrierMin} in ${f.barrierAbove}, returned to θ_s in ${f.returned}, diverged ${f.diverged}); ` +
      `θ_s a minimum in ${valid.length}/${r.seeds.length} seeds (‖∇L‖ ${spreadText(r.seeds.map((s) => s.thetaS.gradNorm))}; λ_min/λ_max ${spreadText(r.seeds.map((s) => s.thetaS.lambdaMin.value / s.thetaS.lambdaMax.value))}); ` +
      `barrier ${spreadText(tests.map((t) => t.barrier))} (θ_s → θ_return, not part of the rule: ${spreadText(tests.map((t) => t.barrierToReturn))}); ‖θ_return − θ_s‖/‖θ_end − θ_s‖ ${spreadText(tests.map((t) => t.distanceReturn / t.distanceEnd))}; ` +
      `small-η control escaped in ${control}/${valid.length}; test accuracy large − small: equal steps ${iv(f.accDiffSteps)}, equal ηt ${iv(f.accDiffEtaT)}`;
    let verdict: Verdict['verdict'];
    if (valid.length < c.verdict.minSeeds || control > 0 || tests.length === 0) verdict = 'inconclusive';
    else if (f.escaped / tests.length >= c.verdict.supportShare) verdict = 'supported';
    else if (f.escaped / tests.length <= c.verdict.rejectShare) verdict = 'not-reproduced';
    else verdict = 'inconclusive';
    return {
      claim: `E2: GD at η = ${m}·2/λ_max(θ_s) leaves the basin of the minimum θ_s that GD at η_small found (and η_small stays)`,
      verdict,
      rule,
      evidence,
    };
  });
}
