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
  parallel_range((size_t)N, std::max<size_t>(1, kElementGrain / std::max(O, 1)),
                 [=](size_t n0, size_t n1) { bias_act_block(out + n0 * (size_t)O, b, n1 - n0, O, relu); });
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

void dense_forward(float* out, const float* in, const float* W, const float* b, int N, int I, int O, bool relu) {
  // out = in · Wᵀ: W is [O,I] row-major, so op(B) = Wᵀ is a transposed read, no copy.
  sgemm(false, true, N, O, I, 1.0f, in, I, W, I, 0.0f, out, O);
  bias_act_rows(out, b, N, O, relu);
}

void dense_backward(float* din, float* dW, float* db, const float* dout, const float* in, const float* W, int N, int I,
                    int O) {
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
BIGSTEP_ISA_VARIANTS(sgd_update_block, (float* theta, const float* g, size_t n, float neg_lr), (theta, g, n, neg_lr))

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

// ================================== activations ================================================

// Element-wise: large arrays are split over the workers (identical results for any split).
static BIGSTEP_ALWAYS_INLINE void relu_fwd_block_body(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}
BIGSTEP_ISA_VARIANTS(relu_fwd_block, (float* out, const float* in, size_t n), (out, in, n))
static BIGSTEP_ALWAYS_INLINE void relu_bwd_block_body(float* din, const float* dout, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}
BIGSTEP_ISA_VARIANTS(relu_bwd_block, (float* din, const float* dout, const float* out, size_t n), (din, dout, out, n))
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

double softmax_ce(float* dlogits, const float* logits, const int32_t* labels, int N, int C, float grad_scale,
                  int64_t* correct) {
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

}  // namespace bigstep
