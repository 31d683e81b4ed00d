// What trainSync and trainAsync (binding/trainer.cpp) share:
// the typed arrays a training job borrows (Borrows), the conversion of the job fields both read
// (data, batch plan, counters, RNG states, rest-of-epoch permutation, logs), the busy guard, and
// the async worker that runs a chunk.
//
// Detach safety of async chunks. A chunk runs on a worker thread while JS keeps running, and JS can
// detach an ArrayBuffer at any time (structuredClone / postMessage with a transfer list,
// ArrayBuffer.prototype.transfer, napi_detach_arraybuffer): its memory is then freed as soon as
// the new owner is collected, and Node-API cannot pin a backing store. So before an async chunk
// starts, Borrows::pin_for_worker() makes every array the worker touches safe:
//   - SharedArrayBuffer-backed arrays cannot be detached (they are not transferable and have no
//     transfer()); the reference the worker holds keeps them alive, so they stay borrowed:
//     zero-copy, and JS sees writes as they happen (the Trainer keeps its data set in one);
//   - ArrayBuffer-backed arrays are copied into worker-owned memory; the writable ones (params,
//     grads, state, perm, logs) are copied back on the main thread when the chunk settles. If one
//     was detached (or resized) meanwhile, nothing is written back and the promise rejects with a
//     TypeError naming it;
//   - arrays whose values are used as indices or loop bounds and were validated at chunk start
//     (labels, counters, RNG states) are always copied, so another thread writing a shared buffer
//     cannot turn them into out-of-bounds accesses. `perm` stays borrowed when shared: gather_batch
//     (native/sampler.cpp) checks every index it reads.
// Synchronous calls borrow everything (no JS runs until they return).
#pragma once
#include <napi.h>

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
  Read,            // bulk data the chunk reads (x, targets, masks)
  Write,           // state the chunk writes (params, grads, model/optimizer state, perm, logs)
  ReadValidated,   // read, values checked at chunk start and used as indices (labels): always copied
  WriteValidated,  // written, checked at chunk start, used as bounds (counters, RNG states): always copied
};

// The worker-owned copies of a chunk, kept by the owner (NativeModel) from
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
  // points `field` at its data and records it. The field must not move afterwards (jobs live on
  // the heap; plans are moved, not copied). Returns the length in elements.
  template <typename T>
  size_t bind(T*& field, Napi::Value value, const std::string& param, Use use, size_t expected = kAnyLength) {
    using Elem = std::remove_const_t<T>;
    ArrayView<Elem> view = expected == kAnyLength ? as_array<Elem>(value, param) : as_array<Elem>(value, param, expected);
    field = view.data;
    Entry e;
    e.value = value;
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

  // For an async chunk, on the main thread, right after conversion (no JS in between): holds a
  // reference to every array and points the job at worker-owned copies (in `scratch`, which must
  // outlive the chunk) where needed (see above).
  void pin_for_worker(Napi::Env env, ChunkScratch& scratch);

  // On the main thread once the chunk is over: copies the worker-owned results back into the
  // writable arrays. If one of them was detached or resized meanwhile, writes nothing and returns
  // its parameter name; else returns "".
  std::string copy_back(Napi::Env env);

 private:
  struct Entry {
    Napi::Value value;                 // during conversion only
    Napi::Reference<Napi::Value> ref;  // from pin_for_worker on
    void* field = nullptr;
    void (*set)(void* field, void* data) = nullptr;
    size_t bytes = 0;
    Use use = Use::Read;
    std::string param;
    uint8_t* copy = nullptr;  // worker-owned copy (in the owner's ChunkScratch), or null when borrowed
  };
  std::vector<Entry> entries_;
};

// ---- job fields both trainers read ----------------------------------------------------------------

BatchPlan to_batch_plan(Napi::Value v, int64_t n);

// job.x [n, input_size] and job.y (Int32Array labels [n] for cross-entropy, else Float32Array
// targets [n, output_size]).
void to_data(Napi::Value x, Napi::Value y, const Layout& layout, LossKind loss, DataRef& data, Borrows& borrows);

// [step, cursor, epoch]: non-negative integers, cursor <= n, step < 2^53.
void check_counters(Napi::Env env, const double* counters, int64_t n);
// xoshiro256** never leaves the all-zero state: a zeroed stream would make batch draws spin.
// `which` qualifies the message, e.g. " for model 3" when `param` holds one state per model.
void check_rng(Napi::Env env, const uint64_t* state, const std::string& param, const std::string& which = "");
// Mid-epoch, the rest of the epoch's order is read from perm: every index must be in [0, n).
void check_perm_rest(Napi::Env env, const int32_t* perm, double cursor, int64_t n, BatchMode mode);

