// Channels-last (NHWC) kernels: the layout the model uses inside convolutional trunks.
// Shapes and contracts are in kernels.h; each kernel's oracle is the NCHW naive twin applied
// through the layout transposes (kernels_test).
//
// Convolution without im2col ("implicit GEMM"). Output pixel q reads its K×K×C patch of a
// zero-padded NHWC input at   xp + base[q] + (kh·Wp + kw)·C + c,   so one register-tiled
// micro-kernel computes 6 pixels × 16 output channels, accumulating over (kh, kw, c) with the
// weights packed as [o-block][kh][kw][c][16]. Padding is done per group of images into a
// cache-sized buffer right before the group is used; nothing of size K²× the activation (an
// im2col matrix) is ever written.
//
//   forward          out[q, o] = Σ_(kk,c) xp[base q + tap kk + c] · W[o, c, kk]   (+ b, + residual, relu)
//   din, stride 1    the same kernel on dout padded by K−1−P with the flipped kernel, transposed
//                    ([c-block][kh][kw][o][16]), written straight into din (+ relu mask, accumulate)
//   din, stride > 1  per 6-pixel tile and tap: Σ_o dout[q, o] · W[o, c, kk] scatter-added into a
//                    padded din buffer of the group, whose interior is then copied out
//   dW               dW[o, c, kk] = Σ_q dout[q, o] · xp[base q + tap kk + c]: tiles of 6 (kk, c)
//                    rows × 16 o with the pixel loop inside (a GEMM whose A rows are addressed
//                    through the pixel bases)
//
// Threads: forward and din split the groups of images (a partition of the output), dW splits its
// tiles, and each dW element is summed over pixels in image order by one worker; db is a serial
// sum. So every result is bitwise identical for any thread count.
//
// ISA paths: CMake compiles this file once per path (baseline, avx2, avx512) into the namespaces
// bigstep::isa_<path>; nhwc_dispatch.cpp forwards the public functions to the path chosen at load
// (isa.h). The avx512 micro-kernels keep the avx2 tiles (6 × 16, one 16-float register per row
// instead of two 8-float halves) and the same per-element summation order; tails are masked.
#include <algorithm>
#include <cstring>

#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#include <immintrin.h>
#endif

#include "kernels.h"
#include "threads.h"
#include "isa_target.h"  // last: the code below is compiled for this object's ISA path

// The avx512 path also has AVX2 (its 8-float code runs where no 16-float version is written).
#if defined(BIGSTEP_ISA_AVX512)
#define BIGSTEP_NHWC_AVX512 1
#endif
#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#define BIGSTEP_NHWC_AVX2 1
#endif

namespace bigstep {
namespace BIGSTEP_ISA_NS {

namespace {

constexpr int MR = 6;       // pixels (forward, din) or (kk, c) rows (dW) per micro-tile
constexpr int NR = 16;      // output channels (forward, dW) or input channels (din) per tile
constexpr int QCHUNK = 252;  // pixels whose bases are computed at once (a multiple of MR)
// dW: pixels per pass over the tiles; the chunk's dout columns (128 × 16 floats) and patch lines
// then stay in L1 across the k-tiles (measured: 128 beats 64 and 252 by ~7 %).
constexpr int DW_QCHUNK = 128;

inline int round_up(int v, int m) { return (v + m - 1) / m * m; }

// Images per group: >= min_pixels output pixels (forward / din tiles are 6 pixels; dW tiles loop
// over the group's pixels, so longer is better), padded group buffer <= cap_floats.
int group_images(int N, int H, int W, int C, int P, int out_pixels, int min_pixels = 96,
                 size_t cap_floats = (size_t)64 << 10) {
  const size_t per_img = (size_t)(H + 2 * P) * (W + 2 * P) * C;
  int g = std::max(1, (min_pixels + out_pixels - 1) / std::max(out_pixels, 1));
  const size_t cap = std::max<size_t>(1, cap_floats / std::max<size_t>(per_img, 1));
  g = (int)std::min<size_t>((size_t)g, cap);
  return std::max(1, std::min(g, std::max(N, 1)));
}

// Parallel parts for a split over `items`: 2 per thread (a descheduled worker then delays the
// call by a quarter, not a half), never more than items.
int parts_for(int items) { return std::max(1, std::min(items, 2 * compute_threads())); }

// xp[g, H+2P, W+2P, C] <- x[g, H, W, C] with a zero border.
void pad_group(float* xp, const float* x, int g, int H, int W, int C, int P) {
  const int Hp = H + 2 * P, Wp = W + 2 * P;
  const size_t row = (size_t)W * C, prow = (size_t)Wp * C;
  for (int j = 0; j < g; ++j) {
    const float* src = x + (size_t)j * H * row;
    float* dst = xp + (size_t)j * Hp * prow;
    std::memset(dst, 0, sizeof(float) * (size_t)P * prow);
    for (int h = 0; h < H; ++h) {
      float* d = dst + (size_t)(h + P) * prow;
      std::memset(d, 0, sizeof(float) * (size_t)P * C);
      std::memcpy(d + (size_t)P * C, src + (size_t)h * row, sizeof(float) * row);
      std::memset(d + (size_t)(P + W) * C, 0, sizeof(float) * (size_t)P * C);
    }
    std::memset(dst + (size_t)(H + P) * prow, 0, sizeof(float) * (size_t)P * prow);
  }
}

// Patch-corner offsets (floats) of output pixels q0 .. q0+n of a group, in a (padded) input
// grid of Hq×Wq×C, output grid OH×OW, stride S.
void pixel_bases(long* base, int q0, int n, int OH, int OW, int Hq, int Wq, int C, int S) {
  const int ohw = OH * OW;
  int j = q0 / ohw, p = q0 % ohw, oh = p / OW, ow = p % OW;
  for (int i = 0; i < n; ++i) {
    base[i] = (long)((((size_t)j * Hq + (size_t)oh * S) * Wq + (size_t)ow * S) * C);
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) oh = 0, ++j;
    }
  }
}

// ---- epilogue --------------------------------------------------------------------------------

struct Epilogue {
  const float* bias = nullptr;      // [nr] or null
  bool relu = false;
  const float* residual = nullptr;  // added before relu; same layout as y
  const float* mask = nullptr;      // y is zeroed where mask <= 0; same layout as y
  bool accumulate = false;          // y += result
};

inline float epi1(float v, const float* y, const float* res, const float* msk, const float* bias,
                  int off, const Epilogue& e) {
  if (bias) v += bias[off];
  if (res) v += res[off];
  if (e.relu) v = v > 0.0f ? v : 0.0f;
  if (msk && !(msk[off] > 0.0f)) v = 0.0f;
  if (e.accumulate) v += y[off];
  return v;
}

#ifdef BIGSTEP_NHWC_AVX2
inline __m256 epi8(__m256 v, const float* y, const float* res, const float* msk, const float* bias,
                   int off, const Epilogue& e) {
  if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + off));
  if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res + off));
  if (e.relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
  if (msk) v = _mm256_and_ps(v, _mm256_cmp_ps(_mm256_loadu_ps(msk + off), _mm256_setzero_ps(), _CMP_GT_OQ));
  if (e.accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(y + off));
  return v;
}
#endif

