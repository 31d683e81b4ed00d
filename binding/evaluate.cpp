// NativeModel#lossSums / #lossSumsAsync: the per-chunk loss sums of a full-data evaluation
// (native Model::chunk_loss_sums), on this thread or on the thread pool. Both convert their
// arguments with the same code and run the same native loop, so they return the same bits.
//
// The async form is a PassWorker (binding/pass_worker.h): the model is busy until its promise
// settles (no training chunk, evaluation, init or close of it meanwhile: ERR_BIGSTEP_BUSY), and
// the arrays are pinned as a training chunk's are (Borrows::pin_for_worker, binding/job.h):
// shared-memory arrays borrowed, ArrayBuffer-backed ones copied, labels always copied and checked
// on the copy.
#include <napi.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "job.h"
#include "model_wrap.h"
#include "pass_worker.h"

namespace bigstep::binding {
namespace {

// Everything the pass reads. Lives on the heap (Borrows records field addresses).
struct EvalJob {
  const float* params = nullptr;
  const float* state = nullptr;
  const float* x = nullptr;
  const int32_t* labels = nullptr;  // softmax cross-entropy
  const float* values = nullptr;    // MSE
  int64_t n = 0, chunk = 0, first = 0, end = 0;
  std::vector<double> sums;  // the async pass's result, [2·(end − first)]
  Borrows borrows;

  Target target() const {
    Target t;
    t.labels = labels;
    t.values = values;
    return t;
  }
};

// (params, state, x, y, batchSize, first, end): x and y hold the whole data set; the chunks
// [first, end) of size min(batchSize, n) are evaluated.
std::unique_ptr<EvalJob> to_eval_job(const Napi::CallbackInfo& info, const Model& model) {
  Napi::Env env = info.Env();
  const Layout& layout = model.layout();
  auto job = std::make_unique<EvalJob>();
  Borrows& b = job->borrows;
  b.bind(job->params, info[0], "params", Use::Read, layout.param_count);
  if (layout.state_count > 0)
    b.bind(job->state, info[1], "state", Use::Read, layout.state_count);
  else if (!info[1].IsUndefined() && !info[1].IsNull())
    as_array<float>(info[1], "state", 0);
  const size_t length = b.bind(job->x, info[2], "data.x", Use::Read);
  if (length == 0 || length % layout.input_size != 0)
    throw_range_error(env, "data.x",
                      "length must be a positive multiple of inputSize " + std::to_string(layout.input_size) +
                          " (got " + std::to_string(length) + ")");
  job->n = (int64_t)(length / layout.input_size);
  if (model.spec().loss == LossKind::SoftmaxCrossEntropy)
    b.bind(job->labels, info[3], "data.y", Use::ReadValidated, (size_t)job->n);
  else
    b.bind(job->values, info[3], "data.y", Use::Read, (size_t)job->n * layout.output_size);
  job->chunk = as_integer(info[4], "batchSize", 1, 1 << 30);
  const int64_t c = std::min(job->chunk, job->n);
  const int64_t count = (job->n + c - 1) / c;
  job->first = as_integer(info[5], "first", 0, count);
  job->end = as_integer(info[6], "end", job->first, count);
  return job;
}

void check_labels(Napi::Env env, const EvalJob& job, const Layout& layout) {
  if (job.labels) check_class_indices(env, job.labels, job.n, layout.output_size, "data.y");
}

void run(Model& model, const EvalJob& job, double* out) {
  model.chunk_loss_sums(job.params, job.state, job.x, job.target(), job.n, job.chunk, job.first, job.end, out);
}

}  // namespace

// lossSums(params, state, x, y, batchSize, first, end) -> Float64Array [2·(end − first)]:
// [lossSum, correct] of each chunk g in [first, end).
Napi::Value ModelWrap::LossSums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  std::unique_ptr<EvalJob> job = to_eval_job(info, model);
  job->borrows.borrow_all(env);  // no JS runs until the pass returns
  check_labels(env, *job, model.layout());
  Napi::Float64Array out = Napi::Float64Array::New(env, (size_t)(2 * (job->end - job->first)));
  try {
    run(model, *job, out.Data());
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return out;
}

// lossSumsAsync(params, state, x, y, batchSize, first, end) -> Promise<Float64Array>: the same
// numbers, computed on the thread pool (binding/pass_worker.h).
Napi::Value ModelWrap::LossSumsAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  std::unique_ptr<EvalJob> job = to_eval_job(info, model);
  job->borrows.pin_for_worker(env, chunk_scratch_);  // only one async call per model runs at a time
  check_labels(env, *job, model.layout());
  job->sums.resize((size_t)(2 * (job->end - job->first)));
  return queue_pass<EvalJob>(
      env, "bigstep:evaluate", this, model, info.This().As<Napi::Object>(), std::move(job),
      [](Model& m, EvalJob& j) { run(m, j, j.sums.data()); },
      [](Napi::Env e, EvalJob& j) -> Napi::Value {
        Napi::Float64Array out = Napi::Float64Array::New(e, j.sums.size());
        std::copy(j.sums.begin(), j.sums.end(), out.Data());
        return out;
      });
}

}  // namespace bigstep::binding
