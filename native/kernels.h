// Layer and loss kernels over raw pointers (llm.c style). Every kernel states its shapes; N is the
// batch size, activations are row-major / NCHW. "Overwritten" outputs are fully written (no
// zeroing needed by the caller); "accumulated" outputs are added to.
//
// Each fast kernel (float, in kernels.cpp / nhwc.cpp) has a naive twin here (`*_naive`, plain loops,
// templated on the element type T so the same code runs in double as a float64 oracle for the
// tests' gradient checks).
//
// Conventions (PyTorch's, so results can be compared):
//   GELU     exact erf form: gelu(x) = 0.5 x (1 + erf(x / sqrt 2))   (torch default, approximate='none')
//   softmax cross-entropy: loss_n = logsumexp(z_n) - z_n[y_n]; model loss = mean over the batch
//   MSE      loss = mean over ALL elements of (out - t)^2 (torch.nn.MSELoss(reduction='mean'))
//   batch norm: eps 1e-5, momentum 0.1; normalises with the biased batch variance and puts the
//            unbiased one (x M/(M-1), M = N*H*W) into running_var, like torch.nn.BatchNorm2d.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace bigstep {

constexpr float kBnEps = 1e-5f;
constexpr float kBnMomentum = 0.1f;

// ================================== dense ======================================================

// out[c] = Σ_r m[r, c] for m[rows, cols], accumulated in double in row order (bias gradients).
void column_sums(float* out, const float* m, size_t rows, int cols);

// out[N,O] = in[N,I] · W[O,I]ᵀ + b[O]   (b may be null; relu: out = max(0, ·), fused)
void dense_forward(float* out, const float* in, const float* W, const float* b, int N, int I, int O,
                   bool relu);
// dout[N,O] -> dW[O,I] = doutᵀ·in (overwritten, if non-null), db[O] = Σ_n dout (overwritten, if non-null),
//              din[N,I] = dout·W (overwritten, if non-null)
void dense_backward(float* din, float* dW, float* db, const float* dout, const float* in,
                    const float* W, int N, int I, int O);

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

// ================================== conv2d =====================================================

// Square kernel K, stride S, zero padding P. Input C×H×W per example, output O×OH×OW; weights
// [O,C,K,K] (PyTorch's layout).
struct ConvShape {
  int C = 0, H = 0, W = 0, O = 0, K = 1, S = 1, P = 0, OH = 0, OW = 0;
  static ConvShape make(int C, int H, int W, int O, int K, int S, int P) {
    ConvShape s;
    s.C = C, s.H = H, s.W = W, s.O = O, s.K = K, s.S = S, s.P = P;
    s.OH = (H + 2 * P - K) / S + 1;
    s.OW = (W + 2 * P - K) / S + 1;
    return s;
  }
  size_t in_size() const { return (size_t)C * H * W; }
  size_t out_size() const { return (size_t)O * OH * OW; }
  size_t ckk() const { return (size_t)C * K * K; }
  size_t ohw() const { return (size_t)OH * OW; }
};

// The convolution kernels are channels-last: conv2d_nhwc_* below. (The model keeps conv trunks
// channels-last; an NCHW fast path via im2col + GEMM existed before and was 2x slower.)

// ================================== pooling ====================================================

// Window K, stride S, no padding: OH = (H-K)/S+1.
// out[N,C,OH,OW] = max over window of in[N,C,H,W]
void maxpool_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
// din[N,C,H,W] (overwritten) = dout routed to the (first) max of each window, recomputed from in
void maxpool_backward(float* din, const float* dout, const float* in, int N, int C, int H, int W,
                      int K, int S);
// out[N,C,OH,OW] = mean over window of in[N,C,H,W]
void avgpool_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
// din[N,C,H,W] (overwritten) = dout / K² spread over each window
void avgpool_backward(float* din, const float* dout, int N, int C, int H, int W, int K, int S);
// out[N,C] = mean over HW of in[N,C,HW]
void global_avgpool_forward(float* out, const float* in, int N, int C, int HW);
// din[N,C,HW] (overwritten) = dout[N,C] / HW
void global_avgpool_backward(float* din, const float* dout, int N, int C, int HW);

// ================================== activations ================================================
// All over n elements; din may alias dout (in place), out may alias in for relu/tanh.

void relu_forward(float* out, const float* in, size_t n);
void relu_backward(float* din, const float* dout, const float* out, size_t n);  // uses the output
void tanh_forward(float* out, const float* in, size_t n);
void tanh_backward(float* din, const float* dout, const float* out, size_t n);  // uses the output
void gelu_forward(float* out, const float* in, size_t n);
void gelu_backward(float* din, const float* dout, const float* in, size_t n);   // uses the input

