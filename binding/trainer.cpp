// trainSync(model, job, steps, logs) and trainAsync(...) -> Promise: both convert the job into
// plain structs on the main thread and run the same Trainer::run, so a chunk of k async steps is
// bitwise equal to k sync steps. The async worker touches only those structs; JS buffers are kept
// alive by references for the whole call.
#include <napi.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "model_wrap.h"
#include "register.h"

namespace bigstep::binding {
namespace {

struct Job {
  DataRef data;
  BatchPlan batch;
  OptimizerPlan plan;
  TrainState state;
  StepLogs logs;
  int64_t steps = 0;
};

BatchMode to_batch_mode(Napi::Value v) {
  const std::string mode = as_string(v, "job.batch.mode");
  if (mode == "full") return BatchMode::Full;
  if (mode == "sequential") return BatchMode::Sequential;
  if (mode == "shuffle") return BatchMode::Shuffle;
  if (mode == "replacement") return BatchMode::Replacement;
  throw_range_error(v.Env(), "job.batch.mode",
                    "must be one of full, sequential, shuffle, replacement (got \"" + mode + "\")");
}

Schedule to_schedule(Napi::Value v) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, "job.optimizer.schedule");
  Schedule s;
  const std::string kind = as_string(o.Get("kind"), "job.optimizer.schedule.kind");
  s.lr = as_finite(o.Get("lr"), "job.optimizer.schedule.lr");
  Napi::Value f;
  if (kind == "constant") {
    s.kind = ScheduleKind::Constant;
  } else if (kind == "step") {
    s.kind = ScheduleKind::StepDecay;
    s.step_size = as_integer(o.Get("stepSize"), "job.optimizer.schedule.stepSize", 1, INT64_C(1) << 52);
    s.gamma = as_finite(o.Get("gamma"), "job.optimizer.schedule.gamma");
  } else if (kind == "cosine") {
    s.kind = ScheduleKind::Cosine;
    s.total_steps = as_integer(o.Get("totalSteps"), "job.optimizer.schedule.totalSteps", 1, INT64_C(1) << 52);
    s.final_lr = get_optional(o, "finalLr", &f) ? as_finite(f, "job.optimizer.schedule.finalLr") : 0.0;
  } else if (kind == "piecewise") {
    s.kind = ScheduleKind::Piecewise;
    auto bounds = as_array<double>(o.Get("boundaries"), "job.optimizer.schedule.boundaries");
    auto values = as_array<double>(o.Get("values"), "job.optimizer.schedule.values", bounds.length + 1);
    for (size_t i = 0; i < bounds.length; ++i) {
      const double b = bounds.data[i];
      if (!(b >= 0) || std::floor(b) != b || (i > 0 && b <= bounds.data[i - 1]))
        throw_range_error(env, "job.optimizer.schedule.boundaries", "must be increasing non-negative integers");
      s.boundaries.push_back((int64_t)b);
    }
    for (size_t i = 0; i < values.length; ++i) {
      if (!std::isfinite(values.data[i])) throw_range_error(env, "job.optimizer.schedule.values", "must be finite");
      s.values.push_back(values.data[i]);
    }
  } else {
    throw_range_error(env, "job.optimizer.schedule.kind",
                      "must be one of constant, step, cosine, piecewise (got \"" + kind + "\")");
  }
  if (get_optional(o, "warmupSteps", &f)) s.warmup_steps = as_integer(f, "job.optimizer.schedule.warmupSteps", 0, INT64_C(1) << 52);
  return s;
}

OptimizerPlan to_plan(Napi::Value v, size_t param_count, std::vector<Napi::Value>& keep) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, "job.optimizer");
  OptimizerPlan plan;
  plan.schedule = to_schedule(o.Get("schedule"));
  plan.state_count = (size_t)as_integer(o.Get("stateCount"), "job.optimizer.stateCount", 0, INT64_C(1) << 40);
  Napi::Value list = o.Get("transforms");
  if (!list.IsArray()) throw_type_error(env, "job.optimizer.transforms", "an array");
  Napi::Array arr = list.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string p = "job.optimizer.transforms[" + std::to_string(i) + "]";
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

