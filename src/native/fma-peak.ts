import { native } from './binding.js';

/** What {@link fmaPeak} returns. */
export interface FmaPeak {
  /** Best round: all threads' flops ÷ the slowest thread's time in that round, GFLOP/s. */
  gflops: number;
  /** Wall time spent measuring. */
  seconds: number;
  /** Rounds measured (at least 10). */
  rounds: number;
  /** Updates per kernel call (calibrated to about 2 ms). */
  iterations: number;
  /** Float lanes per accumulator on this path: 16 (avx512), 8 (avx2), 4 (baseline). */
  lanes: number;
  /** Independent accumulators per call (12). */
  chains: number;
  /** The ISA path measured. */
  isa: 'avx512' | 'avx2' | 'baseline';
  threads: number;
}

/**
 * The float32 FMA peak of this CPU, measured now: `threads` threads each run a register-only
 * kernel of 12 independent multiply-add chains (native/fma_peak.h) on ISA path `isa` (default:
 * the path bigstep's kernels take); GFLOP/s is the best round, counting 2 flops per lane per
 * update. The roof the bench's "share of FMA peak" divides by.
 */
export function fmaPeak(threads = 1, seconds = 0.5, isa?: 'avx512' | 'avx2' | 'baseline'): FmaPeak {
  if (typeof threads !== 'number') throw new TypeError('threads must be a number');
  if (typeof seconds !== 'number') throw new TypeError('seconds must be a number');
  if (isa !== undefined && typeof isa !== 'string') throw new TypeError('isa must be a string');
  return native.fmaPeak(threads, seconds, isa);
}
