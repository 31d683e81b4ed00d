// Single-precision GEMM behind one signature: OpenBLAS (CBLAS) when the build found it, otherwise
// a portable cache-blocked kernel. All matrices are row-major.
//
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C[M,N]
//   op(A) = A[M,K] (lda >= K) or, with trans_a, A[K,M]ᵀ (lda >= M); same for B with ldb.
#pragma once
#include <cstddef>

namespace bigstep {

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc);

// The portable blocked kernel; always compiled, so tests can compare it with BLAS.
void sgemm_portable(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc);

// Naive triple loop accumulating in double: the test oracle for both kernels above.
void sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc);

// "openblas" or "portable".
const char* blas_vendor();
// OpenBLAS kernel family actually running (e.g. "Haswell"), or "portable-blocked".
const char* blas_core();
int blas_threads();
void set_blas_threads(int n);

}  // namespace bigstep
