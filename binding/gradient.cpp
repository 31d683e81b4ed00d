// NativeModel#lossAndGrad / #lossAndGradAsync: loss and gradient of the mean loss over one batch
// (native Model::loss_and_grad), on this thread or on the thread pool. Both convert their
// arguments with the same code and make the same native call, so they write the same bits.
//
// The async form is a PassWorker (binding/pass_worker.h): the model is busy until its promise
// settles, and the arrays are pinned as a training chunk's are (binding/job.h). The gradient (and,
// in training mode, batch-norm running statistics) are written in place when their arrays are in
// shared memory, else into copies that are written back when the pass is over; if such an array
// was detached meanwhile, nothing is written back and the promise rejects with a TypeError naming it.
#include <napi.h>

#include <memory>
#include <string>

#include "args.h"
#include "job.h"
#include "model_wrap.h"
#include "pass_worker.h"

namespace bigstep::binding {
namespace {

// Everything the call reads and writes. Lives on the heap (Borrows records field addresses).
struct GradJob {
  const float* params = nullptr;
  float* state = nullptr;  // written in training mode (batch-norm running statistics)
  const float* x = nullptr;
  const int32_t* labels = nullptr;  // softmax cross-entropy
  const float* values = nullptr;    // MSE
  float* grads = nullptr;
  int batch = 0;
  bool training = true;
  double loss = 0;
  int64_t correct = 0;
  Borrows borrows;
};

// (params, state, x, y, batch, grads, training)
std::unique_ptr<GradJob> to_grad_job(const Napi::CallbackInfo& info, const Model& model) {
  Napi::Env env = info.Env();
  const Layout& layout = model.layout();
  auto job = std::make_unique<GradJob>();
  Borrows& b = job->borrows;
  b.bind(job->params, info[0], "params", Use::Read, layout.param_count);
  if (layout.state_count > 0)
    b.bind(job->state, info[1], "state", Use::Write, layout.state_count);
  else if (!info[1].IsUndefined() && !info[1].IsNull())
    as_array<float>(info[1], "state", 0);
  job->batch = (int)as_integer(info[4], "batch", 1, 1 << 30);
  const size_t length = b.bind(job->x, info[2], "x", Use::Read);
  const size_t need = (size_t)job->batch * layout.input_size;
  if (length != need)
    throw_range_error(env, "x",
                      "must have length batch*inputSize = " + std::to_string(job->batch) + "*" +
                          std::to_string(layout.input_size) + " = " + std::to_string(need) + " (got " +
                          std::to_string(length) + ")");
  if (model.spec().loss == LossKind::SoftmaxCrossEntropy)
    b.bind(job->labels, info[3], "y", Use::ReadValidated, (size_t)job->batch);
  else
    b.bind(job->values, info[3], "y", Use::Read, (size_t)job->batch * layout.output_size);
  b.bind(job->grads, info[5], "grads", Use::Write, layout.param_count);
  job->training = info[6].IsUndefined() ? true : as_bool(info[6], "training");
  return job;
}

void check_labels(Napi::Env env, const GradJob& job, const Layout& layout) {
  if (job.labels) check_class_indices(env, job.labels, job.batch, layout.output_size, "y");
}

void run(Model& model, GradJob& job) {
  Target y;
  y.labels = job.labels;
  y.values = job.values;
  job.loss = model.loss_and_grad(job.params, job.state, job.x, y, job.batch, job.grads, job.training, &job.correct);
}

Napi::Object result(Napi::Env env, const GradJob& job) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", job.loss);
  out.Set("correct", (double)job.correct);
  return out;
}

}  // namespace

// lossAndGrad(params, state, x, y, batch, grads, training) -> { loss, correct }
Napi::Value ModelWrap::LossAndGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  std::unique_ptr<GradJob> job = to_grad_job(info, model);
  job->borrows.borrow_all(env);  // no JS runs until the call returns
  check_labels(env, *job, model.layout());
  try {
    run(model, *job);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return result(env, *job);
}

// lossAndGradAsync(params, state, x, y, batch, grads, training) -> Promise<{ loss, correct }>:
// the same call on the thread pool.
Napi::Value ModelWrap::LossAndGradAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  std::unique_ptr<GradJob> job = to_grad_job(info, model);
  job->borrows.pin_for_worker(env, chunk_scratch_);  // only one async call per model runs at a time
  check_labels(env, *job, model.layout());
  return queue_pass<GradJob>(env, "bigstep:lossAndGrad", this, model, info.This().As<Napi::Object>(), std::move(job),
                             run, [](Napi::Env e, GradJob& j) -> Napi::Value {
                               const std::string detached = j.borrows.copy_back(e);
                               if (!detached.empty())
                                 throw make_type_error(e, detached,
                                                       "kept attached while lossAndGradAsync runs (its buffer was "
                                                       "detached, transferred or resized; nothing was written back)");
                               return result(e, j);
                             });
}

}  // namespace bigstep::binding