#ifdef BIGSTEP_NHWC_AVX512
// Lanes outside k are neither read nor written (masked loads give 0 there).
inline __m512 epi16(__m512 v, __mmask16 k, const float* y, const float* res, const float* msk,
                    const float* bias, const Epilogue& e) {
  const __m512 zero = _mm512_setzero_ps();
  if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias));
  if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, res));
  if (e.relu) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v);  // v > 0 ? v : 0
  if (msk) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(k, msk), zero, _CMP_GT_OQ), v);
  if (e.accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, y));
  return v;
}
#endif

// y_r[0..nr) = epilogue(tile[r][0..nr)) for r < mr; rows of y, residual and mask are ldy apart.
void store_tile(const float* tile, int mr, int nr, float* y, size_t ldy, const float* res,
                const float* msk, const Epilogue& e) {
  for (int r = 0; r < mr; ++r) {
    float* yr = y + r * ldy;
    const float* rr = res ? res + r * ldy : nullptr;
    const float* mm = msk ? msk + r * ldy : nullptr;
    int c = 0;
#ifdef BIGSTEP_NHWC_AVX512
    const __mmask16 k = (__mmask16)((1u << nr) - 1u);  // nr <= NR = 16
    _mm512_mask_storeu_ps(yr, k, epi16(_mm512_loadu_ps(tile + r * NR), k, yr, rr, mm, e.bias, e));
    c = nr;
#endif
#ifdef BIGSTEP_NHWC_AVX2
    for (; c + 8 <= nr; c += 8)
      _mm256_storeu_ps(yr + c, epi8(_mm256_loadu_ps(tile + r * NR + c), yr, rr, mm, e.bias, c, e));
#endif
    for (; c < nr; ++c) yr[c] = epi1(tile[r * NR + c], yr, rr, mm, e.bias, c, e);
  }
}

// ---- micro-kernels -------------------------------------------------------------------------

#ifdef BIGSTEP_NHWC_AVX2
#define BIGSTEP_ZERO12                                                                          \
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),     \
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),     \
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),     \
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define BIGSTEP_FMA_ROW(r, src)                          \
  {                                                      \
    const __m256 v_ = _mm256_broadcast_ss(src);          \
    c##r##0 = _mm256_fmadd_ps(v_, b0, c##r##0);          \
    c##r##1 = _mm256_fmadd_ps(v_, b1, c##r##1);          \
  }
#define BIGSTEP_STORE12(t)                                                                     \
  _mm256_storeu_ps(t + 0, c00); _mm256_storeu_ps(t + 8, c01);                                  \
  _mm256_storeu_ps(t + 16, c10); _mm256_storeu_ps(t + 24, c11);                                \
  _mm256_storeu_ps(t + 32, c20); _mm256_storeu_ps(t + 40, c21);                                \
  _mm256_storeu_ps(t + 48, c30); _mm256_storeu_ps(t + 56, c31);                                \
  _mm256_storeu_ps(t + 64, c40); _mm256_storeu_ps(t + 72, c41);                                \
  _mm256_storeu_ps(t + 80, c50); _mm256_storeu_ps(t + 88, c51);
#endif

#ifdef BIGSTEP_NHWC_AVX512
#define BIGSTEP_ZERO6                                                                           \
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(),        \
         c3 = _mm512_setzero_ps(), c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
#define BIGSTEP_FMA16(r, src) c##r = _mm512_fmadd_ps(_mm512_set1_ps(*(src)), b, c##r);
#define BIGSTEP_STORE6(t)                                                                       \
  _mm512_storeu_ps(t + 0, c0); _mm512_storeu_ps(t + 16, c1); _mm512_storeu_ps(t + 32, c2);     \
  _mm512_storeu_ps(t + 48, c3); _mm512_storeu_ps(t + 64, c4); _mm512_storeu_ps(t + 80, c5);
