// The pieces of a persistent training job (binding/trainer.cpp, JS class TrainJob): the typed
// arrays it keeps (Borrows), the conversion of its fields (data, batch plan, counters, RNG states,
// rest-of-epoch permutation, logs) and the per-chunk checks.
//
// A TrainJob converts and validates its options once, when it is made, and keeps a reference to
// every typed array it uses. A chunk then checks only the model (busy, closed), that each array is
// still attached with its length, and the counters and RNG states (JS may rewrite them between
// chunks: importState, checkpoints).
//
// Detach safety of async chunks. A chunk runs on a worker thread while JS keeps running, and JS can
// detach an ArrayBuffer at any time (structuredClone / postMessage with a transfer list,
// ArrayBuffer.prototype.transfer, napi_detach_arraybuffer): its memory is then freed as soon as
// the new owner is collected, and Node-API cannot pin a backing store. So before an async chunk
// starts, Borrows::pin_for_worker() makes every array the worker touches safe:
//   - SharedArrayBuffer-backed arrays cannot be detached (they are not transferable and have no
//     transfer()); the reference the job holds keeps them alive, so they stay borrowed: zero-copy,
//     and JS sees writes as they happen. The Trainer keeps the data set, the parameters, gradients,
//     model and optimizer state and the epoch order in shared memory, so its chunks copy nothing
//     parameter- or data-sized;
//   - ArrayBuffer-backed arrays (a direct binding user's) are copied into worker-owned memory; the
//     writable ones are copied back on the main thread when the chunk settles. If one was detached
//     (or resized) meanwhile, nothing is written back and the promise rejects with a TypeError
//     naming it;
//   - arrays whose values are used as loop bounds and are checked at chunk start (counters, RNG
//     states: a few words) are always copied, so another thread writing a shared buffer cannot
//     turn them into out-of-bounds accesses. Labels are copied once, when the job is made, and
//     checked then. `perm` stays borrowed when shared: gather_batch (native/sampler.cpp) checks
//     every index it reads.
// Synchronous chunks borrow everything (no JS runs until they return).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "args.h"
#include "errors.h"
#include "model.h"
#include "trainer.h"

namespace bigstep::binding {

enum class Use {
  Read,            // bulk data the chunk reads (x, targets)
  Write,           // state the chunk writes (params, grads, model/optimizer state, perm, logs)
  WriteValidated,  // written, checked at chunk start, used as bounds (counters, RNG states): always copied
  ReadValidated,   // read, checked after pinning, used as indices (an evaluation's labels): always copied
};

// The worker-owned copies of a chunk, kept by the model (NativeModel) from
// chunk to chunk: fresh buffers would page-fault through every copied megabyte each time. Only one
// chunk runs per owner (it is busy meanwhile), so one set of buffers suffices; close() frees them.
class ChunkScratch {
 public:
  // The i-th buffer, at least `bytes` long (contents unspecified).
  uint8_t* buffer(size_t i, size_t bytes) {
    if (buffers_.size() <= i) buffers_.resize(i + 1);
    Buffer& b = buffers_[i];
    if (b.capacity < bytes || !b.data) {
      b.data.reset(new uint8_t[bytes ? bytes : 1]);
      b.capacity = bytes;
    }
    return b.data.get();
  }
  void clear() { buffers_.clear(); }

 private:
  struct Buffer {
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = 0;
  };
  std::vector<Buffer> buffers_;
};

class Borrows {
 public:
  static constexpr size_t kAnyLength = SIZE_MAX;

  // Converts `value` to a typed array of element type T (TypeError / RangeError naming `param`),
  // points `field` at its data and keeps a reference to it. The field must not move afterwards
  // (jobs live on the heap; plans are moved, not copied). Returns the length in elements.
  template <typename T>
  size_t bind(T*& field, Napi::Value value, const std::string& param, Use use, size_t expected = kAnyLength) {
    using Elem = std::remove_const_t<T>;
    ArrayView<Elem> view =
        expected == kAnyLength ? as_array<Elem>(value, param) : as_array<Elem>(value, param, expected);
    field = view.data;
    Entry e;
    e.ref = Napi::Persistent(value);
    e.field = static_cast<void*>(&field);
    e.set = [](void* f, void* data) { *static_cast<T**>(f) = static_cast<T*>(data); };
    e.bytes = view.length * sizeof(Elem);
    e.use = use;
    e.param = param;
    entries_.push_back(std::move(e));
    return view.length;
  }

