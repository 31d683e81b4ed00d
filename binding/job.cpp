#include "job.h"

#include <cmath>
#include <cstring>

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
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  *bytes = length * elem;
  return true;
}

}  // namespace

void Borrows::check_attached(Napi::Env env) const {
  for (const Entry& e : entries_)
    if (typed_array_detached(env, e.value))
      throw_type_error(env, "job", "an object whose typed arrays stay attached while it is read (a getter detached one)");
}

void Borrows::pin_for_worker(Napi::Env env, ChunkScratch& scratch) {
  size_t copies = 0;
  for (Entry& e : entries_) {
    e.ref = Napi::Persistent(e.value);
    void* data = nullptr;
    size_t bytes = 0;
    bool shared = false;
    if (!typed_array_bytes(env, e.value, &data, &bytes, &shared) || bytes != e.bytes)
      throw_type_error(env, e.param, "attached and unchanged until the chunk starts");
    if (shared && (e.use == Use::Read || e.use == Use::Write)) continue;  // cannot be detached: borrowed
    e.copy = scratch.buffer(copies++, e.bytes);
    if (e.bytes) std::memcpy(e.copy, data, e.bytes);
    e.set(e.field, e.copy);
  }
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

BatchPlan to_batch_plan(Napi::Value v, int64_t n) {
  Napi::Object o = as_object(v, "job.batch");
  BatchPlan plan;
  const std::string mode = as_string(o.Get("mode"), "job.batch.mode");
  if (mode == "full") plan.mode = BatchMode::Full;
  else if (mode == "sequential") plan.mode = BatchMode::Sequential;
  else if (mode == "shuffle") plan.mode = BatchMode::Shuffle;
  else if (mode == "replacement") plan.mode = BatchMode::Replacement;
  else
    throw_range_error(v.Env(), "job.batch.mode",
                      "must be one of full, sequential, shuffle, replacement (got \"" + mode + "\")");
  Napi::Value f;
  if (plan.mode != BatchMode::Full) plan.batch = as_integer(o.Get("size"), "job.batch.size", 1, n);
  if (get_optional(o, "dropLast", &f)) plan.drop_last = as_bool(f, "job.batch.dropLast");
  if (get_optional(o, "amplify", &f)) plan.amplify_k = as_finite(f, "job.batch.amplify");
  if (get_optional(o, "microBatch", &f)) plan.micro_batch = as_integer(f, "job.batch.microBatch", 1, INT64_C(1) << 40);
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
    if (get_optional(a, "cropPadding", &f)) plan.augment.crop_pad = as_integer(f, "job.batch.augment.cropPadding", 0, INT32_MAX);
    if (get_optional(a, "flip", &f)) plan.augment.hflip = as_bool(f, "job.batch.augment.flip");
  }
  return plan;
}

void to_data(Napi::Value x, Napi::Value y, const Layout& layout, LossKind loss, DataRef& data, Borrows& borrows) {
  const size_t length = borrows.bind(data.x, x, "job.x", Use::Read);
  if (layout.input_size == 0 || length % layout.input_size != 0 || length == 0)
    throw_range_error(x.Env(), "job.x", "length must be a positive multiple of inputSize " +
                                            std::to_string(layout.input_size) + " (got " + std::to_string(length) + ")");
  data.n = (int64_t)(length / layout.input_size);
  if (loss == LossKind::SoftmaxCrossEntropy)
    borrows.bind(data.y.labels, y, "job.y", Use::ReadValidated, (size_t)data.n);
  else
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

void check_rng(Napi::Env env, const uint64_t* r, const std::string& param, const std::string& which) {
  if ((r[0] | r[1] | r[2] | r[3]) == 0)
    throw_range_error(env, param, "must not be all zero" + which +
                                      " (not a valid xoshiro256** state; seed it with seedRngState)");
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
