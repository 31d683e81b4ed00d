// One-shot chunks on the raw binding, for tests of its argument checks: a TrainJob made from `job`
// (which converts and validates it) and run once.
import {
  native,
  type NativeChunkResult,
  type NativeModelHandle,
  type NativeStepLogs,
  type NativeTrainJob,
} from '../../src/native/binding.js';

/** `new TrainJob(model, job).runSync(steps, logs)`. */
export function trainSync(
  model: NativeModelHandle,
  job: NativeTrainJob,
  steps: number,
  logs?: NativeStepLogs,
): NativeChunkResult {
  return new native.TrainJob(model, job).runSync(steps, logs);
}

/** `new TrainJob(model, job).runAsync(steps, logs)` (conversion errors throw synchronously, as runAsync's own do). */
export function trainAsync(
  model: NativeModelHandle,
  job: NativeTrainJob,
  steps: number,
  logs?: NativeStepLogs,
): Promise<NativeChunkResult> {
  return new native.TrainJob(model, job).runAsync(steps, logs);
}
