// gemmBench(): the sgemm ceiling for the bench's "% of ceiling" figure (bench/one.ts).
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "args.h"
#include "gemm.h"
#include "register.h"

namespace bigstep::binding {
namespace {
// gemmBench(shapes: Float64Array [M, N, K, transA, transB] * count, seconds: number)
//   -> Float64Array [count]: best seconds per call of sgemm for each shape, at the current thread
// count, on this process's buffers (the ceiling the bench compares a training step against).
Napi::Value GemmBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto shapes = as_array<double>(info[0], "shapes");
  constexpr size_t kFields = 6;  // M, N, K, transA, transB, beta (0 or 1)
  if (shapes.length % kFields != 0)
    throw_range_error(env, "shapes", "length must be a multiple of 6 (M, N, K, transA, transB, beta)");
  const double seconds = as_finite(info[1], "seconds");
  if (!(seconds > 0 && seconds <= 60)) throw_range_error(env, "seconds", "must be in (0, 60]");
  const size_t count = shapes.length / kFields;
  for (size_t i = 0; i < count; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double d = shapes.data[kFields * i + j];
      if (!(d >= 1 && d <= 65536) || std::floor(d) != d)
        throw_range_error(env, "shapes[" + std::to_string(kFields * i + j) + "]", "must be an integer in [1, 65536]");
    }
    const double beta = shapes.data[kFields * i + 5];
    if (beta != 0 && beta != 1)
      throw_range_error(env, "shapes[" + std::to_string(kFields * i + 5) + "]", "beta must be 0 or 1");
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, count);
  using clock = std::chrono::steady_clock;
  for (size_t i = 0; i < count; ++i) {
    const double* f = shapes.data + kFields * i;
    const int M = (int)f[0], N = (int)f[1], K = (int)f[2];
    const bool ta = f[3] != 0, tb = f[4] != 0;
    const float beta = (float)f[5];
    std::vector<float> A((size_t)M * K), B((size_t)K * N), C((size_t)M * N);
    for (size_t j = 0; j < A.size(); ++j) A[j] = (float)((j * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t j = 0; j < B.size(); ++j) B[j] = (float)((j * 104729) % 1000) * 1e-3f - 0.5f;
    const int lda = ta ? M : K, ldb = tb ? K : N;
    // beta = 1 accumulates into C, as the fused SGD update does into W (alpha = -lr; tiny here so
    // C stays bounded over many repeats).
    const float alpha = beta == 0.0f ? 1.0f : -1e-6f;
    auto call = [&] { sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), N); };
    call();
    double best = 1e30;
    const auto end = clock::now() + std::chrono::duration<double>(seconds / (double)count);
    int reps = 0;
    do {
      const auto t0 = clock::now();
      call();
      best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
      ++reps;
    } while (clock::now() < end || reps < 3);
    out[i] = best;
  }
  return out;
}

}  // namespace

void RegisterGemmBench(Napi::Env env, Napi::Object exports) {
  exports.Set("gemmBench", Napi::Function::New(env, GemmBench, "gemmBench"));
}

}  // namespace bigstep::binding
