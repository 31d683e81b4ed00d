// FMA peak kernel (see fma_peak.h): one copy per ISA path, written with intrinsics so the
// instruction is what the path says (vfmadd on avx2/avx512, mulps + addps on baseline), not
// whatever the compiler's contraction makes of a·m + c.
#include "fma_peak.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BIGSTEP_FMA_X86 1
#endif

namespace bigstep {
namespace {

float lane_start(float a0, int k, int lanes, int j) { return a0 + (float)(k * lanes + j) * (1.0f / 4096.0f); }

#ifdef BIGSTEP_FMA_X86
// 12 explicit accumulators: the compiler keeps each in its own register and the dependency
// chains stay independent (a loop over an array of accumulators could be reordered or spilled).
#define BIGSTEP_FMA_BODY(VEC, SET1, LOADU, STOREU, STEP, LANES)                                                      \
  VEC a[kFmaChains];                                                                                                 \
  float init[LANES];                                                                                                 \
  for (int k = 0; k < kFmaChains; ++k) {                                                                             \
    for (int j = 0; j < LANES; ++j) init[j] = lane_start(a0, k, LANES, j);                                           \
    a[k] = LOADU(init);                                                                                              \
  }                                                                                                                  \
  const VEC vm = SET1(m), vc = SET1(c);                                                                              \
  VEC a0_ = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9], \
      a10 = a[10], a11 = a[11];                                                                                      \
  for (int64_t i = 0; i < iterations; ++i) {                                                                         \
    a0_ = STEP(a0_);                                                                                                 \
    a1 = STEP(a1);                                                                                                   \
    a2 = STEP(a2);                                                                                                   \
    a3 = STEP(a3);                                                                                                   \
    a4 = STEP(a4);                                                                                                   \
    a5 = STEP(a5);                                                                                                   \
    a6 = STEP(a6);                                                                                                   \
    a7 = STEP(a7);                                                                                                   \
    a8 = STEP(a8);                                                                                                   \
    a9 = STEP(a9);                                                                                                   \
    a10 = STEP(a10);                                                                                                 \
    a11 = STEP(a11);                                                                                                 \
  }                                                                                                                  \
  const VEC fin[kFmaChains] = {a0_, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};                                   \
  for (int k = 0; k < kFmaChains; ++k) STOREU(out + k * LANES, fin[k]);

__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))) void fma_kernel_avx512(int64_t iterations,
                                                                                              float m, float c,
                                                                                              float a0, float* out) {
#define STEP512(x) _mm512_fmadd_ps(x, vm, vc)
  BIGSTEP_FMA_BODY(__m512, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps, STEP512, 16)
#undef STEP512
}

__attribute__((target("avx2,fma"))) void fma_kernel_avx2(int64_t iterations, float m, float c, float a0, float* out) {
#define STEP256(x) _mm256_fmadd_ps(x, vm, vc)
  BIGSTEP_FMA_BODY(__m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps, STEP256, 8)
#undef STEP256
}

void fma_kernel_baseline(int64_t iterations, float m, float c, float a0, float* out) {
#define STEP128(x) _mm_add_ps(_mm_mul_ps(x, vm), vc)
  BIGSTEP_FMA_BODY(__m128, _mm_set1_ps, _mm_loadu_ps, _mm_storeu_ps, STEP128, 4)
#undef STEP128
}
#undef BIGSTEP_FMA_BODY
#else
// Off x86: the baseline path in plain C++ (4 lanes, a multiply then an add).
void fma_kernel_baseline(int64_t iterations, float m, float c, float a0, float* out) {
  for (int k = 0; k < kFmaChains; ++k)
    for (int j = 0; j < 4; ++j) out[k * 4 + j] = fma_chain_naive(iterations, m, c, lane_start(a0, k, 4, j), false);
}
#endif

}  // namespace

int fma_lanes(Isa isa) { return isa == Isa::avx512 ? 16 : isa == Isa::avx2 ? 8 : 4; }

