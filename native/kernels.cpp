// Fast float kernels; shapes and conventions are documented in kernels.h.
#include "kernels.h"
#include "threads.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "gemm.h"
#include "isa.h"

#ifdef BIGSTEP_ISA_X86
#include <immintrin.h>
#endif

namespace bigstep {

// ================================== dense ======================================================

// Element-wise passes are split over the workers only when large (a hand-off costs a few µs).
// The loop bodies are plain functions of their pointer arguments: written inline in the
// parallel_range lambdas, GCC reloaded the captured pointers after every store and left the
// loops scalar once the range was actually split.
constexpr size_t kElementGrain = (size_t)1 << 17;

// Adds b[O] to each row of out[rows, O] and optionally applies relu, in one pass.
// The hot loop bodies below have one copy per ISA path (BIGSTEP_ISA_VARIANTS, isa.h).
static BIGSTEP_ALWAYS_INLINE void bias_act_block_body(float* out, const float* b, size_t rows, int O, bool relu) {
  for (size_t n = 0; n < rows; ++n) {
    float* r = out + n * (size_t)O;
    if (b && relu) {
      for (int o = 0; o < O; ++o) r[o] = std::max(r[o] + b[o], 0.0f);
    } else if (b) {
      for (int o = 0; o < O; ++o) r[o] += b[o];
    } else {
      for (int o = 0; o < O; ++o) r[o] = std::max(r[o], 0.0f);
    }
  }
}
BIGSTEP_ISA_VARIANTS(bias_act_block, (float* out, const float* b, size_t rows, int O, bool relu),
                     (out, b, rows, O, relu))

static void bias_act_rows(float* out, const float* b, int N, int O, bool relu) {
  if (!b && !relu) return;
  parallel_range((size_t)N, std::max<size_t>(1, kElementGrain / std::max(O, 1)), [=](size_t n0, size_t n1) {
    bias_act_block(out + n0 * (size_t)O, b, n1 - n0, O, relu);
  });
}

// out[c0, c1) = column sums of m[rows, cols] over that column range, in double, streaming the
// rows once per block of up to 512 columns.
static void column_sums_range(float* out, const float* m, size_t rows, int cols, int c0, int c1) {
  double acc[512];
  for (int b0 = c0; b0 < c1; b0 += 512) {
    const int bn = std::min(512, c1 - b0);
    std::fill(acc, acc + bn, 0.0);
    for (size_t r = 0; r < rows; ++r) {
      const float* row = m + r * (size_t)cols + b0;
      for (int c = 0; c < bn; ++c) acc[c] += row[c];
    }
    for (int c = 0; c < bn; ++c) out[b0 + c] = (float)acc[c];
  }
}

void column_sums(float* out, const float* m, size_t rows, int cols) {
  // Large matrices spread 64-column slices over the workers; every column is summed in row
  // order either way.
  const size_t slices = ((size_t)cols + 63) / 64;
  const size_t grain = rows * (size_t)cols >= 2 * kElementGrain ? 1 : slices;
  parallel_range(slices, grain, [=](size_t s0, size_t s1) {
    column_sums_range(out, m, rows, cols, (int)s0 * 64, std::min(cols, (int)s1 * 64));
  });
}

void dense_forward(float* out, const float* in, const float* W, const float* b, int N, int I, int O,
                   bool relu) {
  // out = in · Wᵀ: W is [O,I] row-major, so op(B) = Wᵀ is a transposed read, no copy.
  sgemm(false, true, N, O, I, 1.0f, in, I, W, I, 0.0f, out, O);
  bias_act_rows(out, b, N, O, relu);
}

void dense_backward(float* din, float* dW, float* db, const float* dout, const float* in,
                    const float* W, int N, int I, int O) {
  if (dW) sgemm(true, false, O, I, N, 1.0f, dout, O, in, I, 0.0f, dW, I);  // dW = doutᵀ · in
  if (db) column_sums(db, dout, (size_t)N, O);
  if (din) sgemm(false, false, N, I, O, 1.0f, dout, O, W, I, 0.0f, din, I);  // din = dout · W
}

// ================================== parameter passes ===========================================

// The loop bodies are plain functions of their pointer arguments (inside the lambdas GCC kept
// reloading the captured pointers and did not vectorise).
static BIGSTEP_ALWAYS_INLINE void block_finite_variant_body(const float* v, size_t n, bool* finite) {
  // Inf/NaN have all exponent bits set; an integer OR-reduction vectorises (a float sum would
  // not, without fast-math) and keeps this check a small fraction of a step.
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(v);
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= (uint32_t)((bits[i] & 0x7f800000u) == 0x7f800000u);
  *finite = bad == 0;
}
BIGSTEP_ISA_VARIANTS(block_finite_variant, (const float* v, size_t n, bool* finite), (v, n, finite))
static bool block_finite(const float* v, size_t n) {
  bool finite;
  block_finite_variant(v, n, &finite);
  return finite;
}

bool all_finite(const float* v, size_t n) {
  std::atomic<uint32_t> any_bad{0};
  parallel_range(n, kParamGrain, [v, &any_bad](size_t lo, size_t hi) {
    if (!block_finite(v + lo, hi - lo)) any_bad.store(1, std::memory_order_relaxed);
  });
  return any_bad.load(std::memory_order_relaxed) == 0;
}

// On the avx2 / avx512 paths this contracts to fma(neg_lr, g, θ), the store OpenBLAS's and the
// portable GEMM's kernels use, which the fused SGD step needs (probe_fused_sgd_update).
static BIGSTEP_ALWAYS_INLINE void sgd_update_block_body(float* theta, const float* g, size_t n, float neg_lr) {
  for (size_t i = 0; i < n; ++i) theta[i] += neg_lr * g[i];
}
BIGSTEP_ISA_VARIANTS(sgd_update_block, (float* theta, const float* g, size_t n, float neg_lr),
                     (theta, g, n, neg_lr))

void sgd_update(float* theta, const float* g, size_t n, float neg_lr) {
  parallel_range(n, kParamGrain, [=](size_t lo, size_t hi) { sgd_update_block(theta + lo, g + lo, hi - lo, neg_lr); });
}

static bool probe_fused_sgd_update() {
  // dW-shaped products (A transposed), K up to the 256 of the fused path, odd M and N so partial
  // tiles and (at 2+ threads) a split of C are both exercised.
  const int shapes[][3] = {{37, 45, 256}, {130, 67, 100}, {19, 300, 1}, {301, 203, 255}};
  const float neg_lr = -0.0371f;
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return (float)(state >> 8) / 16777216.0f - 0.5f;
  };
  for (const auto& sh : shapes) {
    const int M = sh[0], N = sh[1], K = sh[2];
    std::vector<float> A((size_t)K * M), B((size_t)K * N), fused((size_t)M * N), theta, g((size_t)M * N);
    for (float& v : A) v = next();
    for (float& v : B) v = next();
    for (float& v : fused) v = next();
    theta = fused;
    sgemm(true, false, M, N, K, neg_lr, A.data(), M, B.data(), N, 1.0f, fused.data(), N);
    sgemm(true, false, M, N, K, 1.0f, A.data(), M, B.data(), N, 0.0f, g.data(), N);
    sgd_update(theta.data(), g.data(), theta.size(), neg_lr);
    if (std::memcmp(theta.data(), fused.data(), theta.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

bool fused_sgd_update_exact() {
  static std::mutex mu;
  static std::vector<int8_t> known;  // by thread count: -1 not measured yet, 0 / 1
  const int threads = compute_threads();
  std::lock_guard<std::mutex> lock(mu);
  if ((int)known.size() <= threads) known.resize((size_t)threads + 1, -1);
  if (known[(size_t)threads] < 0) known[(size_t)threads] = probe_fused_sgd_update() ? 1 : 0;
  return known[(size_t)threads] == 1;
}

// ================================== pooling ====================================================

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

static void maxpool22_backward_row_from(int ow, float* d0, float* d1, const float* g, const float* r0,
                                        const float* r1, int OW) {
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
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
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
    const __m256 is0 = _mm256_andnot_ps(_mm256_or_ps(_mm256_or_ps(s3, s2), s1), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
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
static void maxpool22_backward_row(float* d0, float* d1, const float* g, const float* r0,
                                   const float* r1, int OW) {
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

void maxpool_backward(float* din, const float* dout, const float* in, int N, int C, int H, int W,
                      int K, int S) {
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

// ================================== activations ================================================

// Element-wise: large arrays are split over the workers (identical results for any split).
static BIGSTEP_ALWAYS_INLINE void relu_fwd_block_body(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}
BIGSTEP_ISA_VARIANTS(relu_fwd_block, (float* out, const float* in, size_t n), (out, in, n))
static BIGSTEP_ALWAYS_INLINE void relu_bwd_block_body(float* din, const float* dout, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}
BIGSTEP_ISA_VARIANTS(relu_bwd_block, (float* din, const float* dout, const float* out, size_t n),
                     (din, dout, out, n))
namespace {
void tanh_fwd_block(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
}
void tanh_bwd_block(float* din, const float* dout, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) din[i] = dout[i] * (1.0f - out[i] * out[i]);
}
void gelu_fwd_block(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float x = in[i];
    out[i] = 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f));
  }
}
void gelu_bwd_block(float* din, const float* dout, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float x = in[i];
    const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752440f));
    const float pdf = std::exp(-0.5f * x * x) * 0.39894228040143267794f;
    din[i] = dout[i] * (cdf + x * pdf);
  }
}
}  // namespace

void relu_forward(float* out, const float* in, size_t n) {
  parallel_range(n, kElementGrain, [=](size_t lo, size_t hi) { relu_fwd_block(out + lo, in + lo, hi - lo); });
}
void relu_backward(float* din, const float* dout, const float* out, size_t n) {
  parallel_range(n, kElementGrain,
                 [=](size_t lo, size_t hi) { relu_bwd_block(din + lo, dout + lo, out + lo, hi - lo); });
}
void tanh_forward(float* out, const float* in, size_t n) {
  parallel_range(n, kElementGrain / 8, [=](size_t lo, size_t hi) { tanh_fwd_block(out + lo, in + lo, hi - lo); });
}
void tanh_backward(float* din, const float* dout, const float* out, size_t n) {
  parallel_range(n, kElementGrain,
                 [=](size_t lo, size_t hi) { tanh_bwd_block(din + lo, dout + lo, out + lo, hi - lo); });
}
void gelu_forward(float* out, const float* in, size_t n) {
  parallel_range(n, kElementGrain / 8, [=](size_t lo, size_t hi) { gelu_fwd_block(out + lo, in + lo, hi - lo); });
}
void gelu_backward(float* din, const float* dout, const float* in, size_t n) {
  parallel_range(n, kElementGrain / 8,
                 [=](size_t lo, size_t hi) { gelu_bwd_block(din + lo, dout + lo, in + lo, hi - lo); });
}

// ================================== losses =====================================================

double softmax_ce(float* dlogits, const float* logits, const int32_t* labels, int N, int C,
                  float grad_scale, int64_t* correct) {
  double total = 0;
  int64_t hits = 0;
  for (int n = 0; n < N; ++n) {
    const float* z = logits + (size_t)n * C;
    int arg = 0;
    float m = z[0];
    for (int c = 1; c < C; ++c)
      if (z[c] > m) m = z[c], arg = c;
    double s = 0;
    for (int c = 0; c < C; ++c) s += std::exp((double)z[c] - m);
    const int y = labels[n];
    total += (double)m + std::log(s) - (double)z[y];
    hits += arg == y;
    if (dlogits) {
      float* d = dlogits + (size_t)n * C;
      const double inv = (double)grad_scale / s;
      for (int c = 0; c < C; ++c) d[c] = (float)(std::exp((double)z[c] - m) * inv);
      d[y] -= grad_scale;
    }
  }
  if (correct) *correct += hits;
  return total;
}

double mse(float* dout, const float* out, const float* target, size_t n, float grad_scale) {
  double total = 0;
  const float k = 2.0f * grad_scale;
  for (size_t i = 0; i < n; ++i) {
    const float d = out[i] - target[i];
    total += (double)d * d;
    if (dout) dout[i] = k * d;
  }
  return total;
}

// ================================== batch norm =================================================

// One [HW] plane of batch-norm normalisation (train and eval); per path the same contraction as the NHWC kernel (nhwc.cpp).
static BIGSTEP_ALWAYS_INLINE void bn_eval_plane_body(float* o, const float* r, int HW, float fm, float scale, float bt) {
  for (int p = 0; p < HW; ++p) o[p] = (r[p] - fm) * scale + bt;
}
BIGSTEP_ISA_VARIANTS(bn_eval_plane, (float* o, const float* r, int HW, float fm, float scale, float bt),
                     (o, r, HW, fm, scale, bt))

void batchnorm_forward_train(float* y, const float* x, const float* gamma, const float* beta,
                             int N, int C, int HW, float* running_mean, float* running_var,
                             float* save_mean, float* save_invstd) {
  const double M = (double)N * HW;
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n) {
      const float* r = x + ((size_t)n * C + c) * HW;
      for (int p = 0; p < HW; ++p) sum += r[p];
    }
    const double mean = sum / M;
    double sq = 0;  // two-pass variance: no cancellation for large means
    for (int n = 0; n < N; ++n) {
      const float* r = x + ((size_t)n * C + c) * HW;
      for (int p = 0; p < HW; ++p) {
        const double d = r[p] - mean;
        sq += d * d;
      }
    }
    const double var = sq / M;
    const double invstd = 1.0 / std::sqrt(var + (double)kBnEps);
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    const float scale = (float)(gamma[c] * invstd), fm = (float)mean, bt = beta[c];
    for (int n = 0; n < N; ++n) {
      const float* r = x + ((size_t)n * C + c) * HW;
      bn_eval_plane(y + ((size_t)n * C + c) * HW, r, HW, fm, scale, bt);
    }
    if (running_mean) {
      running_mean[c] = (float)((1.0 - kBnMomentum) * running_mean[c] + kBnMomentum * mean);
      running_var[c] = (float)((1.0 - kBnMomentum) * running_var[c] +
                               kBnMomentum * var * M / std::max(M - 1.0, 1.0));
    }
  }
}

