// GEMM: OpenBLAS (row-major CBLAS) when available, else a portable cache-blocked kernel in the
// BLIS/GotoBLAS style (pack A into MR-row panels, pack B into NR-column panels, 6x16 micro-kernel
// that keeps the C tile in 12 AVX registers, or 6 AVX-512 ones). alpha is folded into packed A; beta is applied to C
// once up front, after which every K block accumulates into C.
#include "gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "isa.h"
#include "threads.h"

#ifdef BIGSTEP_ISA_X86
#include <immintrin.h>
#endif

#ifdef BIGSTEP_HAVE_OPENBLAS
#include <cblas.h>  // from the openblas pkg-config include dir: also declares openblas_* helpers
#endif

namespace bigstep {

namespace {

constexpr int MR = 6;
constexpr int NR = 16;
constexpr int KC = 256;   // packed A panel MRxKC = 6 KB, B panel KCxNR = 16 KB: both stay in L1
constexpr int MC = 144;   // A block MCxKC = 144 KB: stays in L2
constexpr int NC = 3072;  // B block KCxNC = 3 MB: L3

// C := beta * C for an MxN block (beta == 0 writes zeros so NaN/Inf in C never leak through,
// matching BLAS semantics).
void scale_c(int M, int N, float beta, float* C, int ldc) {
  if (beta == 1.0f) return;
  for (int i = 0; i < M; ++i) {
    float* c = C + (size_t)i * ldc;
    if (beta == 0.0f) {
      std::memset(c, 0, sizeof(float) * (size_t)N);
    } else {
      for (int j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

// Packs op(A)[i0:i0+mc, k0:k0+kc] into MR-row micro-panels: dst[p][k][r], zero padded.
void pack_a(bool trans_a, const float* A, int lda, int i0, int k0, int mc, int kc, float* dst) {
  for (int ir = 0; ir < mc; ir += MR) {
    const int mr = std::min(MR, mc - ir);
    float* d = dst + (size_t)ir * kc;
    if (!trans_a) {
      for (int r = 0; r < mr; ++r) {
        const float* a = A + (size_t)(i0 + ir + r) * lda + k0;
        for (int k = 0; k < kc; ++k) d[k * MR + r] = a[k];
      }
      for (int r = mr; r < MR; ++r)
        for (int k = 0; k < kc; ++k) d[k * MR + r] = 0.0f;
    } else {
      for (int k = 0; k < kc; ++k) {
        const float* a = A + (size_t)(k0 + k) * lda + i0 + ir;
        int r = 0;
        for (; r < mr; ++r) d[k * MR + r] = a[r];
        for (; r < MR; ++r) d[k * MR + r] = 0.0f;
      }
    }
  }
}

// Packs op(B)[k0:k0+kc, j0:j0+nc] into NR-column micro-panels: dst[p][k][c], zero padded.
void pack_b(bool trans_b, const float* B, int ldb, int k0, int j0, int kc, int nc, float* dst) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int nr = std::min(NR, nc - jr);
    float* d = dst + (size_t)jr * kc;
    if (!trans_b) {
      for (int k = 0; k < kc; ++k) {
        const float* b = B + (size_t)(k0 + k) * ldb + j0 + jr;
        int c = 0;
        for (; c < nr; ++c) d[k * NR + c] = b[c];
        for (; c < NR; ++c) d[k * NR + c] = 0.0f;
      }
    } else {
      for (int c = 0; c < nr; ++c) {
        const float* b = B + (size_t)(j0 + jr + c) * ldb + k0;
        for (int k = 0; k < kc; ++k) d[k * NR + c] = b[k];
      }
      for (int c = nr; c < NR; ++c)
        for (int k = 0; k < kc; ++k) d[k * NR + c] = 0.0f;
    }
  }
}

// C[MR,NR] += alpha · (a[kc][MR] · b[kc][NR]) for a full tile (ldc = row stride of C). alpha is
// applied at the store, C = fma(alpha, acc, C) like OpenBLAS's kernels, so accumulating into θ with
// alpha = -lr (the fused SGD update) equals storing the gradient and then θ += -lr·g, bit for bit,
// within one K block.
//
// One version per ISA path (isa.h), compiled with GCC target attributes and picked once per call
// by tile_kernel(). avx2 and avx512 share the 6×16 tile and each element's summation order (avx512
// holds a row in one 16-float register), so they give identical bits; baseline has no FMA.
#ifdef BIGSTEP_ISA_X86
__attribute__((target("avx2,fma"))) inline void micro_kernel_avx2(int kc, float alpha, const float* a, const float* b,
                                                                  float* C, int ldc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 av;
    av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a += MR;
    b += NR;
  }
  const __m256 al = _mm256_set1_ps(alpha);
#define BIGSTEP_ACC(r, x0, x1)                                                                          \
  _mm256_storeu_ps(C + (size_t)(r)*ldc, _mm256_fmadd_ps(al, x0, _mm256_loadu_ps(C + (size_t)(r)*ldc))); \
  _mm256_storeu_ps(C + (size_t)(r)*ldc + 8, _mm256_fmadd_ps(al, x1, _mm256_loadu_ps(C + (size_t)(r)*ldc + 8)));
  BIGSTEP_ACC(0, c00, c01)
  BIGSTEP_ACC(1, c10, c11)
  BIGSTEP_ACC(2, c20, c21)
  BIGSTEP_ACC(3, c30, c31)
  BIGSTEP_ACC(4, c40, c41)
  BIGSTEP_ACC(5, c50, c51)
#undef BIGSTEP_ACC
}

#define BIGSTEP_AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
BIGSTEP_AVX512_TARGET inline void micro_kernel_avx512(int kc, float alpha, const float* a, const float* b, float* C,
                                                      int ldc) {
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
  __m512 c3 = _mm512_setzero_ps(), c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m512 bv = _mm512_loadu_ps(b);
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), bv, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), bv, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), bv, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), bv, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), bv, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), bv, c5);
    a += MR;
    b += NR;
  }
  const __m512 al = _mm512_set1_ps(alpha);