// ================================== losses =====================================================

// logits[N,C], labels[N] in [0,C) -> returns Σ_n (logsumexp(z_n) - z_n[y_n]) (double);
// dlogits[N,C] = grad_scale * (softmax(z_n) - onehot(y_n)) (overwritten, if non-null);
// *correct += #{n : argmax z_n == y_n} (if non-null; first max wins ties).
double softmax_ce(float* dlogits, const float* logits, const int32_t* labels, int N, int C,
                  float grad_scale, int64_t* correct);
// out[n], target[n] (n = N*D elements) -> returns Σ (out - t)² (double);
// dout = grad_scale * 2 (out - t) (overwritten, if non-null).
double mse(float* dout, const float* out, const float* target, size_t n, float grad_scale);

// ================================== batch norm =================================================
// x[N,C,HW] (HW = 1 for a [C] feature vector); statistics per channel over M = N*HW values.

// Training: y = gamma (x - mean) / sqrt(var + eps) + beta with batch mean / biased var;
// save_mean[C], save_invstd[C] (overwritten) keep what backward needs; running_mean/var[C]
// (if non-null) <- (1 - momentum) * running + momentum * batch (unbiased var).
void batchnorm_forward_train(float* y, const float* x, const float* gamma, const float* beta,
                             int N, int C, int HW, float* running_mean, float* running_var,
                             float* save_mean, float* save_invstd);
// Eval: the same affine map with running stats; save_mean/save_invstd (if non-null) receive the
// statistics used, so batchnorm_backward(batch_stats = false) can reuse them.
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, int N,
                            int C, int HW, const float* running_mean, const float* running_var,
                            float* save_mean, float* save_invstd);
// dy[N,C,HW] -> dgamma[C], dbeta[C] (overwritten), dx[N,C,HW] (overwritten; may alias dy).
// batch_stats: the statistics depended on x (training mode), else they were constants (eval).
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* save_mean, const float* save_invstd,
                        int N, int C, int HW, bool batch_stats);

// ================================== channels-last (NHWC) =======================================
// The model keeps convolutional trunks channels-last (native/nhwc.cpp): an activation is
// [N, H, W, C]. Same shapes, parameters ([O,C,K,K] weights) and semantics as the NCHW kernels
// above; the tests check each against the NCHW naive twin through these transposes.

void nchw_to_nhwc(float* dst, const float* src, int N, int C, int HW);
void nhwc_to_nchw(float* dst, const float* src, int N, int C, int HW);

// Convolution without im2col (implicit GEMM over a per-group zero-padded copy of the input).
// in[N,H,W,C] -> out[N,OH,OW,O]. Every result is bitwise identical for any thread count.
// scratch: conv2d_nhwc_*_scratch(N, s) floats, which depends on compute_threads() at the time of
// the call: size it again after set_blas_threads.
size_t conv2d_nhwc_forward_scratch(int N, const ConvShape& s);
size_t conv2d_nhwc_backward_scratch(int N, const ConvShape& s);
// out = relu?(conv(in, W) + b + residual)   (b, residual may be null; residual is [N,OH,OW,O])
void conv2d_nhwc_forward(float* out, const float* in, const float* W, const float* b, int N,
                         const ConvShape& s, bool relu, float* scratch,
                         const float* residual = nullptr);
// dout[N,OH,OW,O] -> dW[O,C,K,K] (overwritten, if non-null), db[O] (overwritten, if non-null),
//   din[N,H,W,C] (if non-null; overwritten, or accumulated into when accumulate_din).
// din_mask ([N,H,W,C], optional): this call's din is zeroed where din_mask <= 0 before it is
// stored or accumulated (a fused relu backward: pass the relu's output).
void conv2d_nhwc_backward(float* din, float* dW, float* db, const float* dout, const float* in,
                          const float* W, int N, const ConvShape& s, bool accumulate_din,
                          float* scratch, const float* din_mask = nullptr);

void maxpool_nhwc_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
void maxpool_nhwc_backward(float* din, const float* dout, const float* in, int N, int C, int H,
                           int W, int K, int S);
void avgpool_nhwc_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
void avgpool_nhwc_backward(float* din, const float* dout, int N, int C, int H, int W, int K, int S);
void global_avgpool_nhwc_forward(float* out, const float* in, int N, int C, int HW);
void global_avgpool_nhwc_backward(float* din, const float* dout, int N, int C, int HW);
void batchnorm_nhwc_forward_train(float* y, const float* x, const float* gamma, const float* beta,
                                  int N, int C, int HW, float* running_mean, float* running_var,
                                  float* save_mean, float* save_invstd);
