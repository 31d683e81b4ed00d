#include "data_parallel_hvp.h"

#include <algorithm>
#include <string>

#include "errors.h"

namespace bigstep {

ChunkShare chunk_share(int64_t n, int64_t chunk, int rank, int size) {
  ChunkShare s;
  const int64_t c = std::min(chunk, n);
  s.count = (n + c - 1) / c;
  s.per_rank = (s.count + size - 1) / size;
  s.first = std::min<int64_t>(s.count, (int64_t)rank * s.per_rank);
  s.end = std::min<int64_t>(s.count, s.first + s.per_rank);
  return s;
}

double data_parallel_hvp(HvpEngine& engine, Collective& comm, const Layout& layout, const float* params,
                         const float* state, const float* x, const Target& y, int n, int chunk, const double* v,
                         double* out, bool training, DataParallelHvpScratch& sc) {
  if (n < 1) throw_range("n", "must be >= 1 (got " + std::to_string(n) + ")");
  if (chunk < 1) throw_range("chunk", "must be >= 1 (got " + std::to_string(chunk) + ")");
  if (!x || !out) throw_range("params", "params, x, v and out must not be null");
  const size_t P = layout.param_count, I = layout.input_size, D = layout.output_size;
  const int n_ranks = comm.size(), rank = comm.rank();
  const int c = std::min(chunk, n);
  const ChunkShare share = chunk_share(n, c, rank, n_ranks);
  const size_t k = (size_t)share.per_rank;
  const size_t slice = (P + (size_t)n_ranks - 1) / (size_t)n_ranks;
  const size_t block = k * slice;  // doubles this rank sends to each destination

  // This rank's chunks, each piece scattered by destination slice: send[j·block + t·slice + i] is
  // element j·slice + i of local chunk t (zero padding past P and for chunks this rank lacks).
  engine.begin(params, state, v, c, training);
  sc.send.assign(block * (size_t)n_ranks, 0.0);
  sc.losses.assign(k, 0.0);
  for (int64_t g = share.first; g < share.end; ++g) {
    const int64_t start = g * c;
    const int N = (int)std::min<int64_t>(c, n - start);
    const Target yc = y.labels ? Target{y.labels + start, nullptr} : Target{nullptr, y.values + (size_t)start * D};
    const size_t t = (size_t)(g - share.first);
    sc.losses[t] = engine.chunk(x + (size_t)start * I, yc, N);
    const float* hv = engine.chunk_hv();
    for (size_t j = 0; j * slice < P; ++j) {
      const size_t m = std::min(slice, P - j * slice);
      std::copy(hv + j * slice, hv + j * slice + m, sc.send.begin() + (std::ptrdiff_t)(j * block + t * slice));
    }
  }

  // Rank `rank` owns parameters [rank·slice, (rank+1)·slice): add every chunk's piece in chunk
  // order, weighted as HvpEngine::product weights it (out[i] += w·hv[i], w = N/n).
  sc.recv.resize(block * (size_t)n_ranks);
  comm.all_to_all(sc.send.data(), sc.recv.data(), block);
  sc.slice.assign(slice, 0.0);
  for (int64_t g = 0; g < share.count; ++g) {
    const int64_t start = g * c;
    const double w = (double)std::min<int64_t>(c, n - start) / n;
    const double* piece = sc.recv.data() + (size_t)(g / share.per_rank) * block + (size_t)(g % share.per_rank) * slice;
    for (size_t i = 0; i < slice; ++i) sc.slice[i] += w * piece[i];
  }
  sc.gathered.resize(slice * (size_t)n_ranks);
  comm.all_gather(sc.slice.data(), sc.gathered.data(), slice * sizeof(double));
  std::copy(sc.gathered.begin(), sc.gathered.begin() + (std::ptrdiff_t)P, out);

  // The loss: every chunk's sum, added in chunk order.
  sc.all_losses.resize(k * (size_t)n_ranks);
  comm.all_gather(sc.losses.data(), sc.all_losses.data(), k * sizeof(double));
  double loss = 0;
  for (int64_t g = 0; g < share.count; ++g) loss += sc.all_losses[(size_t)g];
  return loss / n;
}

}  // namespace bigstep
