#include "job.h"

#include <cmath>
#include <cstring>

#include "kinds.h"
#include "mpi_collective.h"

namespace bigstep::binding {
namespace {

// The typed array's current data and byte length (0 / null if it is detached or not one).
bool typed_array_bytes(Napi::Env env, napi_value v, void** data, size_t* bytes, bool* shared) {
  napi_typedarray_type type;
  size_t length = 0;
  napi_value buffer = nullptr;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &buffer, &offset) != napi_ok) return false;
  bool is_ab = false;
  if (napi_is_arraybuffer(env, buffer, &is_ab) != napi_ok) return false;
  *shared = !is_ab;  // the only other backing of a typed array is a SharedArrayBuffer
  if (is_ab && is_detached(env, Napi::ArrayBuffer(env, buffer))) return false;
  size_t elem = 1;
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: elem = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: elem = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  *bytes = length * elem;
  return true;
}

}  // namespace

void Borrows::check_attached(Napi::Env env) const {
  for (const Entry& e : entries_)
    if (typed_array_detached(env, e.ref.Value()))
      throw_type_error(env, "job",
                       "an object whose typed arrays stay attached while it is read (a getter detached one)");
}

void Borrows::borrow_all(Napi::Env env) {
  for (Entry& e : entries_) {
    void* data = nullptr;
    size_t bytes = 0;
    bool shared = false;
    if (!typed_array_bytes(env, e.ref.Value(), &data, &bytes, &shared) || bytes != e.bytes)
      throw_type_error(env, e.param,
                       "kept attached and unresized while its trainer lives (it was detached or resized)");
    e.copy = nullptr;
    e.set(e.field, data);
  }
}

size_t Borrows::pin_for_worker(Napi::Env env, ChunkScratch& scratch, size_t first) {
  size_t next = first;
  for (Entry& e : entries_) {
    void* data = nullptr;
    size_t bytes = 0;
    bool shared = false;
    if (!typed_array_bytes(env, e.ref.Value(), &data, &bytes, &shared) || bytes != e.bytes)
      throw_type_error(env, e.param,
                       "kept attached and unresized while its trainer lives (it was detached or resized)");
    e.copy = nullptr;
    if (shared && (e.use == Use::Read || e.use == Use::Write)) {  // cannot be detached: borrowed
      e.set(e.field, data);
      continue;
    }
    e.copy = scratch.buffer(next++, e.bytes);
    if (e.bytes) std::memcpy(e.copy, data, e.bytes);
    e.set(e.field, e.copy);
  }
  return next;
}

std::string Borrows::copy_back(Napi::Env env) {
  std::vector<std::pair<void*, const Entry*>> targets;
  for (const Entry& e : entries_) {
    if (!e.copy || (e.use != Use::Write && e.use != Use::WriteValidated)) continue;
    void* data = nullptr;
    size_t bytes = 0;
    bool shared = false;
    if (!typed_array_bytes(env, e.ref.Value(), &data, &bytes, &shared) || bytes != e.bytes) return e.param;
    targets.emplace_back(data, &e);
  }
  for (const auto& [data, e] : targets)
    if (e->bytes) std::memcpy(data, e->copy, e->bytes);
  return "";
}

std::atomic<int>& collective_chunks_in_flight() {
  static std::atomic<int> count{0};
  return count;
}

void refuse_while_collective_chunk_runs(Napi::Env env, const std::string& what) {
  if (collective_chunks_in_flight().load() > 0)
    throw_state_error(env, "ERR_BIGSTEP_BUSY",
                      what +
                          ": a data-parallel training chunk is running (its collective calls come from a worker "
                          "thread); await it first, so that every rank makes its collective calls in the same order");
}

