// The thread pool behind threads.h: T - 1 workers that spin briefly after a job and then sleep,
// and a caller that takes parts of its own job (see Pool::run).
#include "threads.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace bigstep {

namespace {

class Pool {
 public:
  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    if (n == threads()) return;
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      gen_.fetch_add(1);
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    threads_.store(n);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { loop(); });
  }

  // Runs fn(ctx, part) for part in [0, parts), spread over the workers; returns when all are done.
  // If the pool is already running a job (a nested call, or another thread's call), runs inline.
  void run(int parts, void (*fn)(void*, int), void* ctx) {
    std::unique_lock<std::mutex> run_lock(run_mutex_, std::try_to_lock);
    if (parts <= 1 || threads() <= 1 || !run_lock.owns_lock()) {
      for (int p = 0; p < parts; ++p) fn(ctx, p);
      return;
    }
    Job job;
    job.fn = fn;
    job.ctx = ctx;
    job.parts = parts;
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &job;
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    job.work();
    // Parts still running on workers: spin briefly, then block. Blocking matters on a busy
    // machine: a worker preempted in the middle of a part can then run on this core instead of
    // waiting for its own, while a spinning caller would hold this core for its whole time slice.
    for (int spins = 0; job.done.load(std::memory_order_acquire) < parts; ++spins) {
      if (spins < kCallerSpins) {
        spin_pause();
        continue;
      }
      std::unique_lock<std::mutex> lk(job.m);
      job.cv.wait(lk, [&] { return job.done.load(std::memory_order_acquire) >= parts; });
    }
    {
      // No worker can join after this; wait for those that did to leave the job.
      std::lock_guard<std::mutex> lk(m_);
      job_ = nullptr;
    }
    for (int spins = 0; job.refs.load(std::memory_order_acquire) > 0; ++spins) {
      if (spins < kCallerSpins) {
        spin_pause();
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  // Spin budgets (a pause is ~25-70 ns on Zen 3): workers stay awake ~100 µs after a job (a
  // step issues its GEMMs and conv kernels back to back, with short element-wise passes in
  // between) and then sleep on the condition variable instead of burning a core for
  // milliseconds; the caller waits ~50 µs for running parts before blocking.
  static constexpr int kWorkerSpins = 1 << 12;
  static constexpr int kCallerSpins = 1 << 11;

  struct Job {
    void (*fn)(void*, int) = nullptr;
    void* ctx = nullptr;
    int parts = 0;
    std::atomic<int> next{0}, done{0}, refs{0};
    std::mutex m;  // with cv: wakes a caller blocked on the last running part
    std::condition_variable cv;
    void work() {
      for (;;) {
        const int p = next.fetch_add(1, std::memory_order_acq_rel);
        if (p >= parts) return;
        fn(ctx, p);
        if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == parts) {
          { std::lock_guard<std::mutex> lk(m); }  // a caller between its check and its wait sees done
          cv.notify_one();
        }
      }
    }
  };

  static void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  void loop() {
    uint64_t seen = 0;
    {
      std::lock_guard<std::mutex> lk(m_);
      seen = gen_.load();
      if (stop_) return;
    }
    for (;;) {
      // Spin briefly (kWorkerSpins), then sleep on the condition variable.
      for (int spins = 0; gen_.load(std::memory_order_acquire) == seen && spins < kWorkerSpins; ++spins) spin_pause();
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_ || gen_.load() != seen; });
        if (stop_) return;
        seen = gen_.load();
        job = job_;
        if (job) job->refs.fetch_add(1, std::memory_order_acq_rel);
      }
      if (job) {
        job->work();
        job->refs.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::atomic<int> threads_{1};
  std::vector<std::thread> workers_;
  std::mutex run_mutex_, m_;
  std::condition_variable cv_;
  std::atomic<uint64_t> gen_{0};
  Job* job_ = nullptr;
  bool stop_ = false;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: workers may outlive static destruction order
  return *p;
}

}  // namespace

int compute_threads() { return pool().threads(); }

void set_compute_threads(int n) { pool().resize(std::max(1, n)); }

void parallel_run(int parts, void (*fn)(void*, int), void* ctx) { pool().run(parts, fn, ctx); }

}  // namespace bigstep
