/**
 * E1 verdicts and window summaries, pure functions of a `LandscapeResult`. The rules are fixed
 * before the runs (config `verdict`, docs/experiments.md E1):
 *
 *  - Theorem 1 on an instance: "supported" when the instance is in C_l (landscape-constants.ts),
 *    success (W starts at x*) ≥ verdict.success at every grid γ inside the window (2/μ†, μ* / L²], and
 *    the share of M starts at their x† ≥ verdict.stay at every grid γ below μ†/L_global²;
 *    "not-reproduced" when one of these cells falls short; "inconclusive" when the grid has no γ
 *    inside the window or none below the small-step bound; "uninformative" when the instance is not
 *    in C_l (the theorem says nothing about it).
 *  - A family: "supported" when ≥ verdict.familyShare of its in-class instances are supported,
 *    "not-reproduced" otherwise; "uninformative" when no instance is in C_l.
 *  - Noise proposition on an instance with a noise arm: "supported" when every small-γ cell (both
 *    budgets, every σ) has a settled fraction near x* ≤ verdict.settledMax while the large γ with
 *    the smallest σ settles with ≥ verdict.largeSettledMin; "not-reproduced" when some small-γ cell
 *    settles more; "inconclusive" when the large γ does not reach x*.
 *  - Window summaries: success at the window's geometric middle √(lower·upper) (its own cell), and
 *    the share of grid γ inside the window with success ≥ verdict.success. Never single edge cells.
 */
import type { Verdict, VerdictValue } from '../run/verdict.js';
import { iqr } from '../util/stats.js';
import type { LandscapeInstanceResult, LandscapeResult, LandscapeSweepCell } from './landscape.js';

export type { Verdict, VerdictValue } from '../run/verdict.js';

export interface InstanceSummary {
  name: string;
  family: string;
  inClass: boolean;
  failing: string | null;
  theorem: VerdictValue;
  evidence: string;
  /** success of W starts at √(lower·upper), null without a window */
  midSuccess: number | null;
  /** share of grid γ inside the window with success ≥ rule, null if none inside */
  windowShare: number | null;
  lower: number | null;
  upper: number | null;
  smallBound: number | null;
}

const f3 = (x: number | null): string => (x === null ? '—' : Number(x.toPrecision(3)).toString());

/** Median and interquartile range (src/util/stats.ts). */
export function medianIqr(xs: number[]): { median: number; q1: number; q3: number; n: number } {
  if (xs.length === 0) return { median: NaN, q1: NaN, q3: NaN, n: 0 };
  return { ...iqr(xs), n: xs.length };
}

export function summarizeInstance(
  r: LandscapeInstanceResult,
  rules: LandscapeResult['config']['verdict'],
): InstanceSummary {
  const K = r.constants;
  const W = r.sweep.filter((c) => c.startSet === 'W');
  const grid = (cells: LandscapeSweepCell[]): LandscapeSweepCell[] => cells.filter((c) => c.index >= 0);
  const inside = grid(W).filter((c) => c.inWindow);
  const below = grid(r.sweep.filter((c) => c.startSet === 'M')).filter((c) => c.belowSmallBound);
  const mid = W.find((c) => c.index === -1) ?? null;
  const windowShare =
    inside.length > 0 ? inside.filter((c) => c.success >= rules.success).length / inside.length : null;
  let theorem: VerdictValue;
  let evidence: string;
  if (!K.inClass) {
    theorem = 'uninformative';
    evidence = `not in C_l: ${K.failing}`;
  } else if (inside.length === 0 || below.length === 0) {
    theorem = 'inconclusive';
    evidence = `${inside.length} grid γ inside the window, ${below.length} below μ†/L_global²`;
  } else {
    const badW = inside.filter((c) => c.success < rules.success);
    const badM = below.filter((c) => c.stay < rules.stay);
    theorem = badW.length === 0 && badM.length === 0 ? 'supported' : 'not-reproduced';
    evidence =
      `window (${f3(K.lower)}, ${f3(K.upper)}]: min success ${f3(Math.min(...inside.map((c) => c.success)))} over ${inside.length} grid γ; ` +
      `below ${f3(K.smallBound)}: min stay at x† ${f3(Math.min(...below.map((c) => c.stay)))} over ${below.length} grid γ` +
      (badW.length + badM.length > 0
        ? `; failing γ: ${[...badW, ...badM].map((c) => `${c.startSet} ${f3(c.eta)}`).join(', ')}`
        : '');
  }
  return {
    name: r.name,
    family: r.family,
    inClass: K.inClass,
    failing: K.failing,
    theorem,
    evidence,
    midSuccess: mid?.success ?? null,
    windowShare,
    lower: K.lower,
    upper: K.upper,
    smallBound: K.smallBound,
  };
}

export interface FamilySummary {
  family: string;
  instances: number;
  inClass: number;
  supported: number;
  notReproduced: number;
  inconclusive: number;
  verdict: VerdictValue;
  /** over in-class instances */
  midSuccess: { median: number; q1: number; q3: number; n: number } | null;
  windowShare: { median: number; q1: number; q3: number; n: number } | null;
  /** the most common failing C_l condition among instances outside the class */
  commonFailing: string | null;
}

