// NativeMultiTrainer: K models trained on one batch stream in one native loop (native/multi.h),
// and gemmBench(): the sgemm ceiling for the bench's "% of ceiling" figure.
//
// Like trainSync/trainAsync (binding/trainer.cpp), the job is converted into plain structs on the
// main thread, the async worker touches only those structs, and every borrowed JS buffer is kept
// alive by a reference until the chunk settles. The optimizer-plan conversion below mirrors
// binding/trainer.cpp's (same fields, same checks) with the parameter prefix "job.optimizers[k]".
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "gemm.h"
#include "multi.h"
#include "register.h"
#include "spec.h"

namespace bigstep::binding {
namespace {

// Distinguishes NativeMultiTrainer objects from other wrapped objects (NativeModel) without
// using the env's single instance-data slot.
const napi_type_tag kMultiTag = {0x6269677374657021ULL, 0x6d756c7469747231ULL};

BatchMode to_batch_mode(Napi::Value v) {
  const std::string mode = as_string(v, "job.batch.mode");
  if (mode == "full") return BatchMode::Full;
  if (mode == "sequential") return BatchMode::Sequential;
  if (mode == "shuffle") return BatchMode::Shuffle;
  if (mode == "replacement") return BatchMode::Replacement;
  throw_range_error(v.Env(), "job.batch.mode",
                    "must be one of full, sequential, shuffle, replacement (got \"" + mode + "\")");
}

Schedule to_schedule(Napi::Value v, const std::string& pre) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, pre + ".schedule");
  Schedule s;
  const std::string kind = as_string(o.Get("kind"), pre + ".schedule.kind");
  s.lr = as_finite(o.Get("lr"), pre + ".schedule.lr");
  Napi::Value f;
  if (kind == "constant") {
    s.kind = ScheduleKind::Constant;
  } else if (kind == "step") {
    s.kind = ScheduleKind::StepDecay;
    s.step_size = as_integer(o.Get("stepSize"), pre + ".schedule.stepSize", 1, INT64_C(1) << 52);
    s.gamma = as_finite(o.Get("gamma"), pre + ".schedule.gamma");
  } else if (kind == "cosine") {
    s.kind = ScheduleKind::Cosine;
    s.total_steps = as_integer(o.Get("totalSteps"), pre + ".schedule.totalSteps", 1, INT64_C(1) << 52);
    s.final_lr = get_optional(o, "finalLr", &f) ? as_finite(f, pre + ".schedule.finalLr") : 0.0;
  } else if (kind == "piecewise") {
    s.kind = ScheduleKind::Piecewise;
    auto bounds = as_array<double>(o.Get("boundaries"), pre + ".schedule.boundaries");
    auto values = as_array<double>(o.Get("values"), pre + ".schedule.values", bounds.length + 1);
    for (size_t i = 0; i < bounds.length; ++i) {
      const double b = bounds.data[i];
      if (!(b >= 0) || std::floor(b) != b || (i > 0 && b <= bounds.data[i - 1]))
        throw_range_error(env, pre + ".schedule.boundaries", "must be increasing non-negative integers");
      s.boundaries.push_back((int64_t)b);
    }
    for (size_t i = 0; i < values.length; ++i) {
      if (!std::isfinite(values.data[i])) throw_range_error(env, pre + ".schedule.values", "must be finite");
      s.values.push_back(values.data[i]);
    }
  } else {
    throw_range_error(env, pre + ".schedule.kind",
                      "must be one of constant, step, cosine, piecewise (got \"" + kind + "\")");
  }
  if (get_optional(o, "warmupSteps", &f)) s.warmup_steps = as_integer(f, pre + ".schedule.warmupSteps", 0, INT64_C(1) << 52);
  return s;
}

