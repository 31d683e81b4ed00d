/**
 * Shared by every experiment (E1 landscape.ts, E2 escape.ts, E3 noise.ts and escape-setup.ts):
 * config validation primitives (errors name the field) and the definition's `validate`. Tasks run
 * at once through runConcurrently (src/train/concurrent.ts).
 */

// ---- validation primitives ------------------------------------------------------------------------

export function fail(cls: typeof TypeError | typeof RangeError, field: string, what: string): never {
  throw new cls(`${field} ${what}`);
}
export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function posInt(v: unknown, field: string, max = 2 ** 31 - 1): void {
  if (typeof v !== 'number') fail(TypeError, field, 'must be a positive integer');
  if (!Number.isInteger(v) || v < 1 || v > max)
    fail(RangeError, field, `must be a positive integer <= ${max} (got ${v})`);
}
export function nonNegInt(v: unknown, field: string): void {
  if (typeof v !== 'number') fail(TypeError, field, 'must be a non-negative integer');
  if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER)
    fail(RangeError, field, `must be a non-negative integer (got ${v})`);
}

/** An `ExperimentDefinition.validate` from a config assertion: throws as `assert` does, else returns the config. */
export function validatorOf<Config>(
  assert: (config: unknown) => asserts config is Config,
): (config: unknown) => Config {
  return (config) => {
    assert(config);
    return config;
  };
}

// ---- running ---------------------------------------------------------------------------------------
