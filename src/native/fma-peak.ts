import { native, type NativeFmaPeak } from './binding.js';

/** What {@link fmaPeak} returns. */
export type FmaPeak = NativeFmaPeak;

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
