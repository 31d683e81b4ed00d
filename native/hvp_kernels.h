// R-operator kernels (Pearlmutter 1994) for exact Hessian-vector products: for a parameter
// direction v, R{f} = d/dε f(θ + εv) at ε = 0. The forward pass carries R{activation} next to
// each activation; the backward pass carries R{gradient} next to each gradient. Linear and
// bilinear layers (dense, conv, pools, flatten) reuse their ordinary kernels on the tangents
// (native/hvp.cpp); this file holds what has no ordinary counterpart: the second-derivative terms
// of the nonlinearities and losses, the max-pool tangent gather and batch norm's R-ops.
//
// Notation: z = a layer's input, y = its output, dy = d(loss)/dy, dz = d(loss)/dz; ry, rz, rdy,
// rdz their R{·}. Each fast kernel (float, hvp_kernels.cpp) has a naive twin below (plain loops,
// templated, double accumulation), its test oracle. relu needs no kernel of its own: its second
// derivative is zero almost everywhere, so R{y} = 1[y>0]·rz and R{dz} = 1[y>0]·rdy are
// relu_backward on the tangents.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels.h"

namespace bigstep {

// ---- activations (all over n elements) ---------------------------------------------------------

// tanh, y = tanh(z): rdz[n] = (1 - y²)·rdy - 2·y·ry·dy   (ry = (1 - y²)·rz, from tanh_backward)
void tanh_rop_backward(float* rdz, const float* dy, const float* rdy, const float* y, const float* ry, size_t n);
// gelu (erf form), y = z·Φ(z): rdz[n] = g'(z)·rdy + g''(z)·rz·dy, g' = Φ + zφ, g'' = φ·(2 - z²)
void gelu_rop_backward(float* rdz, const float* dy, const float* rdy, const float* z, const float* rz, size_t n);

// ---- max pool (channels-last) ------------------------------------------------------------------

// rout[N,OH,OW,C] = rin at the (first, scanning kh then kw) maximum of each window of in[N,H,W,C]:
// the tangent follows the argmax that maxpool_nhwc_backward routes the gradient to.
void maxpool_nhwc_rop_forward(float* rout, const float* rin, const float* in, int N, int C, int H, int W, int K, int S);

// ---- batch norm (rows × channels: x[M,C], M = N·HW, channel fastest, i.e. NHWC or [N,C]) --------
// mean[C], invstd[C]: the statistics the forward used (batch ones when batch_stats, else running).
// x̂ = (x - mean)·invstd; y = gamma·x̂ + beta.

// ry[M,C] = rgamma·x̂ + gamma·R{x̂} + rbeta, R{x̂} = invstd·rx (eval) or, with batch statistics,
// invstd·(rx - mean_M(rx) - x̂·mean_M(x̂·rx)).
void batchnorm_rop_forward(float* ry, const float* x, const float* rx, const float* gamma, const float* rgamma,
                           const float* rbeta, const float* mean, const float* invstd, size_t M, int C,
                           bool batch_stats);
// R of batchnorm backward: rdx[M,C] (overwritten), rdgamma[C], rdbeta[C] (overwritten) from dy, rdy
// [M,C], x, rx [M,C], gamma, rgamma [C]. Eval: dx = gamma·invstd·dy. With batch statistics:
// dx = invstd·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)), ĝ = gamma·dy, differentiated through x̂, invstd and ĝ.
void batchnorm_rop_backward(float* rdx, float* rdgamma, float* rdbeta, const float* dy, const float* rdy,
                            const float* x, const float* rx, const float* gamma, const float* rgamma, const float* mean,
                            const float* invstd, size_t M, int C, bool batch_stats);

// ---- losses -------------------------------------------------------------------------------------

// Softmax cross-entropy, dlogits = scale·(p - onehot), p = softmax(z):
// rdlogits[N,C] = scale·(p ⊙ rz - p·(pᵀrz)) from logits z[N,C] and their tangent rz[N,C].
void softmax_ce_rop(float* rdlogits, const float* logits, const float* rlogits, int N, int C, float scale);
// MSE, dout = scale·2·(out - t): rdout[n] = scale·2·rout
void mse_rop(float* rdout, const float* rout, size_t n, float scale);

// ================================== naive twins =================================================

template <class T>
void tanh_rop_backward_naive(T* rdz, const T* dy, const T* rdy, const T* y, const T* ry, size_t n) {
  for (size_t i = 0; i < n; ++i) rdz[i] = (T(1) - y[i] * y[i]) * rdy[i] - T(2) * y[i] * ry[i] * dy[i];
}

template <class T>
void gelu_rop_backward_naive(T* rdz, const T* dy, const T* rdy, const T* z, const T* rz, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double x = z[i];
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    const double cdf = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
    rdz[i] = (T)((cdf + x * pdf) * rdy[i] + pdf * (2.0 - x * x) * rz[i] * dy[i]);
  }
}