#define BIGSTEP_ACC(r, x) \
  _mm512_storeu_ps(C + (size_t)(r)*ldc, _mm512_fmadd_ps(al, x, _mm512_loadu_ps(C + (size_t)(r)*ldc)));
  BIGSTEP_ACC(0, c0)
  BIGSTEP_ACC(1, c1)
  BIGSTEP_ACC(2, c2)
  BIGSTEP_ACC(3, c3)
  BIGSTEP_ACC(4, c4)
  BIGSTEP_ACC(5, c5)
#undef BIGSTEP_ACC
}
#endif

// Generic version: fixed-size loops the compiler can vectorise for the baseline target.
inline void micro_kernel_baseline(int kc, float alpha, const float* a, const float* b, float* C, int ldc) {
  float acc[MR][NR] = {};
  for (int k = 0; k < kc; ++k) {
    for (int r = 0; r < MR; ++r) {
      const float av = a[r];
      for (int c = 0; c < NR; ++c) acc[r][c] += av * b[c];
    }
    a += MR;
    b += NR;
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) C[(size_t)r * ldc + c] += alpha * acc[r][c];
}

// C[mr,nr] += alpha · a·b, mr <= MR, nr <= NR. A partial tile runs the full kernel into a zeroed
// scratch tile (alpha 1: the exact sums), then adds alpha times the valid part with the same
// fma(alpha, acc, C) as a full tile (contracted: the target has FMA) or, on baseline, C + alpha·acc.
#define BIGSTEP_TILE(name, kernel, target)                                                                   \
  target void name(int kc, float alpha, const float* a, const float* b, float* C, int ldc, int mr, int nr) { \
    if (mr == MR && nr == NR) return kernel(kc, alpha, a, b, C, ldc);                                        \
    alignas(64) float tile[MR * NR];                                                                         \
    std::memset(tile, 0, sizeof(tile));                                                                      \
    kernel(kc, 1.0f, a, b, tile, NR);                                                                        \
    for (int r = 0; r < mr; ++r)                                                                             \
      for (int c = 0; c < nr; ++c) C[(size_t)r * ldc + c] += alpha * tile[r * NR + c];                       \
  }
BIGSTEP_TILE(tile_baseline, micro_kernel_baseline, )
#ifdef BIGSTEP_ISA_X86
BIGSTEP_TILE(tile_avx2, micro_kernel_avx2, __attribute__((target("avx2,fma"))))
BIGSTEP_TILE(tile_avx512, micro_kernel_avx512, BIGSTEP_AVX512_TARGET)
#endif
#undef BIGSTEP_TILE

using TileKernel = void (*)(int kc, float alpha, const float* a, const float* b, float* C, int ldc, int mr, int nr);
TileKernel tile_kernel() {
#ifdef BIGSTEP_ISA_X86
  switch (active_isa()) {
    case Isa::avx512: return tile_avx512;
    case Isa::avx2: return tile_avx2;
    default: break;
  }
#endif
  return tile_baseline;
}

struct PackBuffers {
  std::vector<float> a, b;
  float* a_ptr() { return align(a); }
  float* b_ptr() { return align(b); }
  static float* align(std::vector<float>& v) {
    auto p = reinterpret_cast<uintptr_t>(v.data());
    return reinterpret_cast<float*>((p + 31) & ~uintptr_t(31));
  }
};

}  // namespace