// logs.{loss, lr, accuracy}: optional Float64Arrays of `length` each.
template <typename Logs>
void to_logs(Napi::Value v, size_t length, Logs& logs, Borrows& borrows) {
  if (v.IsUndefined() || v.IsNull()) return;
  Napi::Object o = as_object(v, "logs");
  for (const auto& [key, field] : {std::pair<const char*, double**>{"loss", &logs.loss}, {"lr", &logs.lr},
                                   {"accuracy", &logs.accuracy}}) {
    Napi::Value f = o.Get(key);
    if (!f.IsUndefined()) borrows.bind(*field, f, std::string("logs.") + key, Use::Write, length);
  }
}

// ---- running a chunk ------------------------------------------------------------------------------

// Marks a wrapped object (NativeModel) busy while its job is converted:
// getters and Proxy traps on the job run JS, which must not close it or start another chunk.
template <typename Wrap>
struct BusyGuard {
  Wrap* wrap;
  bool armed = true;
  explicit BusyGuard(Wrap* w) : wrap(w) { wrap->set_busy(true); }
  ~BusyGuard() {
    if (armed) wrap->set_busy(false);
  }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;
};

// Runs `run(job)` on the thread pool and settles a promise with `to_js(result)`. Keeps the owner
// object and every borrowed array alive, and the owner busy, until then. Errors: a NativeError from
// the loop rejects as its JS class with "job." before its parameter (e.g. "job.perm[37]").
template <typename Wrap, typename Job, typename Result>
class ChunkWorker : public Napi::AsyncWorker {
 public:
  using Run = std::function<Result(Job&)>;
  using ToJs = Napi::Object (*)(Napi::Env, const Result&);

  // Call pin_for_worker on `borrows` first (with wrap's scratch).
  ChunkWorker(Napi::Env env, const char* name, Wrap* wrap, Napi::Object owner, std::unique_ptr<Job> job,
              Borrows borrows, Run run, ToJs to_js)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        owner_(Napi::Persistent(owner)),
        job_(std::move(job)),
        borrows_(std::move(borrows)),
        run_(std::move(run)),
        to_js_(to_js) {
    wrap_->set_busy(true);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = run_(*job_);
    } catch (const NativeError& e) {
      native_error_.emplace(with_param_prefix(e, "job."));
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native exception in a training chunk");
    }
  }
  void OnOK() override { settle(nullptr); }
  void OnError(const Napi::Error& e) override { settle(&e); }

 private:
  void settle(const Napi::Error* error) {
    wrap_->set_busy(false);
    settle_unless_terminating([&] {
      Napi::Env env = Env();
      // Written back on failure too, as a synchronous call would have left them.
      const std::string detached = borrows_.copy_back(env);
      if (!detached.empty())
        deferred_.Reject(make_type_error(env, detached,
                                         "kept attached while a chunk runs (its buffer was detached, transferred or "
                                         "resized; the chunk's results were not written back)")
                             .Value());
      else if (native_error_)
        deferred_.Reject(make_native_error(env, *native_error_).Value());
      else if (error)
        deferred_.Reject(error->Value());
      else
        deferred_.Resolve(to_js_(env, result_));
    });
  }

  Napi::Promise::Deferred deferred_;
  Wrap* wrap_;
  Napi::ObjectReference owner_;
  std::unique_ptr<Job> job_;
  Borrows borrows_;
  Run run_;
  ToJs to_js_;
  Result result_{};
  std::optional<NativeError> native_error_;
};

// The two entry points of a trainer binding. `convert(job, borrows)` fills the job from the call's
// arguments (the owner is busy meanwhile: getters run JS), `run(job)` runs the chunk and returns
// the result `to_js` turns into the returned object.
//   run_chunk_sync:    on this thread; returns to_js(result).
//   start_chunk_async: pins the borrowed arrays (Borrows::pin_for_worker, copies in the owner's
//                      wrap->chunk_scratch()) and queues a ChunkWorker; returns its promise.
template <typename Job, typename Wrap, typename Convert, typename Run, typename ToJs>
Napi::Value run_chunk_sync(Napi::Env env, Wrap* wrap, Convert convert, Run run, ToJs to_js) {
  BusyGuard<Wrap> guard(wrap);
  Borrows borrows;
  auto job = std::make_unique<Job>();
  convert(*job, borrows);
  try {
    return to_js(env, run(*job));
  } catch (const NativeError& e) {
    rethrow_native(env, with_param_prefix(e, "job."));
  }
}

template <typename Job, typename Wrap, typename Convert, typename Run, typename ToJs>
Napi::Value start_chunk_async(Napi::Env env, const char* name, Wrap* wrap, Napi::Object owner, Convert convert, Run run,
                              ToJs to_js) {
  using Result = decltype(run(std::declval<Job&>()));
  BusyGuard<Wrap> guard(wrap);
  Borrows borrows;
  auto job = std::make_unique<Job>();
  convert(*job, borrows);
  borrows.pin_for_worker(env, wrap->chunk_scratch());
  auto* worker = new ChunkWorker<Wrap, Job, Result>(env, name, wrap, owner, std::move(job), std::move(borrows),
                                                    std::move(run), to_js);
  guard.armed = false;  // the worker keeps the owner busy until the chunk settles
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace bigstep::binding
