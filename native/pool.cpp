// NCHW pooling kernels; shapes and contracts in pool.h.
#include "pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "isa.h"
#include "threads.h"

#ifdef BIGSTEP_ISA_X86
#include <immintrin.h>
#endif

namespace bigstep {

// 2x2 / stride 2 windows (the common case) take a vectorised path that keeps the scalar
// semantics bit for bit: forward m = w0, then m = v if (v > m || v != v) for w1, w2, w3 in order;
// backward routes dout to the first strict max (best = i if x_i > x_best). The AVX2 code carries
// the target attribute and runs only on the avx2 / avx512 paths (isa.h); the scalar loops finish
// the columns from `ow` on.
static void maxpool22_row_from(int ow, float* y, const float* r0, const float* r1, int OW) {
  for (; ow < OW; ++ow) {
    const float* w0 = r0 + 2 * ow;
    const float* w1 = r1 + 2 * ow;
    float m = w0[0];
    for (const float v : {w0[1], w1[0], w1[1]})
      if (v > m || v != v) m = v;
    y[ow] = m;
  }
}

static void maxpool22_backward_row_from(int ow, float* d0, float* d1, const float* g, const float* r0, const float* r1,
                                        int OW) {
  for (; ow < OW; ++ow) {
    const float x[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
    int best = 0;
    for (int i = 1; i < 4; ++i)
      if (x[i] > x[best]) best = i;
    const float v = g[ow];
    d0[2 * ow] = best == 0 ? v : 0.0f;
    d0[2 * ow + 1] = best == 1 ? v : 0.0f;
    d1[2 * ow] = best == 2 ? v : 0.0f;
    d1[2 * ow + 1] = best == 3 ? v : 0.0f;
  }
}

#ifdef BIGSTEP_ISA_X86
namespace {
// Even / odd elements of 16 consecutive floats p[0..16).
BIGSTEP_TARGET_AVX2 inline void deinterleave(const float* p, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))),
                                                _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))),
                                               _MM_SHUFFLE(3, 1, 2, 0)));
}
// Stores [e0 o0 e1 o1 ... e7 o7] to p[0..16).
BIGSTEP_TARGET_AVX2 inline void interleave_store(float* p, __m256 e, __m256 o) {
  const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
  _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
BIGSTEP_TARGET_AVX2 inline __m256 take_if_greater_or_nan(__m256 m, __m256 v) {
  const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_blendv_ps(m, v, take);
}

BIGSTEP_TARGET_AVX2 void maxpool22_row_avx2(float* y, const float* r0, const float* r1, int OW) {
  int ow = 0;
  for (; ow + 8 <= OW; ow += 8) {
    __m256 a, b, c, d;
    deinterleave(r0 + 2 * ow, a, b);
    deinterleave(r1 + 2 * ow, c, d);
    __m256 m = take_if_greater_or_nan(a, b);
    m = take_if_greater_or_nan(m, c);
    m = take_if_greater_or_nan(m, d);
    _mm256_storeu_ps(y + ow, m);
  }
  maxpool22_row_from(ow, y, r0, r1, OW);
}

BIGSTEP_TARGET_AVX2 void maxpool22_backward_row_avx2(float* d0, float* d1, const float* g, const float* r0,
                                                     const float* r1, int OW) {
  int ow = 0;
  for (; ow + 8 <= OW; ow += 8) {
    __m256 a, b, c, d;
    deinterleave(r0 + 2 * ow, a, b);
    deinterleave(r1 + 2 * ow, c, d);
    const __m256 s1 = _mm256_cmp_ps(b, a, _CMP_GT_OQ);
    __m256 best = _mm256_blendv_ps(a, b, s1);
    const __m256 s2 = _mm256_cmp_ps(c, best, _CMP_GT_OQ);
    best = _mm256_blendv_ps(best, c, s2);
    const __m256 s3 = _mm256_cmp_ps(d, best, _CMP_GT_OQ);
    const __m256 gv = _mm256_loadu_ps(g + ow);
    // winner: 3 if s3, else 2 if s2, else 1 if s1, else 0
    const __m256 is3 = s3;
    const __m256 is2 = _mm256_andnot_ps(s3, s2);
    const __m256 is1 = _mm256_andnot_ps(_mm256_or_ps(s3, s2), s1);
    const __m256 is0 =
        _mm256_andnot_ps(_mm256_or_ps(_mm256_or_ps(s3, s2), s1), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
    interleave_store(d0 + 2 * ow, _mm256_and_ps(gv, is0), _mm256_and_ps(gv, is1));
    interleave_store(d1 + 2 * ow, _mm256_and_ps(gv, is2), _mm256_and_ps(gv, is3));
  }
  maxpool22_backward_row_from(ow, d0, d1, g, r0, r1, OW);
}
}  // namespace
#endif

// One output row of a 2x2/2 max pool: y[OW] from rows r0, r1 (2*OW valid columns each).
static void maxpool22_row(float* y, const float* r0, const float* r1, int OW) {
#ifdef BIGSTEP_ISA_X86
  if (active_isa() != Isa::baseline) return maxpool22_row_avx2(y, r0, r1, OW);
#endif
  maxpool22_row_from(0, y, r0, r1, OW);
}

// din rows d0, d1 (2*OW columns) from dout row g and input rows r0, r1.
static void maxpool22_backward_row(float* d0, float* d1, const float* g, const float* r0, const float* r1, int OW) {
#ifdef BIGSTEP_ISA_X86
  if (active_isa() != Isa::baseline) return maxpool22_backward_row_avx2(d0, d1, g, r0, r1, OW);
#endif
  maxpool22_backward_row_from(0, d0, d1, g, r0, r1, OW);
}

void maxpool_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  if (K == 2 && S == 2) {
    for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
      const float* x = in + nc * H * W;
      float* y = out + nc * OH * OW;
      for (int oh = 0; oh < OH; ++oh)
        maxpool22_row(y + (size_t)oh * OW, x + (size_t)2 * oh * W, x + (size_t)(2 * oh + 1) * W, OW);
    }
    return;
  }
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    const float* x = in + nc * H * W;
    float* y = out + nc * OH * OW;
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const float* w = x + (size_t)oh * S * W + (size_t)ow * S;
        float m = w[0];
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const float v = w[(size_t)kh * W + kw];
            // v != v keeps NaN propagating like torch (a NaN input yields a NaN output).
            if (v > m || v != v) m = v;
          }
        y[(size_t)oh * OW + ow] = m;
      }
  }
}

