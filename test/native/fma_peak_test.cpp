// FMA peak kernel (native/fma_peak.h): on every ISA path this CPU can run, the vector kernel
// computes exactly the naive per-lane recurrence (std::fma on avx2/avx512, multiply then add on
// baseline), agrees with the float64 closed form, and counts 2 flops per lane per iteration.
#include "fma_peak.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "check.h"

using namespace bigstep;

static bool throws(void (*f)()) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

int main() {
  const float m = 0.9f, c = 0.25f, a0 = 1.5f;
  const int64_t n = 1000;
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512}) {
    if (!isa_available(isa)) {
      std::printf("fma_peak_test: path %s not available here, skipped\n", isa_name(isa));
      continue;
    }
    const int lanes = fma_lanes(isa);
    std::vector<float> out((size_t)kFmaChains * lanes, NAN);
    const double flops = fma_peak_kernel(isa, n, m, c, a0, out.data());
    CHECK_MSG(flops == 2.0 * kFmaChains * lanes * n, check::fmt("%s: flops %g", isa_name(isa), flops));
    int exact = 0;
    double worst = 0;
    for (int k = 0; k < kFmaChains; ++k) {
      for (int j = 0; j < lanes; ++j) {
        const float start = a0 + (float)(k * lanes + j) * (1.0f / 4096.0f);
        const float naive = fma_chain_naive(n, m, c, start, isa != Isa::baseline);
        exact += out[(size_t)k * lanes + j] == naive;
        // float64 closed form of a ← a·m + c after n steps: m^n (a − c/(1−m)) + c/(1−m).
        const double fix = (double)c / (1.0 - (double)m);
        const double want = std::pow((double)m, (double)n) * ((double)start - fix) + fix;
        worst = std::fmax(worst, std::fabs(out[(size_t)k * lanes + j] - want) / std::fabs(want));
      }
    }
    CHECK_MSG(exact == kFmaChains * lanes,
              check::fmt("%s: %d of %d lanes equal the naive recurrence", isa_name(isa), exact, kFmaChains * lanes));
    CHECK_MSG(worst < 1e-5, check::fmt("%s: worst relative error against float64 %.3g", isa_name(isa), worst));
    // Zero iterations leave the start values.
    fma_peak_kernel(isa, 0, m, c, a0, out.data());
    CHECK(out[1] == a0 + 1.0f / 4096.0f);
    const FmaPeak p = measure_fma_peak(isa, 2, 0.05);
    CHECK_MSG(std::isfinite(p.gflops) && p.gflops > 0 && p.rounds >= 10 && p.iterations >= (1 << 12),
              check::fmt("%s: measure_fma_peak gave %g GFLOP/s in %d rounds", isa_name(isa), p.gflops, p.rounds));
    std::printf("fma_peak_test: %s: %d lanes x %d chains, %.1f GFLOP/s on 2 threads (not asserted)\n", isa_name(isa),
                lanes, kFmaChains, p.gflops);
  }
  CHECK(throws([] { measure_fma_peak(Isa::baseline, 0, 1); }));
  CHECK(throws([] { measure_fma_peak(Isa::baseline, 1, 0); }));
  CHECK(throws([] {
    float o[64];
    fma_peak_kernel(Isa::baseline, -1, 1, 0, 0, o);
  }));
  return check::finish("fma_peak_test");
}
