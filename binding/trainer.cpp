// JS class TrainJob: one persistent training job per Trainer.
//   new TrainJob(model, job)  converts and validates the job once (data, batch plan, optimizer
//                             plan, buffer lengths, labels) and keeps a reference to every array;
//   runSync(steps, logs?)     runs a chunk on this thread;
//   runAsync(steps, logs?)    runs it on the thread pool -> Promise.
// A chunk checks only the model (busy, closed), that the arrays are still attached, and the
// counters and RNG states; both kinds of chunk call the same Trainer::run, so k async steps are
// bitwise equal to k sync steps. The async worker touches only the job's structs and memory that
// JS cannot free under it (binding/job.h).
#include <napi.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "job.h"
#include "model_wrap.h"
#include "optimizer_plan.h"
#include "register.h"

namespace bigstep::binding {
namespace {

// Everything a chunk reads, converted once. Lives on the heap (Borrows records field addresses).
struct Job {
  DataRef data;
  BatchPlan batch;
  OptimizerPlan plan;
  TrainState state;
  std::vector<int32_t> labels;              // a checked copy of job.y (cross-entropy)
  std::vector<std::vector<uint8_t>> masks;  // copies of the transforms' masks
  Borrows borrows;                          // the job's arrays, for its whole life
};

// Marks the model busy while JS may run inside a conversion (getters and Proxy traps on the job
// could otherwise close it or start another chunk).
struct BusyGuard {
  ModelWrap* wrap;
  bool armed = true;
  explicit BusyGuard(ModelWrap* w) : wrap(w) { wrap->set_busy(true); }
  ~BusyGuard() {
    if (armed) wrap->set_busy(false);
  }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;
};

// Converts the job object into `job`. Throws JS errors naming the field.
void to_job(Model& model, Napi::Value job_value, Job& job) {
  Napi::Env env = job_value.Env();
  const Layout& layout = model.layout();
  Borrows& borrows = job.borrows;
  Napi::Object o = as_object(job_value, "job");
  to_data(o.Get("x"), o.Get("y"), layout, model.spec().loss, job.data, job.labels, borrows);
  job.batch = to_batch_plan(o.Get("batch"), job.data.n);
  job.plan = to_optimizer_plan(o.Get("optimizer"), "job.optimizer", layout.param_count, job.masks);

  TrainState& st = job.state;
  const size_t P = layout.param_count;
  borrows.bind(st.params, o.Get("params"), "job.params", Use::Write, P);
  borrows.bind(st.grads, o.Get("grads"), "job.grads", Use::Write, P);
  if (layout.state_count)
    borrows.bind(st.model_state, o.Get("modelState"), "job.modelState", Use::Write, layout.state_count);
  borrows.bind(st.opt_state, o.Get("optState"), "job.optState", Use::Write, job.plan.state_count);
  borrows.bind(st.data_rng, o.Get("dataRng"), "job.dataRng", Use::WriteValidated, 4);
  borrows.bind(st.noise_rng, o.Get("noiseRng"), "job.noiseRng", Use::WriteValidated, 4);
  if (job.batch.augment.enabled()) {
    borrows.bind(st.augment_rng, o.Get("augmentRng"), "job.augmentRng", Use::WriteValidated, 4);
  }
  borrows.bind(st.perm, o.Get("perm"), "job.perm", Use::Write, (size_t)job.data.n);
  borrows.bind(st.counters, o.Get("counters"), "job.counters", Use::WriteValidated, 3);
  // A getter or Proxy trap run above may have detached a buffer whose pointer was already taken.
  borrows.check_attached(env);
  check_perm_rest(env, st.perm, st.counters[1], job.data.n, job.batch.mode);
  try {
    validate_training(model, job.data, job.batch, job.plan);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

// What JS may have rewritten since the last chunk (importState, a checkpoint): checked on the
// memory the chunk will use (the worker's copies for an async chunk).
void check_chunk_state(Napi::Env env, const Job& job) {
  const TrainState& st = job.state;
  check_counters(env, st.counters, job.data.n);
  check_rng(env, st.data_rng, "job.dataRng");
  check_rng(env, st.noise_rng, "job.noiseRng");
  if (st.augment_rng) check_rng(env, st.augment_rng, "job.augmentRng");
}

Napi::Object result_to_js(Napi::Env env, const ChunkResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("stepsDone", (double)r.steps_done);
  out.Set("diverged", r.diverged);
  out.Set("divergedAt", r.diverged ? Napi::Value(Napi::Number::New(env, (double)r.diverged_at)) : env.Null());
  out.Set("update", chunk_update_name(r));
  return out;
}

// One async chunk: runs on the thread pool and settles a promise. Keeps the model and the job
// objects alive, and the model busy, until then. A NativeError from the loop rejects as its JS
// class with "job." before its parameter (e.g. "job.perm[37]").
class ChunkWorker : public Napi::AsyncWorker {
 public:
  // Pin the job's arrays and `logs` (Borrows::pin_for_worker) first.
  ChunkWorker(Napi::Env env, ModelWrap* wrap, Model* model, Napi::Object model_object, Napi::Object owner, Job* job,
              StepLogs logs, Borrows log_borrows, int64_t steps)
      : Napi::AsyncWorker(env, "bigstep:trainChunk"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        model_(model),
        model_object_(Napi::Persistent(model_object)),
        owner_(Napi::Persistent(owner)),
        job_(job),
        logs_(logs),
        log_borrows_(std::move(log_borrows)),
        steps_(steps),
        collective_(job->batch.collective != nullptr) {
    wrap_->set_busy(true);
    if (collective_) ++collective_chunks_in_flight();
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = wrap_->trainer().run(*model_, job_->data, job_->batch, job_->plan, job_->state, steps_, logs_);
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
    if (collective_) --collective_chunks_in_flight();
    settle_unless_terminating([&] {
      Napi::Env env = Env();
      // Written back on failure too, as a synchronous chunk would have left them.
      std::string detached = job_->borrows.copy_back(env);
      if (detached.empty()) detached = log_borrows_.copy_back(env);
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
        deferred_.Resolve(result_to_js(env, result_));
    });
  }

  Napi::Promise::Deferred deferred_;
  ModelWrap* wrap_;
  Model* model_;  // cannot be closed while it is busy
  Napi::ObjectReference model_object_;
  Napi::ObjectReference owner_;
  Job* job_;
  StepLogs logs_;
  Borrows log_borrows_;
  int64_t steps_;
  bool collective_;  // a data-parallel chunk: counted in collective_chunks_in_flight()
  ChunkResult result_{};
  std::optional<NativeError> native_error_;
};

class TrainJobWrap : public Napi::ObjectWrap<TrainJobWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap::DefineClass(
        env, "TrainJob",
        {InstanceMethod<&TrainJobWrap::RunSync>("runSync"), InstanceMethod<&TrainJobWrap::RunAsync>("runAsync")});
  }

  // new TrainJob(model, job)
  explicit TrainJobWrap(const Napi::CallbackInfo& info) : ObjectWrap(info) {
    Napi::Env env = info.Env();
    wrap_ = ModelWrap::from(info[0], "model");
    Model& model = wrap_->acquire(env);
    model_ = Napi::Persistent(info[0].As<Napi::Object>());
    BusyGuard guard(wrap_);
    job_ = std::make_unique<Job>();
    to_job(model, info[1], *job_);
  }

 private:
  // The chunk's step count and logs (the logs object may run getters: the model is busy meanwhile).
  int64_t to_chunk(const Napi::CallbackInfo& info, StepLogs& logs, Borrows& log_borrows) {
    const int64_t steps = as_integer(info[0], "steps", 0, INT64_C(1) << 40);
    to_logs(info[1], (size_t)steps, logs, log_borrows);
    return steps;
  }

  // runSync(steps, logs?)
  Napi::Value RunSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Model& model = wrap_->acquire(env);
    BusyGuard guard(wrap_);
    StepLogs logs;
    Borrows log_borrows;
    const int64_t steps = to_chunk(info, logs, log_borrows);
    if (job_->batch.collective) refuse_while_collective_chunk_runs(env, "job.batch.dataParallel");
    job_->borrows.borrow_all(env);
    log_borrows.borrow_all(env);
    check_chunk_state(env, *job_);
    try {
      return result_to_js(env,
                          wrap_->trainer().run(model, job_->data, job_->batch, job_->plan, job_->state, steps, logs));
    } catch (const NativeError& e) {
      rethrow_native(env, with_param_prefix(e, "job."));
    }
  }

  // runAsync(steps, logs?) -> Promise
  Napi::Value RunAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Model& model = wrap_->acquire(env);
    BusyGuard guard(wrap_);
    StepLogs logs;
    Borrows log_borrows;
    const int64_t steps = to_chunk(info, logs, log_borrows);
    if (job_->batch.collective) refuse_while_collective_chunk_runs(env, "job.batch.dataParallel");
    ChunkScratch& scratch = wrap_->chunk_scratch();
    log_borrows.pin_for_worker(env, scratch, job_->borrows.pin_for_worker(env, scratch));
    check_chunk_state(env, *job_);
    auto* worker = new ChunkWorker(env, wrap_, &model, model_.Value(), info.This().As<Napi::Object>(), job_.get(), logs,
                                   std::move(log_borrows), steps);
    guard.armed = false;  // the worker keeps the model busy until the chunk settles
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  }

  ModelWrap* wrap_ = nullptr;
  Napi::ObjectReference model_;
  std::unique_ptr<Job> job_;
};

}  // namespace

void RegisterTrainer(Napi::Env env, Napi::Object exports) { exports.Set("TrainJob", TrainJobWrap::DefineClass(env)); }

}  // namespace bigstep::binding