void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, int N,
                            int C, int HW, const float* running_mean, const float* running_var,
                            float* save_mean, float* save_invstd) {
  for (int c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt((double)running_var[c] + kBnEps);
    if (save_mean) save_mean[c] = running_mean[c];
    if (save_invstd) save_invstd[c] = (float)invstd;
    const float scale = (float)(gamma[c] * invstd), fm = running_mean[c], bt = beta[c];
    for (int n = 0; n < N; ++n) {
      const float* r = x + ((size_t)n * C + c) * HW;
      bn_eval_plane(y + ((size_t)n * C + c) * HW, r, HW, fm, scale, bt);
    }
  }
}

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* save_mean, const float* save_invstd,
                        int N, int C, int HW, bool batch_stats) {
  const double M = (double)N * HW;
  for (int c = 0; c < C; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sdy = 0, sdyx = 0;  // Σ dy and Σ dy·xhat
    for (int n = 0; n < N; ++n) {
      const float* r = x + ((size_t)n * C + c) * HW;
      const float* g = dy + ((size_t)n * C + c) * HW;
      for (int p = 0; p < HW; ++p) {
        sdy += g[p];
        sdyx += (double)g[p] * ((r[p] - mean) * invstd);
      }
    }
    dgamma[c] = (float)sdyx;
    dbeta[c] = (float)sdy;
    const double k = gamma[c] * invstd;
    // Training: dx = k (dy - mean(dy) - xhat mean(dy·xhat)); eval: dx = k dy.
    // xhat is recomputed as (x - mean) * invstd (not folded into one affine map of x) so a large
    // mean does not cancel catastrophically in float.
    const float a = (float)k, fm = (float)mean, fi = (float)invstd;
    const float b = batch_stats ? (float)(-k * sdy / M) : 0.0f;
    const float cx = batch_stats ? (float)(-k * sdyx / M) : 0.0f;
    for (int n = 0; n < N; ++n) {
      const float* r = x + ((size_t)n * C + c) * HW;
      const float* g = dy + ((size_t)n * C + c) * HW;
      float* o = dx + ((size_t)n * C + c) * HW;
      for (int p = 0; p < HW; ++p) o[p] = a * g[p] + cx * ((r[p] - fm) * fi) + b;
    }
  }
}

}  // namespace bigstep