#endif

// tile[r][0..16) = Σ_(kh,kw) Σ_c a_r[kh·rs + kw·C + c] · w[((kh·K + kw)·C + c)·16 + 0..16)
void gather_tile(const float* const* a, int K, long rs, int C, const float* w, float* tile) {
#if defined(BIGSTEP_NHWC_AVX512)
  BIGSTEP_ZERO6
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) {
      const long t = kh * rs + (long)kw * C;
      const float *a0 = a[0] + t, *a1 = a[1] + t, *a2 = a[2] + t, *a3 = a[3] + t, *a4 = a[4] + t,
                  *a5 = a[5] + t;
      const float* wk = w + (size_t)(kh * K + kw) * C * NR;
      for (int c = 0; c < C; ++c) {
        const __m512 b = _mm512_loadu_ps(wk + c * NR);
        BIGSTEP_FMA16(0, a0 + c)
        BIGSTEP_FMA16(1, a1 + c)
        BIGSTEP_FMA16(2, a2 + c)
        BIGSTEP_FMA16(3, a3 + c)
        BIGSTEP_FMA16(4, a4 + c)
        BIGSTEP_FMA16(5, a5 + c)
      }
    }
  BIGSTEP_STORE6(tile)
#elif defined(BIGSTEP_NHWC_AVX2)
  BIGSTEP_ZERO12
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) {
      const long t = kh * rs + (long)kw * C;
      const float *a0 = a[0] + t, *a1 = a[1] + t, *a2 = a[2] + t, *a3 = a[3] + t, *a4 = a[4] + t,
                  *a5 = a[5] + t;
      const float* wk = w + (size_t)(kh * K + kw) * C * NR;
      for (int c = 0; c < C; ++c) {
        const __m256 b0 = _mm256_loadu_ps(wk + c * NR), b1 = _mm256_loadu_ps(wk + c * NR + 8);
        BIGSTEP_FMA_ROW(0, a0 + c)
        BIGSTEP_FMA_ROW(1, a1 + c)
        BIGSTEP_FMA_ROW(2, a2 + c)
        BIGSTEP_FMA_ROW(3, a3 + c)
        BIGSTEP_FMA_ROW(4, a4 + c)
        BIGSTEP_FMA_ROW(5, a5 + c)
      }
    }
  BIGSTEP_STORE12(tile)
#else
  float acc[MR][NR] = {};
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) {
      const long t = kh * rs + (long)kw * C;
      const float* wk = w + (size_t)(kh * K + kw) * C * NR;
      for (int c = 0; c < C; ++c)
        for (int r = 0; r < MR; ++r) {
          const float v = a[r][t + c];
          for (int j = 0; j < NR; ++j) acc[r][j] += v * wk[c * NR + j];
        }
    }
  std::memcpy(tile, acc, sizeof(acc));
#endif
}

// tile[r][0..16) = Σ_o g_r[o] · w[o·16 + 0..16)
void scatter_tile(const float* const* g, int O, const float* w, float* tile) {
#if defined(BIGSTEP_NHWC_AVX512)
  BIGSTEP_ZERO6
  const float *g0 = g[0], *g1 = g[1], *g2 = g[2], *g3 = g[3], *g4 = g[4], *g5 = g[5];
  for (int o = 0; o < O; ++o) {
    const __m512 b = _mm512_loadu_ps(w + o * NR);
    BIGSTEP_FMA16(0, g0 + o)
    BIGSTEP_FMA16(1, g1 + o)
    BIGSTEP_FMA16(2, g2 + o)
    BIGSTEP_FMA16(3, g3 + o)
    BIGSTEP_FMA16(4, g4 + o)
    BIGSTEP_FMA16(5, g5 + o)
  }
  BIGSTEP_STORE6(tile)
#elif defined(BIGSTEP_NHWC_AVX2)
  BIGSTEP_ZERO12
  const float *g0 = g[0], *g1 = g[1], *g2 = g[2], *g3 = g[3], *g4 = g[4], *g5 = g[5];
  for (int o = 0; o < O; ++o) {
    const __m256 b0 = _mm256_loadu_ps(w + o * NR), b1 = _mm256_loadu_ps(w + o * NR + 8);
    BIGSTEP_FMA_ROW(0, g0 + o)
    BIGSTEP_FMA_ROW(1, g1 + o)
    BIGSTEP_FMA_ROW(2, g2 + o)
    BIGSTEP_FMA_ROW(3, g3 + o)
    BIGSTEP_FMA_ROW(4, g4 + o)
    BIGSTEP_FMA_ROW(5, g5 + o)
  }
  BIGSTEP_STORE12(tile)
#else
  float acc[MR][NR] = {};
  for (int o = 0; o < O; ++o)
    for (int r = 0; r < MR; ++r) {
      const float v = g[r][o];
      for (int j = 0; j < NR; ++j) acc[r][j] += v * w[o * NR + j];
    }
  std::memcpy(tile, acc, sizeof(acc));
#endif
}