OptimizerPlan to_plan(Napi::Value v, const std::string& pre, size_t param_count, std::vector<Napi::Value>& keep) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, pre);
  OptimizerPlan plan;
  plan.schedule = to_schedule(o.Get("schedule"), pre);
  plan.state_count = (size_t)as_integer(o.Get("stateCount"), pre + ".stateCount", 0, INT64_C(1) << 40);
  Napi::Value list = o.Get("transforms");
  if (!list.IsArray()) throw_type_error(env, pre + ".transforms", "an array");
  Napi::Array arr = list.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string p = pre + ".transforms[" + std::to_string(i) + "]";
    Napi::Object t = as_object(arr.Get(i), p);
    Transform tr;
    const std::string kind = as_string(t.Get("kind"), p + ".kind");
    Napi::Value f;
    if (kind == "clipGlobalNorm") tr.kind = TransformKind::ClipGlobalNorm;
    else if (kind == "addWeightDecay") tr.kind = TransformKind::AddWeightDecay;
    else if (kind == "gaussianNoise") tr.kind = TransformKind::GaussianNoise;
    else if (kind == "momentum") tr.kind = TransformKind::Momentum;
    else if (kind == "scaleByLearningRate") tr.kind = TransformKind::ScaleByLearningRate;
    else if (kind == "decoupledWeightDecay") tr.kind = TransformKind::DecoupledWeightDecay;
    else
      throw_range_error(env, p + ".kind", "must be one of clipGlobalNorm, addWeightDecay, gaussianNoise, momentum, "
                                          "scaleByLearningRate, decoupledWeightDecay (got \"" + kind + "\")");
    if (tr.kind != TransformKind::ScaleByLearningRate) {
      tr.value = as_finite(t.Get("value"), p + ".value");
      if (tr.value < 0) throw_range_error(env, p + ".value", "must be >= 0");
    }
    if (get_optional(t, "nesterov", &f)) tr.nesterov = as_bool(f, p + ".nesterov");
    if (get_optional(t, "annealSteps", &f)) tr.anneal_steps = as_integer(f, p + ".annealSteps", 0, INT64_C(1) << 52);
    if (get_optional(t, "noiseMode", &f)) {
      const std::string mode = as_string(f, p + ".noiseMode");
      if (mode == "std") tr.noise_mode = Transform::NoiseMode::Std;
      else if (mode == "norm") tr.noise_mode = Transform::NoiseMode::Norm;
      else if (mode == "relative") tr.noise_mode = Transform::NoiseMode::Relative;
      else throw_range_error(env, p + ".noiseMode", "must be one of std, norm, relative (got \"" + mode + "\")");
    }
    if (get_optional(t, "stateOffset", &f)) tr.state_offset = (size_t)as_integer(f, p + ".stateOffset", 0, INT64_C(1) << 40);
    if (get_optional(t, "mask", &f)) {
      tr.mask = as_array<uint8_t>(f, p + ".mask", param_count).data;
      keep.push_back(f);
    }
    plan.transforms.push_back(tr);
  }
  return plan;
}


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
    return info.Env().Undefined();
  }
  Napi::Value RunSync(const Napi::CallbackInfo& info);
  Napi::Value RunAsync(const Napi::CallbackInfo& info);

  std::unique_ptr<MultiTrainer> multi_;
  bool busy_ = false;
};

