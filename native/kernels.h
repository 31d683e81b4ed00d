// Layer and loss kernels over raw pointers (llm.c style). Every kernel states its shapes; N is the
// batch size, activations are row-major / NCHW. "Overwritten" outputs are fully written (no
// zeroing needed by the caller); "accumulated" outputs are added to.
//
// Each fast kernel (float, in kernels.cpp) has a naive twin here (`*_naive`, plain loops,
// templated on the element type T so the same code runs in double as a float64 oracle for the
// tests' gradient checks). Convolution, pooling and batch norm, with their channels-last
// versions, have their own headers (conv.h, pool.h, batchnorm.h; layout transposes: transpose.h).
//
// Conventions (PyTorch's, so results can be compared):
//   GELU     exact erf form: gelu(x) = 0.5 x (1 + erf(x / sqrt 2))   (torch default, approximate='none')
//   softmax cross-entropy: loss_n = logsumexp(z_n) - z_n[y_n]; model loss = mean over the batch
//   MSE      loss = mean over ALL elements of (out - t)^2 (torch.nn.MSELoss(reduction='mean'))
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace bigstep {

// ================================== dense ======================================================

// out[c] = Σ_r m[r, c] for m[rows, cols], accumulated in double in row order (bias gradients).
void column_sums(float* out, const float* m, size_t rows, int cols);

// out[N,O] = in[N,I] · W[O,I]ᵀ + b[O]   (b may be null; relu: out = max(0, ·), fused)
void dense_forward(float* out, const float* in, const float* W, const float* b, int N, int I, int O, bool relu);
// dout[N,O] -> dW[O,I] = doutᵀ·in (overwritten, if non-null), db[O] = Σ_n dout (overwritten, if non-null),
//              din[N,I] = dout·W (overwritten, if non-null)
void dense_backward(float* din, float* dW, float* db, const float* dout, const float* in, const float* W, int N, int I,
                    int O);

// ================================== parameter passes ===========================================
// Passes over a whole parameter vector, split over the workers in blocks of >= kParamGrain (an
// element's arithmetic never depends on the split; a nested call, from inside a worker, runs
// inline).
constexpr size_t kParamGrain = (size_t)1 << 17;

// True if no Inf/NaN among v[0..n).
bool all_finite(const float* v, size_t n);
// theta[0..n) += neg_lr · g[0..n): the plain SGD update. With FMA this is one rounding,
// fma(neg_lr, g, θ), the same arithmetic as an OpenBLAS GEMM accumulating into θ with
// alpha = neg_lr, beta = 1 in one K block (which is what makes Model::sgd_step's fused update
// bitwise equal to gradient + update for batches up to that block).
void sgd_update(float* theta, const float* g, size_t n, float neg_lr);
// True when, with the GEMM in use and the current thread count, a GEMM accumulated into θ with
// alpha = neg_lr, beta = 1 (Model::sgd_step's fused update) gives bitwise what storing it
// (alpha = 1, beta = 0) and then sgd_update gives, for K up to 256. That depends on the BLAS
// kernels' store (fma(alpha, acc, C) or not) and K blocking, so it is measured once per thread
// count, on shapes with partial tiles, rather than assumed.
bool fused_sgd_update_exact();

// ================================== activations ================================================
// All over n elements; din may alias dout (in place), out may alias in for relu/tanh.

void relu_forward(float* out, const float* in, size_t n);
void relu_backward(float* din, const float* dout, const float* out, size_t n);  // uses the output
void tanh_forward(float* out, const float* in, size_t n);
void tanh_backward(float* din, const float* dout, const float* out, size_t n);  // uses the output
void gelu_forward(float* out, const float* in, size_t n);
void gelu_backward(float* din, const float* dout, const float* in, size_t n);  // uses the input

// ================================== losses =====================================================

// logits[N,C], labels[N] in [0,C) -> returns Σ_n (logsumexp(z_n) - z_n[y_n]) (double);
// dlogits[N,C] = grad_scale * (softmax(z_n) - onehot(y_n)) (overwritten, if non-null);
// *correct += #{n : argmax z_n == y_n} (if non-null; first max wins ties).
double softmax_ce(float* dlogits, const float* logits, const int32_t* labels, int N, int C, float grad_scale,
                  int64_t* correct);
// out[n], target[n] (n = N*D elements) -> returns Σ (out - t)² (double);
// dout = grad_scale * 2 (out - t) (overwritten, if non-null).
double mse(float* dout, const float* out, const float* target, size_t n, float grad_scale);

// ================================== naive twins ================================================
// Plain loops, double accumulation, templated so they run in float or double. Same shapes as above.

template <class T>
void dense_forward_naive(T* out, const T* in, const T* W, const T* b, int N, int I, int O) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      double acc = b ? (double)b[o] : 0.0;
      for (int i = 0; i < I; ++i) acc += (double)in[(size_t)n * I + i] * W[(size_t)o * I + i];
      out[(size_t)n * O + o] = (T)acc;
    }
}

template <class T>
void dense_backward_naive(T* din, T* dW, T* db, const T* dout, const T* in, const T* W, int N, int I, int O) {
  for (int o = 0; o < O; ++o) {
    for (int i = 0; i < I; ++i) {
      double acc = 0;
      for (int n = 0; n < N; ++n) acc += (double)dout[(size_t)n * O + o] * in[(size_t)n * I + i];
      dW[(size_t)o * I + i] = (T)acc;
    }
    if (db) {
      double acc = 0;
      for (int n = 0; n < N; ++n) acc += dout[(size_t)n * O + o];
      db[o] = (T)acc;
    }
  }
  if (din)
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < I; ++i) {
        double acc = 0;
        for (int o = 0; o < O; ++o) acc += (double)dout[(size_t)n * O + o] * W[(size_t)o * I + i];
        din[(size_t)n * I + i] = (T)acc;
      }
}

template <class T>
T relu_naive(T x) {
  return x > T(0) ? x : T(0);
}
template <class T>
T relu_grad_naive(T x) {
  return x > T(0) ? T(1) : T(0);
}
template <class T>
T tanh_naive(T x) {
  return std::tanh(x);
}
template <class T>
T tanh_grad_naive(T x) {
  const T t = std::tanh(x);
  return T(1) - t * t;
}
template <class T>
T gelu_naive(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}
template <class T>
T gelu_grad_naive(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  return cdf + x * pdf;
}

// Returns the summed loss; dlogits as in softmax_ce.
template <class T>
double softmax_ce_naive(T* dlogits, const T* logits, const int32_t* labels, int N, int C, double grad_scale) {
  double total = 0;
  for (int n = 0; n < N; ++n) {
    const T* z = logits + (size_t)n * C;
    double m = -INFINITY;
    for (int c = 0; c < C; ++c) m = std::max(m, (double)z[c]);
    double s = 0;
    for (int c = 0; c < C; ++c) s += std::exp((double)z[c] - m);
    total += m + std::log(s) - (double)z[labels[n]];
    if (dlogits)
      for (int c = 0; c < C; ++c)
        dlogits[(size_t)n * C + c] = (T)(grad_scale * (std::exp((double)z[c] - m) / s - (c == labels[n] ? 1.0 : 0.0)));
  }
  return total;
}

template <class T>
double mse_naive(T* dout, const T* out, const T* target, size_t n, double grad_scale) {
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = (double)out[i] - (double)target[i];
    total += d * d;
    if (dout) dout[i] = (T)(grad_scale * 2 * d);
  }
  return total;
}

}  // namespace bigstep
