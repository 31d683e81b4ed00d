// Data parallelism: one training run over N ranks (processes, e.g. under mpirun or srun), each
// computing the gradient of its shard of every batch.
//
// The contract. A batch of b examples is split in rank order into shards of s = ⌈b/N⌉ examples
// (the last one may be shorter; every rank must get at least one). Each rank sums its shard's
// example-weighted gradient m·g (and loss) in double, over pieces of at most microBatch examples.
// The per-rank sums are then added in rank order, in double, and divided by b. With one piece per
// rank, that is exactly the arithmetic of a single process with `microBatch` = s, so an N-rank run is
// bitwise that run, and repeated runs are bitwise identical (no reduction order depends on timing).
// For mini-batches of B that holds for every batch of B examples; an epoch's shorter last batch
// (n mod B, without dropLast) is split as ⌈(n mod B)/N⌉, which the single process with microBatch
// ⌈B/N⌉ does not do, so it agrees with it there only to rounding.
//
// The exchange is a fixed-order reduce-scatter plus an all-gather: the vector is cut into N
// slices; rank j receives slice j of every rank's sum (all_to_all), adds them in rank order, scales
// and rounds to float, and all ranks gather the float slices (all_gather). Per rank and step that
// moves about 8·P bytes out and in for the sums plus 4·P for the result (P parameters), the
// volume of a ring all-reduce, without its timing-dependent summation order.
//
// Collective is the transport. native/mpi_collective.cpp implements it over MPI (built only when
// CMake finds MPI); the tests implement it over threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model.h"

namespace bigstep {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // send [size·block] → recv [size·block]: send's block j goes to rank j; recv's block r came from
  // rank r. Every rank calls it with the same block.
  virtual void all_to_all(const double* send, double* recv, size_t block) = 0;
  // mine [bytes] → all [size·bytes], rank r's bytes at r·bytes. Every rank passes the same bytes.
  virtual void all_gather(const void* mine, void* all, size_t bytes) = 0;
};

// Examples [begin, end) of a b-example batch that `rank` of `size` computes (the ⌈b/N⌉ split).
struct ShardRange {
  int64_t begin = 0, end = 0;
};
ShardRange shard_of(int64_t b, int rank, int size);

// Throws RangeError naming `param` when b examples cannot give each of `size` ranks at least one
// example under the ⌈b/N⌉ split (b < N, or e.g. b = 5 over N = 4: shards 2, 2, 1, 0).
void check_shardable(int64_t b, int size, const char* param);

// Checks a data-parallel plan before the first step (RangeError naming the parameter):
//   - every batch splits over `ranks` (check_shardable): the full data set (`full`, n examples),
//     or batches of `batch` examples and, unless drop_last, an epoch's last, shorter batch n mod batch;
//   - no batch norm: in training mode each rank would update the running statistics from its own
//     shard, and the ranks' models would drift apart.
void validate_data_parallel(const Model& model, int64_t n, bool full, int64_t batch, bool drop_last, int ranks);

// Scratch reused from step to step (no allocation in steady state).
struct DataParallelScratch {
  std::vector<float> piece_grads;      // [param_count] gradient of one piece
  std::vector<double> send, recv;      // [N·slice] the rank's sum (padded), the slices received
  std::vector<float> slice, gathered;  // [slice], [N·slice]
  std::vector<double> totals;          // [N·2] every rank's loss sum and correct count
};

// One step's gradient under the contract above, on this rank:
//   x [b, in_size], y (labels [b] or values [b, out_size]): the whole batch, identical on every
//   rank; grads [param_count] ← the mean-loss gradient over all b examples (identical on every
//   rank); returns the mean loss; *correct (if non-null) ← correct predictions over all b.
//   micro_batch: examples per forward/backward pass within the shard (0 = the whole shard).
double data_parallel_loss_and_grad(Model& model, Collective& comm, int64_t micro_batch, const float* params,
                                   float* state, const float* x, const Target& y, int64_t b, float* grads,
                                   int64_t* correct, DataParallelScratch& scratch);

}  // namespace bigstep
