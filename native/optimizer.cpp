#include "optimizer.h"

#include <cmath>
#include <cstring>

#include "errors.h"
#include "isa.h"
#include "kernels.h"
#include "rng.h"
#include "threads.h"
#include "ziggurat.h"

namespace bigstep {

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
BIGSTEP_ISA_VARIANTS(momentum_block,
                     (float* theta, float* v, const float* g, size_t n, float neg_lr, float wd, float beta),
                     (theta, v, g, n, neg_lr, wd, beta))
static BIGSTEP_ALWAYS_INLINE void nesterov_block_body(float* theta, float* v, const float* g, size_t n, float neg_lr,
                                                      float wd, float beta) {
  for (size_t i = 0; i < n; ++i) {
    const float u = g[i] + wd * theta[i];
    v[i] = beta * v[i] + u;
    theta[i] += neg_lr * (u + beta * v[i]);
  }
}
BIGSTEP_ISA_VARIANTS(nesterov_block,
                     (float* theta, float* v, const float* g, size_t n, float neg_lr, float wd, float beta),
                     (theta, v, g, n, neg_lr, wd, beta))

void choose_update_path(OptimizerPlan& plan) {
  // The plans sgd() produces: [addWeightDecay?] [momentum?] scaleByLearningRate, no masks. The
  // fused pass does the same per-element arithmetic sequence as the chain (contracted to FMA on
  // avx2 / avx512, like Model::sgd_step's GEMM-fused update).
  FusedSgd f;
  bool ok = false;
  size_t i = 0;
  const auto& t = plan.transforms;
  if (i < t.size() && t[i].kind == TransformKind::AddWeightDecay && !t[i].mask) f.wd = t[i++].value;
  if (i < t.size() && t[i].kind == TransformKind::Momentum) {
    f.momentum = true;
    f.beta = t[i].value;
    f.nesterov = t[i].nesterov;
    f.state_offset = t[i].state_offset;
    ++i;
  }
  if (i < t.size() && t[i].kind == TransformKind::ScaleByLearningRate) {
    ++i;
    ok = i == t.size();
  }
  plan.path = ok ? UpdatePath::FusedSgd : UpdatePath::Chain;
  plan.fused = ok ? f : FusedSgd{};
  plan.path_chosen = true;
}

const char* update_path_name(UpdatePath path) {
  switch (path) {
    case UpdatePath::Chain: return "chain";
    case UpdatePath::FusedSgd: return "fused-sgd";
  }
  return "unknown";
}

void validate_optimizer(const OptimizerPlan& plan, size_t param_count) {
  if (!plan.path_chosen) throw_range("optimizer", "plan was not finished (choose_update_path was never called)");
  for (const Transform& tr : plan.transforms)
    if (tr.kind == TransformKind::Momentum && tr.state_offset + param_count > plan.state_count)
      throw_range("optimizer.stateCount", "is too small for the momentum buffer");
}

void apply_update(const OptimizerPlan& plan, const OptimizerBuffers& buf, size_t count, int64_t t, float* update) {
  if (plan.path == UpdatePath::FusedSgd) {
    apply_fused_sgd(plan, buf, count, t);
  } else {
    apply_chain(plan, buf, count, t, update);
  }
}

void apply_fused_sgd(const OptimizerPlan& plan, const OptimizerBuffers& buf, size_t count, int64_t t) {
  // θ ← θ − η·u with u = g (+ wd·θ), through momentum if present; g itself is left intact.
  const FusedSgd& fused = plan.fused;
  const float neg_lr = (float)-schedule_lr(plan.schedule, t);
  const float wd = (float)fused.wd;
  const float* g = buf.grads;
  float* theta = buf.params;
  if (!fused.momentum && wd == 0.0f) {
    sgd_update(theta, g, count, neg_lr);  // the arithmetic of Model::sgd_step's fused update
  } else if (!fused.momentum) {
    parallel_range(count, kParamGrain,
                   [=](size_t lo, size_t hi) { sgd_block(theta + lo, g + lo, hi - lo, neg_lr, wd); });
  } else {
    float* v = buf.opt_state + fused.state_offset;
    const float beta = (float)fused.beta;
    const bool nesterov = fused.nesterov;
    parallel_range(count, kParamGrain, [=](size_t lo, size_t hi) {
      (nesterov ? nesterov_block : momentum_block)(theta + lo, v + lo, g + lo, hi - lo, neg_lr, wd, beta);
    });
  }
}

void apply_chain(const OptimizerPlan& plan, const OptimizerBuffers& buf, size_t count, int64_t t, float* update) {
  // u starts as a copy of the gradient so buf.grads keeps the raw gradient.
  std::memcpy(update, buf.grads, count * sizeof(float));
  float* u = update;
  const float* theta = buf.params;
  const double lr = schedule_lr(plan.schedule, t);
  Rng noise{buf.noise_rng};
  const ZigguratTables& zig = ziggurat_tables();
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
        if (tr.anneal_steps > 0) std *= std::max(0.0, 1.0 - (double)t / (double)tr.anneal_steps);
        if (!(std > 0.0)) break;
        if (tr.noise_mode == Transform::NoiseMode::Std) {
          for (size_t i = 0; i < count; ++i)
            if (!m || m[i]) u[i] += (float)(std * normal_ziggurat(noise, zig));
          break;
        }
        // Norm / Relative: pass 1 measures ‖ξ‖ (and ‖u‖) from a saved copy of the stream state,
        // pass 2 redraws the same ξ and adds it scaled, so no d-sized buffer is needed.
        uint64_t saved[4];
        std::memcpy(saved, buf.noise_rng, sizeof(saved));
        double xi_sq = 0.0, u_sq = 0.0;
        for (size_t i = 0; i < count; ++i)
          if (!m || m[i]) {
            const double z = normal_ziggurat(noise, zig);
            xi_sq += z * z;
            u_sq += (double)u[i] * u[i];
          }
        std::memcpy(buf.noise_rng, saved, sizeof(saved));
        double target = std;
        if (tr.noise_mode == Transform::NoiseMode::Relative) target *= std::sqrt(u_sq);
        const double scale = xi_sq > 0.0 ? target / std::sqrt(xi_sq) : 0.0;
        for (size_t i = 0; i < count; ++i)
          if (!m || m[i]) u[i] += (float)(scale * normal_ziggurat(noise, zig));
        break;
      }
      case TransformKind::Momentum: {
        float* v = buf.opt_state + tr.state_offset;
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
  for (size_t i = 0; i < count; ++i) buf.params[i] += u[i];
}

}  // namespace bigstep