// Converts (job, steps, logs) into plain structs. Throws JS errors naming the field.
// Every buffer read is appended to `keep` so an async call can hold a reference to each one
// (the job object's properties could be reassigned while the chunk runs).
Job to_job(Model& model, Napi::Value job_value, Napi::Value steps_value, Napi::Value logs_value,
           std::vector<Napi::Value>& keep) {
  Napi::Env env = job_value.Env();
  const Layout& layout = model.layout();
  Napi::Object job_obj = as_object(job_value, "job");
  struct Getter {
    Napi::Object obj;
    std::vector<Napi::Value>& keep;
    Napi::Value Get(const char* key) {
      Napi::Value v = obj.Get(key);
      if (v.IsTypedArray()) keep.push_back(v);
      return v;
    }
  } o{job_obj, keep};
  Job job;
  job.steps = as_integer(steps_value, "steps", 0, INT64_C(1) << 40);

  // Data: x [n, inputSize], labels [n] or targets [n, outputSize].
  auto x = as_array<float>(o.Get("x"), "job.x");
  if (layout.input_size == 0 || x.length % layout.input_size != 0 || x.length == 0)
    throw_range_error(env, "job.x", "length must be a positive multiple of inputSize " + std::to_string(layout.input_size) +
                                        " (got " + std::to_string(x.length) + ")");
  job.data.x = x.data;
  job.data.n = (int64_t)(x.length / layout.input_size);
  if (model.spec().loss == LossKind::SoftmaxCrossEntropy)
    job.data.y.labels = as_array<int32_t>(o.Get("y"), "job.y", (size_t)job.data.n).data;
  else
    job.data.y.values = as_array<float>(o.Get("y"), "job.y", (size_t)job.data.n * layout.output_size).data;

  Napi::Object batch = as_object(job_obj.Get("batch"), "job.batch");
  job.batch.mode = to_batch_mode(batch.Get("mode"));
  Napi::Value f;
  if (job.batch.mode != BatchMode::Full)
    job.batch.batch = as_integer(batch.Get("size"), "job.batch.size", 1, job.data.n);
  if (get_optional(batch, "dropLast", &f)) job.batch.drop_last = as_bool(f, "job.batch.dropLast");
  if (get_optional(batch, "amplify", &f)) job.batch.amplify_k = as_finite(f, "job.batch.amplify");

  job.plan = to_plan(job_obj.Get("optimizer"), layout.param_count, keep);

  TrainState& st = job.state;
  st.params = as_array<float>(o.Get("params"), "job.params", layout.param_count).data;
  st.grads = as_array<float>(o.Get("grads"), "job.grads", layout.param_count).data;
  if (layout.state_count) st.model_state = as_array<float>(o.Get("modelState"), "job.modelState", layout.state_count).data;
  st.opt_state = as_array<float>(o.Get("optState"), "job.optState", job.plan.state_count).data;
  st.data_rng = as_array<uint64_t>(o.Get("dataRng"), "job.dataRng", 4).data;
  st.noise_rng = as_array<uint64_t>(o.Get("noiseRng"), "job.noiseRng", 4).data;
  st.perm = as_array<int32_t>(o.Get("perm"), "job.perm", (size_t)job.data.n).data;
  st.counters = as_array<double>(o.Get("counters"), "job.counters", 3).data;
  const double cursor = st.counters[1];
  if (!(cursor >= 0 && cursor <= (double)job.data.n) || !(st.counters[0] >= 0))
    throw_range_error(env, "job.counters", "hold an invalid step or cursor (was the data set changed?)");
  // Hardening: the step and cursor are cast to int64 natively; the epoch is only counted.
  if (std::floor(cursor) != cursor || std::floor(st.counters[0]) != st.counters[0] ||
      st.counters[0] > 9007199254740991.0 || !(st.counters[2] >= 0) || !std::isfinite(st.counters[2]))
    throw_range_error(env, "job.counters", "must hold [step, cursor, epoch] as non-negative integers (step < 2^53)");
  // xoshiro256** never leaves the all-zero state: a zeroed stream would make batch draws spin.
  for (const auto& [rng, name] : {std::pair<const uint64_t*, const char*>{st.data_rng, "job.dataRng"},
                                  std::pair<const uint64_t*, const char*>{st.noise_rng, "job.noiseRng"}})
    if ((rng[0] | rng[1] | rng[2] | rng[3]) == 0)
      throw_range_error(env, name, "must not be all zero (not a valid xoshiro256** state; seed it with seedRngState)");
  // Mid-epoch, the rest of the epoch's order is read from perm: every index must be in [0, n).
  if ((job.batch.mode == BatchMode::Sequential || job.batch.mode == BatchMode::Shuffle) && cursor > 0)
    for (int64_t i = (int64_t)cursor; i < job.data.n; ++i)
      if (st.perm[i] < 0 || st.perm[i] >= job.data.n)
        throw_range_error(env, "job.perm[" + std::to_string(i) + "]",
                          "must be an example index in [0, " + std::to_string(job.data.n) + ") (got " +
                              std::to_string(st.perm[i]) + "; was the data set changed?)");

  if (!logs_value.IsUndefined() && !logs_value.IsNull()) {
    Napi::Object logs_obj = as_object(logs_value, "logs");
    Getter logs{logs_obj, keep};
    for (const char* key : {"loss", "lr", "accuracy"}) {
      Napi::Value v = logs.Get(key);
      if (v.IsUndefined()) continue;
      double* data = as_array<double>(v, std::string("logs.") + key, (size_t)job.steps).data;
      if (key[0] == 'l' && key[1] == 'o') job.logs.loss = data;
      else if (key[0] == 'l') job.logs.lr = data;
      else job.logs.accuracy = data;
    }
  }
  // A getter or Proxy trap run above may have detached a buffer whose pointer was already taken.
  for (const Napi::Value& v : keep)
    if (typed_array_detached(env, v))
      throw_type_error(env, "job", "an object whose typed arrays stay attached while it is read (a getter detached one)");
  try {
    validate_training(model, job.data, job.batch, job.plan);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return job;
}

Napi::Object result_to_js(Napi::Env env, const ChunkResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("stepsDone", (double)r.steps_done);
  out.Set("diverged", r.diverged);
  out.Set("divergedAt", r.diverged ? Napi::Value(Napi::Number::New(env, (double)r.diverged_at)) : env.Null());
  return out;
}

// Marks the model busy while the job is converted: getters and Proxy traps on the job run JS,
// which must not close the model or start another chunk on it under our feet.
struct BusyGuard {
  ModelWrap* wrap;
  bool armed = true;
  explicit BusyGuard(ModelWrap* w) : wrap(w) { wrap->set_busy(true); }
  ~BusyGuard() {
    if (armed) wrap->set_busy(false);
  }
};

Napi::Value TrainSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelWrap* wrap = ModelWrap::from(info[0], "model");
  Model& model = wrap->acquire(env);
  BusyGuard guard(wrap);
  std::vector<Napi::Value> keep;
  Job job = to_job(model, info[1], info[2], info[3], keep);
  ChunkResult r;
  try {
    r = wrap->trainer().run(model, job.data, job.batch, job.plan, job.state, job.steps, job.logs);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return result_to_js(env, r);
}

class TrainWorker : public Napi::AsyncWorker {
 public:
  TrainWorker(Napi::Env env, ModelWrap* wrap, Model* model, Job job, Napi::Value model_obj,
              const std::vector<Napi::Value>& buffers)
      : Napi::AsyncWorker(env, "bigstep:trainChunk"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(wrap),
        model_(model),
        job_(std::move(job)) {
    // Keep the model and every borrowed buffer alive until the chunk completes.
    model_ref_ = Napi::Persistent(model_obj.As<Napi::Object>());
    for (const Napi::Value& b : buffers) buffer_refs_.push_back(Napi::Persistent(b));
    wrap_->set_busy(true);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = wrap_->trainer().run(*model_, job_.data, job_.batch, job_.plan, job_.state, job_.steps, job_.logs);
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
  ModelWrap* wrap_;
  Model* model_;
  Job job_;
  ChunkResult result_;
  Napi::ObjectReference model_ref_;
  std::vector<Napi::Reference<Napi::Value>> buffer_refs_;
};

Napi::Value TrainAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelWrap* wrap = ModelWrap::from(info[0], "model");
  Model& model = wrap->acquire(env);
  BusyGuard guard(wrap);
  std::vector<Napi::Value> keep;
  Job job = to_job(model, info[1], info[2], info[3], keep);
  auto* worker = new TrainWorker(env, wrap, &model, std::move(job), info[0], keep);
  guard.armed = false;  // the worker keeps the model busy until OnOK / OnError
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void RegisterTrainer(Napi::Env env, Napi::Object exports) {
  exports.Set("trainSync", Napi::Function::New(env, TrainSync, "trainSync"));
  exports.Set("trainAsync", Napi::Function::New(env, TrainAsync, "trainAsync"));
}

}  // namespace bigstep::binding
