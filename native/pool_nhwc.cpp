// Channels-last pooling (pool.h), split over images: per-image results do not depend on the split.
// Compiled once per ISA path (see conv_nhwc.cpp).
#include <algorithm>
#include <cstring>

#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#include <immintrin.h>
#endif

#include "pool.h"
#include "threads.h"
#include "isa_target.h"  // last: the code below is compiled for this object's ISA path

namespace bigstep {
namespace BIGSTEP_ISA_NS {

// ---- pooling ----------------------------------------------------------------------------------------
// Vectorised over channels; the per-element semantics are the NCHW kernels': forward
// m = w0, then m = v if (v > m || v != v) over the window in (kh, kw) order; backward routes
// dout to the first strict maximum.

static void maxpool_nhwc_forward_images(float* out, const float* in, int N, int C, int H, int W, int K, int S, int n0,
                                        int n1) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  for (int n = n0; n < n1; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const float* x0 = in + (((size_t)n * H + (size_t)oh * S) * W + (size_t)ow * S) * C;
        float* y = out + (((size_t)n * OH + oh) * OW + ow) * C;
        std::memcpy(y, x0, sizeof(float) * C);
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            if (kh == 0 && kw == 0) continue;
            const float* v = x0 + ((size_t)kh * W + kw) * C;
            int c = 0;
#ifdef BIGSTEP_SIMD_AVX2
            for (; c + 8 <= C; c += 8) {
              const __m256 m = _mm256_loadu_ps(y + c), x = _mm256_loadu_ps(v + c);
              const __m256 take = _mm256_or_ps(_mm256_cmp_ps(x, m, _CMP_GT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
              _mm256_storeu_ps(y + c, _mm256_blendv_ps(m, x, take));
            }
#endif
            for (; c < C; ++c)
              if (v[c] > y[c] || v[c] != v[c]) y[c] = v[c];
          }
      }
}

void maxpool_nhwc_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S) {
  parallel_images(N, (size_t)H * W * C,
                  [=](int n0, int n1) { maxpool_nhwc_forward_images(out, in, N, C, H, W, K, S, n0, n1); });
}

namespace {
// One window of a max pool backward, channels [c, C): dout goes to the first strict maximum.
// store: the window's din elements are written (windows do not overlap and din was not
// cleared); otherwise they are accumulated into a cleared din.
inline void maxpool_window_backward(float* d0, const float* x0, const float* g, int C, int W, int K, bool store) {
  int c = 0;
#ifdef BIGSTEP_SIMD_AVX2
  for (; c + 8 <= C; c += 8) {
    __m256 best = _mm256_loadu_ps(x0 + c);
    __m256 at = _mm256_setzero_ps();  // window position of the maximum (exact as float)
    for (int kh = 0, kk = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw, ++kk) {
        if (kk == 0) continue;
        const __m256 v = _mm256_loadu_ps(x0 + ((size_t)kh * W + kw) * C + c);
        const __m256 gt = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
        best = _mm256_blendv_ps(best, v, gt);
        at = _mm256_blendv_ps(at, _mm256_set1_ps((float)kk), gt);
      }
    const __m256 gv = _mm256_loadu_ps(g + c);
    for (int kh = 0, kk = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw, ++kk) {
        float* d = d0 + ((size_t)kh * W + kw) * C + c;
        const __m256 v = _mm256_and_ps(gv, _mm256_cmp_ps(at, _mm256_set1_ps((float)kk), _CMP_EQ_OQ));
        _mm256_storeu_ps(d, store ? v : _mm256_add_ps(_mm256_loadu_ps(d), v));
      }
  }
#endif
  for (; c < C; ++c) {
    size_t best = c;
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw) {
        const size_t i = ((size_t)kh * W + kw) * C + c;
        if (x0[i] > x0[best]) best = i;
      }
    if (store)
      for (int kh = 0; kh < K; ++kh)
        for (int kw = 0; kw < K; ++kw) {
          const size_t i = ((size_t)kh * W + kw) * C + c;
          d0[i] = i == best ? g[c] : 0.0f;
        }
    else
      d0[best] += g[c];
  }
}
}  // namespace

