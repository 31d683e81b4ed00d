// NativeMultiTrainer: K models trained on one batch stream in one native loop (native/multi.h),
// and gemmBench(): the sgemm ceiling for the bench's "% of ceiling" figure.
//
// Like trainSync/trainAsync (binding/trainer.cpp), the job is converted into plain structs on the
// main thread with the shared helpers of binding/job.h and binding/optimizer_plan.h (plans named
// "job.optimizers[k]"), and the async worker touches only those structs and memory JS cannot free
// under it (SharedArrayBuffer-backed arrays borrowed, the others copied in and back).
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "gemm.h"
#include "job.h"
#include "multi.h"
#include "optimizer_plan.h"
#include "register.h"
#include "spec.h"

namespace bigstep::binding {
namespace {

// Distinguishes NativeMultiTrainer objects from other wrapped objects (NativeModel) without
// using the env's single instance-data slot.
const napi_type_tag kMultiTag = {0x6269677374657021ULL, 0x6d756c7469747231ULL};

struct MultiJob {
  DataRef data;
  BatchPlan batch;
  std::vector<OptimizerPlan> plans;
  MultiState state;
  MultiLogs logs;
  int64_t steps = 0;
};

class MultiWrap : public Napi::ObjectWrap<MultiWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap<MultiWrap>::DefineClass(
        env, "NativeMultiTrainer",
        {InstanceMethod("layout", &MultiWrap::Layout), InstanceMethod("count", &MultiWrap::Count),
         InstanceMethod("runSync", &MultiWrap::RunSync), InstanceMethod("runAsync", &MultiWrap::RunAsync),
         InstanceMethod("workspaceBytes", &MultiWrap::WorkspaceBytes),
         InstanceMethod("close", &MultiWrap::Close), InstanceMethod("isBusy", &MultiWrap::IsBusy)});
  }

  // new NativeMultiTrainer(spec, count)
  explicit MultiWrap(const Napi::CallbackInfo& info) : ObjectWrap<MultiWrap>(info) {
    Napi::Env env = info.Env();
    if (!info.IsConstructCall()) throw_type_error(env, "NativeMultiTrainer", "called with new");
    ModelSpec spec = to_model_spec(info[0]);
    const int count = (int)as_integer(info[1], "count", 1, 4096);
    try {
      multi_ = std::make_unique<MultiTrainer>(spec, count);
    } catch (const NativeError& e) {
      rethrow_native(env, e);
    }
    info.This().As<Napi::Object>().TypeTag(&kMultiTag);
  }

  MultiTrainer& acquire(Napi::Env env) {
    if (!multi_) throw_state_error(env, "ERR_BIGSTEP_CLOSED", "multi-trainer is closed");
    if (busy_)
      throw_state_error(env, "ERR_BIGSTEP_BUSY", "multi-trainer is busy: an async chunk is running; await it first");
    return *multi_;
  }
  void set_busy(bool b) { busy_ = b; }
  ChunkScratch& chunk_scratch() { return chunk_scratch_; }

 private:
  Napi::Value Layout(const Napi::CallbackInfo& info) { return layout_to_js(info.Env(), acquire(info.Env()).layout()); }
  Napi::Value Count(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), acquire(info.Env()).count()); }
  Napi::Value WorkspaceBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), (double)acquire(info.Env()).workspace_bytes());
  }
  Napi::Value IsBusy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (busy_) throw_state_error(info.Env(), "ERR_BIGSTEP_BUSY", "multi-trainer is busy: cannot close while an async chunk runs");
    multi_.reset();
    chunk_scratch_.clear();
    return info.Env().Undefined();
  }
  Napi::Value RunSync(const Napi::CallbackInfo& info);
  Napi::Value RunAsync(const Napi::CallbackInfo& info);

  std::unique_ptr<MultiTrainer> multi_;
  ChunkScratch chunk_scratch_;  // async chunks' copies of ArrayBuffer-backed arrays (binding/job.h)
  bool busy_ = false;
};

