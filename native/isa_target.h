// Included last by a source that CMake compiles once per ISA path (native/*_nhwc.cpp and the other
// per-path objects in CMakeLists.txt): names the
// path's namespace and switches code generation for the rest of the file to that instruction set.
// A pragma rather than -m flags, so that the std:: and header inlines the file instantiates keep
// the baseline target: with -mavx2 their out-of-line copies could be picked by the linker for
// every caller and run on a CPU without AVX2.
//
// GCC's C++ front end does not define __AVX2__ / __AVX512F__ after the pragma, so code tests
// BIGSTEP_ISA_AVX512 / BIGSTEP_ISA_AVX2 (set by CMake for that object) instead.
#pragma once

#if defined(BIGSTEP_ISA_AVX512)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define BIGSTEP_ISA_NS isa_avx512
#elif defined(BIGSTEP_ISA_AVX2)
#pragma GCC target("avx2,fma")
#define BIGSTEP_ISA_NS isa_avx2
#else
#define BIGSTEP_ISA_NS isa_baseline
#endif

// The avx512 path also has AVX2 (its 8-float code runs where no 16-float version is written).
#if defined(BIGSTEP_ISA_AVX512)
#define BIGSTEP_SIMD_AVX512 1
#endif
#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#define BIGSTEP_SIMD_AVX2 1
#endif
