// The pieces of conv_nhwc.cpp's implicit-GEMM convolution (see the top of that file): tile sizes,
// image groups, padding, pixel bases, the epilogue, the micro-kernels (6 x 16; dW 16 x 16 on
// avx512) and weight packing. Included only by conv_nhwc.cpp, after isa_target.h, so it is
// compiled once per ISA path; split out to keep each file to one job (the drivers there, the
// register-level code here).
#pragma once
#ifndef BIGSTEP_ISA_NS
#error "conv_nhwc_tiles.h must be included after isa_target.h (by conv_nhwc.cpp)"
#endif

namespace bigstep {
namespace BIGSTEP_ISA_NS {
namespace {

// Tile rows: pixels per forward / din micro-tile (MR) and (kk, c) rows per dW micro-tile (MRW).
// Each row is one accumulator of NR floats. AVX2 has 16 registers: 6 rows × 2 halves + 2 weight
// halves + 1 broadcast fill them. AVX-512 has 32, and CPUs with two 512-bit FMA ports and a
// 4-cycle FMA latency need >= 8 independent chains to keep both ports busy. dW takes 16 rows there
// (with C % 16 == 0 a tile's rows are 16 consecutive channels of one tap, read through one
// pointer): 1.1-1.3x faster per layer (docs/performance.md). Forward / din keep 6 pixel rows: 12
// (12 patch pointers, more than the free general registers) measured no faster. Tile shape does
// not change the order in which any one output element is summed, so avx2 and avx512 still give
// the same bits.
constexpr int MR = 6;
#if defined(BIGSTEP_SIMD_AVX512)
constexpr int MRW = 16;
#else
constexpr int MRW = 6;
#endif
constexpr int NR = 16;       // output channels (forward, dW) or input channels (din) per tile
constexpr int QCHUNK = 252;  // pixels whose bases are computed at once (a multiple of MR)
static_assert(QCHUNK % MR == 0, "QCHUNK holds whole tiles");
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
  const float* bias = nullptr;  // [nr] or null
  bool relu = false;
  const float* residual = nullptr;  // added before relu; same layout as y
  const float* mask = nullptr;      // y is zeroed where mask <= 0; same layout as y
  bool accumulate = false;          // y += result
};

inline float epi1(float v, const float* y, const float* res, const float* msk, const float* bias, int off,
                  const Epilogue& e) {
  if (bias) v += bias[off];
  if (res) v += res[off];
  if (e.relu) v = v > 0.0f ? v : 0.0f;
  if (msk && !(msk[off] > 0.0f)) v = 0.0f;
  if (e.accumulate) v += y[off];
  return v;
}

#ifdef BIGSTEP_SIMD_AVX2
inline __m256 epi8(__m256 v, const float* y, const float* res, const float* msk, const float* bias, int off,
                   const Epilogue& e) {
  if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + off));
  if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res + off));
  if (e.relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
  if (msk) v = _mm256_and_ps(v, _mm256_cmp_ps(_mm256_loadu_ps(msk + off), _mm256_setzero_ps(), _CMP_GT_OQ));
  if (e.accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(y + off));
  return v;
}
#endif

#ifdef BIGSTEP_SIMD_AVX512
// Lanes outside k are neither read nor written (masked loads give 0 there).
inline __m512 epi16(__m512 v, __mmask16 k, const float* y, const float* res, const float* msk, const float* bias,
                    const Epilogue& e) {
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
void store_tile(const float* tile, int mr, int nr, float* y, size_t ldy, const float* res, const float* msk,
                const Epilogue& e) {
  for (int r = 0; r < mr; ++r) {
    float* yr = y + r * ldy;
    const float* rr = res ? res + r * ldy : nullptr;
    const float* mm = msk ? msk + r * ldy : nullptr;
    int c = 0;
#ifdef BIGSTEP_SIMD_AVX512
    const __mmask16 k = (__mmask16)((1u << nr) - 1u);  // nr <= NR = 16
    _mm512_mask_storeu_ps(yr, k, epi16(_mm512_loadu_ps(tile + r * NR), k, yr, rr, mm, e.bias, e));
    c = nr;
#endif
#ifdef BIGSTEP_SIMD_AVX2
    for (; c + 8 <= nr; c += 8)
      _mm256_storeu_ps(yr + c, epi8(_mm256_loadu_ps(tile + r * NR + c), yr, rr, mm, e.bias, c, e));
#endif
    for (; c < nr; ++c) yr[c] = epi1(tile[r * NR + c], yr, rr, mm, e.bias, c, e);
  }
}

// ---- micro-kernels -------------------------------------------------------------------------

#ifdef BIGSTEP_SIMD_AVX2
#define BIGSTEP_ZERO12                                                                                               \
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), \
         c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), \
         c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define BIGSTEP_FMA_ROW(r, src)                 \
  {                                             \
    const __m256 v_ = _mm256_broadcast_ss(src); \
    c##r##0 = _mm256_fmadd_ps(v_, b0, c##r##0); \
    c##r##1 = _mm256_fmadd_ps(v_, b1, c##r##1); \
  }
