// Batches: the data set a chunk reads, how batches are drawn from it (full, sequential epochs,
// shuffled epochs, with replacement) and the independent second draw of the amplified estimator.
// Draws use only the RNG state and counters they are given, so a run resumes bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "augment.h"
#include "model.h"
#include "rng.h"

namespace bigstep {

class Collective;  // native/data_parallel.h

enum class BatchMode {
  Full,        // every step uses all n examples in order (gradient descent)
  Sequential,  // epochs in dataset order, no shuffling
  Shuffle,     // epochs of a fresh permutation, without replacement
  Replacement  // each batch drawn uniformly with replacement
};

struct DataRef {
  const float* x = nullptr;  // [n, input_size]
  Target y;                  // labels [n] or targets [n, output_size]
  int64_t n = 0;
};

struct BatchPlan {
  BatchMode mode = BatchMode::Full;
  int64_t batch = 0;       // examples per step (ignored for Full)
  bool drop_last = false;  // Sequential/Shuffle: drop a final partial batch
  // Gradient estimator: amplification k >= 1. k == 1 is the plain mini-batch gradient. k > 1
  // draws a second independent batch and uses g = g1 + c·(g1 − g2), (1 + c)² + c² = k², which
  // keeps the mean and multiplies the noise covariance by k².
  double amplify_k = 1.0;
  // Image augmentation applied to every gathered batch (both draws when amplified); off by default.
  AugmentPlan augment;
  // Examples per forward/backward pass (0 = the whole batch at once). A larger batch is processed
  // in pieces of this size and the gradient is their example-weighted mean, accumulated in double:
  // the mean-loss gradient of the whole batch up to rounding, in the memory of one piece. Batch
  // norm in training mode then normalises each piece with its own statistics.
  int64_t micro_batch = 0;
  // Pieces per batch (0 = off; exclusive with micro_batch): each batch of b examples is processed as
  // `shards` pieces of ⌈b/shards⌉ examples in order (the last shorter), summed as micro-batches are.
  // The one-process twin of a `shards`-rank data-parallel split (data_parallel.h), for every batch,
  // an epoch's shorter last batch included, where a fixed micro_batch = ⌈B/N⌉ would cut it differently.
  int64_t shards = 0;
  // Data parallelism (native/data_parallel.h): each step's gradient is split over these ranks; null = one process.
  Collective* collective = nullptr;
};

// The counters a run keeps (TrainState::counters, 3 doubles): its global step, the cursor within
// the epoch and the epoch.
constexpr int kStep = 0;
constexpr int kCursor = 1;
constexpr int kEpoch = 2;

// Gathered rows of one batch (scratch reused across steps): x [b, in], labels [b] or targets [b, out].
struct BatchBuffers {
  std::vector<float> x;
  std::vector<int32_t> labels;
  std::vector<float> targets;
};

// The next batch of `batch`: epoch order in perm [n] and counters [step, cursor, epoch] advanced,
// drawn from rng; gathered into buf (idx: index scratch) except in Full mode, where *x / *y point
// at the data set. Returns its size b. Every index is checked against [0, n) before its row is
// read (perm is caller memory that JS may write while a chunk runs).
int64_t draw_batch(const DataRef& data, const BatchPlan& batch, double* counters, int32_t* perm, Rng rng, size_t in,
                   size_t out, std::vector<int32_t>& idx, BatchBuffers& buf, const float** x, Target* y);

// An independent batch of b examples for the amplified estimator, drawn the same way as the first
// (with replacement in Replacement mode, otherwise a uniform subset without replacement).
int64_t draw_independent_batch(const DataRef& data, const BatchPlan& batch, int64_t b, Rng rng, size_t in, size_t out,
                               std::vector<int32_t>& idx, BatchBuffers& buf, const float** x, Target* y);

}  // namespace bigstep
