/**
 * Small statistics for experiment verdicts: summaries (mean, sd, quantiles, median, IQR), Student's
 * t distribution (CDF and quantile), paired confidence intervals and the TOST equivalence test.
 * Pure TS in double; checked against published t-table values (test/util/stats.test.ts).
 */

function finiteSample(xs: readonly number[], what: string, min = 1): void {
  if (xs.length < min)
    throw new RangeError(`${what}: needs at least ${min} value${min === 1 ? '' : 's'}, got ${xs.length}`);
  xs.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw new RangeError(`${what}: value [${i}] is not a finite number (${String(x)})`);
  });
}

/** Arithmetic mean. */
export function mean(xs: readonly number[]): number {
  finiteSample(xs, 'mean');
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator); 0 for a single value. */
export function sd(xs: readonly number[]): number {
  finiteSample(xs, 'sd');
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** The p-quantile, 0 ≤ p ≤ 1, with linear interpolation between order statistics (R's type 7, numpy's default). */
export function quantile(xs: readonly number[], p: number): number {
  finiteSample(xs, 'quantile');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile: p must be in [0, 1], got ${p}`);
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** Median and interquartile range (25 % and 75 % quantiles). */
export function iqr(xs: readonly number[]): { median: number; q1: number; q3: number } {
  return { median: quantile(xs, 0.5), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) };
}

// ---- Student's t ------------------------------------------------------------------------------

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

function checkDf(df: number, what: string): void {
  if (!(df > 0) || !Number.isFinite(df))
    throw new RangeError(`${what}: degrees of freedom must be a finite number > 0, got ${df}`);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function tCdf(t: number, df: number): number {
  checkDf(df, 'tCdf');
  if (Number.isNaN(t)) throw new RangeError('tCdf: t is NaN');
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom, 0 < p < 1 (bisection on tCdf to double precision). */
export function tQuantile(p: number, df: number): number {
  checkDf(df, 'tQuantile');
  if (!(p > 0 && p < 1)) throw new RangeError(`tQuantile: p must be in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  let lo = -1;
  let hi = 1;
  while (tCdf(lo, df) > p) lo *= 2;
  while (tCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * Math.max(1, Math.abs(lo)); i++) {
    const mid = 0.5 * (lo + hi);
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// ---- paired comparisons -----------------------------------------------------------------------

/** A t-interval for the mean of paired differences. */
export interface PairedInterval {
  n: number;
  df: number;
  mean: number;
  sd: number;
  /** standard error sd/√n */
  se: number;
  level: number;
  lo: number;
  hi: number;
}

/** The `level` (default 95 %) t-interval for the mean of per-seed paired differences (n ≥ 2). */
export function pairedInterval(diffs: readonly number[], level = 0.95): PairedInterval {
  finiteSample(diffs, 'pairedInterval', 2);
  if (!(level > 0 && level < 1)) throw new RangeError(`pairedInterval: level must be in (0, 1), got ${level}`);
  const n = diffs.length;
  const m = mean(diffs);
  const s = sd(diffs);
  const se = s / Math.sqrt(n);
  const half = tQuantile(0.5 + level / 2, n - 1) * se;
  return { n, df: n - 1, mean: m, sd: s, se, level, lo: m - half, hi: m + half };
}

/** Result of the two one-sided tests (TOST) for |mean difference| < margin. */
export interface TostResult {
  n: number;
  margin: number;
  alpha: number;
  /** p of H0: μ ≤ −margin */
  pLower: number;
  /** p of H0: μ ≥ +margin */
  pUpper: number;
  /** max(pLower, pUpper) */
  p: number;
  /** equivalence shown: p < alpha (the 1 − 2α interval lies inside ±margin) */
  equivalent: boolean;
  /** the 1 − 2α (default 90 %) t-interval that TOST is equivalent to */
  lo: number;
  hi: number;
}

/**
 * Schuirmann's TOST on paired differences: equivalence within ±margin is shown when both one-sided
 * t tests reject at level alpha. With zero spread the answer is exact (|mean| < margin or not).
 */
export function tost(diffs: readonly number[], margin: number, alpha = 0.05): TostResult {
  finiteSample(diffs, 'tost', 2);
  if (!(margin > 0) || !Number.isFinite(margin))
    throw new RangeError(`tost: margin must be a finite number > 0, got ${margin}`);
  if (!(alpha > 0 && alpha < 0.5)) throw new RangeError(`tost: alpha must be in (0, 0.5), got ${alpha}`);
  const ci = pairedInterval(diffs, 1 - 2 * alpha);
  let pLower: number;
  let pUpper: number;
  if (ci.se === 0) {
    pLower = ci.mean > -margin ? 0 : 1;
    pUpper = ci.mean < margin ? 0 : 1;
  } else {
    pLower = 1 - tCdf((ci.mean + margin) / ci.se, ci.df);
    pUpper = tCdf((ci.mean - margin) / ci.se, ci.df);
  }
  const p = Math.max(pLower, pUpper);
  return { n: ci.n, margin, alpha, pLower, pUpper, p, equivalent: p < alpha, lo: ci.lo, hi: ci.hi };
}
