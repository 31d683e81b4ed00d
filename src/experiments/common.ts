/**
 * Shared by every experiment (E1 landscape.ts, E2 escape.ts, E3 noise.ts and escape-setup.ts):
 * config validation primitives (errors name the field), the definition's `validate`, and a task pool.
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
  if (!Number.isInteger(v) || v < 1 || v > max) fail(RangeError, field, `must be a positive integer <= ${max} (got ${v})`);
}
export function nonNegInt(v: unknown, field: string): void {
  if (typeof v !== 'number') fail(TypeError, field, 'must be a non-negative integer');
  if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) fail(RangeError, field, `must be a non-negative integer (got ${v})`);
}

/** An `ExperimentDefinition.validate` from a config assertion: throws as `assert` does, else returns the config. */
export function validatorOf<Config>(assert: (config: unknown) => asserts config is Config): (config: unknown) => Config {
  return (config) => {
    assert(config);
    return config;
  };
}

// ---- running ---------------------------------------------------------------------------------------

/**
 * Runs tasks with at most `limit` at once (each an async native call on the libuv pool); results in
 * task order. `onDone` is called after each task.
 */
export async function pool<T>(tasks: Array<() => Promise<T>>, limit: number, signal: AbortSignal | undefined, onDone?: () => void): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      signal?.throwIfAborted();
      const i = next++;
      results[i] = await tasks[i]();
      onDone?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  signal?.throwIfAborted();
  return results;
}
