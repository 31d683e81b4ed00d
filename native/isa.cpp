// CPU detection for the ISA paths (see isa.h). __builtin_cpu_supports reads CPUID and also checks
// that the OS saves the AVX / AVX-512 register state (XGETBV), so a "yes" means safe to run.
#include "isa.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace bigstep {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "baseline";
  }
}

bool isa_available(Isa isa) {
  if (isa == Isa::baseline) return true;
#if defined(BIGSTEP_ISA_X86) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx2) return avx2;
  return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
  return false;  // this build has only the baseline kernels
#endif
}

Isa select_isa(const char* requested) {
  if (requested == nullptr || *requested == '\0') {
    if (isa_available(Isa::avx512)) return Isa::avx512;
    if (isa_available(Isa::avx2)) return Isa::avx2;
    return Isa::baseline;
  }
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512}) {
    if (std::strcmp(requested, isa_name(isa)) != 0) continue;
    if (!isa_available(isa)) {
      std::string have;
      for (Isa a : {Isa::avx512, Isa::avx2, Isa::baseline})
        if (isa_available(a)) have += std::string(have.empty() ? "" : ", ") + isa_name(a);
      throw std::invalid_argument(std::string("BIGSTEP_ISA=") + requested +
                                  ": this CPU or build cannot run that path (available: " + have + ")");
    }
    return isa;
  }
  throw std::invalid_argument(std::string("BIGSTEP_ISA: unknown value \"") + requested +
                              "\" (expected baseline, avx2 or avx512)");
}

Isa active_isa() {
  // A function-local static: chosen once, thread-safe; if BIGSTEP_ISA is invalid every call
  // throws (the initialiser is retried), so no kernel ever runs on a path nobody asked for.
  static const Isa isa = select_isa(std::getenv("BIGSTEP_ISA"));
  return isa;
}

}  // namespace bigstep
