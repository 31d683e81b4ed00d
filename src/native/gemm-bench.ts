import { native } from './binding.js';

/**
 * Times sgemm on the given shapes ([M, N, K, transA(0|1), transB(0|1), beta(0|1)?] each; beta = 1
 * accumulates into C, as the fused SGD update does; default 0); best seconds per call, at the
 * current thread count. The bench's "% of sgemm ceiling" (src/bench/measure.ts) divides by these.
 */
export function gemmBench(
  shapes: Array<[number, number, number, number, number] | [number, number, number, number, number, number]>,
  seconds = 1,
): number[] {
  const flat = shapes.flatMap((s) => (s.length === 5 ? [...s, 0] : [...s]));
  return Array.from(native.gemmBench(Float64Array.from(flat), seconds));
}
