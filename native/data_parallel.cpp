#include "data_parallel.h"

#include <algorithm>
#include <string>

#include "errors.h"

namespace bigstep {

ShardRange shard_of(int64_t b, int rank, int size) {
  const int64_t s = (b + size - 1) / size;
  ShardRange r;
  r.begin = std::min<int64_t>(b, (int64_t)rank * s);
  r.end = std::min<int64_t>(b, r.begin + s);
  return r;
}

void check_shardable(int64_t b, int size, const char* param) {
  const int64_t s = (b + size - 1) / size;
  if (b < size || (int64_t)(size - 1) * s >= b)
    throw_range(param, std::to_string(b) + " examples do not split over " + std::to_string(size) +
                           " ranks: in rank order each rank takes ceil(b/N) = " + std::to_string(s) +
                           ", which leaves the last rank none (use at least N examples, e.g. a multiple of N)");
}

void validate_data_parallel(const Model& model, int64_t n, bool full, int64_t batch, bool drop_last, int ranks) {
  if (full) {
    check_shardable(n, ranks, "data.n (full batch)");
  } else {
    check_shardable(batch, ranks, "batch.size");
    if (!drop_last && n % batch != 0)
      check_shardable(n % batch, ranks, "batch.size (an epoch's last batch, n mod size)");
  }
  if (model.layout().state_count > 0)
    throw_range("dataParallel",
                "does not support batch norm: each rank would update the running statistics from its own shard, "
                "and the ranks' models would drift apart");
}

double data_parallel_loss_and_grad(Model& model, Collective& comm, int64_t micro_batch, const float* params,
                                   float* state, const float* x, const Target& y, int64_t b, float* grads,
                                   int64_t* correct, DataParallelScratch& sc) {
  const Layout& layout = model.layout();
  const size_t count = layout.param_count, in = layout.input_size, out = layout.output_size;
  const int n_ranks = comm.size(), rank = comm.rank();
  check_shardable(b, n_ranks, "batch size");
  const ShardRange shard = shard_of(b, rank, n_ranks);
  const int64_t piece = micro_batch > 0 ? micro_batch : shard.end - shard.begin;
  const size_t slice = (count + (size_t)n_ranks - 1) / (size_t)n_ranks;

  // This rank's example-weighted sums over its shard, in double, piece by piece in example order.
  sc.piece_grads.resize(count);
  sc.send.assign(slice * (size_t)n_ranks, 0.0);
  double local[2] = {0.0, 0.0};  // loss sum, correct count
  for (int64_t start = shard.begin; start < shard.end; start += piece) {
    const int64_t m = std::min(piece, shard.end - start);
    const Target yp = y.labels ? Target{y.labels + start, nullptr} : Target{nullptr, y.values + (size_t)start * out};
    int64_t c = 0;
    const double l = model.loss_and_grad(params, state, x + (size_t)start * in, yp, (int)m, sc.piece_grads.data(),
                                         /*training=*/true, correct ? &c : nullptr);
    local[0] += l * (double)m;
    local[1] += (double)c;
    for (size_t i = 0; i < count; ++i) sc.send[i] += (double)m * (double)sc.piece_grads[i];
  }

  // Reduce-scatter in rank order: this rank owns parameters [rank·slice, (rank+1)·slice).
  sc.recv.resize(slice * (size_t)n_ranks);
  comm.all_to_all(sc.send.data(), sc.recv.data(), slice);
  const double inv = 1.0 / (double)b;
  sc.slice.resize(slice);
  for (size_t i = 0; i < slice; ++i) {
    double sum = 0.0;
    for (int r = 0; r < n_ranks; ++r) sum += sc.recv[(size_t)r * slice + i];
    sc.slice[i] = (float)(sum * inv);
  }
  sc.gathered.resize(slice * (size_t)n_ranks);
  comm.all_gather(sc.slice.data(), sc.gathered.data(), slice * sizeof(float));
  std::copy(sc.gathered.begin(), sc.gathered.begin() + (std::ptrdiff_t)count, grads);

  // Loss and accuracy counts, also added in rank order.
  sc.totals.resize(2 * (size_t)n_ranks);
  const double* totals = sc.totals.data();
  comm.all_gather(local, sc.totals.data(), sizeof(local));
  double loss_sum = 0.0, correct_sum = 0.0;
  for (int r = 0; r < n_ranks; ++r) {
    loss_sum += totals[2 * r];
    correct_sum += totals[2 * r + 1];
  }
  if (correct) *correct = (int64_t)correct_sum;
  return loss_sum * inv;
}

}  // namespace bigstep