template <class T>
void maxpool_nhwc_rop_forward_naive(T* rout, const T* rin, const T* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int c = 0; c < C; ++c) {
          size_t best = (((size_t)n * H + (size_t)oh * S) * W + (size_t)ow * S) * C + c;
          for (int kh = 0; kh < K; ++kh)
            for (int kw = 0; kw < K; ++kw) {
              const size_t i = (((size_t)n * H + (size_t)oh * S + kh) * W + (size_t)ow * S + kw) * C + c;
              if (in[i] > in[best]) best = i;
            }
          rout[(((size_t)n * OH + oh) * OW + ow) * C + c] = rin[best];
        }
}

// Per channel c: the mean over rows of a[m]·b[m] (b may be null: mean of a).
template <class T>
double bn_row_mean_naive(const T* a, const T* b, size_t M, int C, int c) {
  double s = 0;
  for (size_t m = 0; m < M; ++m) s += (double)a[m * C + c] * (b ? (double)b[m * C + c] : 1.0);
  return s / (double)M;
}

template <class T>
void batchnorm_rop_forward_naive(T* ry, const T* x, const T* rx, const T* gamma, const T* rgamma, const T* rbeta,
                                 const T* mean, const T* invstd, size_t M, int C, bool batch_stats) {
  std::vector<double> xh(M);
  for (int c = 0; c < C; ++c) {
    const double is = invstd[c];
    for (size_t m = 0; m < M; ++m) xh[m] = ((double)x[m * C + c] - mean[c]) * is;
    double mu = 0, mxu = 0;
    if (batch_stats) {
      for (size_t m = 0; m < M; ++m) mu += rx[m * C + c], mxu += xh[m] * rx[m * C + c];
      mu /= (double)M, mxu /= (double)M;
    }
    for (size_t m = 0; m < M; ++m) {
      const double rxh = is * ((double)rx[m * C + c] - mu - xh[m] * mxu);
      ry[m * C + c] = (T)((double)rgamma[c] * xh[m] + (double)gamma[c] * rxh + (double)rbeta[c]);
    }
  }
}

template <class T>
void batchnorm_rop_backward_naive(T* rdx, T* rdgamma, T* rdbeta, const T* dy, const T* rdy, const T* x, const T* rx,
                                  const T* gamma, const T* rgamma, const T* mean, const T* invstd, size_t M, int C,
                                  bool batch_stats) {
  std::vector<double> xh(M), rxh(M), g(M), rg(M);
  for (int c = 0; c < C; ++c) {
    const double is = invstd[c];
    double mu = 0, mxu = 0;
    for (size_t m = 0; m < M; ++m) {
      xh[m] = ((double)x[m * C + c] - mean[c]) * is;
      mu += rx[m * C + c], mxu += xh[m] * rx[m * C + c];
    }
    mu /= (double)M, mxu /= (double)M;
    if (!batch_stats) mu = mxu = 0;
    double sdg = 0, sdb = 0;
    for (size_t m = 0; m < M; ++m) {
      const size_t i = m * C + c;
      rxh[m] = is * ((double)rx[i] - mu - xh[m] * mxu);
      g[m] = (double)gamma[c] * dy[i];
      rg[m] = (double)rgamma[c] * dy[i] + (double)gamma[c] * rdy[i];
      sdg += (double)rdy[i] * xh[m] + (double)dy[i] * rxh[m];
      sdb += rdy[i];
    }
    rdgamma[c] = (T)sdg, rdbeta[c] = (T)sdb;
    if (!batch_stats) {
      for (size_t m = 0; m < M; ++m) rdx[m * C + c] = (T)(is * rg[m]);
      continue;
    }
    double A = 0, B = 0, RA = 0, RB = 0;
    for (size_t m = 0; m < M; ++m) A += g[m], B += g[m] * xh[m], RA += rg[m], RB += rg[m] * xh[m] + g[m] * rxh[m];
    A /= (double)M, B /= (double)M, RA /= (double)M, RB /= (double)M;
    const double ris = -is * is * mxu;  // R{invstd} = -invstd³·mean((x - mean)·rx) = -invstd²·mean(x̂·rx)
    for (size_t m = 0; m < M; ++m)
      rdx[m * C + c] = (T)(ris * (g[m] - A - xh[m] * B) + is * (rg[m] - RA - rxh[m] * B - xh[m] * RB));
  }
}

template <class T>
void softmax_ce_rop_naive(T* rd, const T* z, const T* rz, int N, int C, double scale) {
  std::vector<double> p(C);
  for (int n = 0; n < N; ++n) {
    double mx = z[(size_t)n * C];
    for (int c = 1; c < C; ++c) mx = std::max(mx, (double)z[(size_t)n * C + c]);
    double s = 0;
    for (int c = 0; c < C; ++c) s += p[c] = std::exp((double)z[(size_t)n * C + c] - mx);
    double pr = 0;
    for (int c = 0; c < C; ++c) p[c] /= s, pr += p[c] * rz[(size_t)n * C + c];
    for (int c = 0; c < C; ++c) rd[(size_t)n * C + c] = (T)(scale * p[c] * (rz[(size_t)n * C + c] - pr));
  }
}

template <class T>
void mse_rop_naive(T* rd, const T* rout, size_t n, double scale) {
  for (size_t i = 0; i < n; ++i) rd[i] = (T)(2.0 * scale * rout[i]);
}

}  // namespace bigstep