// tile[r][0..16) += Σ_q xp[base[q] + roff[r]] · d[q·ldd + 0..16)   (tile is read and written)
void dw_tile(const float* xp, const long* base, const int* roff, int Q, const float* d, int ldd,
             float* tile) {
#if defined(BIGSTEP_NHWC_AVX512)
  __m512 c0 = _mm512_loadu_ps(tile + 0), c1 = _mm512_loadu_ps(tile + 16), c2 = _mm512_loadu_ps(tile + 32);
  __m512 c3 = _mm512_loadu_ps(tile + 48), c4 = _mm512_loadu_ps(tile + 64), c5 = _mm512_loadu_ps(tile + 80);
  const long r0 = roff[0], r1 = roff[1], r2 = roff[2], r3 = roff[3], r4 = roff[4], r5 = roff[5];
  for (int q = 0; q < Q; ++q) {
    const float* a = xp + base[q];
    const __m512 b = _mm512_loadu_ps(d + (size_t)q * ldd);
    BIGSTEP_FMA16(0, a + r0)
    BIGSTEP_FMA16(1, a + r1)
    BIGSTEP_FMA16(2, a + r2)
    BIGSTEP_FMA16(3, a + r3)
    BIGSTEP_FMA16(4, a + r4)
    BIGSTEP_FMA16(5, a + r5)
  }
  BIGSTEP_STORE6(tile)
#elif defined(BIGSTEP_NHWC_AVX2)
  __m256 c00 = _mm256_loadu_ps(tile + 0), c01 = _mm256_loadu_ps(tile + 8);
  __m256 c10 = _mm256_loadu_ps(tile + 16), c11 = _mm256_loadu_ps(tile + 24);
  __m256 c20 = _mm256_loadu_ps(tile + 32), c21 = _mm256_loadu_ps(tile + 40);
  __m256 c30 = _mm256_loadu_ps(tile + 48), c31 = _mm256_loadu_ps(tile + 56);
  __m256 c40 = _mm256_loadu_ps(tile + 64), c41 = _mm256_loadu_ps(tile + 72);
  __m256 c50 = _mm256_loadu_ps(tile + 80), c51 = _mm256_loadu_ps(tile + 88);
  const long r0 = roff[0], r1 = roff[1], r2 = roff[2], r3 = roff[3], r4 = roff[4], r5 = roff[5];
  for (int q = 0; q < Q; ++q) {
    const float* a = xp + base[q];
    const float* dq = d + (size_t)q * ldd;
    const __m256 b0 = _mm256_loadu_ps(dq), b1 = _mm256_loadu_ps(dq + 8);
    BIGSTEP_FMA_ROW(0, a + r0)
    BIGSTEP_FMA_ROW(1, a + r1)
    BIGSTEP_FMA_ROW(2, a + r2)
    BIGSTEP_FMA_ROW(3, a + r3)
    BIGSTEP_FMA_ROW(4, a + r4)
    BIGSTEP_FMA_ROW(5, a + r5)
  }
  BIGSTEP_STORE12(tile)
#else
  for (int q = 0; q < Q; ++q) {
    const float* a = xp + base[q];
    const float* dq = d + (size_t)q * ldd;
    for (int r = 0; r < MR; ++r) {
      const float v = a[roff[r]];
      for (int j = 0; j < NR; ++j) tile[r * NR + j] += v * dq[j];
    }
  }
#endif
}

// ---- weight packing -------------------------------------------------------------------------

// wp[o-block][kh][kw][c][16] = W[o, c, kh, kw] (zero columns past O).
void pack_forward(float* wp, const float* W, const ConvShape& s) {
  const int KK = s.K * s.K;
  for (int o0 = 0; o0 < s.O; o0 += NR) {
    float* blk = wp + (size_t)o0 * KK * s.C;
    for (int kk = 0; kk < KK; ++kk)
      for (int c = 0; c < s.C; ++c) {
        float* row = blk + ((size_t)kk * s.C + c) * NR;
        for (int j = 0; j < NR; ++j) {
          const int o = o0 + j;
          row[j] = o < s.O ? W[((size_t)o * s.C + c) * KK + kk] : 0.0f;
        }
      }
  }
}

// wb[c-block][kh][kw][o][16] = W[o, c, kh', kw'], (kh', kw') = flipped ? (K−1−kh, K−1−kw) : (kh, kw).
void pack_backward(float* wb, const float* W, const ConvShape& s, bool flipped) {
  const int KK = s.K * s.K;
  for (int c0 = 0; c0 < s.C; c0 += NR) {
    float* blk = wb + (size_t)c0 * KK * s.O;
    for (int kh = 0; kh < s.K; ++kh)
      for (int kw = 0; kw < s.K; ++kw) {
        const int kk = kh * s.K + kw;
        const int src = flipped ? (s.K - 1 - kh) * s.K + (s.K - 1 - kw) : kk;
        for (int o = 0; o < s.O; ++o) {
          float* row = blk + ((size_t)kk * s.O + o) * NR;
          for (int j = 0; j < NR; ++j) {
            const int c = c0 + j;
            row[j] = c < s.C ? W[((size_t)o * s.C + c) * KK + src] : 0.0f;
          }
        }
      }
  }
}

// ---- geometry of one call -----------------------------------------------------------------------

// Forward / dW: groups over the input grid.
struct FwdGeo {
  int g, groups;
  size_t pad;  // floats of one padded group (0 when P == 0: the input is read in place)
  FwdGeo(int N, const ConvShape& s, bool dw = false) {
    g = dw ? group_images(N, s.H, s.W, s.C, s.P, (int)s.ohw(), 512, (size_t)96 << 10)
           : group_images(N, s.H, s.W, s.C, s.P, (int)s.ohw());
    groups = (N + g - 1) / g;
    pad = s.P == 0 ? 0 : (size_t)g * (s.H + 2 * s.P) * (s.W + 2 * s.P) * s.C;
  }
};

