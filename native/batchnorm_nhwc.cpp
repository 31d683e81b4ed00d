// Channels-last batch norm (batchnorm.h). Compiled once per ISA path (see conv_nhwc.cpp).
#include <algorithm>
#include <cstring>

#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#include <immintrin.h>
#endif

#include <cmath>

#include "batchnorm.h"
#include "threads.h"
#include "isa_target.h"  // last: the code below is compiled for this object's ISA path

namespace bigstep {
namespace BIGSTEP_ISA_NS {

// ---- batch norm ---------------------------------------------------------------------------------
// Same statistics and per-element arithmetic as the NCHW kernels; x is [M = N·HW rows, C].

void batchnorm_nhwc_forward_train(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                                  float* running_mean, float* running_var, float* save_mean, float* save_invstd) {
  const size_t M = (size_t)N * HW;
  for (int c0 = 0; c0 < C; c0 += 256) {
    const int cn = std::min(256, C - c0);
    double sum[256], sq[256];
    std::fill(sum, sum + cn, 0.0);
    std::fill(sq, sq + cn, 0.0);
    for (size_t m = 0; m < M; ++m) {
      const float* r = x + m * C + c0;
      for (int c = 0; c < cn; ++c) sum[c] += r[c];
    }
    for (int c = 0; c < cn; ++c) sum[c] /= (double)M;  // now the mean
    for (size_t m = 0; m < M; ++m) {
      const float* r = x + m * C + c0;
      for (int c = 0; c < cn; ++c) {
        const double d = r[c] - sum[c];
        sq[c] += d * d;
      }
    }
    float scale[256], fm[256];
    for (int c = 0; c < cn; ++c) {
      const int ch = c0 + c;
      const double mean = sum[c], var = sq[c] / (double)M;
      const double invstd = 1.0 / std::sqrt(var + (double)kBnEps);
      save_mean[ch] = (float)mean;
      save_invstd[ch] = (float)invstd;
      scale[c] = (float)(gamma[ch] * invstd);
      fm[c] = (float)mean;
      if (running_mean) {
        running_mean[ch] = (float)((1.0 - kBnMomentum) * running_mean[ch] + kBnMomentum * mean);
        running_var[ch] = (float)((1.0 - kBnMomentum) * running_var[ch] +
                                  kBnMomentum * var * (double)M / std::max((double)M - 1.0, 1.0));
      }
    }
    for (size_t m = 0; m < M; ++m) {
      const float* r = x + m * C + c0;
      float* o = y + m * C + c0;
      for (int c = 0; c < cn; ++c) o[c] = (r[c] - fm[c]) * scale[c] + beta[c0 + c];
    }
  }
}

void batchnorm_nhwc_forward_eval(float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW,
                                 const float* running_mean, const float* running_var, float* save_mean,
                                 float* save_invstd) {
  const size_t M = (size_t)N * HW;
  for (int c0 = 0; c0 < C; c0 += 256) {
    const int cn = std::min(256, C - c0);
    float scale[256], fm[256];
    for (int c = 0; c < cn; ++c) {
      const int ch = c0 + c;
      const double invstd = 1.0 / std::sqrt((double)running_var[ch] + kBnEps);
      if (save_mean) save_mean[ch] = running_mean[ch];
      if (save_invstd) save_invstd[ch] = (float)invstd;
      scale[c] = (float)(gamma[ch] * invstd);
      fm[c] = running_mean[ch];
    }
    for (size_t m = 0; m < M; ++m) {
      const float* r = x + m * C + c0;
      float* o = y + m * C + c0;
      for (int c = 0; c < cn; ++c) o[c] = (r[c] - fm[c]) * scale[c] + beta[c0 + c];
    }
  }
}

void batchnorm_nhwc_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* save_mean, const float* save_invstd, int N, int C, int HW,
                             bool batch_stats) {
  const size_t M = (size_t)N * HW;
  for (int c0 = 0; c0 < C; c0 += 256) {
    const int cn = std::min(256, C - c0);
    double sdy[256], sdyx[256];
    std::fill(sdy, sdy + cn, 0.0);
    std::fill(sdyx, sdyx + cn, 0.0);
    for (size_t m = 0; m < M; ++m) {
      const float* r = x + m * C + c0;
      const float* g = dy + m * C + c0;
      for (int c = 0; c < cn; ++c) {
        const double mean = save_mean[c0 + c], invstd = save_invstd[c0 + c];
        sdy[c] += g[c];
        sdyx[c] += (double)g[c] * ((r[c] - mean) * invstd);
      }
    }
    float a[256], fm[256], fi[256], b[256], cx[256];
    for (int c = 0; c < cn; ++c) {
      const int ch = c0 + c;
      const double invstd = save_invstd[ch];
      dgamma[ch] = (float)sdyx[c];
      dbeta[ch] = (float)sdy[c];
      const double k = gamma[ch] * invstd;
      a[c] = (float)k;
      fm[c] = save_mean[ch];
      fi[c] = (float)invstd;
      b[c] = batch_stats ? (float)(-k * sdy[c] / (double)M) : 0.0f;
      cx[c] = batch_stats ? (float)(-k * sdyx[c] / (double)M) : 0.0f;
    }
    for (size_t m = 0; m < M; ++m) {
      const float* r = x + m * C + c0;
      const float* g = dy + m * C + c0;
      float* o = dx + m * C + c0;
      for (int c = 0; c < cn; ++c) o[c] = a[c] * g[c] + cx[c] * ((r[c] - fm[c]) * fi[c]) + b[c];
    }
  }
}

}  // namespace BIGSTEP_ISA_NS
}  // namespace bigstep
