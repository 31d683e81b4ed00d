/**
 * The verdict record every experiment writes into summary.json (`verdicts`): one entry per paper
 * claim it tests, decided by a rule fixed before the run (stated in the config and in
 * docs/experiments.md). The report shows them in one table at the top of the page.
 */

/** How a claim came out: only a rule that held on the data says "supported". */
export type VerdictValue = 'supported' | 'not-reproduced' | 'inconclusive' | 'uninformative';
export const VERDICT_VALUES: readonly VerdictValue[] = ['supported', 'not-reproduced', 'inconclusive', 'uninformative'];

/** One claim's verdict: what was claimed, the verdict, the rule that decided it, and the numbers it used. */
export interface Verdict {
  /** the claim, in a short sentence (e.g. "Theorem 1 on paper-1d") */
  claim: string;
  verdict: VerdictValue;
  /** the pre-registered rule, in words, with its thresholds */
  rule: string;
  /** the measured numbers the rule was applied to, with their spread */
  evidence: string;
}

/**
 * The verdicts of a run on fallback data: every claim becomes "uninformative", because a synthetic
 * stand-in set tests nothing about the paper; the original verdict stays visible in the evidence.
 */
export function fallbackVerdicts(verdicts: readonly Verdict[], fallback: string): Verdict[] {
  return verdicts.map((v) => ({
    claim: v.claim,
    verdict: 'uninformative',
    rule: `${v.rule} — not applied: the run used fallback data (${fallback})`,
    evidence: `on the fallback data the rule gave "${v.verdict}": ${v.evidence}`,
  }));
}