// din: stride 1 gathers from dout padded by K−1−P (groups over the dout grid); stride > 1
// scatters into a padded din buffer (groups as forward).
struct DinGeo {
  bool gather;
  int Pp, g, groups;
  size_t pad;
  DinGeo(int N, const ConvShape& s) {
    gather = s.S == 1;
    if (gather) {
      Pp = s.K - 1 - s.P;
      g = group_images(N, s.OH, s.OW, s.O, Pp, s.H * s.W);
      pad = Pp == 0 ? 0 : (size_t)g * (s.OH + 2 * Pp) * (s.OW + 2 * Pp) * s.O;
    } else {
      Pp = 0;
      g = group_images(N, s.H, s.W, s.C, s.P, (int)s.ohw());
      pad = (size_t)g * (s.H + 2 * s.P) * (s.W + 2 * s.P) * s.C;
    }
    groups = (N + g - 1) / g;
  }
};

size_t packed_forward_size(const ConvShape& s) { return (size_t)s.K * s.K * s.C * round_up(s.O, NR); }
size_t packed_backward_size(const ConvShape& s) { return (size_t)s.K * s.K * s.O * round_up(s.C, NR); }
int dw_rows(const ConvShape& s) { return s.K * s.K * s.C; }
int dw_ktiles(const ConvShape& s) { return (dw_rows(s) + MR - 1) / MR; }
size_t dwt_size(const ConvShape& s) { return (size_t)((s.O + NR - 1) / NR) * dw_ktiles(s) * MR * NR; }
size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// ---- forward ------------------------------------------------------------------------------------

struct FwdCall {
  const float* in;
  float* out;
  const float* wp;
  const float* bias;
  const float* residual;
  bool relu;
  int N;
  ConvShape s;
  FwdGeo geo;
  float* pads;  // parts × geo.pad
};

void forward_groups(const FwdCall& c, int gb, int ge, float* pad) {
  const ConvShape& s = c.s;
  const int Hq = s.H + 2 * s.P, Wq = s.W + 2 * s.P;
  const long rs = (long)Wq * s.C;
  long base[QCHUNK];
  alignas(64) float tile[MR * NR];
  for (int gi = gb; gi < ge; ++gi) {
    const int n0 = gi * c.geo.g, gn = std::min(c.geo.g, c.N - n0);
    const float* xp = c.in + (size_t)n0 * s.in_size();
    if (s.P > 0) {
      pad_group(pad, xp, gn, s.H, s.W, s.C, s.P);
      xp = pad;
    }
    const int Q = gn * (int)s.ohw();
    float* y = c.out + (size_t)n0 * s.out_size();
    const float* res = c.residual ? c.residual + (size_t)n0 * s.out_size() : nullptr;
    for (int qc = 0; qc < Q; qc += QCHUNK) {
      const int qn = std::min(QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.OH, s.OW, Hq, Wq, s.C, s.S);
      for (int o0 = 0; o0 < s.O; o0 += NR) {
        const int nr = std::min(NR, s.O - o0);
        Epilogue e;
        e.bias = c.bias ? c.bias + o0 : nullptr;
        e.relu = c.relu;
        const float* w = c.wp + (size_t)o0 * s.K * s.K * s.C;
        for (int t = 0; t < qn; t += MR) {
          const int mr = std::min(MR, qn - t);
          const float* a[MR];
          for (int r = 0; r < MR; ++r) a[r] = xp + base[t + std::min(r, mr - 1)];
          gather_tile(a, s.K, rs, s.C, w, tile);
          const size_t at = (size_t)(qc + t) * s.O + o0;
          store_tile(tile, mr, nr, y + at, s.O, res ? res + at : nullptr, nullptr, e);
        }
      }
    }
  }
}

// ---- backward -----------------------------------------------------------------------------------

struct BwdCall {
  const float* dout;
  const float* in;
  float* din;
  const float* wb;
  float* dwt;
  const float* mask;
  bool accumulate;
  int N;
  ConvShape s;
  FwdGeo fgeo;  // dW groups
  DinGeo dgeo;
  const int* roff;  // [ktiles][6] offsets of each dW tile row (kk, c) in a padded pixel patch
  float* pads;      // parts × max(fgeo.pad, dgeo.pad)
};

