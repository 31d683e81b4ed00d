/**
 * The dataset shape every part of bigstep codes against: one contiguous typed array per split,
 * never arrays of objects.
 */
export interface Dataset {
  /** e.g. "fashion-mnist/train". */
  name: string;
  /** Number of examples. */
  n: number;
  /** Per-example shape: [1,28,28], [3,32,32] (CHW) or [d]. */
  shape: number[];
  /** [n, ...shape], contiguous, row-major. */
  x: Float32Array;
  /** [n] for classification, values in [0, numClasses). */
  labels?: Int32Array;
  /** [n, targetDim] for regression. */
  targets?: Float32Array;
  numClasses?: number;
  targetDim?: number;
}

/** The train and test splits of a data set. */
export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
}

/** Number of floats per example: the product of `shape`. */
export function exampleSize(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}