void batchnorm_nhwc_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                 int N, int C, int HW, const float* running_mean,
                                 const float* running_var, float* save_mean, float* save_invstd);
void batchnorm_nhwc_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                             const float* x, const float* gamma, const float* save_mean,
                             const float* save_invstd, int N, int C, int HW, bool batch_stats);

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
void dense_backward_naive(T* din, T* dW, T* db, const T* dout, const T* in, const T* W, int N,
                          int I, int O) {
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

// Direct convolution (no im2col).
template <class T>
void conv2d_forward_naive(T* out, const T* in, const T* W, const T* b, int N, const ConvShape& s) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < s.O; ++o)
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow) {
          double acc = b ? (double)b[o] : 0.0;
          for (int c = 0; c < s.C; ++c)
            for (int kh = 0; kh < s.K; ++kh) {
              const int ih = oh * s.S - s.P + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (int kw = 0; kw < s.K; ++kw) {
                const int iw = ow * s.S - s.P + kw;
                if (iw < 0 || iw >= s.W) continue;
                acc += (double)in[(((size_t)n * s.C + c) * s.H + ih) * s.W + iw] *
                       W[(((size_t)o * s.C + c) * s.K + kh) * s.K + kw];
              }
            }
          out[(((size_t)n * s.O + o) * s.OH + oh) * s.OW + ow] = (T)acc;
        }
}

// din (if non-null) is overwritten.
template <class T>
void conv2d_backward_naive(T* din, T* dW, T* db, const T* dout, const T* in, const T* W, int N,
                           const ConvShape& s) {
  const size_t wsize = (size_t)s.O * s.ckk();
  double* dWacc = new double[wsize]();
  double* dinacc = din ? new double[(size_t)N * s.in_size()]() : nullptr;
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < s.O; ++o)
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow) {
          const double g = dout[(((size_t)n * s.O + o) * s.OH + oh) * s.OW + ow];
          for (int c = 0; c < s.C; ++c)
            for (int kh = 0; kh < s.K; ++kh) {
              const int ih = oh * s.S - s.P + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (int kw = 0; kw < s.K; ++kw) {
                const int iw = ow * s.S - s.P + kw;
                if (iw < 0 || iw >= s.W) continue;
                const size_t xi = (((size_t)n * s.C + c) * s.H + ih) * s.W + iw;
                const size_t wi = (((size_t)o * s.C + c) * s.K + kh) * s.K + kw;
                dWacc[wi] += g * (double)in[xi];
                if (dinacc) dinacc[xi] += g * (double)W[wi];
              }
            }
        }
  for (size_t i = 0; i < wsize; ++i) dW[i] = (T)dWacc[i];
  if (db)
    for (int o = 0; o < s.O; ++o) {
      double acc = 0;
      for (int n = 0; n < N; ++n)
        for (size_t p = 0; p < s.ohw(); ++p) acc += dout[((size_t)n * s.O + o) * s.ohw() + p];
      db[o] = (T)acc;
    }
  if (din)
    for (size_t i = 0; i < (size_t)N * s.in_size(); ++i) din[i] = (T)dinacc[i];
  delete[] dWacc;
  delete[] dinacc;
}

template <class T>
void maxpool_forward_naive(T* out, const T* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        T m = -std::numeric_limits<T>::infinity();
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw)
            m = std::max(m, in[((size_t)nc * H + oh * S + kh) * W + ow * S + kw]);
        out[((size_t)nc * OH + oh) * OW + ow] = m;
      }
}

template <class T>
void maxpool_backward_naive(T* din, const T* dout, const T* in, int N, int C, int H, int W, int K,
                            int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  std::fill(din, din + (size_t)N * C * H * W, T(0));
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        size_t best = ((size_t)nc * H + oh * S) * W + ow * S;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const size_t i = ((size_t)nc * H + oh * S + kh) * W + ow * S + kw;
            if (in[i] > in[best]) best = i;
          }
        din[best] += dout[((size_t)nc * OH + oh) * OW + ow];
      }
}

template <class T>
void avgpool_forward_naive(T* out, const T* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        double acc = 0;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) acc += in[((size_t)nc * H + oh * S + kh) * W + ow * S + kw];
        out[((size_t)nc * OH + oh) * OW + ow] = (T)(acc / (K * K));
      }
}