double fma_peak_kernel(Isa isa, int64_t iterations, float m, float c, float a0, float* out) {
  if (!isa_available(isa))
    throw std::invalid_argument(std::string("fma_peak_kernel: path ") + isa_name(isa) + " is not available");
  if (iterations < 0) throw std::invalid_argument("fma_peak_kernel: iterations must be >= 0");
  switch (isa) {
#ifdef BIGSTEP_FMA_X86
    case Isa::avx512: fma_kernel_avx512(iterations, m, c, a0, out); break;
    case Isa::avx2: fma_kernel_avx2(iterations, m, c, a0, out); break;
#endif
    default: fma_kernel_baseline(iterations, m, c, a0, out); break;
  }
  return 2.0 * kFmaChains * fma_lanes(isa) * (double)iterations;
}

float fma_chain_naive(int64_t iterations, float m, float c, float a, bool fused) {
  for (int64_t i = 0; i < iterations; ++i) {
    if (fused) {
      a = std::fma(a, m, c);
    } else {
      volatile float p = a * m;  // volatile: keep the multiply rounded on its own, as mulps does
      a = p + c;
    }
  }
  return a;
}

FmaPeak measure_fma_peak(Isa isa, int threads, double seconds) {
  if (threads < 1 || threads > 256) throw std::invalid_argument("threads must be in [1, 256]");
  if (!(seconds > 0 && seconds <= 60)) throw std::invalid_argument("seconds must be in (0, 60]");
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  // m slightly below 1 and c > 0: every lane converges to c / (1 - m) and stays finite forever.
  const float m = 0.999f, c = 1e-3f;
  const size_t per = (size_t)kFmaChains * fma_lanes(isa);
  std::vector<float> sink((size_t)threads * per);
  // Calibrate on one thread: calls of about 2 ms. Short calls matter on a shared machine: the best
  // of many short rounds is likely to contain one that no other process interrupted.
  int64_t iterations = 1 << 12;
  for (;;) {
    const auto t0 = clock::now();
    fma_peak_kernel(isa, iterations, m, c, 1.0f, sink.data());
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt >= 0.002 || iterations >= (int64_t(1) << 40)) break;
    iterations *= dt > 2e-4 ? std::max<int64_t>(2, (int64_t)std::ceil(0.0025 / dt)) : 8;
  }
  // Persistent threads released together each round; a round lasts as long as its slowest call.
  std::mutex mu;
  std::condition_variable go, finished;
  int generation = 0, done = 0;
  bool stop = false;
  std::vector<double> call_seconds((size_t)threads, 0.0);
  std::vector<std::thread> pool;
  pool.reserve((size_t)threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      int seen = 0;
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(mu);
          go.wait(lock, [&] { return stop || generation != seen; });
          if (stop) return;
          seen = generation;
        }
        const auto t0 = clock::now();
        fma_peak_kernel(isa, iterations, m, c, 1.0f + (float)t, sink.data() + per * (size_t)t);
        const double dt = std::chrono::duration<double>(clock::now() - t0).count();
        std::lock_guard<std::mutex> lock(mu);
        call_seconds[(size_t)t] = dt;
        if (++done == threads) finished.notify_one();
      }
    });
  }
  const double flops = 2.0 * (double)per * (double)iterations * threads;
  FmaPeak r{0, 0, 0, iterations};
  do {
    std::unique_lock<std::mutex> lock(mu);
    done = 0;
    ++generation;
    go.notify_all();
    finished.wait(lock, [&] { return done == threads; });
    const double slowest = *std::max_element(call_seconds.begin(), call_seconds.end());
    r.gflops = std::max(r.gflops, flops / slowest / 1e9);
    ++r.rounds;
  } while (r.rounds < 10 || std::chrono::duration<double>(clock::now() - start).count() < seconds);
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  go.notify_all();
  for (auto& th : pool) th.join();
  r.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return r;
}

}  // namespace bigstep
