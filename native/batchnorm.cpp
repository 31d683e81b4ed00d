// NCHW batch norm kernels; shapes and contracts in batchnorm.h.
#include "batchnorm.h"

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

// One [HW] plane of batch-norm normalisation (train and eval); per path the same contraction as the NHWC kernel
// (nhwc.cpp).
static BIGSTEP_ALWAYS_INLINE void bn_eval_plane_body(float* o, const float* r, int HW, float fm, float scale,
                                                     float bt) {
  for (int p = 0; p < HW; ++p) o[p] = (r[p] - fm) * scale + bt;
}
BIGSTEP_ISA_VARIANTS(bn_eval_plane, (float* o, const float* r, int HW, float fm, float scale, float bt),
                     (o, r, HW, fm, scale, bt))

void batchnorm_forward_train(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                             float* running_mean, float* running_var, float* save_mean, float* save_invstd) {
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
      running_var[c] = (float)((1.0 - kBnMomentum) * running_var[c] + kBnMomentum * var * M / std::max(M - 1.0, 1.0));
    }
  }
}

void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                            const float* running_mean, const float* running_var, float* save_mean, float* save_invstd) {
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

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, int N, int C, int HW, bool batch_stats) {
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
