// MultiTrainer: K models, one batch stream, one native loop (see multi.h for the contract).
#include "multi.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"
#include "kernels.h"  // parallel_run
#include "rng.h"

namespace bigstep {

namespace {

constexpr int kStep = 0, kCursor = 1, kEpoch = 2;

}  // namespace

MultiTrainer::MultiTrainer(const ModelSpec& spec, int count) {
  if (count < 1) throw_range("count", "must be >= 1 (got " + std::to_string(count) + ")");
  models_.reserve((size_t)count);
  for (int k = 0; k < count; ++k) models_.push_back(std::make_unique<Model>(spec));
  const size_t P = layout().param_count;
  update_.resize((size_t)count);
  for (auto& u : update_) u.resize(P);
  alive_.reserve((size_t)count);
  loss_.resize((size_t)count);
  correct_.resize((size_t)count);
  bad_.resize((size_t)count);
}

MultiTrainer::~MultiTrainer() = default;

size_t MultiTrainer::workspace_bytes() const {
  size_t n = 0;
  for (const auto& m : models_) n += m->workspace_bytes();
  for (const auto& u : update_) n += u.capacity() * sizeof(float);
  return n + (xbuf_.capacity() + tbuf_.capacity()) * sizeof(float) +
         (lbuf_.capacity() + idx_.capacity()) * sizeof(int32_t);
}

void MultiTrainer::validate(const DataRef& data, const BatchPlan& batch,
                            const std::vector<OptimizerPlan>& plans, size_t opt_stride) const {
  if (plans.size() != models_.size())
    throw_range("optimizers", "must have one plan per model: " + std::to_string(models_.size()) +
                                  " (got " + std::to_string(plans.size()) + ")");
  if (batch.amplify_k != 1.0)
    throw_range("batch.amplify", "is not supported in a batched run (each model would need its own "
                                 "second batch); train amplified runs with Trainer");
  for (size_t k = 0; k < plans.size(); ++k) {
    if (plans[k].state_count > opt_stride)
      throw_range("optimizers[" + std::to_string(k) + "].stateCount",
                  "must be <= optStride " + std::to_string(opt_stride) + " (got " +
                      std::to_string(plans[k].state_count) + ")");
    try {
      validate_training(*models_[k], data, batch, plans[k]);
    } catch (const NativeError& e) {
      const std::string& p = e.param();
      const bool plan_param = p.rfind("schedule.", 0) == 0 || p.rfind("optimizer.", 0) == 0;
      if (!plan_param) throw;
      std::string msg = e.what();
      msg = msg.substr(std::min(msg.size(), p.size() + 2));
      const std::string name = p.rfind("optimizer.", 0) == 0 ? p.substr(10) : p;
      throw NativeError(e.kind(), "optimizers[" + std::to_string(k) + "]." + name, msg);
    }
  }
}

// The shared batch stream: the same draws, in the same order, as Trainer::next_batch.
int64_t MultiTrainer::next_batch(const DataRef& data, const BatchPlan& batch, MultiState& st,
                                 const float** x, Target* y) {
  const Layout& L = layout();
  return draw_batch(data, batch, st.counters, st.perm, Rng{st.data_rng}, L.input_size, L.output_size, idx_, x, y,
                    xbuf_, lbuf_, tbuf_);
}

MultiResult MultiTrainer::run(const DataRef& data, const BatchPlan& batch,
                              const std::vector<OptimizerPlan>& plans, MultiState& st, int64_t steps,
                              const MultiLogs& logs) {
  const int K = count();
  const Layout& L = layout();
  const size_t P = L.param_count, S = L.state_count;
  MultiResult result;
  auto count_alive = [&] {
    int a = 0;
    for (int k = 0; k < K; ++k) a += st.diverged_at[k] < 0;
    return a;
  };

  // The same per-model choice of fused or unfused update as a solo Trainer makes.
  fused_.assign((size_t)K, 0);
  for (int k = 0; k < K; ++k) fused_[(size_t)k] = fuses_update(plans[(size_t)k], batch, data.n);

  for (int64_t j = 0; j < steps; ++j) {
    alive_.clear();
    for (int k = 0; k < K; ++k)
      if (st.diverged_at[k] < 0) alive_.push_back(k);
    if (alive_.empty()) break;
    const int64_t t = (int64_t)st.counters[kStep];
    const float* x = nullptr;
    Target y;
    const int64_t b = next_batch(data, batch, st, &x, &y);

    // One part per live model; each runs the solo step (forward/backward, finiteness, update).
    struct Ctx {
      MultiTrainer* self;
      const std::vector<OptimizerPlan>* plans;
      MultiState* st;
      const float* x;
      Target y;
      int64_t b, t;
      size_t P, S;
      bool last;
    } ctx{this, &plans, &st, x, y, b, t, P, S, j + 1 == steps};
    parallel_run((int)alive_.size(), [](void* p, int part) {
      Ctx& c = *static_cast<Ctx*>(p);
      MultiTrainer& self = *c.self;
      const int k = self.alive_[(size_t)part];
      TrainState ts;
      ts.params = c.st->params + (size_t)k * c.P;
      ts.grads = c.st->grads + (size_t)k * c.P;
      ts.model_state = c.S ? c.st->model_state + (size_t)k * c.S : nullptr;
      ts.opt_state = c.st->opt_state + (size_t)k * c.st->opt_stride;
      ts.noise_rng = c.st->noise_rng + (size_t)k * 4;
      ts.data_rng = c.st->data_rng;
      ts.perm = c.st->perm;
      ts.counters = c.st->counters;
      int64_t correct = 0;
      const OptimizerPlan& plan = (*c.plans)[(size_t)k];
      Model& model = *self.models_[(size_t)k];
      if (self.fused_[(size_t)k] && !c.last) {  // the chunk's last step stores the whole gradient, as Trainer
        bool applied = false;
        self.loss_[(size_t)k] = model.sgd_step(ts.params, ts.model_state, c.x, c.y, (int)c.b, ts.grads,
                                               (float)-schedule_lr(plan.schedule, c.t), &correct, &applied);
        self.bad_[(size_t)k] = !applied;
      } else {
        const double loss = model.loss_and_grad(ts.params, ts.model_state, c.x, c.y, (int)c.b, ts.grads, true, &correct);
        self.loss_[(size_t)k] = loss;
        const bool bad = !std::isfinite(loss) || !all_finite(ts.grads, c.P);
        self.bad_[(size_t)k] = bad;
        if (!bad) apply_optimizer_plan(plan, ts, c.P, c.t, self.update_[(size_t)k].data());
      }
      self.correct_[(size_t)k] = (double)correct;
    }, &ctx);

    for (int k = 0; k < K; ++k) {
      const bool live = st.diverged_at[k] < 0;
      const size_t at = (size_t)k * (size_t)steps + (size_t)j;
      if (logs.loss) logs.loss[at] = live ? loss_[(size_t)k] : NAN;
      if (logs.lr) logs.lr[at] = live ? schedule_lr(plans[(size_t)k].schedule, t) : NAN;
      if (logs.accuracy) logs.accuracy[at] = live && y.labels ? correct_[(size_t)k] / (double)b : NAN;
    }
    for (int k : alive_)
      if (bad_[(size_t)k]) st.diverged_at[k] = (double)t;
    st.counters[kStep] = (double)(t + 1);
    result.steps_done = j + 1;
  }
  result.alive = count_alive();
  return result;
}

}  // namespace bigstep
