#include "sampler.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"

namespace bigstep {

namespace {

// Rows idx[0..b) of the data set into the buffers; *x / *y point at them. Every index is checked
// against [0, n) before its row is read: indices drawn here are in range by construction, but
// `perm` lives in caller memory that JS can write while a chunk runs (a SharedArrayBuffer view is
// borrowed, not copied), and the binding validates it only at chunk start. Each index is read once (volatile), so the
// value checked is the value used; one compare per row.
void gather_batch(const DataRef& data, size_t in, size_t out, const int32_t* idx, int64_t b, const char* source,
                  int64_t source_offset, std::vector<float>& xbuf, std::vector<int32_t>& lbuf, std::vector<float>& tbuf,
                  const float** x, Target* y) {
  // x rows [b, in] copied from data.x[idx[i]]; labels [b] or targets [b, out] likewise.
  xbuf.resize((size_t)b * in);
  if (data.y.labels)
    lbuf.resize((size_t)b);
  else
    tbuf.resize((size_t)b * out);
  const volatile int32_t* vidx = idx;
  for (int64_t i = 0; i < b; ++i) {
    const int32_t j = vidx[i];
    if ((uint64_t)(uint32_t)j >= (uint64_t)data.n)
      throw_range(std::string(source) + "[" + std::to_string(source_offset + i) + "]",
                  "must be an example index in [0, " + std::to_string(data.n) + ") (got " + std::to_string(j) +
                      "; was it written while a chunk ran?)");
    std::memcpy(&xbuf[(size_t)i * in], data.x + (size_t)j * in, in * sizeof(float));
    if (data.y.labels)
      lbuf[(size_t)i] = data.y.labels[j];
    else
      std::memcpy(&tbuf[(size_t)i * out], data.y.values + (size_t)j * out, out * sizeof(float));
  }
  *x = xbuf.data();
  if (data.y.labels)
    *y = Target{lbuf.data(), nullptr};
  else
    *y = Target{nullptr, tbuf.data()};
}

}  // namespace

int64_t draw_batch(const DataRef& data, const BatchPlan& batch, double* c, int32_t* perm, Rng rng, size_t in,
                   size_t out, std::vector<int32_t>& idx, BatchBuffers& buf, const float** x, Target* y) {
  std::vector<float>& xbuf = buf.x;
  std::vector<int32_t>& lbuf = buf.labels;
  std::vector<float>& tbuf = buf.targets;
  switch (batch.mode) {
    case BatchMode::Full:
      *x = data.x;
      *y = data.y;
      c[kEpoch] += 1;
      return data.n;
    case BatchMode::Replacement: {
      lbuf.resize((size_t)batch.batch);
      idx.resize((size_t)batch.batch);
      for (int64_t i = 0; i < batch.batch; ++i) idx[(size_t)i] = (int32_t)rng.below((uint64_t)data.n);
      gather_batch(data, in, out, idx.data(), batch.batch, "batch index", 0, xbuf, lbuf, tbuf, x, y);
      return batch.batch;
    }
    case BatchMode::Sequential:
    case BatchMode::Shuffle: {
      int64_t cursor = (int64_t)c[kCursor];
      int64_t remaining = data.n - cursor;
      if (remaining <= 0 || (batch.drop_last && remaining < batch.batch)) {
        cursor = 0;
        c[kEpoch] += 1;
        remaining = data.n;
      }
      if (cursor == 0) {
        // Start of an epoch: identity order, then Fisher-Yates for Shuffle.
        for (int64_t i = 0; i < data.n; ++i) perm[i] = (int32_t)i;
        if (batch.mode == BatchMode::Shuffle)
          for (int64_t i = data.n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below((uint64_t)i + 1)]);
      }
      const int64_t b = std::min<int64_t>(batch.batch, remaining);
      gather_batch(data, in, out, perm + cursor, b, "perm", cursor, xbuf, lbuf, tbuf, x, y);
      c[kCursor] = (double)(cursor + b);
      return b;
    }
  }
  return 0;
}

int64_t draw_independent_batch(const DataRef& data, const BatchPlan& batch, int64_t b, Rng rng, size_t in, size_t out,
                               std::vector<int32_t>& idx, BatchBuffers& buf, const float** x, Target* y) {
  if (batch.mode == BatchMode::Replacement) {
    idx.resize((size_t)b);
    for (int64_t i = 0; i < b; ++i) idx[(size_t)i] = (int32_t)rng.below((uint64_t)data.n);
  } else {
    // Partial Fisher-Yates over a fresh identity so the draw depends only on the RNG state.
    idx.resize((size_t)data.n);
    for (int64_t i = 0; i < data.n; ++i) idx[(size_t)i] = (int32_t)i;
    for (int64_t i = 0; i < b; ++i)
      std::swap(idx[(size_t)i], idx[(size_t)(i + (int64_t)rng.below((uint64_t)(data.n - i)))]);
  }
  gather_batch(data, in, out, idx.data(), b, "batch index", 0, buf.x, buf.labels, buf.targets, x, y);
  return b;
}

}  // namespace bigstep