// dW tiles [t0, t1) (in (o-block, k-tile) order), summed over every image in order.
void dw_part(const BwdCall& c, int t0, int t1, float* pad) {
  const ConvShape& s = c.s;
  const int ktiles = dw_ktiles(s);
  const int Hq = s.H + 2 * s.P, Wq = s.W + 2 * s.P;
  long base[DW_QCHUNK];
  const int oblocks = (s.O + NR - 1) / NR;
  float* strips = pad + c.fgeo.pad;  // [o-block][DW_QCHUNK][16]: the chunk's dout, packed
  for (int gi = 0; gi < c.fgeo.groups; ++gi) {
    const int n0 = gi * c.fgeo.g, gn = std::min(c.fgeo.g, c.N - n0);
    const float* xp = c.in + (size_t)n0 * s.in_size();
    if (s.P > 0) {
      pad_group(pad, xp, gn, s.H, s.W, s.C, s.P);
      xp = pad;
    }
    const int Q = gn * (int)s.ohw();
    const float* gd = c.dout + (size_t)n0 * s.out_size();
    for (int qc = 0; qc < Q; qc += DW_QCHUNK) {
      const int qn = std::min(DW_QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.OH, s.OW, Hq, Wq, s.C, s.S);
      // Pack the o-blocks this part touches: contiguous 64-byte rows, zero columns past O.
      const int ob0 = t0 / ktiles, ob1 = std::min(oblocks, (t1 + ktiles - 1) / ktiles);
      for (int q = 0; q < qn; ++q) {
        const float* dq = gd + (size_t)(qc + q) * s.O;
        for (int ob = ob0; ob < ob1; ++ob) {
          float* st = strips + ((size_t)ob * DW_QCHUNK + q) * NR;
          const int o0 = ob * NR, nr = std::min(NR, s.O - o0);
          std::memcpy(st, dq + o0, sizeof(float) * nr);
          for (int j = nr; j < NR; ++j) st[j] = 0.0f;
        }
      }
      for (int t = t0; t < t1; ++t) {
        const int ob = t / ktiles, kt = t % ktiles;
        dw_tile(xp, base, c.roff + (size_t)kt * MR, qn, strips + (size_t)ob * DW_QCHUNK * NR, NR,
                c.dwt + ((size_t)ob * ktiles + kt) * MR * NR);
      }
    }
  }
}

void din_gather_groups(const BwdCall& c, int gb, int ge, float* pad) {
  const ConvShape& s = c.s;
  const int Pp = c.dgeo.Pp;
  const int Hq = s.OH + 2 * Pp, Wq = s.OW + 2 * Pp;
  const long rs = (long)Wq * s.O;
  long base[QCHUNK];
  alignas(64) float tile[MR * NR];
  Epilogue e;
  e.accumulate = c.accumulate;
  for (int gi = gb; gi < ge; ++gi) {
    const int n0 = gi * c.dgeo.g, gn = std::min(c.dgeo.g, c.N - n0);
    const float* gp = c.dout + (size_t)n0 * s.out_size();
    if (Pp > 0) {
      pad_group(pad, gp, gn, s.OH, s.OW, s.O, Pp);
      gp = pad;
    }
    const int Q = gn * s.H * s.W;
    float* y = c.din + (size_t)n0 * s.in_size();
    const float* m = c.mask ? c.mask + (size_t)n0 * s.in_size() : nullptr;
    for (int qc = 0; qc < Q; qc += QCHUNK) {
      const int qn = std::min(QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.H, s.W, Hq, Wq, s.O, 1);
      for (int c0 = 0; c0 < s.C; c0 += NR) {
        const int nr = std::min(NR, s.C - c0);
        const float* w = c.wb + (size_t)c0 * s.K * s.K * s.O;
        for (int t = 0; t < qn; t += MR) {
          const int mr = std::min(MR, qn - t);
          const float* a[MR];
          for (int r = 0; r < MR; ++r) a[r] = gp + base[t + std::min(r, mr - 1)];
          gather_tile(a, s.K, rs, s.O, w, tile);
          const size_t at = (size_t)(qc + t) * s.C + c0;
          store_tile(tile, mr, nr, y + at, s.C, nullptr, m ? m + at : nullptr, e);
        }
      }
    }
  }
}

void din_scatter_groups(const BwdCall& c, int gb, int ge, float* pad) {
  const ConvShape& s = c.s;
  const int Hp = s.H + 2 * s.P, Wp = s.W + 2 * s.P;
  const size_t per_img = (size_t)Hp * Wp * s.C;
  long base[QCHUNK];
  alignas(64) float tile[MR * NR];
  for (int gi = gb; gi < ge; ++gi) {
    const int n0 = gi * c.dgeo.g, gn = std::min(c.dgeo.g, c.N - n0);
    std::memset(pad, 0, sizeof(float) * per_img * gn);
    const int Q = gn * (int)s.ohw();
    const float* gd = c.dout + (size_t)n0 * s.out_size();
    for (int qc = 0; qc < Q; qc += QCHUNK) {
      const int qn = std::min(QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.OH, s.OW, Hp, Wp, s.C, s.S);
      for (int c0 = 0; c0 < s.C; c0 += NR) {
        const int nr = std::min(NR, s.C - c0);
        const float* wblk = c.wb + (size_t)c0 * s.K * s.K * s.O;
        for (int t = 0; t < qn; t += MR) {
          const int mr = std::min(MR, qn - t);
          const float* gr[MR];
          for (int r = 0; r < MR; ++r) gr[r] = gd + (size_t)(qc + t + std::min(r, mr - 1)) * s.O;
          for (int kh = 0; kh < s.K; ++kh)
            for (int kw = 0; kw < s.K; ++kw) {
              scatter_tile(gr, s.O, wblk + (size_t)(kh * s.K + kw) * s.O * NR, tile);
              const long off = ((long)kh * Wp + kw) * s.C + c0;
              for (int r = 0; r < mr; ++r) {
                float* d = pad + base[t + r] + off;
                const float* tr = tile + r * NR;
                for (int j = 0; j < nr; ++j) d[j] += tr[j];
              }
            }
        }
      }
    }
    // Interior -> din (relu mask, accumulate).
    float* y = c.din + (size_t)n0 * s.in_size();
    const float* m = c.mask ? c.mask + (size_t)n0 * s.in_size() : nullptr;
    const size_t row = (size_t)s.W * s.C;
    for (int j = 0; j < gn; ++j)
      for (int h = 0; h < s.H; ++h) {
        const float* src = pad + (size_t)j * per_img + ((size_t)(h + s.P) * Wp + s.P) * s.C;
        const size_t at = ((size_t)j * s.H + h) * row;
        float* dst = y + at;
        const float* mm = m ? m + at : nullptr;
        for (size_t i = 0; i < row; ++i) {
          float v = src[i];
          if (mm && !(mm[i] > 0.0f)) v = 0.0f;
          dst[i] = c.accumulate ? dst[i] + v : v;
        }
      }
  }
}

}  // namespace

