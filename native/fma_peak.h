// FMA peak: the float32 compute roof of this CPU, measured on the spot with a kernel that touches
// nothing but registers. A training step's GFLOP/s divided by this is its "share of the FMA peak".
//
// What it measures, naively: `kFmaChains` independent accumulators of `fma_lanes(isa)` float lanes
// each; every iteration updates every lane as  a ← a·m + c  (one fused multiply-add on the avx2 and
// avx512 paths, a multiply then an add on baseline, which has no FMA). Independent chains hide
// the FMA latency, so the loop runs at the throughput of the FMA units. Flops counted: 2 per lane
// per iteration (multiply + add), as GFLOP/s of GEMM are counted.
#pragma once

#include <cstdint>

#include "isa.h"

namespace bigstep {

// Accumulators per kernel call: enough to cover latency × issue ports of current x86 cores
// (4-cycle FMA latency × 2 ports needs 8), few enough to stay in 16 ymm registers.
constexpr int kFmaChains = 12;

// Float lanes per accumulator on a path: 16 (avx512), 8 (avx2), 4 (baseline SSE).
int fma_lanes(Isa isa);

// Runs `iterations` updates of every lane on path `isa` (which must be available), starting lane j
// of chain k at a0 + k·lanes + j times 2^-12. Writes the final accumulators to
// out[kFmaChains · fma_lanes(isa)] (chain-major) and returns the flops performed
// (2 · kFmaChains · lanes · iterations).
double fma_peak_kernel(Isa isa, int64_t iterations, float m, float c, float a0, float* out);

// The same recurrence one lane at a time in plain C++ (the oracle of fma_peak_kernel): `fused`
// selects std::fma (avx2/avx512) or a separate multiply and add (baseline).
float fma_chain_naive(int64_t iterations, float m, float c, float a, bool fused);

struct FmaPeak {
  double gflops;   // best over rounds: all threads' flops / the slowest thread's call time in the round
  double seconds;  // wall time spent measuring
  int rounds;
  int64_t iterations;  // per kernel call (calibrated to about 2 ms)
};

// FMA peak of `threads` threads running fma_peak_kernel at once on path `isa`, best of rounds
// within about `seconds` (at least 10 rounds; all threads start each round together). threads in [1, 256], seconds in
// (0, 60].
FmaPeak measure_fma_peak(Isa isa, int threads, double seconds);

}  // namespace bigstep
