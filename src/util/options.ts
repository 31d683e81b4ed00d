/** STAND-IN for the lead's src/util/options.ts (same API as announced); replaced by main's on merge. */
export function checkKnownKeys(obj: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) if (!known.includes(key)) throw new TypeError(`${where}: unknown option "${key}"`);
}
