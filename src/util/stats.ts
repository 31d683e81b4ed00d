/**
 * STAND-IN for the lead's src/util/stats.ts (same API as announced); replaced by main's on merge.
 * Small statistics: mean, sd, Student-t quantiles and CDF, paired t-intervals and TOST.
 */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}
/** Sample standard deviation (n − 1). */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}
function logGamma(x: number): number {
  const c = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
  let y = x;
  const tmp = x + 5.5 - (x + 0.5) * Math.log(x + 5.5);
  let ser = 1.000000000190015;
  for (const v of c) ser += v / ++y;
  return -tmp + Math.log((2.5066282746310005 * ser) / x);
}
function betacf(a: number, b: number, x: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < 1e-300) d = 1e-300;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = 1 + aa / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = 1 + aa / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}
function incBeta(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const bt = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (bt * betacf(a, b, x)) / a : 1 - (bt * betacf(b, a, 1 - x)) / b;
}
/** P(T ≤ t) for Student's t with df degrees of freedom. */
export function tCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * incBeta(df / 2, 0.5, x);
  return t >= 0 ? 1 - tail : tail;
}
/** The p-quantile of Student's t with df degrees of freedom. */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1) (got ${p})`);
  let lo = -1e3;
  let hi = 1e3;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
export function pairedInterval(diffs: readonly number[], level = 0.95): { mean: number; lo: number; hi: number; sd: number; n: number; df: number } {
  const n = diffs.length;
  const m = mean(diffs);
  const s = sd(diffs);
  const df = n - 1;
  const h = (tQuantile(1 - (1 - level) / 2, df) * s) / Math.sqrt(n);
  return { mean: m, lo: m - h, hi: m + h, sd: s, n, df };
}
export function tost(diffs: readonly number[], margin: number, alpha = 0.05): { equivalent: boolean; pLower: number; pUpper: number; p: number; lo90: number; hi90: number } {
  const n = diffs.length;
  const m = mean(diffs);
  const se = sd(diffs) / Math.sqrt(n);
  const df = n - 1;
  const pLower = se > 0 ? 1 - tCdf((m + margin) / se, df) : m > -margin ? 0 : 1;
  const pUpper = se > 0 ? tCdf((m - margin) / se, df) : m < margin ? 0 : 1;
  const p = Math.max(pLower, pUpper);
  const h = se > 0 ? tQuantile(1 - alpha, df) * se : 0;
  return { equivalent: p < alpha, pLower, pUpper, p, lo90: m - h, hi90: m + h };
}