// ---- public entry points ---------------------------------------------------------------------

size_t conv2d_nhwc_forward_scratch(int N, const ConvShape& s) {
  const FwdGeo geo(N, s);
  return align16(packed_forward_size(s)) + (size_t)parts_for(geo.groups) * align16(geo.pad) + 16;
}

void conv2d_nhwc_forward(float* out, const float* in, const float* W, const float* b, int N,
                         const ConvShape& s, bool relu, float* scratch, const float* residual) {
  if (N <= 0) return;
  pack_forward(scratch, W, s);
  const FwdGeo geo(N, s);
  FwdCall c{in, out, scratch, b, residual, relu, N, s, geo, scratch + align16(packed_forward_size(s))};
  const int parts = parts_for(geo.groups);
  parallel_for(parts, [&](int p) {
    forward_groups(c, (int)((int64_t)geo.groups * p / parts), (int)((int64_t)geo.groups * (p + 1) / parts),
                   c.pads + (size_t)p * align16(geo.pad));
  });
}

// Per-part buffer of the backward pass: dW needs its padded group + the packed dout chunk, din
// its padded group.
static size_t bwd_part_floats(const ConvShape& s, const FwdGeo& fgeo, const DinGeo& dgeo) {
  return align16(std::max(fgeo.pad + (size_t)DW_QCHUNK * round_up(s.O, NR), dgeo.pad));
}

size_t conv2d_nhwc_backward_scratch(int N, const ConvShape& s) {
  const FwdGeo fgeo(N, s, /*dw=*/true);
  const DinGeo dgeo(N, s);
  const int parts = std::max(compute_threads(), parts_for(dgeo.groups));
  return align16(packed_backward_size(s)) + align16(dwt_size(s)) + align16((size_t)dw_ktiles(s) * MR) +
         (size_t)parts * bwd_part_floats(s, fgeo, dgeo) + 16;
}

void conv2d_nhwc_backward(float* din, float* dW, float* db, const float* dout, const float* in,
                          const float* W, int N, const ConvShape& s, bool accumulate_din,
                          float* scratch, const float* din_mask) {
  const int KK = s.K * s.K, rows = dw_rows(s), ktiles = dw_ktiles(s);
  if (db) column_sums(db, dout, (size_t)N * s.ohw(), s.O);
  const FwdGeo fgeo(N, s, /*dw=*/true);
  const DinGeo dgeo(N, s);
  float* wb = scratch;
  float* dwt = wb + align16(packed_backward_size(s));
  int* roff = reinterpret_cast<int*>(dwt + align16(dwt_size(s)));
  float* pads = dwt + align16(dwt_size(s)) + align16((size_t)ktiles * MR);
  const size_t pad_stride = bwd_part_floats(s, fgeo, dgeo);
  static_assert(sizeof(int) == sizeof(float), "row offsets share the float scratch");
  {
    const int Wq = s.W + 2 * s.P;
    int kk = 0, ch = 0;
    for (int k = 0; k < ktiles * MR; ++k) {
      roff[k] = ((kk / s.K) * Wq + kk % s.K) * s.C + ch;  // rows past the end repeat the last
      if (k + 1 < rows && ++ch == s.C) ch = 0, ++kk;
    }
  }
  BwdCall c{dout, in, din, wb, dwt, din_mask, accumulate_din, N, s, fgeo, dgeo, roff, pads};

  // dW: tiles split over the workers; each tile sums over all pixels in image order. Skipped when
  // dW is null (the R-operator's din-only call, native/hvp.cpp).
  if (dW) {
    std::memset(dwt, 0, sizeof(float) * dwt_size(s));
    if (N > 0) {
      const int tiles = ((s.O + NR - 1) / NR) * ktiles;
      const int parts = std::max(1, std::min(tiles, compute_threads()));
      parallel_for(parts, [&](int p) {
        dw_part(c, (int)((int64_t)tiles * p / parts), (int)((int64_t)tiles * (p + 1) / parts),
                pads + (size_t)p * pad_stride);
      });
    }
    for (int o = 0; o < s.O; ++o) {
      const float* blk = dwt + (size_t)(o / NR) * ktiles * MR * NR + o % NR;
      for (int k = 0; k < rows; ++k) dW[((size_t)o * s.C + k % s.C) * KK + k / s.C] = blk[(size_t)k * NR];
    }
  }
  if (!din || N <= 0) return;
  pack_backward(wb, W, s, /*flipped=*/dgeo.gather);
  const int parts = parts_for(dgeo.groups);
  parallel_for(parts, [&](int p) {
    const int gb = (int)((int64_t)dgeo.groups * p / parts), ge = (int)((int64_t)dgeo.groups * (p + 1) / parts);
    float* pad = pads + (size_t)p * pad_stride;
    if (dgeo.gather) {
      din_gather_groups(c, gb, ge, pad);
    } else {
      din_scatter_groups(c, gb, ge, pad);
    }
  });
}

// ---- layout transposes, pools (split over images: per-image results do not depend on the split) ----

