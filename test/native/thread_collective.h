// N ranks as threads for the data-parallel native tests: a Collective (native/data_parallel.h)
// over shared memory, so the contract is tested without MPI.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "data_parallel.h"

// N ranks as threads: every collective posts its send pointer, waits for all, copies, waits again.
class ThreadWorld {
 public:
  explicit ThreadWorld(int n) : n_(n), posted_((size_t)n) {}
  int size() const { return n_; }
  void post(int rank, const void* p) { posted_[(size_t)rank] = p; }
  const void* posted(int rank) const { return posted_[(size_t)rank]; }
  void barrier() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }

 private:
  int n_;
  std::vector<const void*> posted_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

class ThreadCollective final : public bigstep::Collective {
 public:
  ThreadCollective(ThreadWorld& w, int rank) : w_(w), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return w_.size(); }
  void all_to_all(const double* send, double* recv, size_t block) override {
    w_.post(rank_, send);
    w_.barrier();
    for (int q = 0; q < size(); ++q)
      std::memcpy(recv + (size_t)q * block, static_cast<const double*>(w_.posted(q)) + (size_t)rank_ * block,
                  block * sizeof(double));
    w_.barrier();
  }
  void all_gather(const void* mine, void* all, size_t bytes) override {
    w_.post(rank_, mine);
    w_.barrier();
    for (int q = 0; q < size(); ++q) std::memcpy(static_cast<char*>(all) + (size_t)q * bytes, w_.posted(q), bytes);
    w_.barrier();
  }

 private:
  ThreadWorld& w_;
  int rank_;
};
