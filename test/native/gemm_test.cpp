// sgemm (BLAS or portable) and sgemm_portable against the double-accumulating naive oracle on odd
// shapes, all four transpose combinations, alpha/beta, and leading dimensions larger than needed.
// `gemm_test bench [n]` prints GFLOP/s for n^3 instead (not part of ctest).
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "check.h"
#include "gemm.h"
#include "threads.h"

using namespace bigstep;

using GemmFn = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int);

static void run_case(const char* which, GemmFn fn, bool ta, bool tb, int M, int N, int K, float alpha, float beta,
                     int pad, std::mt19937& gen) {
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  const int a_rows = ta ? K : M, a_cols = ta ? M : K;
  const int b_rows = tb ? N : K, b_cols = tb ? K : N;
  const int lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  std::vector<float> A((size_t)a_rows * lda + 1), B((size_t)b_rows * ldb + 1), C((size_t)M * ldc + 1);
  for (auto& v : A) v = U(gen);
  for (auto& v : B) v = U(gen);
  for (auto& v : C) v = U(gen);
  if (beta == 0.0f) {  // beta = 0 must ignore C entirely, even NaN
    for (int i = 0; i < M; ++i) C[(size_t)i * ldc] = NAN;
  }
  std::vector<float> C_ref = C;
  fn(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  sgemm_naive(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C_ref.data(), ldc);
  double worst = 0;
  bool pad_ok = true;
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < ldc; ++j) {
      const size_t idx = (size_t)i * ldc + j;
      if (j >= N) {  // padding columns must be untouched
        pad_ok &= std::memcmp(&C[idx], &C_ref[idx], sizeof(float)) == 0;
        continue;
      }
      // Error bound grows with K; entries are O(sqrt(K)).
      const double e = std::fabs((double)C[idx] - C_ref[idx]) / (1.0 + std::fabs(C_ref[idx]));
      if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
    }
  }
  const double tol = 2e-6 * (K + 8);
  CHECK_MSG(worst <= tol && pad_ok,
            check::fmt("%s ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d: err %.3g (tol %.3g)%s", which, ta, tb, M,
                       N, K, alpha, beta, pad, worst, tol, pad_ok ? "" : " and wrote outside C"));
}

static double gflops(GemmFn fn, int n, int reps) {
  std::vector<float> A((size_t)n * n, 0.5f), B((size_t)n * n, 0.25f), C((size_t)n * n);
  fn(false, false, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n);  // warm up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    fn(false, false, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n);
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return 2.0 * n * n * n / best / 1e9;
}

// With 2 and 3 threads sgemm splits C into row / column blocks computed by single-threaded
// OpenBLAS calls. OpenBLAS's summation blocking depends on the whole call's shape, so a split
// result is NOT bitwise equal to one thread (measured: a few % of elements differ in the last
// bits); it must be deterministic for a given thread count and as accurate as one thread.
static void test_threads(std::mt19937& gen) {
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  struct Shape {
    int M, N, K;
  };
  const Shape shapes[] = {{128, 1024, 784}, {1024, 784, 128}, {64, 1152, 288}, {288, 1152, 64},
                          {37, 2051, 129},  {2051, 37, 129},  {128, 10, 1024}, {5, 4096, 300}};
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N;
      std::vector<float> A((size_t)s.M * s.K), B((size_t)s.K * s.N), C0((size_t)s.M * s.N, 1.f);
      for (auto& v : A) v = U(gen);
      for (auto& v : B) v = U(gen);
      for (int threads : {2, 3}) {
        std::vector<float> C1 = C0, C2 = C0, ref = C0;
        set_blas_threads(threads);
        sgemm(ta, tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.5f, C1.data(), s.N);
        sgemm(ta, tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.5f, C2.data(), s.N);
        set_blas_threads(1);
        sgemm_naive(ta, tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.5f, ref.data(), s.N);
        double worst = 0;
        for (size_t i = 0; i < ref.size(); ++i)
          worst = std::max(worst, std::fabs((double)C1[i] - ref[i]) / (1.0 + std::fabs(ref[i])));
        CHECK_MSG(std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(float)) == 0 && worst <= 2e-6 * (s.K + 8),
                  check::fmt("sgemm threads=%d ta=%d tb=%d M=%d N=%d K=%d: repeat differs or err %.3g", threads, ta, tb,
                             s.M, s.N, s.K, worst));
      }
    }
  set_blas_threads(1);
}