  // Throws TypeError "job ..." if an array was detached after it was read (a getter or Proxy trap
  // that ran later during the conversion).
  void check_attached(Napi::Env env) const;

  // For a synchronous chunk: points every field at its array's memory. TypeError naming an array
  // that was detached or resized since it was bound.
  void borrow_all(Napi::Env env);

  // For an async chunk, on the main thread, with no JS run before the worker starts: points the
  // job at worker-owned copies (in `scratch` from buffer index `first` on; it must outlive the
  // chunk) where needed (see above), the rest at the arrays' memory. Returns the next free
  // buffer index. TypeError naming an array that was detached or resized since it was bound.
  size_t pin_for_worker(Napi::Env env, ChunkScratch& scratch, size_t first = 0);

  // On the main thread once the chunk is over: copies the worker-owned results back into the
  // writable arrays. If one of them was detached or resized meanwhile, writes nothing and returns
  // its parameter name; else returns "".
  std::string copy_back(Napi::Env env);

 private:
  struct Entry {
    Napi::Reference<Napi::Value> ref;  // keeps the array alive as long as the job
    void* field = nullptr;
    void (*set)(void* field, void* data) = nullptr;
    size_t bytes = 0;
    Use use = Use::Read;
    std::string param;
    uint8_t* copy = nullptr;  // this chunk's worker-owned copy (in the model's ChunkScratch), or null when borrowed
  };
  std::vector<Entry> entries_;
};

// ---- data-parallel chunks in flight ------------------------------------------------------------------

// Data-parallel training chunks running on the thread pool, counted per process (MPI is one per
// process, shared by every worker_thread environment). Such a chunk makes its collective calls
// from its worker thread, so while one runs no other MPI call may start: MPI_THREAD_SERIALIZED
// allows one calling thread at a time, and the ranks could pair up calls of two operations.
std::atomic<int>& collective_chunks_in_flight();
// Throws an Error with code ERR_BIGSTEP_BUSY naming `what` while such a chunk runs.
void refuse_while_collective_chunk_runs(Napi::Env env, const std::string& what);

// ---- job fields ------------------------------------------------------------------------------------

BatchPlan to_batch_plan(Napi::Value v, int64_t n);

// job.x [n, input_size] and job.y (Int32Array labels [n] for cross-entropy, copied into `labels`
// once; else Float32Array targets [n, output_size], borrowed).
void to_data(Napi::Value x, Napi::Value y, const Layout& layout, LossKind loss, DataRef& data,
             std::vector<int32_t>& labels, Borrows& borrows);

// [step, cursor, epoch]: non-negative integers, cursor <= n, step < 2^53.
void check_counters(Napi::Env env, const double* counters, int64_t n);
// xoshiro256** never leaves the all-zero state: a zeroed stream would make batch draws spin.
void check_rng(Napi::Env env, const uint64_t* state, const std::string& param);
// Mid-epoch, the rest of the epoch's order is read from perm: every index must be in [0, n).
void check_perm_rest(Napi::Env env, const int32_t* perm, double cursor, int64_t n, BatchMode mode);

// logs.{loss, lr, accuracy}: optional Float64Arrays of `length` each.
template <typename Logs>
void to_logs(Napi::Value v, size_t length, Logs& logs, Borrows& borrows) {
  if (v.IsUndefined() || v.IsNull()) return;
  Napi::Object o = as_object(v, "logs");
  for (const auto& [key, field] :
       {std::pair<const char*, double**>{"loss", &logs.loss}, {"lr", &logs.lr}, {"accuracy", &logs.accuracy}}) {
    Napi::Value f = o.Get(key);
    if (!f.IsUndefined()) borrows.bind(*field, f, std::string("logs.") + key, Use::Write, length);
  }
}

}  // namespace bigstep::binding
