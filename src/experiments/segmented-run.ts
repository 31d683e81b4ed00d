/**
 * Training in segments up to a list of evaluation points, the loop E3 (and, later, E2) runs for
 * every arm × seed: train to the next point in native chunks of at most `segment` steps, call
 * `atPoint` there, checkpoint between segments and at points when one is due, count progress.
 * Splitting a run into segments does not change it: a chunked run equals the same steps in one
 * go bit for bit (test/train), so where the checkpoints fall is invisible in the result.
 */
import type { Trainer } from '../train/trainer.js';

export interface SegmentedRunOptions {
  /** The trainer to advance; called before every segment, so the caller may swap it (e.g. to change a noise level) in `atPoint`. */
  trainer: () => Trainer;
  /** Global step counts of the evaluation points, strictly increasing; the last is the budget. */
  points: readonly number[];
  /** Index of the first point not yet evaluated (0 for a fresh run; from the saved state after a restore). */
  next: number;
  /** Most steps per native call (default 200): the granularity of progress, abort and checkpoints. */
  segment?: number;
  signal?: AbortSignal;
  /** Called after every segment with the steps it applied. */
  onSteps?: (steps: number) => void;
  /** Called when the trainer has reached `points[index]` (not after divergence). */
  atPoint: (index: number) => void | Promise<void>;
  /**
   * Checkpointing: `due()` says whether one is wanted; `save(next)` stores the trainer with the index
   * of the next point to evaluate. Omit to never checkpoint.
   */
  checkpoint?: { due(): boolean; save(next: number): void };
}

/** How a segmented run ended: its budget done, or diverged (a result, never an exception) at a global step. */
export interface SegmentedRunResult {
  diverged: boolean;
  divergedAt: number | null;
}

/**
 * Runs `trainer()` from its current step through every point from `next` on. Throws the abort
 * reason when `signal` is aborted (between segments); divergence stops the run and is returned.
 */
export async function runSegmented(o: SegmentedRunOptions): Promise<SegmentedRunResult> {
  const segment = o.segment ?? 200;
  if (!Number.isInteger(segment) || segment < 1)
    throw new RangeError(`segment must be a positive integer (got ${segment})`);
  for (let i = 1; i < o.points.length; i++)
    if (!(o.points[i] > o.points[i - 1]))
      throw new RangeError(
        `points must be strictly increasing (points[${i}] = ${o.points[i]} after ${o.points[i - 1]})`,
      );
  for (let next = o.next; next < o.points.length; next++) {
    const target = o.points[next];
    while (o.trainer().stepCount < target) {
      const t = o.trainer();
      const k = Math.min(segment, target - t.stepCount);
      const r = await t.run({ steps: k, chunkSize: k, signal: o.signal });
      o.signal?.throwIfAborted();
      o.onSteps?.(r.stepsDone);
      if (r.diverged) return { diverged: true, divergedAt: r.divergedAt };
      if (o.trainer().stepCount < target && o.checkpoint?.due()) o.checkpoint.save(next);
    }
    await o.atPoint(next);
    if (next + 1 < o.points.length && o.checkpoint?.due()) o.checkpoint.save(next + 1);
  }
  return { diverged: false, divergedAt: null };
}