template <class T>
void avgpool_backward_naive(T* din, const T* dout, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  std::fill(din, din + (size_t)N * C * H * W, T(0));
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const T g = dout[((size_t)nc * OH + oh) * OW + ow] / T(K * K);
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) din[((size_t)nc * H + oh * S + kh) * W + ow * S + kw] += g;
      }
}

template <class T>
void global_avgpool_forward_naive(T* out, const T* in, int N, int C, int HW) {
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    double acc = 0;
    for (int p = 0; p < HW; ++p) acc += in[nc * HW + p];
    out[nc] = (T)(acc / HW);
  }
}

template <class T>
void global_avgpool_backward_naive(T* din, const T* dout, int N, int C, int HW) {
  for (size_t nc = 0; nc < (size_t)N * C; ++nc)
    for (int p = 0; p < HW; ++p) din[nc * HW + p] = dout[nc] / T(HW);
}

template <class T> T relu_naive(T x) { return x > T(0) ? x : T(0); }
template <class T> T relu_grad_naive(T x) { return x > T(0) ? T(1) : T(0); }
template <class T> T tanh_naive(T x) { return std::tanh(x); }
template <class T> T tanh_grad_naive(T x) { const T t = std::tanh(x); return T(1) - t * t; }
template <class T> T gelu_naive(T x) { return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440))); }
template <class T> T gelu_grad_naive(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  return cdf + x * pdf;
}

// Returns the summed loss; dlogits as in softmax_ce.
template <class T>
double softmax_ce_naive(T* dlogits, const T* logits, const int32_t* labels, int N, int C,
                        double grad_scale) {
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
        dlogits[(size_t)n * C + c] =
            (T)(grad_scale * (std::exp((double)z[c] - m) / s - (c == labels[n] ? 1.0 : 0.0)));
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

// Training-mode batch norm forward; running stats updated if non-null.
template <class T>
void batchnorm_forward_train_naive(T* y, const T* x, const T* gamma, const T* beta, int N, int C,
                                   int HW, T* running_mean, T* running_var) {
  const double M = (double)N * HW;
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) sum += x[((size_t)n * C + c) * HW + p];
    const double mean = sum / M;
    double sq = 0;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const double d = x[((size_t)n * C + c) * HW + p] - mean;
        sq += d * d;
      }
    const double var = sq / M;
    const double invstd = 1.0 / std::sqrt(var + (double)kBnEps);
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const size_t i = ((size_t)n * C + c) * HW + p;
        y[i] = (T)((double)gamma[c] * (x[i] - mean) * invstd + (double)beta[c]);
      }
    if (running_mean) {
      running_mean[c] = (T)((1 - (double)kBnMomentum) * running_mean[c] + (double)kBnMomentum * mean);
      running_var[c] = (T)((1 - (double)kBnMomentum) * running_var[c] +
                           (double)kBnMomentum * var * M / std::max(M - 1, 1.0));
    }
  }
}

template <class T>
void batchnorm_forward_eval_naive(T* y, const T* x, const T* gamma, const T* beta, int N, int C,
                                  int HW, const float* running_mean, const float* running_var) {
  for (int c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt((double)running_var[c] + (double)kBnEps);
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const size_t i = ((size_t)n * C + c) * HW + p;
        y[i] = (T)((double)gamma[c] * ((double)x[i] - running_mean[c]) * invstd + (double)beta[c]);
      }
  }
}

// Training-mode backward, recomputing the batch statistics from x.
template <class T>
void batchnorm_backward_train_naive(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                                    const T* gamma, int N, int C, int HW) {
  const double M = (double)N * HW;
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) sum += x[((size_t)n * C + c) * HW + p];
    const double mean = sum / M;
    double sq = 0;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const double d = x[((size_t)n * C + c) * HW + p] - mean;
        sq += d * d;
      }
    const double invstd = 1.0 / std::sqrt(sq / M + (double)kBnEps);
    double sdy = 0, sdyx = 0;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const size_t i = ((size_t)n * C + c) * HW + p;
        sdy += dy[i];
        sdyx += (double)dy[i] * (x[i] - mean) * invstd;
      }
    dgamma[c] = (T)sdyx;
    dbeta[c] = (T)sdy;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const size_t i = ((size_t)n * C + c) * HW + p;
        const double xhat = (x[i] - mean) * invstd;
        dx[i] = (T)((double)gamma[c] * invstd / M * (M * dy[i] - sdy - xhat * sdyx));
      }
  }
}

}  // namespace bigstep
