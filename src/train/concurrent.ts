import { availableParallelism } from 'node:os';

/** Options of {@link runConcurrently}. */
export interface ConcurrencyOptions {
  /** Tasks in flight at once (default: os.availableParallelism()). */
  concurrency?: number;
  /** Checked before each task starts and once at the end: an abort rejects with its reason. */
  signal?: AbortSignal;
  /** Called after each task settles successfully. */
  onDone?: () => void;
}

/**
 * Runs thunks with at most `concurrency` in flight; results in task order. This is how bigstep
 * trains several models at once: each thunk runs one solo Trainer (e.g. `() => t.run({ steps })`),
 * whose chunks are async native calls on the libuv worker pool, so K trainers share the cores
 * without a batched trainer of their own. The first rejection rejects the whole call.
 */
export async function runConcurrently<T>(
  tasks: ReadonlyArray<() => Promise<T>>,
  options: ConcurrencyOptions = {},
): Promise<T[]> {
  const { concurrency = availableParallelism(), signal, onDone } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`options.concurrency must be a positive integer (got ${String(concurrency)})`);
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
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  signal?.throwIfAborted();
  return results;
}
