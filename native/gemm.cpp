// GEMM: OpenBLAS (row-major CBLAS) when available, else a portable cache-blocked kernel in the
// BLIS/GotoBLAS style (pack A into MR-row panels, pack B into NR-column panels, 6x16 micro-kernel
// that keeps the C tile in 12 AVX registers). alpha is folded into packed A; beta is applied to C
// once up front, after which every K block accumulates into C.
#include "gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define BIGSTEP_GEMM_AVX2 1
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

// Packs alpha * op(A)[i0:i0+mc, k0:k0+kc] into MR-row micro-panels: dst[p][k][r], zero padded.
void pack_a(bool trans_a, const float* A, int lda, int i0, int k0, int mc, int kc, float alpha,
            float* dst) {
  for (int ir = 0; ir < mc; ir += MR) {
    const int mr = std::min(MR, mc - ir);
    float* d = dst + (size_t)ir * kc;
    if (!trans_a) {
      for (int r = 0; r < mr; ++r) {
        const float* a = A + (size_t)(i0 + ir + r) * lda + k0;
        for (int k = 0; k < kc; ++k) d[k * MR + r] = alpha * a[k];
      }
      for (int r = mr; r < MR; ++r)
        for (int k = 0; k < kc; ++k) d[k * MR + r] = 0.0f;
    } else {
      for (int k = 0; k < kc; ++k) {
        const float* a = A + (size_t)(k0 + k) * lda + i0 + ir;
        int r = 0;
        for (; r < mr; ++r) d[k * MR + r] = alpha * a[r];
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

// C[MR,NR] += a[kc][MR] * b[kc][NR] for a full tile (ldc = row stride of C).
#ifdef BIGSTEP_GEMM_AVX2
inline void micro_kernel(int kc, const float* a, const float* b, float* C, int ldc) {
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
#define BIGSTEP_ACC(r, x0, x1)                                                      \
  _mm256_storeu_ps(C + (size_t)(r)*ldc, _mm256_add_ps(_mm256_loadu_ps(C + (size_t)(r)*ldc), x0)); \
  _mm256_storeu_ps(C + (size_t)(r)*ldc + 8, _mm256_add_ps(_mm256_loadu_ps(C + (size_t)(r)*ldc + 8), x1));
  BIGSTEP_ACC(0, c00, c01)
  BIGSTEP_ACC(1, c10, c11)
  BIGSTEP_ACC(2, c20, c21)
  BIGSTEP_ACC(3, c30, c31)
  BIGSTEP_ACC(4, c40, c41)
  BIGSTEP_ACC(5, c50, c51)
#undef BIGSTEP_ACC
}
#else
// Generic version: fixed-size loops the compiler can vectorise for whatever ISA it targets.
inline void micro_kernel(int kc, const float* a, const float* b, float* C, int ldc) {
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
    for (int c = 0; c < NR; ++c) C[(size_t)r * ldc + c] += acc[r][c];
}
#endif

// Partial tile: run the full kernel into a zeroed scratch tile, then add the valid part.
inline void micro_kernel_edge(int kc, const float* a, const float* b, float* C, int ldc, int mr,
                              int nr) {
  alignas(32) float tile[MR * NR];
  std::memset(tile, 0, sizeof(tile));
  micro_kernel(kc, a, b, tile, NR);
  for (int r = 0; r < mr; ++r)
    for (int c = 0; c < nr; ++c) C[(size_t)r * ldc + c] += tile[r * NR + c];
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

void sgemm_portable(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                    int lda, const float* B, int ldb, float beta, float* C, int ldc) {
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

  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      pack_b(trans_b, B, ldb, pc, jc, kc, nc, pb);
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = std::min(MC, M - ic);
        pack_a(trans_a, A, lda, ic, pc, mc, kc, alpha, pa);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          const float* bp = pb + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            const float* ap = pa + (size_t)ir * kc;
            float* c = C + (size_t)(ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              micro_kernel(kc, ap, bp, c, ldc);
            } else {
              micro_kernel_edge(kc, ap, bp, c, ldc, mr, nr);
            }
          }
        }
      }
    }
  }
}

void sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
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

#ifdef BIGSTEP_HAVE_OPENBLAS

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // OpenBLAS rejects lda = 0 here; the result is just beta * C
    scale_c(M, N, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* blas_vendor() { return "openblas"; }
const char* blas_core() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}
int blas_threads() { return openblas_get_num_threads(); }
void set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

#else

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* blas_vendor() { return "portable"; }
const char* blas_core() { return "portable-blocked"; }
int blas_threads() { return 1; }
void set_blas_threads(int) {}

#endif

}  // namespace bigstep
