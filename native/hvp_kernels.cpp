// R-operator kernels (shapes and formulas in hvp_kernels.h). Per-channel sums in double.
#include "hvp_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "threads.h"

namespace bigstep {

void tanh_rop_backward(float* rdz, const float* dy, const float* rdy, const float* y, const float* ry, size_t n) {
  parallel_range(n, (size_t)1 << 15, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) rdz[i] = (1.0f - y[i] * y[i]) * rdy[i] - 2.0f * y[i] * ry[i] * dy[i];
  });
}

void gelu_rop_backward(float* rdz, const float* dy, const float* rdy, const float* z, const float* rz, size_t n) {
  parallel_range(n, (size_t)1 << 13, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {
      const float x = z[i];
      const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752440f));
      const float pdf = std::exp(-0.5f * x * x) * 0.39894228040143267794f;
      rdz[i] = (cdf + x * pdf) * rdy[i] + pdf * (2.0f - x * x) * rz[i] * dy[i];
    }
  });
}

void maxpool_nhwc_rop_forward(float* rout, const float* rin, const float* in, int N, int C, int H, int W, int K,
                              int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  parallel_range((size_t)N, 1, [=](size_t n0, size_t n1) {
    std::vector<size_t> best((size_t)C);
    for (size_t n = n0; n < n1; ++n)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          const size_t corner = ((n * H + (size_t)oh * S) * W + (size_t)ow * S) * C;
          for (int c = 0; c < C; ++c) best[c] = corner + c;
          for (int kh = 0; kh < K; ++kh)
            for (int kw = 0; kw < K; ++kw) {
              const size_t at = corner + ((size_t)kh * W + kw) * C;
              for (int c = 0; c < C; ++c)
                if (in[at + c] > in[best[c]]) best[c] = at + c;
            }
          float* o = rout + ((n * OH + oh) * OW + ow) * C;
          for (int c = 0; c < C; ++c) o[c] = rin[best[c]];
        }
  });
}

namespace {
// s[c] = Σ_m a[m,c]·b[m,c] (b null: Σ a) over rows×channels, in double, row order.
void channel_sums(double* s, const float* a, const float* b, size_t M, int C) {
  std::fill(s, s + C, 0.0);
  for (size_t m = 0; m < M; ++m) {
    const float* ar = a + m * C;
    if (b) {
      const float* br = b + m * C;
      for (int c = 0; c < C; ++c) s[c] += (double)ar[c] * br[c];
    } else {
      for (int c = 0; c < C; ++c) s[c] += ar[c];
    }
  }
}
}  // namespace

void batchnorm_rop_forward(float* ry, const float* x, const float* rx, const float* gamma, const float* rgamma,
                           const float* rbeta, const float* mean, const float* invstd, size_t M, int C,
                           bool batch_stats) {
  std::vector<double> mu(C, 0.0), mxu(C, 0.0);
  if (batch_stats) {
    // mean(x̂·rx) = invstd·(mean(x·rx) - mean·mean(rx))
    std::vector<double> sxu(C);
    channel_sums(mu.data(), rx, nullptr, M, C);
    channel_sums(sxu.data(), x, rx, M, C);
    for (int c = 0; c < C; ++c) {
      mu[c] /= (double)M;
      mxu[c] = invstd[c] * (sxu[c] / (double)M - (double)mean[c] * mu[c]);
    }
  }
  for (size_t m = 0; m < M; ++m) {
    const size_t r = m * C;
    for (int c = 0; c < C; ++c) {
      const float xh = (x[r + c] - mean[c]) * invstd[c];
      const float rxh = invstd[c] * (rx[r + c] - (float)mu[c] - xh * (float)mxu[c]);
      ry[r + c] = rgamma[c] * xh + gamma[c] * rxh + rbeta[c];
    }
  }
}

