// bigstep's compute threads: the caller plus n - 1 pool workers (set_compute_threads(n); the
// binding's setThreads and BIGSTEP_THREADS go through set_blas_threads in gemm.h). OpenBLAS runs
// single-threaded and sgemm() splits large products over the workers by rows/columns of C (a fixed
// partition per (shape, n): deterministic for a given n, not bitwise equal across n). Kernels may
// split batch-parallel work with parallel_run; a nested or concurrent call runs its parts inline
// on the calling thread.
#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace bigstep {

int compute_threads();
// Resizes the pool to n threads in total (n >= 1; waits for a running job to finish first).
void set_compute_threads(int n);
// Calls fn(ctx, part) for every part in [0, parts) on the workers and waits for all of them.
void parallel_run(int parts, void (*fn)(void*, int), void* ctx);
// Convenience: f(part) for part in [0, parts) (f is any callable; no allocation).
template <class F>
void parallel_for(int parts, F&& f) {
  parallel_run(
      parts, [](void* c, int p) { (*static_cast<std::remove_reference_t<F>*>(c))(p); }, (void*)&f);
}
// f(lo, hi) over a static partition of [0, n) into at most 2 parts per thread of >= grain items
// each (one call on this thread when n < 2·grain or with one thread). For work whose result does
// not depend on the partition (element-wise passes, per-image or per-column loops).
template <class F>
void parallel_range(size_t n, size_t grain, F&& f) {
  const size_t by_size = grain ? n / grain : n;
  const int parts = (int)std::min<size_t>(by_size, (size_t)2 * compute_threads());
  if (parts <= 1) {
    if (n) f((size_t)0, n);
    return;
  }
  parallel_for(parts, [&](int p) { f(n * (size_t)p / (size_t)parts, n * (size_t)(p + 1) / (size_t)parts); });
}

// f(n0, n1) over ranges of the N images of a batch, >= ~128K floats each (image-wise work).
template <class F>
void parallel_images(int N, size_t floats_per_image, F&& f) {
  const size_t grain = std::max<size_t>(1, ((size_t)1 << 17) / std::max<size_t>(1, floats_per_image));
  parallel_range((size_t)std::max(N, 0), grain, [&](size_t n0, size_t n1) { f((int)n0, (int)n1); });
}

}  // namespace bigstep