export function summarizeFamilies(result: LandscapeResult): {
  instances: InstanceSummary[];
  families: FamilySummary[];
} {
  const rules = result.config.verdict;
  const instances = result.instances.map((r) => summarizeInstance(r, rules));
  const names = [...new Set(instances.map((s) => s.family))];
  const families = names.map((family): FamilySummary => {
    const all = instances.filter((s) => s.family === family);
    const inC = all.filter((s) => s.inClass);
    const supported = inC.filter((s) => s.theorem === 'supported').length;
    const mids = inC.map((s) => s.midSuccess).filter((x): x is number => x !== null);
    const shares = inC.map((s) => s.windowShare).filter((x): x is number => x !== null);
    const fails = all.filter((s) => !s.inClass).map((s) => s.failing!);
    const counts = new Map<string, number>();
    for (const f of fails) counts.set(f, (counts.get(f) ?? 0) + 1);
    const commonFailing = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
    const verdict: VerdictValue =
      inC.length === 0 ? 'uninformative' : supported / inC.length >= rules.familyShare ? 'supported' : 'not-reproduced';
    return {
      family,
      instances: all.length,
      inClass: inC.length,
      supported,
      notReproduced: inC.filter((s) => s.theorem === 'not-reproduced').length,
      inconclusive: inC.filter((s) => s.theorem === 'inconclusive').length,
      verdict,
      midSuccess: mids.length > 0 ? medianIqr(mids) : null,
      windowShare: shares.length > 0 ? medianIqr(shares) : null,
      commonFailing,
    };
  });
  return { instances, families };
}

export function noiseVerdict(r: LandscapeInstanceResult, rules: LandscapeResult['config']['verdict']): Verdict | null {
  if (r.noise.length === 0) return null;
  const small = r.noise.filter((c) => c.arm !== 'large');
  const large = r.noise.filter((c) => c.arm === 'large');
  const minStd = Math.min(...large.map((c) => c.std));
  const largeCell = large.find((c) => c.std === minStd);
  const worst = small.reduce((a, c) => (c.settled > a.settled ? c : a), small[0]);
  const rule = `every small-γ cell (γ = ${[...new Set(small.map((c) => c.etaFactor))].join(', ')} · μ†/L_global²; budgets equal T and equal γT; ${new Set(small.map((c) => c.std)).size} σ over ${f3(Math.min(...small.map((c) => c.stdFactor)))}–${f3(Math.max(...small.map((c) => c.stdFactor)))} · sup‖∇f‖ on M) settles near x* for ≤ ${rules.settledMax} of the last 10 % of steps, while the mid-window γ with the smallest σ settles for ≥ ${rules.largeSettledMin}`;
  let verdict: VerdictValue;
  if (!largeCell || largeCell.settled < rules.largeSettledMin) verdict = 'inconclusive';
  else verdict = worst.settled <= rules.settledMax ? 'supported' : 'not-reproduced';
  const capped = small.filter((c) => c.epsilonCapped).length;
  // the equal-γT budget is capped at noise.maxSteps: say how much of the large arm's γT it reached
  const shares = small
    .filter((c) => c.arm === 'small-gammaT')
    .map((c) => (c.eta * c.steps) / (largeCell ? largeCell.eta * largeCell.steps : NaN));
  return {
    claim: `Noise proposition on ${r.name}: small γ with uniform noise of any σ does not settle at x*; a large γ does`,
    verdict,
    rule,
    evidence:
      `largest small-γ settled fraction ${f3(worst.settled)} (${worst.arm}, γ = ${f3(worst.eta)}, σ = ${f3(worst.std)}, ε = ${f3(worst.epsilon)}); ` +
      `large γ = ${f3(largeCell?.eta ?? null)} settled ${f3(largeCell?.settled ?? null)}; ${capped} of ${small.length} small-γ cells have ε capped (jitter fills the basin); the "equal γT" cells reach ${f3(Math.min(...shares))}–${f3(Math.max(...shares))} of the large arm's γT (steps capped at the config's noise.maxSteps)`,
  };
}

/** Every verdict of a run: one per family for Theorem 1, one per noise-arm instance. */
export function landscapeVerdicts(result: LandscapeResult): Verdict[] {
  const rules = result.config.verdict;
  const { instances, families } = summarizeFamilies(result);
  const out: Verdict[] = [];
  for (const f of families) {
    const one = f.instances === 1 ? instances.find((s) => s.family === f.family)! : null;
    out.push({
      claim: `Theorem 1 on ${f.family}: every γ in (2/μ†, μ* / L²] reaches x* from random starts; starts in M stay at x† below μ†/L_global²`,
      verdict: one ? one.theorem : f.verdict,
      rule: one
        ? `in C_l, success ≥ ${rules.success} at every grid γ in the window and stay at x† ≥ ${rules.stay} at every grid γ below the small-step bound`
        : `≥ ${rules.familyShare} of the in-class instances supported (each: in C_l, success ≥ ${rules.success} in the window, stay ≥ ${rules.stay} below the small-step bound)`,
      evidence: one
        ? one.evidence
        : `${f.supported} of ${f.inClass} in-class instances supported (${f.notReproduced} not reproduced, ${f.inconclusive} inconclusive); ${f.instances - f.inClass} of ${f.instances} not in C_l` +
          (f.commonFailing ? ` (most often: ${f.commonFailing})` : '') +
          (f.midSuccess
            ? `; mid-window success median ${f3(f.midSuccess.median)} [IQR ${f3(f.midSuccess.q1)}, ${f3(f.midSuccess.q3)}]`
            : ''),
    });
  }
  for (const r of result.instances) {
    const v = noiseVerdict(r, rules);
    if (v) out.push(v);
  }
  return out;
}