void maxpool_backward(float* din, const float* dout, const float* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  if (K == 2 && S == 2) {
    // Windows tile the input; only an odd last row / column is outside every window.
    for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
      const float* x = in + nc * H * W;
      float* dx = din + nc * H * W;
      const float* g = dout + nc * OH * OW;
      for (int oh = 0; oh < OH; ++oh) {
        float* d0 = dx + (size_t)2 * oh * W;
        float* d1 = d0 + W;
        maxpool22_backward_row(d0, d1, g + (size_t)oh * OW, x + (size_t)2 * oh * W, x + (size_t)(2 * oh + 1) * W, OW);
        if (W & 1) d0[W - 1] = d1[W - 1] = 0.0f;
      }
      if (H & 1) std::memset(dx + (size_t)(H - 1) * W, 0, sizeof(float) * (size_t)W);
    }
    return;
  }
  std::memset(din, 0, sizeof(float) * (size_t)N * C * H * W);
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    const float* x = in + nc * H * W;
    float* dx = din + nc * H * W;
    const float* g = dout + nc * OH * OW;
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const size_t base = (size_t)oh * S * W + (size_t)ow * S;
        size_t best = base;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const size_t i = base + (size_t)kh * W + kw;
            if (x[i] > x[best]) best = i;
          }
        dx[best] += g[(size_t)oh * OW + ow];
      }
  }
}

void avgpool_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  const double inv = 1.0 / ((double)K * K);
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    const float* x = in + nc * H * W;
    float* y = out + nc * OH * OW;
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const float* w = x + (size_t)oh * S * W + (size_t)ow * S;
        double acc = 0;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) acc += w[(size_t)kh * W + kw];
        y[(size_t)oh * OW + ow] = (float)(acc * inv);
      }
  }
}

void avgpool_backward(float* din, const float* dout, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  const float inv = (float)(1.0 / ((double)K * K));
  std::memset(din, 0, sizeof(float) * (size_t)N * C * H * W);
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    float* dx = din + nc * H * W;
    const float* g = dout + nc * OH * OW;
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const float v = g[(size_t)oh * OW + ow] * inv;
        float* w = dx + (size_t)oh * S * W + (size_t)ow * S;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) w[(size_t)kh * W + kw] += v;
      }
  }
}

void global_avgpool_forward(float* out, const float* in, int N, int C, int HW) {
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    const float* x = in + nc * HW;
    double acc = 0;
    for (int p = 0; p < HW; ++p) acc += x[p];
    out[nc] = (float)(acc / HW);
  }
}

void global_avgpool_backward(float* din, const float* dout, int N, int C, int HW) {
  const float inv = 1.0f / (float)HW;
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    const float v = dout[nc] * inv;
    float* dx = din + nc * HW;
    for (int p = 0; p < HW; ++p) dx[p] = v;
  }
}

}  // namespace bigstep
