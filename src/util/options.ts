/**
 * Strict option objects: an unknown key is a TypeError naming it and the nearest known key, so a
 * typo (`momentun`) never changes behaviour without a word.
 */

/** Levenshtein distance (small strings only: option names). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The known key closest to `key` (case-insensitive edit distance), or undefined if none is close. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Throws `TypeError('<where>: unknown option "<key>" (did you mean "<nearest>"?)')` for the first
 * own enumerable key of `obj` that is not in `known` (without a suggestion when none is close).
 * A non-object `obj` is left to the caller's type check.
 */
export function checkKnownKeys(obj: unknown, known: readonly string[], where: string): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    throw new TypeError(`${where}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ` (known: ${known.join(', ')})`}`);
  }
}