void sgemm_portable(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  scale_c(M, N, beta, C, ldc);
  if (K <= 0 || alpha == 0.0f) return;

  // Per-thread packing buffers, grown once and then reused (no allocation in steady state).
  thread_local PackBuffers buf;
  const size_t need_a = (size_t)MC * KC + 8, need_b = (size_t)KC * NC + 8;
  if (buf.a.size() < need_a) buf.a.resize(need_a);
  if (buf.b.size() < need_b) buf.b.resize(need_b);
  float* pa = buf.a_ptr();
  float* pb = buf.b_ptr();
  const TileKernel tile = tile_kernel();

  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      pack_b(trans_b, B, ldb, pc, jc, kc, nc, pb);
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = std::min(MC, M - ic);
        pack_a(trans_a, A, lda, ic, pc, mc, kc, pa);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          const float* bp = pb + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            const float* ap = pa + (size_t)ir * kc;
            float* c = C + (size_t)(ic + ir) * ldc + jc + jr;
            tile(kc, alpha, ap, bp, c, ldc, mr, nr);
          }
        }
      }
    }
  }
}

void sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int k = 0; k < K; ++k) {
        const double a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        const double b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        acc += a * b;
      }
      float& c = C[(size_t)i * ldc + j];
      const double prior = beta == 0.0f ? 0.0 : (double)beta * c;
      c = (float)((double)alpha * acc + prior);
    }
  }
}

// ---- the GEMM over bigstep's threads (threads.h) -----------------------------------------------
// OpenBLAS itself always runs single-threaded; with threads = T > 1, bigstep splits large GEMMs
// (and some batch-parallel kernels) over T workers: the caller plus T - 1 pool threads. A GEMM is
// split along rows or columns of C only, into a fixed partition that depends on (shape, T) alone,
// so results are deterministic for a given T. They are not bitwise equal across T: OpenBLAS's
// summation blocking depends on the shape of each call (gemm_test checks determinism + accuracy).
namespace {

void sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc);

struct SplitGemm {
  bool ta, tb, split_n;
  int M, N, K, parts;
  float alpha, beta;
  const float* A;
  const float* B;
  float* C;
  int lda, ldb, ldc;
  // Boundaries on multiples of 16 columns / 4 rows (the micro-tile of OpenBLAS's Haswell kernel
  // in row-major terms), so each part is made of whole tiles.
  void range(int p, int& lo, int& hi) const {
    const int total = split_n ? N : M, unit = split_n ? 16 : 4;
    const int units = (total + unit - 1) / unit;
    lo = std::min(total, (int)((int64_t)units * p / parts) * unit);
    hi = std::min(total, (int)((int64_t)units * (p + 1) / parts) * unit);
  }
  static void run(void* ctx, int p) {
    const SplitGemm& g = *static_cast<SplitGemm*>(ctx);
    int lo, hi;
    g.range(p, lo, hi);
    if (hi <= lo) return;
    if (g.split_n) {
      const float* b = g.tb ? g.B + (size_t)lo * g.ldb : g.B + lo;
      sgemm_serial(g.ta, g.tb, g.M, hi - lo, g.K, g.alpha, g.A, g.lda, b, g.ldb, g.beta, g.C + lo, g.ldc);
    } else {
      const float* a = g.ta ? g.A + lo : g.A + (size_t)lo * g.lda;
      sgemm_serial(g.ta, g.tb, hi - lo, g.N, g.K, g.alpha, a, g.lda, g.B, g.ldb, g.beta, g.C + (size_t)lo * g.ldc,
                   g.ldc);
    }
  }
};

}  // namespace

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc) {
  const int T = compute_threads();
  // Split only when each part keeps >= ~2 MFLOP of work (thread hand-off costs a few µs).
  if (T > 1 && M > 0 && N > 0 && K > 0 && (double)M * N * K >= (double)T * (1 << 20)) {
    // 2 parts per thread, taken dynamically: a worker that is descheduled (a busy machine) delays
    // the call by at most a quarter of it instead of a half.
    SplitGemm g{trans_a, trans_b, N >= M && N >= 32, M, N, K, 2 * T, alpha, beta, A, B, C, lda, ldb, ldc};
    if (!g.split_n && M < 8) g.split_n = true;
    parallel_run(g.parts, &SplitGemm::run, &g);
    return;
  }
  sgemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int blas_threads() { return compute_threads(); }
void set_blas_threads(int n) {
#ifdef BIGSTEP_HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  set_compute_threads(std::max(1, std::min(n, 256)));
}

namespace {

#ifdef BIGSTEP_HAVE_OPENBLAS
void sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // OpenBLAS rejects lda = 0 here; the result is just beta * C
    scale_c(M, N, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
              A, lda, B, ldb, beta, C, ldc);
}
#else
void sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
#endif

}  // namespace

#ifdef BIGSTEP_HAVE_OPENBLAS
const char* blas_vendor() { return "openblas"; }
const char* blas_core() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}
#else
const char* blas_vendor() { return "portable"; }
const char* blas_core() { return "portable-blocked"; }
#endif

}  // namespace bigstep