#define BIGSTEP_STORE12(t)       \
  _mm256_storeu_ps(t + 0, c00);  \
  _mm256_storeu_ps(t + 8, c01);  \
  _mm256_storeu_ps(t + 16, c10); \
  _mm256_storeu_ps(t + 24, c11); \
  _mm256_storeu_ps(t + 32, c20); \
  _mm256_storeu_ps(t + 40, c21); \
  _mm256_storeu_ps(t + 48, c30); \
  _mm256_storeu_ps(t + 56, c31); \
  _mm256_storeu_ps(t + 64, c40); \
  _mm256_storeu_ps(t + 72, c41); \
  _mm256_storeu_ps(t + 80, c50); \
  _mm256_storeu_ps(t + 88, c51);
#endif

// tile[r][0..16) = Σ_(kh,kw) Σ_c a_r[kh·rs + kw·C + c] · w[((kh·K + kw)·C + c)·16 + 0..16)
void gather_tile(const float* const* a, int K, long rs, int C, const float* w, float* tile) {
#if defined(BIGSTEP_SIMD_AVX512)
  __m512 acc[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) {
      const long t = kh * rs + (long)kw * C;
      const float* ar[MR];
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) ar[r] = a[r] + t;
      const float* wk = w + (size_t)(kh * K + kw) * C * NR;
      for (int c = 0; c < C; ++c) {
        const __m512 b = _mm512_loadu_ps(wk + c * NR);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ar[r][c]), b, acc[r]);
      }
    }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) _mm512_storeu_ps(tile + r * NR, acc[r]);
#elif defined(BIGSTEP_SIMD_AVX2)
  BIGSTEP_ZERO12
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) {
      const long t = kh * rs + (long)kw * C;
      const float *a0 = a[0] + t, *a1 = a[1] + t, *a2 = a[2] + t, *a3 = a[3] + t, *a4 = a[4] + t, *a5 = a[5] + t;
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
#if defined(BIGSTEP_SIMD_AVX512)
  __m512 acc[MR];
  const float* gr[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps(), gr[r] = g[r];
  for (int o = 0; o < O; ++o) {
    const __m512 b = _mm512_loadu_ps(w + o * NR);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(gr[r][o]), b, acc[r]);
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) _mm512_storeu_ps(tile + r * NR, acc[r]);
#elif defined(BIGSTEP_SIMD_AVX2)
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
void dw_tile(const float* xp, const long* base, const int* roff, int Q, const float* d, int ldd, float* tile) {
#if defined(BIGSTEP_SIMD_AVX512)
  __m512 acc[MRW];
  bool contiguous = true;  // the rows are 16 consecutive channels of one tap (C % 16 == 0)
#pragma GCC unroll 16
  for (int r = 0; r < MRW; ++r) acc[r] = _mm512_loadu_ps(tile + r * NR), contiguous &= roff[r] == roff[0] + r;
  if (contiguous) {
    const long r0 = roff[0];
    for (int q = 0; q < Q; ++q) {
      const float* a = xp + base[q] + r0;
      const __m512 b = _mm512_loadu_ps(d + (size_t)q * ldd);
#pragma GCC unroll 16
      for (int r = 0; r < MRW; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b, acc[r]);
    }
  } else {
    long ro[MRW];
    for (int r = 0; r < MRW; ++r) ro[r] = roff[r];
    for (int q = 0; q < Q; ++q) {
      const float* a = xp + base[q];
      const __m512 b = _mm512_loadu_ps(d + (size_t)q * ldd);
#pragma GCC unroll 16
      for (int r = 0; r < MRW; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[ro[r]]), b, acc[r]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MRW; ++r) _mm512_storeu_ps(tile + r * NR, acc[r]);
#elif defined(BIGSTEP_SIMD_AVX2)
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
    for (int r = 0; r < MRW; ++r) {
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

}  // namespace
}  // namespace BIGSTEP_ISA_NS
}  // namespace bigstep