// Converts (job, steps, logs). Throws JS errors naming the field; appends every buffer to keep.
MultiJob to_multi_job(MultiTrainer& multi, Napi::Value job_value, Napi::Value steps_value,
                      Napi::Value logs_value, std::vector<Napi::Value>& keep) {
  Napi::Env env = job_value.Env();
  const Layout& layout = multi.layout();
  const size_t K = (size_t)multi.count(), P = layout.param_count, S = layout.state_count;
  Napi::Object o = as_object(job_value, "job");
  auto get = [&](const char* key) {
    Napi::Value v = o.Get(key);
    if (v.IsTypedArray()) keep.push_back(v);
    return v;
  };
  MultiJob job;
  job.steps = as_integer(steps_value, "steps", 0, INT64_C(1) << 40);

  auto x = as_array<float>(get("x"), "job.x");
  if (layout.input_size == 0 || x.length % layout.input_size != 0 || x.length == 0)
    throw_range_error(env, "job.x", "length must be a positive multiple of inputSize " +
                                        std::to_string(layout.input_size) + " (got " + std::to_string(x.length) + ")");
  job.data.x = x.data;
  job.data.n = (int64_t)(x.length / layout.input_size);
  if (multi.spec().loss == LossKind::SoftmaxCrossEntropy)
    job.data.y.labels = as_array<int32_t>(get("y"), "job.y", (size_t)job.data.n).data;
  else
    job.data.y.values = as_array<float>(get("y"), "job.y", (size_t)job.data.n * layout.output_size).data;

  Napi::Object batch = as_object(o.Get("batch"), "job.batch");
  job.batch.mode = to_batch_mode(batch.Get("mode"));
  Napi::Value f;
  if (job.batch.mode != BatchMode::Full) job.batch.batch = as_integer(batch.Get("size"), "job.batch.size", 1, job.data.n);
  if (get_optional(batch, "dropLast", &f)) job.batch.drop_last = as_bool(f, "job.batch.dropLast");
  if (get_optional(batch, "amplify", &f)) job.batch.amplify_k = as_finite(f, "job.batch.amplify");

  Napi::Value list = o.Get("optimizers");
  if (!list.IsArray()) throw_type_error(env, "job.optimizers", "an array of optimizer plans, one per model");
  Napi::Array arr = list.As<Napi::Array>();
  if (arr.Length() != K)
    throw_range_error(env, "job.optimizers", "must have one plan per model: " + std::to_string(K) +
                                                 " (got " + std::to_string(arr.Length()) + ")");
  for (uint32_t k = 0; k < arr.Length(); ++k)
    job.plans.push_back(to_plan(arr.Get(k), "job.optimizers[" + std::to_string(k) + "]", P, keep));

  MultiState& st = job.state;
  st.opt_stride = (size_t)as_integer(o.Get("optStride"), "job.optStride", 0, INT64_C(1) << 40);
  st.params = as_array<float>(get("params"), "job.params", K * P).data;
  st.grads = as_array<float>(get("grads"), "job.grads", K * P).data;
  if (S) st.model_state = as_array<float>(get("modelState"), "job.modelState", K * S).data;
  st.opt_state = as_array<float>(get("optState"), "job.optState", K * st.opt_stride).data;
  st.noise_rng = as_array<uint64_t>(get("noiseRng"), "job.noiseRng", K * 4).data;
  st.data_rng = as_array<uint64_t>(get("dataRng"), "job.dataRng", 4).data;
  st.perm = as_array<int32_t>(get("perm"), "job.perm", (size_t)job.data.n).data;
  st.counters = as_array<double>(get("counters"), "job.counters", 3).data;
  st.diverged_at = as_array<double>(get("divergedAt"), "job.divergedAt", K).data;
  const double cursor = st.counters[1];
  if (!(cursor >= 0 && cursor <= (double)job.data.n) || std::floor(cursor) != cursor || !(st.counters[0] >= 0) ||
      std::floor(st.counters[0]) != st.counters[0] || st.counters[0] > 9007199254740991.0)
    throw_range_error(env, "job.counters", "must hold [step, cursor, epoch] as non-negative integers, cursor <= n");
  auto zero = [](const uint64_t* r) { return (r[0] | r[1] | r[2] | r[3]) == 0; };
  if (zero(st.data_rng)) throw_range_error(env, "job.dataRng", "must not be all zero (seed it with seedRngState)");
  for (size_t k = 0; k < K; ++k)
    if (zero(st.noise_rng + 4 * k))
      throw_range_error(env, "job.noiseRng", "model " + std::to_string(k) + "'s state must not be all zero");
  if ((job.batch.mode == BatchMode::Sequential || job.batch.mode == BatchMode::Shuffle) && cursor > 0)
    for (int64_t i = (int64_t)cursor; i < job.data.n; ++i)
      if (st.perm[i] < 0 || st.perm[i] >= job.data.n)
        throw_range_error(env, "job.perm[" + std::to_string(i) + "]",
                          "must be an example index in [0, " + std::to_string(job.data.n) + ")");

  if (!logs_value.IsUndefined() && !logs_value.IsNull()) {
    Napi::Object lo = as_object(logs_value, "logs");
    for (const char* key : {"loss", "lr", "accuracy"}) {
      Napi::Value v = lo.Get(key);
      if (v.IsUndefined()) continue;
      keep.push_back(v);
      double* data = as_array<double>(v, std::string("logs.") + key, K * (size_t)job.steps).data;
      if (std::string(key) == "loss") job.logs.loss = data;
      else if (std::string(key) == "lr") job.logs.lr = data;
      else job.logs.accuracy = data;
    }
  }
  for (const Napi::Value& v : keep)
    if (typed_array_detached(env, v))
      throw_type_error(env, "job", "an object whose typed arrays stay attached while it is read (a getter detached one)");
  try {
    multi.validate(job.data, job.batch, job.plans, st.opt_stride);
  } catch (const NativeError& e) {
    if (e.param().rfind("optimizers", 0) == 0 || e.param().rfind("batch", 0) == 0) {
      NativeError prefixed(e.kind(), "job." + e.param(), std::string(e.what()).substr(e.param().size() + 2));
      rethrow_native(env, prefixed);
    }
    rethrow_native(env, e);
  }
  return job;
}

