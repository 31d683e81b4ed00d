#include "trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"
#include "kernels.h"

namespace bigstep {

namespace {

// Up to here the fused update is bitwise the unfused one with OpenBLAS (one K block of its sgemm
// kernels: 320 on Haswell) and worth having; above it, the separate update pass is a shrinking
// fraction of a step (O(P) against the GEMMs' O(P·batch)), so results are kept unchanged instead.
constexpr int64_t kFusedUpdateMaxBatch = 256;

// True when the steps of `plan` on `batch` (n examples) may go through Model::sgd_step (the update
// fused into the dense weight-gradient GEMMs, bitwise the unfused one). Decided once per chunk: it
// depends on the thread count (fused_sgd_update_exact), which may change between chunks.
bool fuses_gemm_update(const OptimizerPlan& plan, const BatchPlan& batch, int64_t n) {
  const int64_t size = batch.mode == BatchMode::Full ? n : batch.batch;
  return plan.path == UpdatePath::FusedSgd && !plan.fused.momentum && plan.fused.wd == 0.0 && batch.amplify_k <= 1.0 &&
         batch.micro_batch <= 0 && batch.shards <= 1 && !batch.collective && size <= kFusedUpdateMaxBatch &&
         fused_sgd_update_exact();
}

}  // namespace

const char* chunk_update_name(const ChunkResult& r) {
  return r.gemm_fused ? "fused-gemm" : update_path_name(r.update_path);
}

void validate_training(const Model& model, const DataRef& data, const BatchPlan& batch, const OptimizerPlan& plan) {
  const Layout& layout = model.layout();
  if (data.n < 1) throw_range("data.n", "must be >= 1 (got " + std::to_string(data.n) + ")");
  const bool ce = model.spec().loss == LossKind::SoftmaxCrossEntropy;
  if (ce && !data.y.labels) throw_type("data.y", "must be Int32Array labels for softmax cross-entropy");
  if (!ce && !data.y.values) throw_type("data.y", "must be Float32Array targets for mean squared error");
  if (ce) {
    for (int64_t i = 0; i < data.n; ++i) {
      const int32_t label = data.y.labels[i];
      if (label < 0 || (size_t)label >= layout.output_size)
        throw_range("data.y[" + std::to_string(i) + "]", "must be a class index in [0, " +
                                                             std::to_string(layout.output_size) + ") (got " +
                                                             std::to_string(label) + ")");
    }
  }
  if (batch.mode != BatchMode::Full && (batch.batch < 1 || batch.batch > data.n))
    throw_range("batch.size",
                "must be in [1, n=" + std::to_string(data.n) + "] (got " + std::to_string(batch.batch) + ")");
  if (!(batch.amplify_k >= 1.0) || !std::isfinite(batch.amplify_k))
    throw_range("batch.amplify", "must be a finite number >= 1");
  if (batch.amplify_k > 1.0 && batch.mode == BatchMode::Full)
    throw_range("batch.amplify", "needs mini-batches: with full batches both draws are identical");
  validate_schedule(plan.schedule);
  validate_augment(batch.augment, layout.input_size);
  if (batch.micro_batch < 0) throw_range("batch.microBatch", "must be >= 1 (or 0 for the whole batch at once)");
  if (batch.shards < 0) throw_range("batch.shards", "must be >= 1 (or 0 for none)");
  if (batch.shards > 0 && batch.micro_batch > 0)
    throw_range("batch.shards", "cuts each batch into pieces itself: set it or microBatch, not both");
  // Under data parallelism the split over the ranks is the shards: a different count would be another arithmetic.
  if (batch.shards > 0 && batch.collective && batch.shards != batch.collective->size())
    throw_range("batch.shards", "must equal the number of data-parallel ranks (" +
                                    std::to_string(batch.collective->size()) + ") or be unset");
  if (batch.collective)
    validate_data_parallel(model, data.n, batch.mode == BatchMode::Full, batch.batch,
                           batch.drop_last || batch.mode == BatchMode::Replacement, batch.collective->size());
  validate_optimizer(plan, layout.param_count);
}

void Trainer::augment(const float** x, int64_t b, std::vector<float>& buf, const BatchPlan& batch, TrainState& st) {
  if (!batch.augment.enabled()) return;
  if (!st.augment_rng) throw_range("job.augmentRng", "is required when batch.augment is set");
  const size_t len = (size_t)b * in_size_;
  if (*x != buf.data()) {
    buf.resize(len);
    std::memcpy(buf.data(), *x, len * sizeof(float));
    *x = buf.data();
  }
  augment_batch(buf.data(), b, batch.augment, Rng{st.augment_rng}, aug_scratch_);
}

double Trainer::batch_loss_and_grad(Model& model, const BatchPlan& batch, TrainState& st, const float* x,
                                    const Target& y, int64_t b, float* grads, int64_t* correct) {
  if (batch.collective && batch.collective->size() > 1)  // one rank: the plain path below
    return data_parallel_loss_and_grad(model, *batch.collective, batch.micro_batch, st.params, st.model_state, x, y, b,
                                       grads, correct, dp_scratch_);
  const int64_t piece = batch.shards > 0 ? (b + batch.shards - 1) / batch.shards : batch.micro_batch;
  if (piece <= 0 || piece >= b)
    return model.loss_and_grad(st.params, st.model_state, x, y, (int)b, grads, /*training=*/true, correct);
  const size_t count = model.layout().param_count;
  piece_grads_.resize(count);
  grad_sum_.assign(count, 0.0);
  double loss_sum = 0.0;
  int64_t correct_sum = 0;
  for (int64_t start = 0; start < b; start += piece) {
    const int64_t m = std::min(piece, b - start);
    // x rows [m, in] and targets (labels [m] or values [m, out]) of this piece.
    const Target yp =
        y.labels ? Target{y.labels + start, nullptr} : Target{nullptr, y.values + (size_t)start * out_size_};
    int64_t c = 0;
    const double l = model.loss_and_grad(st.params, st.model_state, x + (size_t)start * in_size_, yp, (int)m,
                                         piece_grads_.data(), /*training=*/true, correct ? &c : nullptr);
    loss_sum += l * (double)m;
    correct_sum += c;
    for (size_t i = 0; i < count; ++i) grad_sum_[i] += (double)m * (double)piece_grads_[i];
  }
  const double inv = 1.0 / (double)b;
  for (size_t i = 0; i < count; ++i) grads[i] = (float)(grad_sum_[i] * inv);
  if (correct) *correct = correct_sum;
  return loss_sum * inv;
}

ChunkResult Trainer::run(Model& model, const DataRef& data, const BatchPlan& batch, const OptimizerPlan& plan,
                         TrainState& st, int64_t steps, const StepLogs& logs) {
  const Layout& layout = model.layout();
  const size_t count = layout.param_count;
  in_size_ = layout.input_size;
  out_size_ = layout.output_size;
  update_.resize(count);
  ChunkResult result;
  const bool amplified = batch.amplify_k > 1.0;
  // (1 + c)² + c² = k²  =>  c = (−1 + sqrt(2k² − 1)) / 2
  const double c_amp = amplified ? (-1.0 + std::sqrt(2.0 * batch.amplify_k * batch.amplify_k - 1.0)) / 2.0 : 0.0;
  if (amplified) grads2_.resize(count);
  const bool fused = fuses_gemm_update(plan, batch, data.n);
  result.update_path = plan.path;
  result.gemm_fused = fused && steps > 1;
  const OptimizerBuffers opt{st.params, st.grads, st.opt_state, st.noise_rng};

  for (int64_t k = 0; k < steps; ++k) {
    const int64_t t = (int64_t)st.counters[kStep];
    const float* x = nullptr;
    Target y;
    const int64_t b = draw_batch(data, batch, st.counters, st.perm, Rng{st.data_rng}, in_size_, out_size_,
                                 index_scratch_, first_, &x, &y);
    augment(&x, b, first_.x, batch, st);
    int64_t correct = 0;
    // The chunk's last step stores its whole gradient (grads must hold it afterwards); the fused
    // steps before it give the same θ bit for bit (fuses_gemm_update checks that).
    const bool fused_step = fused && k + 1 < steps;
    double loss;
    bool finite;  // loss and gradient finite, i.e. the update is (fused: was) applied
    if (fused_step) {
      loss = model.sgd_step(st.params, st.model_state, x, y, (int)b, st.grads, (float)-schedule_lr(plan.schedule, t),
                            &correct, &finite);
    } else {
      loss = batch_loss_and_grad(model, batch, st, x, y, b, st.grads, &correct);
      if (amplified) {
        const float* x2 = nullptr;
        Target y2;
        draw_independent_batch(data, batch, b, Rng{st.noise_rng}, in_size_, out_size_, index_scratch_, second_, &x2,
                               &y2);
        augment(&x2, b, second_.x, batch, st);
        batch_loss_and_grad(model, batch, st, x2, y2, b, grads2_.data(), nullptr);
        const float a = (float)(1.0 + c_amp), cc = (float)c_amp;
        for (size_t i = 0; i < count; ++i) st.grads[i] = a * st.grads[i] - cc * grads2_[i];
      }
      finite = std::isfinite(loss) && all_finite(st.grads, count);
    }
    if (logs.loss) logs.loss[k] = loss;
    if (logs.lr) logs.lr[k] = schedule_lr(plan.schedule, t);
    if (logs.accuracy) logs.accuracy[k] = y.labels ? (double)correct / (double)b : NAN;
    if (!finite) {
      result.diverged = true;
      result.diverged_at = t;
      result.steps_done = k;
      return result;
    }
    if (!fused_step) apply_update(plan, opt, count, t, update_.data());
    st.counters[kStep] = (double)(t + 1);
    result.steps_done = k + 1;
  }
  return result;
}

}  // namespace bigstep