// The pool under the conditions of a busy machine: parts that take longer than the caller's
// spin budget (the caller then blocks until the last part signals), many back-to-back jobs
// (workers between spinning and sleeping), and callers on two threads at once (one of them runs
// inline). Every part must run exactly once and nothing may hang.
static void test_pool_blocking() {
  set_blas_threads(2);
  for (int job = 0; job < 300; ++job) {
    std::atomic<int> count[6] = {};
    parallel_for(6, [&](int p) {
      if ((job + p) % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
      count[p].fetch_add(1);
    });
    bool once = true;
    for (auto& c : count) once &= c.load() == 1;
    CHECK_MSG(once, check::fmt("pool job %d: a part did not run exactly once", job));
  }
  std::atomic<int> total{0};
  auto caller = [&] {
    for (int job = 0; job < 200; ++job)
      parallel_for(4, [&](int p) {
        if (p == 3 && job % 5 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        total.fetch_add(1);
      });
  };
  std::thread other(caller);
  caller();
  other.join();
  CHECK(total.load() == 2 * 200 * 4);
  set_blas_threads(1);
}

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "bench") == 0) {
    if (argc > 3) set_blas_threads(std::atoi(argv[3]));
    const int n = argc > 2 ? std::atoi(argv[2]) : 1024;
    std::printf("vendor=%s core=%s threads=%d\n", blas_vendor(), blas_core(), blas_threads());
    std::printf("sgemm          %dx%dx%d: %.1f GFLOP/s\n", n, n, n, gflops(sgemm, n, 5));
    std::printf("sgemm_portable %dx%dx%d: %.1f GFLOP/s\n", n, n, n, gflops(sgemm_portable, n, 5));
    return 0;
  }
  if (const int rc = check::isa_path_or_skip("gemm_test"); rc >= 0) return rc;
  set_blas_threads(1);
  std::mt19937 gen(42);
  struct Shape {
    int M, N, K;
  };
  const Shape shapes[] = {{1, 1, 1},   {7, 5, 3},    {6, 16, 1},     {13, 17, 19},    {1, 33, 300},
                          {300, 1, 7}, {64, 64, 64}, {145, 40, 513}, {257, 1031, 263}};
  for (GemmFn fn : {sgemm, sgemm_portable}) {
    const char* which = fn == sgemm ? "sgemm" : "sgemm_portable";
    for (const auto& s : shapes) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        run_case(which, fn, ta, tb, s.M, s.N, s.K, 1.0f, 0.0f, 0, gen);
        if (s.M * s.N * s.K < 200000) {
          run_case(which, fn, ta, tb, s.M, s.N, s.K, -0.5f, 1.0f, 3, gen);
          run_case(which, fn, ta, tb, s.M, s.N, s.K, 2.0f, 0.25f, 1, gen);
        }
      }
    }
    // K = 0: C = beta * C.
    run_case(which, fn, false, false, 4, 5, 0, 1.0f, 0.5f, 2, gen);
    run_case(which, fn, true, true, 4, 5, 0, 1.0f, 0.0f, 0, gen);
    // alpha = 0 with beta = 1 leaves C untouched.
    run_case(which, fn, false, true, 9, 11, 13, 0.0f, 1.0f, 2, gen);
    // lda > K on the big shape.
    run_case(which, fn, false, false, 257, 1031, 263, 1.0f, 0.0f, 5, gen);
  }
  test_threads(gen);
  test_pool_blocking();
  CHECK(std::strlen(blas_vendor()) > 0);
  CHECK(std::strlen(blas_core()) > 0);
  CHECK(blas_threads() >= 1);
  return check::finish("gemm_test");
}