// Converts (job, steps, logs) into `job` (which must not move afterwards). Throws JS errors naming
// the field; every typed array is recorded in `borrows`.
void to_multi_job(MultiTrainer& multi, Napi::Value job_value, Napi::Value steps_value, Napi::Value logs_value,
                  MultiJob& job, Borrows& borrows) {
  Napi::Env env = job_value.Env();
  const Layout& layout = multi.layout();
  const size_t K = (size_t)multi.count(), P = layout.param_count, S = layout.state_count;
  Napi::Object o = as_object(job_value, "job");
  job.steps = as_integer(steps_value, "steps", 0, INT64_C(1) << 40);
  to_data(o.Get("x"), o.Get("y"), layout, multi.spec().loss, job.data, borrows);
  job.batch = to_batch_plan(o.Get("batch"), job.data.n);
  if (job.batch.augment.enabled())
    throw_range_error(env, "job.batch.augment", "is not supported by MultiTrainer (train augmented runs with Trainer)");

  Napi::Value list = o.Get("optimizers");
  if (!list.IsArray()) throw_type_error(env, "job.optimizers", "an array of optimizer plans, one per model");
  Napi::Array arr = list.As<Napi::Array>();
  if (arr.Length() != K)
    throw_range_error(env, "job.optimizers", "must have one plan per model: " + std::to_string(K) +
                                                 " (got " + std::to_string(arr.Length()) + ")");
  job.plans.reserve(K);  // plans are moved in, never copied: their mask fields stay put
  for (uint32_t k = 0; k < arr.Length(); ++k)
    job.plans.push_back(to_optimizer_plan(arr.Get(k), "job.optimizers[" + std::to_string(k) + "]", P, borrows));

  MultiState& st = job.state;
  st.opt_stride = (size_t)as_integer(o.Get("optStride"), "job.optStride", 0, INT64_C(1) << 40);
  borrows.bind(st.params, o.Get("params"), "job.params", Use::Write, K * P);
  borrows.bind(st.grads, o.Get("grads"), "job.grads", Use::Write, K * P);
  if (S) borrows.bind(st.model_state, o.Get("modelState"), "job.modelState", Use::Write, K * S);
  borrows.bind(st.opt_state, o.Get("optState"), "job.optState", Use::Write, K * st.opt_stride);
  borrows.bind(st.noise_rng, o.Get("noiseRng"), "job.noiseRng", Use::WriteValidated, K * 4);
  borrows.bind(st.data_rng, o.Get("dataRng"), "job.dataRng", Use::WriteValidated, 4);
  borrows.bind(st.perm, o.Get("perm"), "job.perm", Use::Write, (size_t)job.data.n);
  borrows.bind(st.counters, o.Get("counters"), "job.counters", Use::WriteValidated, 3);
  borrows.bind(st.diverged_at, o.Get("divergedAt"), "job.divergedAt", Use::Write, K);
  check_counters(env, st.counters, job.data.n);
  check_rng(env, st.data_rng, "job.dataRng");
  for (size_t k = 0; k < K; ++k)
    check_rng(env, st.noise_rng + 4 * k, "job.noiseRng", " for model " + std::to_string(k));
  check_perm_rest(env, st.perm, st.counters[1], job.data.n, job.batch.mode);
  to_logs(logs_value, K * (size_t)job.steps, job.logs, borrows);
  borrows.check_attached(env);
  try {
    multi.validate(job.data, job.batch, job.plans, st.opt_stride);
  } catch (const NativeError& e) {
    if (e.param().rfind("optimizers", 0) == 0 || e.param().rfind("batch", 0) == 0)
      rethrow_native(env, with_param_prefix(e, "job."));
    rethrow_native(env, e);
  }
}

Napi::Object result_to_js(Napi::Env env, const MultiResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("stepsDone", (double)r.steps_done);
  out.Set("alive", r.alive);
  return out;
}

