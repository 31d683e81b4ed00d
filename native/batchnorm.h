// Batch norm over NCHW activations (batchnorm.cpp), its channels-last twin (batchnorm_nhwc.cpp,
// compiled once per ISA path) and the naive twins. PyTorch's conventions: eps 1e-5, momentum 0.1;
// normalises with the biased batch variance and puts the unbiased one (x M/(M-1), M = N*H*W) into
// running_var, like torch.nn.BatchNorm2d.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace bigstep {

constexpr float kBnEps = 1e-5f;
constexpr float kBnMomentum = 0.1f;

// x[N,C,HW] (HW = 1 for a [C] feature vector); statistics per channel over M = N*HW values.

// Training: y = gamma (x - mean) / sqrt(var + eps) + beta with batch mean / biased var;
// save_mean[C], save_invstd[C] (overwritten) keep what backward needs; running_mean/var[C]
// (if non-null) <- (1 - momentum) * running + momentum * batch (unbiased var).
void batchnorm_forward_train(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                             float* running_mean, float* running_var, float* save_mean, float* save_invstd);
// Eval: the same affine map with running stats; save_mean/save_invstd (if non-null) receive the
// statistics used, so batchnorm_backward(batch_stats = false) can reuse them.
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                            const float* running_mean, const float* running_var, float* save_mean, float* save_invstd);
// dy[N,C,HW] -> dgamma[C], dbeta[C] (overwritten), dx[N,C,HW] (overwritten; may alias dy).
// batch_stats: the statistics depended on x (training mode), else they were constants (eval).
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, int N, int C, int HW, bool batch_stats);

// Channels-last versions: [N, H, W, C] (the layout the model keeps inside convolutional trunks,
// native/model.cpp). Same shapes, parameters and semantics as the NCHW kernels above; compiled
// once per ISA path and dispatched at load (nhwc_dispatch.cpp); the tests check each against the
// NCHW naive twin through the layout transposes (transpose.h).

void batchnorm_nhwc_forward_train(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                                  float* running_mean, float* running_var, float* save_mean, float* save_invstd);
void batchnorm_nhwc_forward_eval(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                                 const float* running_mean, const float* running_var, float* save_mean,
                                 float* save_invstd);
void batchnorm_nhwc_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* save_mean, const float* save_invstd, int N, int C, int HW,
                             bool batch_stats);

// ---- naive twins (plain loops, double accumulation, float or double) ----

// Training-mode batch norm forward; running stats updated if non-null.
template <class T>
void batchnorm_forward_train_naive(T* y, const T* x, const T* gamma, const T* beta, int N, int C, int HW,
                                   T* running_mean, T* running_var) {
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
      running_var[c] =
          (T)((1 - (double)kBnMomentum) * running_var[c] + (double)kBnMomentum * var * M / std::max(M - 1, 1.0));
    }
  }
}

template <class T>
void batchnorm_forward_eval_naive(T* y, const T* x, const T* gamma, const T* beta, int N, int C, int HW,
                                  const float* running_mean, const float* running_var) {
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
void batchnorm_backward_train_naive(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* gamma, int N, int C,
                                    int HW) {
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
