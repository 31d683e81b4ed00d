// NCHW <-> NHWC layout transposes (transpose.h), in 16 x 16 blocks, split over images. Compiled once
// per ISA path (see conv_nhwc.cpp).
#include <algorithm>
#include <cstring>

#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#include <immintrin.h>
#endif

#include "threads.h"
#include "transpose.h"
#include "isa_target.h"  // last: the code below is compiled for this object's ISA path

namespace bigstep {
namespace BIGSTEP_ISA_NS {

static void nchw_to_nhwc_images(float* dst, const float* src, int N, int C, int HW, int n0, int n1) {
  constexpr int B = 16;
  for (int n = n0; n < n1; ++n) {
    const float* s = src + (size_t)n * C * HW;
    float* d = dst + (size_t)n * C * HW;
    for (int p0 = 0; p0 < HW; p0 += B)
      for (int c0 = 0; c0 < C; c0 += B) {
        const int pe = std::min(HW, p0 + B), ce = std::min(C, c0 + B);
        for (int p = p0; p < pe; ++p)
          for (int c = c0; c < ce; ++c) d[(size_t)p * C + c] = s[(size_t)c * HW + p];
      }
  }
}

void nchw_to_nhwc(float* dst, const float* src, int N, int C, int HW) {
  parallel_images(N, (size_t)C * HW, [=](int n0, int n1) { nchw_to_nhwc_images(dst, src, N, C, HW, n0, n1); });
}

static void nhwc_to_nchw_images(float* dst, const float* src, int N, int C, int HW, int n0, int n1) {
  constexpr int B = 16;
  for (int n = n0; n < n1; ++n) {
    const float* s = src + (size_t)n * C * HW;
    float* d = dst + (size_t)n * C * HW;
    for (int c0 = 0; c0 < C; c0 += B)
      for (int p0 = 0; p0 < HW; p0 += B) {
        const int pe = std::min(HW, p0 + B), ce = std::min(C, c0 + B);
        for (int c = c0; c < ce; ++c)
          for (int p = p0; p < pe; ++p) d[(size_t)c * HW + p] = s[(size_t)p * C + c];
      }
  }
}

void nhwc_to_nchw(float* dst, const float* src, int N, int C, int HW) {
  parallel_images(N, (size_t)C * HW, [=](int n0, int n1) { nhwc_to_nchw_images(dst, src, N, C, HW, n0, n1); });
}

}  // namespace BIGSTEP_ISA_NS
}  // namespace bigstep
