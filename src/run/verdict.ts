/** STAND-IN for the lead's src/run/verdict.ts (same API as announced); replaced by main's on merge. */
export type VerdictValue = 'supported' | 'not-reproduced' | 'inconclusive' | 'uninformative';
export interface Verdict {
  claim: string;
  verdict: VerdictValue;
  rule: string;
  evidence: string;
}
