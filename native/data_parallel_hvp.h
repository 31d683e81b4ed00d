// Full-data passes split over ranks: Hessian-vector products (and the chunk rule full-data
// evaluation shares, src/train/data-parallel.ts) under the data-parallel contract.
//
// The contract. A pass over n examples in chunks of c = min(chunk, n) has C = ⌈n/c⌉ chunks, the
// same chunks one process makes. They are dealt to the ranks in rank order, k = ⌈C/N⌉ whole chunks
// per rank (the last ranks may get fewer, or none). Each rank computes its chunks' float H·v
// pieces; the pieces of every chunk are then added in double, in chunk order, with the weights
// N_chunk/n of HvpEngine::product. That is the single process's arithmetic step for step, so the
// result is bitwise HvpEngine::product(…, n, chunk, …) of one process, for every chunk size and
// every N — no "one piece per rank" condition as for training (native/data_parallel.h).
//
// The exchange is a reduce-scatter in chunk order plus an all-gather: the parameter vector is cut
// into N slices, rank j receives slice j of every chunk (all_to_all), adds them in chunk order and
// all ranks gather the double slices. Per rank and product that moves k·8·P bytes out and in for
// the pieces plus 8·P for the result (P parameters, k chunks per rank).
#pragma once
#include <cstdint>
#include <vector>

#include "data_parallel.h"
#include "hvp.h"

namespace bigstep {

// Chunks [first, end) of a pass over n examples in chunks of `chunk` that `rank` of `size`
// computes (the rule above; first == end when the rank has none), and the chunk count C.
struct ChunkShare {
  int64_t first = 0, end = 0, count = 0, per_rank = 0;
};
ChunkShare chunk_share(int64_t n, int64_t chunk, int rank, int size);

// Scratch reused between products (no allocation in steady state).
struct DataParallelHvpScratch {
  std::vector<double> send, recv;  // [N · k·slice] this rank's chunks by destination slice; the slices received
  std::vector<double> slice;       // [slice] this rank's slice of the result
  std::vector<double> gathered;    // [N · slice]
  std::vector<double> losses;      // [k] this rank's chunk loss sums, then [N · k] every rank's
  std::vector<double> all_losses;
};

// out[P] (overwritten, identical on every rank) = H·v of the mean loss over all n examples, bitwise
// engine.product(params, state, x, y, n, chunk, v, out, training) of one process:
//   params[P]; state[state_count] or null; x[n, input_size]; y: labels[n] or values[n, output_size]
//   (the whole data set, identical on every rank); v[P]. Returns the mean loss.
double data_parallel_hvp(HvpEngine& engine, Collective& comm, const Layout& layout, const float* params,
                         const float* state, const float* x, const Target& y, int n, int chunk, const double* v,
                         double* out, bool training, DataParallelHvpScratch& scratch);

}  // namespace bigstep