MultiResult run_job(MultiTrainer& multi, MultiJob& job) {
  return multi.run(job.data, job.batch, job.plans, job.state, job.steps, job.logs);
}

Napi::Value MultiWrap::RunSync(const Napi::CallbackInfo& info) {
  MultiTrainer* multi = &acquire(info.Env());
  return run_chunk_sync<MultiJob>(
      info.Env(), this, [&](MultiJob& job, Borrows& b) { to_multi_job(*multi, info[0], info[1], info[2], job, b); },
      [multi](MultiJob& job) { return run_job(*multi, job); }, result_to_js);
}

Napi::Value MultiWrap::RunAsync(const Napi::CallbackInfo& info) {
  MultiTrainer* multi = &acquire(info.Env());
  return start_chunk_async<MultiJob>(
      info.Env(), "bigstep:multiChunk", this, info.This().As<Napi::Object>(),
      [&](MultiJob& job, Borrows& b) { to_multi_job(*multi, info[0], info[1], info[2], job, b); },
      [multi](MultiJob& job) { return run_job(*multi, job); }, result_to_js);
}

// gemmBench(shapes: Float64Array [M, N, K, transA, transB] * count, seconds: number)
//   -> Float64Array [count]: best seconds per call of sgemm for each shape, at the current thread
// count, on this process's buffers (the ceiling the bench compares a training step against).
Napi::Value GemmBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto shapes = as_array<double>(info[0], "shapes");
  constexpr size_t kFields = 6;  // M, N, K, transA, transB, beta (0 or 1)
  if (shapes.length % kFields != 0)
    throw_range_error(env, "shapes", "length must be a multiple of 6 (M, N, K, transA, transB, beta)");
  const double seconds = as_finite(info[1], "seconds");
  if (!(seconds > 0 && seconds <= 60)) throw_range_error(env, "seconds", "must be in (0, 60]");
  const size_t count = shapes.length / kFields;
  for (size_t i = 0; i < count; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double d = shapes.data[kFields * i + j];
      if (!(d >= 1 && d <= 65536) || std::floor(d) != d)
        throw_range_error(env, "shapes[" + std::to_string(kFields * i + j) + "]", "must be an integer in [1, 65536]");
    }
    const double beta = shapes.data[kFields * i + 5];
    if (beta != 0 && beta != 1)
      throw_range_error(env, "shapes[" + std::to_string(kFields * i + 5) + "]", "beta must be 0 or 1");
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, count);
  using clock = std::chrono::steady_clock;
  for (size_t i = 0; i < count; ++i) {
    const double* f = shapes.data + kFields * i;
    const int M = (int)f[0], N = (int)f[1], K = (int)f[2];
    const bool ta = f[3] != 0, tb = f[4] != 0;
    const float beta = (float)f[5];
    std::vector<float> A((size_t)M * K), B((size_t)K * N), C((size_t)M * N);
    for (size_t j = 0; j < A.size(); ++j) A[j] = (float)((j * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t j = 0; j < B.size(); ++j) B[j] = (float)((j * 104729) % 1000) * 1e-3f - 0.5f;
    const int lda = ta ? M : K, ldb = tb ? K : N;
    // beta = 1 accumulates into C, as the fused SGD update does into W (alpha = -lr; tiny here so
    // C stays bounded over many repeats).
    const float alpha = beta == 0.0f ? 1.0f : -1e-6f;
    auto call = [&] { sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), N); };
    call();
    double best = 1e30;
    const auto end = clock::now() + std::chrono::duration<double>(seconds / (double)count);
    int reps = 0;
    do {
      const auto t0 = clock::now();
      call();
      best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
      ++reps;
    } while (clock::now() < end || reps < 3);
    out[i] = best;
  }
  return out;
}

}  // namespace

void RegisterMulti(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeMultiTrainer", MultiWrap::DefineClass(env));
  exports.Set("gemmBench", Napi::Function::New(env, GemmBench, "gemmBench"));
}

}  // namespace bigstep::binding
