// trainSync(model, job, steps, logs) and trainAsync(...) -> Promise: both convert the job into
// plain structs on the main thread and run the same Trainer::run, so a chunk of k async steps is
// bitwise equal to k sync steps. The async worker touches only those structs and memory that JS
// cannot free under it (binding/job.h: SharedArrayBuffer-backed arrays are borrowed, the others
// are copied in and the results copied back when the chunk settles).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "job.h"
#include "model_wrap.h"
#include "optimizer_plan.h"
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

// Converts (job, steps, logs) into `job` (which must not move afterwards). Throws JS errors naming
// the field; every typed array is recorded in `borrows`.
void to_job(Model& model, Napi::Value job_value, Napi::Value steps_value, Napi::Value logs_value, Job& job,
            Borrows& borrows) {
  Napi::Env env = job_value.Env();
  const Layout& layout = model.layout();
  Napi::Object o = as_object(job_value, "job");
  job.steps = as_integer(steps_value, "steps", 0, INT64_C(1) << 40);
  to_data(o.Get("x"), o.Get("y"), layout, model.spec().loss, job.data, borrows);
  job.batch = to_batch_plan(o.Get("batch"), job.data.n);
  job.plan = to_optimizer_plan(o.Get("optimizer"), "job.optimizer", layout.param_count, borrows);

  TrainState& st = job.state;
  const size_t P = layout.param_count;
  borrows.bind(st.params, o.Get("params"), "job.params", Use::Write, P);
  borrows.bind(st.grads, o.Get("grads"), "job.grads", Use::Write, P);
  if (layout.state_count) borrows.bind(st.model_state, o.Get("modelState"), "job.modelState", Use::Write, layout.state_count);
  borrows.bind(st.opt_state, o.Get("optState"), "job.optState", Use::Write, job.plan.state_count);
  borrows.bind(st.data_rng, o.Get("dataRng"), "job.dataRng", Use::WriteValidated, 4);
  borrows.bind(st.noise_rng, o.Get("noiseRng"), "job.noiseRng", Use::WriteValidated, 4);
  if (job.batch.augment.enabled()) {
    borrows.bind(st.augment_rng, o.Get("augmentRng"), "job.augmentRng", Use::WriteValidated, 4);
  }
  borrows.bind(st.perm, o.Get("perm"), "job.perm", Use::Write, (size_t)job.data.n);
  borrows.bind(st.counters, o.Get("counters"), "job.counters", Use::WriteValidated, 3);
  check_counters(env, st.counters, job.data.n);
  check_rng(env, st.data_rng, "job.dataRng");
  check_rng(env, st.noise_rng, "job.noiseRng");
  if (st.augment_rng) check_rng(env, st.augment_rng, "job.augmentRng");
  check_perm_rest(env, st.perm, st.counters[1], job.data.n, job.batch.mode);
  to_logs(logs_value, (size_t)job.steps, job.logs, borrows);
  // A getter or Proxy trap run above may have detached a buffer whose pointer was already taken.
  borrows.check_attached(env);
  try {
    validate_training(model, job.data, job.batch, job.plan);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

Napi::Object result_to_js(Napi::Env env, const ChunkResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("stepsDone", (double)r.steps_done);
  out.Set("diverged", r.diverged);
  out.Set("divergedAt", r.diverged ? Napi::Value(Napi::Number::New(env, (double)r.diverged_at)) : env.Null());
  out.Set("update", chunk_update_name(r));
  return out;
}

ChunkResult run_job(ModelWrap* wrap, Model& model, Job& job) {
  return wrap->trainer().run(model, job.data, job.batch, job.plan, job.state, job.steps, job.logs);
}

Napi::Value TrainSync(const Napi::CallbackInfo& info) {
  ModelWrap* wrap = ModelWrap::from(info[0], "model");
  Model* model = &wrap->acquire(info.Env());
  return run_chunk_sync<Job>(
      info.Env(), wrap, [&](Job& job, Borrows& b) { to_job(*model, info[1], info[2], info[3], job, b); },
      [wrap, model](Job& job) { return run_job(wrap, *model, job); }, result_to_js);
}

Napi::Value TrainAsync(const Napi::CallbackInfo& info) {
  ModelWrap* wrap = ModelWrap::from(info[0], "model");
  Model* model = &wrap->acquire(info.Env());
  return start_chunk_async<Job>(
      info.Env(), "bigstep:trainChunk", wrap, info[0].As<Napi::Object>(),
      [&](Job& job, Borrows& b) { to_job(*model, info[1], info[2], info[3], job, b); },
      [wrap, model](Job& job) { return run_job(wrap, *model, job); }, result_to_js);
}

}  // namespace

void RegisterTrainer(Napi::Env env, Napi::Object exports) {
  exports.Set("trainSync", Napi::Function::New(env, TrainSync, "trainSync"));
  exports.Set("trainAsync", Napi::Function::New(env, TrainAsync, "trainAsync"));
}

}  // namespace bigstep::binding