void batchnorm_rop_backward(float* rdx, float* rdgamma, float* rdbeta, const float* dy, const float* rdy,
                            const float* x, const float* rx, const float* gamma, const float* rgamma, const float* mean,
                            const float* invstd, size_t M, int C, bool batch_stats) {
  std::vector<double> mu(C, 0.0), mxu(C, 0.0), sdg(C, 0.0), sdb(C, 0.0), A(C, 0.0), B(C, 0.0), RA(C, 0.0), RB(C, 0.0);
  if (batch_stats) {
    std::vector<double> sxu(C);
    channel_sums(mu.data(), rx, nullptr, M, C);
    channel_sums(sxu.data(), x, rx, M, C);
    for (int c = 0; c < C; ++c) {
      mu[c] /= (double)M;
      mxu[c] = invstd[c] * (sxu[c] / (double)M - (double)mean[c] * mu[c]);
    }
  }
  // One pass for the sums: rdgamma, rdbeta, and (batch stats) mean(ĝ), mean(ĝx̂), mean(Rĝ), mean(Rĝx̂ + ĝRx̂).
  for (size_t m = 0; m < M; ++m) {
    const size_t r = m * C;
    for (int c = 0; c < C; ++c) {
      const double xh = ((double)x[r + c] - mean[c]) * invstd[c];
      const double rxh = invstd[c] * ((double)rx[r + c] - mu[c] - xh * mxu[c]);
      sdg[c] += (double)rdy[r + c] * xh + (double)dy[r + c] * rxh;
      sdb[c] += rdy[r + c];
      if (batch_stats) {
        const double g = (double)gamma[c] * dy[r + c];
        const double rg = (double)rgamma[c] * dy[r + c] + (double)gamma[c] * rdy[r + c];
        A[c] += g, B[c] += g * xh, RA[c] += rg, RB[c] += rg * xh + g * rxh;
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    rdgamma[c] = (float)sdg[c], rdbeta[c] = (float)sdb[c];
    A[c] /= (double)M, B[c] /= (double)M, RA[c] /= (double)M, RB[c] /= (double)M;
  }
  for (size_t m = 0; m < M; ++m) {
    const size_t r = m * C;
    for (int c = 0; c < C; ++c) {
      const double is = invstd[c];
      const double rg = (double)rgamma[c] * dy[r + c] + (double)gamma[c] * rdy[r + c];
      if (!batch_stats) {
        rdx[r + c] = (float)(is * rg);
        continue;
      }
      const double xh = ((double)x[r + c] - mean[c]) * is;
      const double rxh = is * ((double)rx[r + c] - mu[c] - xh * mxu[c]);
      const double g = (double)gamma[c] * dy[r + c];
      const double ris = -is * is * mxu[c];
      rdx[r + c] = (float)(ris * (g - A[c] - xh * B[c]) + is * (rg - RA[c] - rxh * B[c] - xh * RB[c]));
    }
  }
}

void softmax_ce_rop(float* rdlogits, const float* logits, const float* rlogits, int N, int C, float scale) {
  parallel_range((size_t)N, 64, [=](size_t n0, size_t n1) {
    std::vector<float> p((size_t)C);
    for (size_t n = n0; n < n1; ++n) {
      const float* z = logits + n * C;
      const float* rz = rlogits + n * C;
      const float mx = *std::max_element(z, z + C);
      double s = 0;
      for (int c = 0; c < C; ++c) s += p[c] = std::exp(z[c] - mx);
      double pr = 0;
      for (int c = 0; c < C; ++c) p[c] = (float)(p[c] / s), pr += (double)p[c] * rz[c];
      for (int c = 0; c < C; ++c) rdlogits[n * C + c] = scale * p[c] * (rz[c] - (float)pr);
    }
  });
}

void mse_rop(float* rdout, const float* rout, size_t n, float scale) {
  const float s2 = 2.0f * scale;
  for (size_t i = 0; i < n; ++i) rdout[i] = s2 * rout[i];
}

}  // namespace bigstep