BatchPlan to_batch_plan(Napi::Value v, int64_t n) {
  Napi::Object o = as_object(v, "job.batch");
  BatchPlan plan;
  plan.mode = parse_kind(kBatchModes, o.Get("mode"), "job.batch.mode");
  Napi::Value f;
  if (plan.mode != BatchMode::Full) plan.batch = as_integer(o.Get("size"), "job.batch.size", 1, n);
  if (get_optional(o, "dropLast", &f)) plan.drop_last = as_bool(f, "job.batch.dropLast");
  if (get_optional(o, "amplify", &f)) plan.amplify_k = as_finite(f, "job.batch.amplify");
  if (get_optional(o, "microBatch", &f)) plan.micro_batch = as_integer(f, "job.batch.microBatch", 1, INT64_C(1) << 40);
  if (get_optional(o, "shards", &f)) plan.shards = as_integer(f, "job.batch.shards", 1, INT64_C(1) << 20);
  if (get_optional(o, "dataParallel", &f) && as_bool(f, "job.batch.dataParallel")) {
    if (!mpi_built())
      throw_state_error(v.Env(), "ERR_BIGSTEP_MPI",
                        "job.batch.dataParallel needs a build with MPI (apt-get install openmpi-bin libopenmpi-dev, "
                        "then npm run build)");
    if (!mpi_initialized())
      throw_state_error(v.Env(), "ERR_BIGSTEP_MPI", "job.batch.dataParallel needs MPI initialised first (initMpi())");
    plan.collective = &mpi_world();  // this process's ranks (MPI_COMM_WORLD)
  }
  if (get_optional(o, "augment", &f)) {
    // { shape: [C, H, W], cropPadding, flip }: the per-example image shape and the recipe.
    Napi::Object a = as_object(f, "job.batch.augment");
    Napi::Value shape = a.Get("shape");
    if (!shape.IsArray() || shape.As<Napi::Array>().Length() != 3)
      throw_type_error(v.Env(), "job.batch.augment.shape", "an array [C, H, W]");
    Napi::Array s = shape.As<Napi::Array>();
    plan.augment.channels = as_integer(s.Get(0u), "job.batch.augment.shape[0]", 1, INT32_MAX);
    plan.augment.height = as_integer(s.Get(1u), "job.batch.augment.shape[1]", 1, INT32_MAX);
    plan.augment.width = as_integer(s.Get(2u), "job.batch.augment.shape[2]", 1, INT32_MAX);
    if (get_optional(a, "cropPadding", &f))
      plan.augment.crop_pad = as_integer(f, "job.batch.augment.cropPadding", 0, INT32_MAX);
    if (get_optional(a, "flip", &f)) plan.augment.hflip = as_bool(f, "job.batch.augment.flip");
  }
  return plan;
}

void to_data(Napi::Value x, Napi::Value y, const Layout& layout, LossKind loss, DataRef& data,
             std::vector<int32_t>& labels, Borrows& borrows) {
  const size_t length = borrows.bind(data.x, x, "job.x", Use::Read);
  if (layout.input_size == 0 || length % layout.input_size != 0 || length == 0)
    throw_range_error(x.Env(), "job.x",
                      "length must be a positive multiple of inputSize " + std::to_string(layout.input_size) +
                          " (got " + std::to_string(length) + ")");
  data.n = (int64_t)(length / layout.input_size);
  if (loss == LossKind::SoftmaxCrossEntropy) {
    // Used as indices: copied once into job-owned memory and checked then (validate_training).
    ArrayView<int32_t> view = as_array<int32_t>(y, "job.y", (size_t)data.n);
    labels.assign(view.data, view.data + view.length);
    data.y.labels = labels.data();
  } else
    borrows.bind(data.y.values, y, "job.y", Use::Read, (size_t)data.n * layout.output_size);
}

void check_counters(Napi::Env env, const double* c, int64_t n) {
  const double step = c[0], cursor = c[1], epoch = c[2];
  if (!(cursor >= 0 && cursor <= (double)n) || !(step >= 0))
    throw_range_error(env, "job.counters", "hold an invalid step or cursor (was the data set changed?)");
  // The step and cursor are cast to int64 natively; the epoch is only counted.
  if (std::floor(cursor) != cursor || std::floor(step) != step || step > 9007199254740991.0 || !(epoch >= 0) ||
      !std::isfinite(epoch))
    throw_range_error(env, "job.counters", "must hold [step, cursor, epoch] as non-negative integers (step < 2^53)");
}

void check_rng(Napi::Env env, const uint64_t* r, const std::string& param) {
  if ((r[0] | r[1] | r[2] | r[3]) == 0)
    throw_range_error(env, param, "must not be all zero (not a valid xoshiro256** state; seed it with seedRngState)");
}

void check_perm_rest(Napi::Env env, const int32_t* perm, double cursor, int64_t n, BatchMode mode) {
  if ((mode != BatchMode::Sequential && mode != BatchMode::Shuffle) || !(cursor > 0)) return;
  for (int64_t i = (int64_t)cursor; i < n; ++i)
    if (perm[i] < 0 || perm[i] >= n)
      throw_range_error(env, "job.perm[" + std::to_string(i) + "]",
                        "must be an example index in [0, " + std::to_string(n) + ") (got " + std::to_string(perm[i]) +
                            "; was the data set changed?)");
}

}  // namespace bigstep::binding