static void maxpool_nhwc_backward_images(float* din, const float* dout, const float* in, int N, int C, int H, int W,
                                         int K, int S, int n0, int n1) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  // Windows that tile the input (S == K) are written directly; only the rows / columns past the
  // last window are cleared. Overlapping or gapped windows accumulate into a cleared din.
  const bool tiles = S == K;
  if (!tiles) std::memset(din + (size_t)n0 * H * W * C, 0, sizeof(float) * (size_t)(n1 - n0) * H * W * C);
  for (int n = n0; n < n1; ++n) {
    for (int oh = 0; oh < OH; ++oh) {
      for (int ow = 0; ow < OW; ++ow) {
        const size_t corner = (((size_t)n * H + (size_t)oh * S) * W + (size_t)ow * S) * C;
        maxpool_window_backward(din + corner, in + corner, dout + (((size_t)n * OH + oh) * OW + ow) * C, C, W, K,
                                tiles);
      }
      if (tiles && OW * K < W)
        for (int kh = 0; kh < K; ++kh) {
          float* r = din + (((size_t)n * H + (size_t)oh * K + kh) * W + (size_t)OW * K) * C;
          std::memset(r, 0, sizeof(float) * (size_t)(W - OW * K) * C);
        }
    }
    if (tiles && OH * K < H)
      std::memset(din + ((size_t)n * H + (size_t)OH * K) * W * C, 0, sizeof(float) * (size_t)(H - OH * K) * W * C);
  }
}

void maxpool_nhwc_backward(float* din, const float* dout, const float* in, int N, int C, int H, int W, int K, int S) {
  parallel_images(N, (size_t)H * W * C,
                  [=](int n0, int n1) { maxpool_nhwc_backward_images(din, dout, in, N, C, H, W, K, S, n0, n1); });
}

void avgpool_nhwc_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  const double inv = 1.0 / ((double)K * K);
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const float* x0 = in + (((size_t)n * H + (size_t)oh * S) * W + (size_t)ow * S) * C;
        float* y = out + (((size_t)n * OH + oh) * OW + ow) * C;
        for (int c = 0; c < C; ++c) {
          double acc = 0;
          for (int kh = 0; kh < K; ++kh)
            for (int kw = 0; kw < K; ++kw) acc += x0[((size_t)kh * W + kw) * C + c];
          y[c] = (float)(acc * inv);
        }
      }
}

void avgpool_nhwc_backward(float* din, const float* dout, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  const float inv = (float)(1.0 / ((double)K * K));
  std::memset(din, 0, sizeof(float) * (size_t)N * H * W * C);
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        float* d0 = din + (((size_t)n * H + (size_t)oh * S) * W + (size_t)ow * S) * C;
        const float* g = dout + (((size_t)n * OH + oh) * OW + ow) * C;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            float* d = d0 + ((size_t)kh * W + kw) * C;
            for (int c = 0; c < C; ++c) d[c] += g[c] * inv;
          }
      }
}

void global_avgpool_nhwc_forward(float* out, const float* in, int N, int C, int HW) {
  double acc[256];
  for (int n = 0; n < N; ++n)
    for (int c0 = 0; c0 < C; c0 += 256) {
      const int cn = std::min(256, C - c0);
      std::fill(acc, acc + cn, 0.0);
      for (int p = 0; p < HW; ++p) {
        const float* x = in + ((size_t)n * HW + p) * C + c0;
        for (int c = 0; c < cn; ++c) acc[c] += x[c];
      }
      for (int c = 0; c < cn; ++c) out[(size_t)n * C + c0 + c] = (float)(acc[c] / HW);
    }
}

void global_avgpool_nhwc_backward(float* din, const float* dout, int N, int C, int HW) {
  const float inv = 1.0f / (float)HW;
  for (int n = 0; n < N; ++n) {
    const float* g = dout + (size_t)n * C;
    for (int p = 0; p < HW; ++p) {
      float* d = din + ((size_t)n * HW + p) * C;
      for (int c = 0; c < C; ++c) d[c] = g[c] * inv;
    }
  }
}

}  // namespace BIGSTEP_ISA_NS
}  // namespace bigstep
