/**
 * Strict option objects: an unknown key is a TypeError that names it and the nearest known key,
 * so a typo ("momentun") never silently changes what runs. The option schemas (schema.ts) word
 * their unknown-key errors with {@link checkKnownKeys}.
 */

/** Levenshtein distance between two short strings (option names). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/** The known key closest to `key` (case-insensitive edit distance), or undefined when none is close. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // Close means at most a third of the longer name changed (always allow one edit).
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(key.length, best.length) / 3))
    ? best
    : undefined;
}

/**
 * Throws `TypeError("<where>: unknown option \"<key>\" (did you mean \"<nearest>\"?)")` for the
 * first own key of `obj` that is not in `known`. Does nothing for a non-object (the caller checks types).
 */
export function checkKnownKeys(obj: unknown, known: readonly string[], where: string): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    const hint = near ? ` (did you mean "${near}"?)` : ` (known: ${known.map((k) => `"${k}"`).join(', ')})`;
    throw new TypeError(`${where}: unknown option "${key}"${hint}`);
  }
}
