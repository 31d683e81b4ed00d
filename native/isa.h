// Runtime instruction-set dispatch: one build carries baseline x86-64, AVX2+FMA and AVX-512
// versions of the hot kernels, and the path is chosen once per process from CPUID (or forced
// with BIGSTEP_ISA=baseline|avx2|avx512). Nothing compiled for AVX2 or AVX-512 runs unless the
// CPU (and OS) support it, so one addon is safe on every x86-64 machine.
//
// Determinism: results are bitwise reproducible within one path and one thread count. Paths may
// differ in the last bits (baseline has no FMA); avx2 and avx512 share tile shapes and
// summation order in the conv and GEMM micro-kernels.
#pragma once

namespace bigstep {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

// The path every dispatched kernel takes in this process. Chosen on first use: BIGSTEP_ISA when
// set, else the widest the CPU supports. Throws std::invalid_argument naming BIGSTEP_ISA when its
// value is unknown or names a path this CPU (or this build) cannot run.
Isa active_isa();

// "baseline", "avx2" or "avx512".
const char* isa_name(Isa isa);

// Whether this build has the path's kernels and this CPU (and OS) can run them.
bool isa_available(Isa isa);

// Parses a BIGSTEP_ISA value (null or empty = best available). Throws like active_isa().
Isa select_isa(const char* requested);

}  // namespace bigstep

// Per-function variants for element-wise loops outside the per-ISA objects (kernels.cpp):
// BIGSTEP_ISA_VARIANTS(name, (params), (args)) defines static name##_avx2 / name##_avx512 that
// inline the always-inline baseline body name##_body compiled for that target (so the compiler
// vectorises it at that width and contracts a·b + c to FMA), and a static `name` that calls the
// active path's copy. The body must not use intrinsics (they need the target in the body itself).
#define BIGSTEP_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define BIGSTEP_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define BIGSTEP_ALWAYS_INLINE inline __attribute__((always_inline))
#ifdef BIGSTEP_ISA_X86
#define BIGSTEP_ISA_VARIANTS(name, params, args)                               \
  BIGSTEP_TARGET_AVX2 static void name##_avx2 params { name##_body args; }     \
  BIGSTEP_TARGET_AVX512 static void name##_avx512 params { name##_body args; } \
  static void name params {                                                    \
    switch (::bigstep::active_isa()) {                                         \
      case ::bigstep::Isa::avx512: return name##_avx512 args;                  \
      case ::bigstep::Isa::avx2: return name##_avx2 args;                      \
      default: return name##_body args;                                        \
    }                                                                          \
  }
#else
#define BIGSTEP_ISA_VARIANTS(name, params, args) \
  static void name params { name##_body args; }
#endif