Napi::Object result_to_js(Napi::Env env, const MultiResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("stepsDone", (double)r.steps_done);
  out.Set("alive", r.alive);
  return out;
}

struct BusyGuard {
  MultiWrap* wrap;
  bool armed = true;
  explicit BusyGuard(MultiWrap* w) : wrap(w) { wrap->set_busy(true); }
  ~BusyGuard() {
    if (armed) wrap->set_busy(false);
  }
};

Napi::Value MultiWrap::RunSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MultiTrainer& multi = acquire(env);
  BusyGuard guard(this);
  std::vector<Napi::Value> keep;
  MultiJob job = to_multi_job(multi, info[0], info[1], info[2], keep);
  MultiResult r;
  try {
    r = multi.run(job.data, job.batch, job.plans, job.state, job.steps, job.logs);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return result_to_js(env, r);
}

class MultiWorker : public Napi::AsyncWorker {
 public:
  MultiWorker(Napi::Env env, MultiWrap* wrap, MultiTrainer* multi, MultiJob job, Napi::Object self,
              const std::vector<Napi::Value>& buffers)
      : Napi::AsyncWorker(env, "bigstep:multiChunk"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        multi_(multi),
        job_(std::move(job)) {
    self_ref_ = Napi::Persistent(self);
    for (const Napi::Value& b : buffers) buffer_refs_.push_back(Napi::Persistent(b));
    wrap_->set_busy(true);
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      result_ = multi_->run(job_.data, job_.batch, job_.plans, job_.state, job_.steps, job_.logs);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    wrap_->set_busy(false);
    settle_unless_terminating([&] { deferred_.Resolve(result_to_js(Env(), result_)); });
  }
  void OnError(const Napi::Error& e) override {
    wrap_->set_busy(false);
    settle_unless_terminating([&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  MultiWrap* wrap_;
  MultiTrainer* multi_;
  MultiJob job_;
  MultiResult result_;
  Napi::ObjectReference self_ref_;
  std::vector<Napi::Reference<Napi::Value>> buffer_refs_;
};

Napi::Value MultiWrap::RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MultiTrainer& multi = acquire(env);
  BusyGuard guard(this);
  std::vector<Napi::Value> keep;
  MultiJob job = to_multi_job(multi, info[0], info[1], info[2], keep);
  auto* worker = new MultiWorker(env, this, &multi, std::move(job), info.This().As<Napi::Object>(), keep);
  guard.armed = false;
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// gemmBench(shapes: Float64Array [M, N, K, transA, transB] * count, seconds: number)
//   -> Float64Array [count]: best seconds per call of sgemm for each shape, at the current thread
// count, on this process's buffers (the ceiling the bench compares a training step against).
Napi::Value GemmBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto shapes = as_array<double>(info[0], "shapes");
  if (shapes.length % 5 != 0) throw_range_error(env, "shapes", "length must be a multiple of 5 (M, N, K, transA, transB)");
  const double seconds = as_finite(info[1], "seconds");
  if (!(seconds > 0 && seconds <= 60)) throw_range_error(env, "seconds", "must be in (0, 60]");
  const size_t count = shapes.length / 5;
  for (size_t i = 0; i < count; ++i)
    for (int j = 0; j < 3; ++j) {
      const double d = shapes.data[5 * i + j];
      if (!(d >= 1 && d <= 65536) || std::floor(d) != d)
        throw_range_error(env, "shapes[" + std::to_string(5 * i + j) + "]", "must be an integer in [1, 65536]");
    }
  Napi::Float64Array out = Napi::Float64Array::New(env, count);
  using clock = std::chrono::steady_clock;
  for (size_t i = 0; i < count; ++i) {
    const int M = (int)shapes.data[5 * i], N = (int)shapes.data[5 * i + 1], K = (int)shapes.data[5 * i + 2];
    const bool ta = shapes.data[5 * i + 3] != 0, tb = shapes.data[5 * i + 4] != 0;
    std::vector<float> A((size_t)M * K), B((size_t)K * N), C((size_t)M * N);
    for (size_t j = 0; j < A.size(); ++j) A[j] = (float)((j * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t j = 0; j < B.size(); ++j) B[j] = (float)((j * 104729) % 1000) * 1e-3f - 0.5f;
    const int lda = ta ? M : K, ldb = tb ? K : N;
    auto call = [&] { sgemm(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N); };
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
