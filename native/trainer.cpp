#include "trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"
#include "isa.h"
#include "kernels.h"
#include "threads.h"
#include "rng.h"

namespace bigstep {

// Helpers of Trainer::run, internal to this file (static), declared here because run's helpers
// call them before their definitions.
// The optimizer update applied after each step. update: [count] scratch for generic chains.
static void apply_optimizer_plan(const OptimizerPlan& plan, TrainState& st, size_t count, int64_t t,
                                 float* update);
// True when the steps of `plan` on `batch` (n examples) may go through Model::sgd_step (the update
// fused into the dense weight-gradient GEMMs, bitwise the unfused one).
static bool fuses_update(const OptimizerPlan& plan, const BatchPlan& batch, int64_t n);

namespace {
constexpr double kPi = 3.14159265358979323846;

// counters[] indices
constexpr int kStep = 0;
constexpr int kCursor = 1;
constexpr int kEpoch = 2;

}  // namespace

// The update passes have one copy per ISA path (isa.h): on avx2 / avx512 they contract to FMA like
// sgd_update (kernels.cpp), so a chunk's fused and unfused plain-SGD steps round alike.
static BIGSTEP_ALWAYS_INLINE void sgd_block_body(float* theta, const float* g, size_t n, float neg_lr, float wd) {
  for (size_t i = 0; i < n; ++i) theta[i] += neg_lr * (g[i] + wd * theta[i]);
}
BIGSTEP_ISA_VARIANTS(sgd_block, (float* theta, const float* g, size_t n, float neg_lr, float wd),
                     (theta, g, n, neg_lr, wd))
static BIGSTEP_ALWAYS_INLINE void momentum_block_body(float* theta, float* v, const float* g, size_t n, float neg_lr,
                                                      float wd, float beta) {
  for (size_t i = 0; i < n; ++i) {
    v[i] = beta * v[i] + (g[i] + wd * theta[i]);
    theta[i] += neg_lr * v[i];
  }
}
BIGSTEP_ISA_VARIANTS(momentum_block, (float* theta, float* v, const float* g, size_t n, float neg_lr, float wd, float beta),
                     (theta, v, g, n, neg_lr, wd, beta))
static BIGSTEP_ALWAYS_INLINE void nesterov_block_body(float* theta, float* v, const float* g, size_t n, float neg_lr,
                                                      float wd, float beta) {
  for (size_t i = 0; i < n; ++i) {
    const float u = g[i] + wd * theta[i];
    v[i] = beta * v[i] + u;
    theta[i] += neg_lr * (u + beta * v[i]);
  }
}
BIGSTEP_ISA_VARIANTS(nesterov_block, (float* theta, float* v, const float* g, size_t n, float neg_lr, float wd, float beta),
                     (theta, v, g, n, neg_lr, wd, beta))

namespace {

// The plans sgd() produces — [addWeightDecay?] [momentum?] scaleByLearningRate, no masks — run as
// one fused pass over (g, θ, v) instead of a pass per transform; the per-element arithmetic is
// the same sequence as the generic path.
struct FusedSgd {
  bool ok = false;
  double wd = 0.0;
  const Transform* momentum = nullptr;
};

FusedSgd match_fused_sgd(const OptimizerPlan& plan) {
  FusedSgd f;
  size_t i = 0;
  const auto& t = plan.transforms;
  if (i < t.size() && t[i].kind == TransformKind::AddWeightDecay && !t[i].mask) f.wd = t[i++].value;
  if (i < t.size() && t[i].kind == TransformKind::Momentum) f.momentum = &t[i++];
  if (i < t.size() && t[i].kind == TransformKind::ScaleByLearningRate) {
    ++i;
    f.ok = i == t.size();
  }
  return f;
}

}  // namespace

// Every index is checked against [0, n) before
// its row is read: indices drawn here are in range by construction, but `perm` lives in caller
// memory that JS can write while a chunk runs (a SharedArrayBuffer view is borrowed, not copied),
// and the binding validates it only at chunk start. Each index is read once (volatile), so the
// value checked is the value used; one compare per row.
static void gather_batch(const DataRef& data, size_t in, size_t out, const int32_t* idx, int64_t b,
                         const char* source, int64_t source_offset, std::vector<float>& xbuf,
                         std::vector<int32_t>& lbuf, std::vector<float>& tbuf, const float** x, Target* y) {
  // x rows [b, in] copied from data.x[idx[i]]; labels [b] or targets [b, out] likewise.
  xbuf.resize((size_t)b * in);
  if (data.y.labels) lbuf.resize((size_t)b);
  else tbuf.resize((size_t)b * out);
  const volatile int32_t* vidx = idx;
  for (int64_t i = 0; i < b; ++i) {
    const int32_t j = vidx[i];
    if ((uint64_t)(uint32_t)j >= (uint64_t)data.n)
      throw_range(std::string(source) + "[" + std::to_string(source_offset + i) + "]",
                  "must be an example index in [0, " + std::to_string(data.n) + ") (got " +
                      std::to_string(j) + "; was it written while a chunk ran?)");
    std::memcpy(&xbuf[(size_t)i * in], data.x + (size_t)j * in, in * sizeof(float));
    if (data.y.labels) lbuf[(size_t)i] = data.y.labels[j];
    else std::memcpy(&tbuf[(size_t)i * out], data.y.values + (size_t)j * out, out * sizeof(float));
  }
  *x = xbuf.data();
  if (data.y.labels) *y = Target{lbuf.data(), nullptr};
  else *y = Target{nullptr, tbuf.data()};
}

double schedule_lr(const Schedule& s, int64_t t) {
  double lr = s.lr;
  switch (s.kind) {
    case ScheduleKind::Constant:
      break;
    case ScheduleKind::StepDecay:
      lr = s.lr * std::pow(s.gamma, (double)(t / s.step_size));
      break;
    case ScheduleKind::Cosine: {
      const double progress = std::min(1.0, (double)t / (double)s.total_steps);
      lr = s.final_lr + 0.5 * (s.lr - s.final_lr) * (1.0 + std::cos(kPi * progress));
      break;
    }
    case ScheduleKind::Piecewise: {
      size_t i = 0;
      while (i < s.boundaries.size() && t >= s.boundaries[i]) ++i;
      lr = s.values[i];
      break;
    }
  }
  if (s.warmup_steps > 0 && t < s.warmup_steps) lr *= (double)(t + 1) / (double)s.warmup_steps;
  return lr;
}

void validate_training(const Model& model, const DataRef& data, const BatchPlan& batch,
                       const OptimizerPlan& plan) {
  const Layout& layout = model.layout();
  if (data.n < 1) throw_range("data.n", "must be >= 1 (got " + std::to_string(data.n) + ")");
  const bool ce = model.spec().loss == LossKind::SoftmaxCrossEntropy;
  if (ce && !data.y.labels) throw_type("data.y", "must be Int32Array labels for softmax cross-entropy");
  if (!ce && !data.y.values) throw_type("data.y", "must be Float32Array targets for mean squared error");
  if (ce) {
    for (int64_t i = 0; i < data.n; ++i) {
      const int32_t label = data.y.labels[i];
      if (label < 0 || (size_t)label >= layout.output_size)
        throw_range("data.y[" + std::to_string(i) + "]",
                    "must be a class index in [0, " + std::to_string(layout.output_size) + ") (got " +
                        std::to_string(label) + ")");
    }
  }
  if (batch.mode != BatchMode::Full && (batch.batch < 1 || batch.batch > data.n))
    throw_range("batch.size", "must be in [1, n=" + std::to_string(data.n) + "] (got " +
                                  std::to_string(batch.batch) + ")");
  if (!(batch.amplify_k >= 1.0) || !std::isfinite(batch.amplify_k))
    throw_range("batch.amplify", "must be a finite number >= 1");
  if (batch.amplify_k > 1.0 && batch.mode == BatchMode::Full)
    throw_range("batch.amplify", "needs mini-batches: with full batches both draws are identical");
  const Schedule& s = plan.schedule;
  if (s.kind == ScheduleKind::StepDecay && s.step_size < 1) throw_range("schedule.stepSize", "must be >= 1");
  if (s.kind == ScheduleKind::Cosine && s.total_steps < 1) throw_range("schedule.totalSteps", "must be >= 1");
  if (s.kind == ScheduleKind::Piecewise && s.values.size() != s.boundaries.size() + 1)
    throw_range("schedule.values", "must have one more entry than schedule.boundaries");
  validate_augment(batch.augment, layout.input_size);
  if (batch.micro_batch < 0) throw_range("batch.microBatch", "must be >= 1 (or 0 for the whole batch at once)");
  for (const Transform& tr : plan.transforms)
    if (tr.kind == TransformKind::Momentum && tr.state_offset + layout.param_count > plan.state_count)
      throw_range("optimizer.stateCount", "is too small for the momentum buffer");
}

// The one batch stream: the next batch of `batch` (epoch order in perm [n], counters [step,
// cursor, epoch] advanced), drawn from rng; gathered into the scratch buffers except in Full mode.
static int64_t draw_batch(const DataRef& data, const BatchPlan& batch, double* c, int32_t* perm, Rng rng,
                          size_t in, size_t out, std::vector<int32_t>& idx, const float** x, Target* y,
                          std::vector<float>& xbuf, std::vector<int32_t>& lbuf, std::vector<float>& tbuf) {
  switch (batch.mode) {
    case BatchMode::Full:
      *x = data.x;
      *y = data.y;
      c[kEpoch] += 1;
      return data.n;
    case BatchMode::Replacement: {
      lbuf.resize((size_t)batch.batch);
      idx.resize((size_t)batch.batch);
      for (int64_t i = 0; i < batch.batch; ++i) idx[(size_t)i] = (int32_t)rng.below((uint64_t)data.n);
      gather_batch(data, in, out, idx.data(), batch.batch, "batch index", 0, xbuf, lbuf, tbuf, x, y);
      return batch.batch;
    }
    case BatchMode::Sequential:
    case BatchMode::Shuffle: {
      int64_t cursor = (int64_t)c[kCursor];
      int64_t remaining = data.n - cursor;
      if (remaining <= 0 || (batch.drop_last && remaining < batch.batch)) {
        cursor = 0;
        c[kEpoch] += 1;
        remaining = data.n;
      }
      if (cursor == 0) {
        // Start of an epoch: identity order, then Fisher-Yates for Shuffle.
        for (int64_t i = 0; i < data.n; ++i) perm[i] = (int32_t)i;
        if (batch.mode == BatchMode::Shuffle)
          for (int64_t i = data.n - 1; i > 0; --i)
            std::swap(perm[i], perm[rng.below((uint64_t)i + 1)]);
      }
      const int64_t b = std::min<int64_t>(batch.batch, remaining);
      gather_batch(data, in, out, perm + cursor, b, "perm", cursor, xbuf, lbuf, tbuf, x, y);
      c[kCursor] = (double)(cursor + b);
      return b;
    }
  }
  return 0;
}

int64_t Trainer::next_batch(const DataRef& data, const BatchPlan& batch, TrainState& st, Rng rng,
                            const float** x, Target* y, std::vector<float>& xbuf,
                            std::vector<int32_t>& lbuf, std::vector<float>& tbuf) {
  return draw_batch(data, batch, st.counters, st.perm, rng, in_size_, out_size_, index_scratch_, x, y, xbuf, lbuf,
                    tbuf);
}

// Independent batch for the amplified estimator: same size, drawn the same way as the first
// (with replacement in Replacement mode, otherwise a uniform subset without replacement).
int64_t Trainer::second_batch(const DataRef& data, const BatchPlan& batch, int64_t b, Rng rng,
                              const float** x, Target* y) {
  std::vector<int32_t>& idx = index_scratch_;
  if (batch.mode == BatchMode::Replacement) {
    idx.resize((size_t)b);
    for (int64_t i = 0; i < b; ++i) idx[(size_t)i] = (int32_t)rng.below((uint64_t)data.n);
  } else {
    // Partial Fisher-Yates over a fresh identity so the draw depends only on the RNG state.
    idx.resize((size_t)data.n);
    for (int64_t i = 0; i < data.n; ++i) idx[(size_t)i] = (int32_t)i;
    for (int64_t i = 0; i < b; ++i)
      std::swap(idx[(size_t)i], idx[(size_t)(i + (int64_t)rng.below((uint64_t)(data.n - i)))]);
  }
  gather_batch(data, in_size_, out_size_, idx.data(), b, "batch index", 0, xbuf2_, lbuf2_, tbuf2_, x, y);
  return b;
}

void Trainer::augment(const float** x, int64_t b, std::vector<float>& buf, const BatchPlan& batch,
                      TrainState& st) {
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
  const int64_t piece = batch.micro_batch;
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
    const Target yp = y.labels ? Target{y.labels + start, nullptr} : Target{nullptr, y.values + (size_t)start * out_size_};
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

void Trainer::apply_plan(const OptimizerPlan& plan, TrainState& st, size_t count, int64_t t) {
  apply_optimizer_plan(plan, st, count, t, update_.data());
}

// Up to here the fused update is bitwise the unfused one with OpenBLAS (one K block of its sgemm
// kernels: 320 on Haswell) and worth having; above it, the separate update pass is a shrinking
// fraction of a step (O(P) against the GEMMs' O(P·batch)), so results are kept unchanged instead.
constexpr int64_t kFusedUpdateMaxBatch = 256;

bool fuses_update(const OptimizerPlan& plan, const BatchPlan& batch, int64_t n) {
  const FusedSgd f = match_fused_sgd(plan);
  const int64_t size = batch.mode == BatchMode::Full ? n : batch.batch;
  return f.ok && !f.momentum && f.wd == 0.0 && batch.amplify_k <= 1.0 && batch.micro_batch <= 0 &&
         size <= kFusedUpdateMaxBatch && fused_sgd_update_exact();
}

void apply_optimizer_plan(const OptimizerPlan& plan, TrainState& st, size_t count, int64_t t,
                          float* update) {
  const FusedSgd fused = match_fused_sgd(plan);
  if (fused.ok) {
    // θ ← θ − η·u with u = g (+ wd·θ), through momentum if present; g itself is left intact.
    const float neg_lr = (float)-schedule_lr(plan.schedule, t);
    const float wd = (float)fused.wd;
    const float* g = st.grads;
    float* theta = st.params;
    if (!fused.momentum && wd == 0.0f) {
      sgd_update(theta, g, count, neg_lr);  // the arithmetic of Model::sgd_step's fused update
    } else if (!fused.momentum) {
      parallel_range(count, kParamGrain,
                     [=](size_t lo, size_t hi) { sgd_block(theta + lo, g + lo, hi - lo, neg_lr, wd); });
    } else {
      float* v = st.opt_state + fused.momentum->state_offset;
      const float beta = (float)fused.momentum->value;
      const bool nesterov = fused.momentum->nesterov;
      parallel_range(count, kParamGrain, [=](size_t lo, size_t hi) {
        (nesterov ? nesterov_block : momentum_block)(theta + lo, v + lo, g + lo, hi - lo, neg_lr, wd, beta);
      });
    }
    return;
  }
  // Generic chain: u starts as a copy of the gradient so st.grads keeps the raw gradient.
  std::memcpy(update, st.grads, count * sizeof(float));
  float* u = update;
  const float* theta = st.params;
  const double lr = schedule_lr(plan.schedule, t);
  Rng noise{st.noise_rng};
  for (const Transform& tr : plan.transforms) {
    const uint8_t* m = tr.mask;
    switch (tr.kind) {
      case TransformKind::ClipGlobalNorm: {
        double sq = 0.0;
        for (size_t i = 0; i < count; ++i) sq += (double)u[i] * u[i];
        const double norm = std::sqrt(sq);
        if (norm > tr.value) {
          const float scale = (float)(tr.value / norm);
          for (size_t i = 0; i < count; ++i) u[i] *= scale;
        }
        break;
      }
      case TransformKind::AddWeightDecay: {
        const float wd = (float)tr.value;
        for (size_t i = 0; i < count; ++i)
          if (!m || m[i]) u[i] += wd * theta[i];
        break;
      }
      case TransformKind::GaussianNoise: {
        double std = tr.value;
        if (tr.anneal_steps > 0)
          std *= std::max(0.0, 1.0 - (double)t / (double)tr.anneal_steps);
        if (!(std > 0.0)) break;
        if (tr.noise_mode == Transform::NoiseMode::Std) {
          for (size_t i = 0; i < count; ++i)
            if (!m || m[i]) u[i] += (float)(std * noise.normal());
          break;
        }
        // Norm / Relative: pass 1 measures ‖ξ‖ (and ‖u‖) from a saved copy of the stream state,
        // pass 2 redraws the same ξ and adds it scaled, so no d-sized buffer is needed.
        uint64_t saved[4];
        std::memcpy(saved, st.noise_rng, sizeof(saved));
        double xi_sq = 0.0, u_sq = 0.0;
        for (size_t i = 0; i < count; ++i)
          if (!m || m[i]) {
            const double z = noise.normal();
            xi_sq += z * z;
            u_sq += (double)u[i] * u[i];
          }
        std::memcpy(st.noise_rng, saved, sizeof(saved));
        double target = std;
        if (tr.noise_mode == Transform::NoiseMode::Relative) target *= std::sqrt(u_sq);
        const double scale = xi_sq > 0.0 ? target / std::sqrt(xi_sq) : 0.0;
        for (size_t i = 0; i < count; ++i)
          if (!m || m[i]) u[i] += (float)(scale * noise.normal());
        break;
      }
      case TransformKind::Momentum: {
        float* v = st.opt_state + tr.state_offset;
        const float beta = (float)tr.value;
        if (tr.nesterov) {
          for (size_t i = 0; i < count; ++i) {
            v[i] = beta * v[i] + u[i];
            u[i] = u[i] + beta * v[i];
          }
        } else {
          for (size_t i = 0; i < count; ++i) {
            v[i] = beta * v[i] + u[i];
            u[i] = v[i];
          }
        }
        break;
      }
      case TransformKind::ScaleByLearningRate: {
        const float neg_lr = (float)-lr;
        for (size_t i = 0; i < count; ++i) u[i] *= neg_lr;
        break;
      }
      case TransformKind::DecoupledWeightDecay: {
        const float k = (float)(lr * tr.value);
        for (size_t i = 0; i < count; ++i)
          if (!m || m[i]) u[i] -= k * theta[i];
        break;
      }
    }
  }
  for (size_t i = 0; i < count; ++i) st.params[i] += u[i];
}

ChunkResult Trainer::run(Model& model, const DataRef& data, const BatchPlan& batch,
                         const OptimizerPlan& plan, TrainState& st, int64_t steps,
                         const StepLogs& logs) {
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
  const bool fused = fuses_update(plan, batch, data.n);

  for (int64_t k = 0; k < steps; ++k) {
    const int64_t t = (int64_t)st.counters[kStep];
    const float* x = nullptr;
    Target y;
    const int64_t b = next_batch(data, batch, st, Rng{st.data_rng}, &x, &y, xbuf_, lbuf_, tbuf_);
    augment(&x, b, xbuf_, batch, st);
    int64_t correct = 0;
    // The chunk's last step stores its whole gradient (grads must hold it afterwards); the fused
    // steps before it give the same θ bit for bit (fuses_update checks that).
    const bool fused_step = fused && k + 1 < steps;
    double loss;
    bool finite;  // loss and gradient finite, i.e. the update is (fused: was) applied
    if (fused_step) {
      loss = model.sgd_step(st.params, st.model_state, x, y, (int)b, st.grads,
                            (float)-schedule_lr(plan.schedule, t), &correct, &finite);
    } else {
      loss = batch_loss_and_grad(model, batch, st, x, y, b, st.grads, &correct);
      if (amplified) {
        const float* x2 = nullptr;
        Target y2;
        second_batch(data, batch, b, Rng{st.noise_rng}, &x2, &y2);
        augment(&x2, b, xbuf2_, batch, st);
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
    if (!fused_step) apply_plan(plan, st, count, t);
    st.counters[kStep] = (double)(t + 1);
    result.steps_done = k + 1;
  }
  return result;
}

}  // namespace bigstep