namespace {
// f(n0, n1) over image ranges of >= ~128K floats each.
template <class F>
void per_images(int N, size_t floats_per_image, F&& f) {
  const size_t grain = std::max<size_t>(1, ((size_t)1 << 17) / std::max<size_t>(1, floats_per_image));
  parallel_range((size_t)std::max(N, 0), grain, [&](size_t n0, size_t n1) { f((int)n0, (int)n1); });
}
}  // namespace

static void nchw_to_nhwc_images(float* dst, const float* src, int N, int C, int HW, int n0, int n1) {
  constexpr int B = 16;
  for (int n = n0; n < n1; ++n) {
    const float* s = src + (size_t)n * C * HW;
    float* d = dst + (size_t)n * C * HW;
    for (int p0 = 0; p0 < HW; p0 += B)
      for (int c0 = 0; c0 < C; c0 += B) {
        const int pe = std::min(HW, p0 + B), ce = std::min(C, c0 + B);
        for (int p = p0; p < pe; ++p)
          for (int c = c0; c < ce; ++c) d[(size_t)p * C + c] = s[(size_t)c * HW + p];
      }
  }
}

void nchw_to_nhwc(float* dst, const float* src, int N, int C, int HW) {
  per_images(N, (size_t)C * HW, [=](int n0, int n1) { nchw_to_nhwc_images(dst, src, N, C, HW, n0, n1); });
}

static void nhwc_to_nchw_images(float* dst, const float* src, int N, int C, int HW, int n0, int n1) {
  constexpr int B = 16;
  for (int n = n0; n < n1; ++n) {
    const float* s = src + (size_t)n * C * HW;
    float* d = dst + (size_t)n * C * HW;
    for (int c0 = 0; c0 < C; c0 += B)
      for (int p0 = 0; p0 < HW; p0 += B) {
        const int pe = std::min(HW, p0 + B), ce = std::min(C, c0 + B);
        for (int c = c0; c < ce; ++c)
          for (int p = p0; p < pe; ++p) d[(size_t)c * HW + p] = s[(size_t)p * C + c];
      }
  }
}

void nhwc_to_nchw(float* dst, const float* src, int N, int C, int HW) {
  per_images(N, (size_t)C * HW, [=](int n0, int n1) { nhwc_to_nchw_images(dst, src, N, C, HW, n0, n1); });
}

// ---- pooling ----------------------------------------------------------------------------------------
// Vectorised over channels; the per-element semantics are the NCHW kernels': forward
// m = w0, then m = v if (v > m || v != v) over the window in (kh, kw) order; backward routes
// dout to the first strict maximum.

static void maxpool_nhwc_forward_images(float* out, const float* in, int N, int C, int H, int W, int K,
                                        int S, int n0, int n1) {
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
#ifdef BIGSTEP_NHWC_AVX2
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
  per_images(N, (size_t)H * W * C,
             [=](int n0, int n1) { maxpool_nhwc_forward_images(out, in, N, C, H, W, K, S, n0, n1); });
}

namespace {
// One window of a max pool backward, channels [c, C): dout goes to the first strict maximum.
// store: the window's din elements are written (windows do not overlap and din was not
// cleared); otherwise they are accumulated into a cleared din.
inline void maxpool_window_backward(float* d0, const float* x0, const float* g, int C, int W, int K,
                                    bool store) {
  int c = 0;
#ifdef BIGSTEP_NHWC_AVX2
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

static void maxpool_nhwc_backward_images(float* din, const float* dout, const float* in, int N, int C,
                                         int H, int W, int K, int S, int n0, int n1) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  // Windows that tile the input (S == K) are written directly; only the rows / columns past the
  // last window are cleared. Overlapping or gapped windows accumulate into a cleared din.
  const bool tiles = S == K;
  if (!tiles) std::memset(din + (size_t)n0 * H * W * C, 0, sizeof(float) * (size_t)(n1 - n0) * H * W * C);
  for (int n = n0; n < n1; ++n) {
    for (int oh = 0; oh < OH; ++oh) {
      for (int ow = 0; ow < OW; ++ow) {
        const size_t corner = (((size_t)n * H + (size_t)oh * S) * W + (size_t)ow * S) * C;
        maxpool_window_backward(din + corner, in + corner, dout + (((size_t)n * OH + oh) * OW + ow) * C, C,
                                W, K, tiles);
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

void maxpool_nhwc_backward(float* din, const float* dout, const float* in, int N, int C, int H,
                           int W, int K, int S) {
  per_images(N, (size_t)H * W * C, [=](int n0, int n1) {
    maxpool_nhwc_backward_images(din, dout, in, N, C, H, W, K, S, n0, n1);
  });
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

// ---- batch norm ---------------------------------------------------------------------------------
// Same statistics and per-element arithmetic as the NCHW kernels; x is [M = N·HW rows, C].

void batchnorm_nhwc_forward_train(float* y, const float* x, const float* gamma, const float* beta,
                                  int N, int C, int HW, float* running_mean, float* running_var,
                                  float* save_mean, float* save_invstd) {
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

void batchnorm_nhwc_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                 int N, int C, int HW, const float* running_mean,
                                 const float* running_var, float* save_mean, float* save_invstd) {
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

void batchnorm_nhwc_backward(float* dx, float* dgamma, float* dbeta, const float* dy,
                             const float* x, const float* gamma, const float* save_mean,
                             const float* save_invstd, int N, int C, int HW, bool batch_stats) {
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
