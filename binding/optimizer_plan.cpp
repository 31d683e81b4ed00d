#include "optimizer_plan.h"

#include <cmath>
#include <vector>

#include "args.h"
#include "job.h"

namespace bigstep::binding {
namespace {

Schedule to_schedule(Napi::Value v, const std::string& pre) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, pre);
  Schedule s;
  const std::string kind = as_string(o.Get("kind"), pre + ".kind");
  s.lr = as_finite(o.Get("lr"), pre + ".lr");
  Napi::Value f;
  if (kind == "constant") {
    s.kind = ScheduleKind::Constant;
  } else if (kind == "step") {
    s.kind = ScheduleKind::StepDecay;
    s.step_size = as_integer(o.Get("stepSize"), pre + ".stepSize", 1, INT64_C(1) << 52);
    s.gamma = as_finite(o.Get("gamma"), pre + ".gamma");
  } else if (kind == "cosine") {
    s.kind = ScheduleKind::Cosine;
    s.total_steps = as_integer(o.Get("totalSteps"), pre + ".totalSteps", 1, INT64_C(1) << 52);
    s.final_lr = get_optional(o, "finalLr", &f) ? as_finite(f, pre + ".finalLr") : 0.0;
  } else if (kind == "piecewise") {
    s.kind = ScheduleKind::Piecewise;
    // Copied now (plain vectors): nothing of the schedule is borrowed by a running chunk.
    auto bounds = as_array<double>(o.Get("boundaries"), pre + ".boundaries");
    auto values = as_array<double>(o.Get("values"), pre + ".values", bounds.length + 1);
    for (size_t i = 0; i < bounds.length; ++i) {
      const double b = bounds.data[i];
      if (!(b >= 0) || std::floor(b) != b || (i > 0 && b <= bounds.data[i - 1]))
        throw_range_error(env, pre + ".boundaries", "must be increasing non-negative integers");
      s.boundaries.push_back((int64_t)b);
    }
    for (size_t i = 0; i < values.length; ++i) {
      if (!std::isfinite(values.data[i])) throw_range_error(env, pre + ".values", "must be finite");
      s.values.push_back(values.data[i]);
    }
  } else {
    throw_range_error(env, pre + ".kind", "must be one of constant, step, cosine, piecewise (got \"" + kind + "\")");
  }
  if (get_optional(o, "warmupSteps", &f)) s.warmup_steps = as_integer(f, pre + ".warmupSteps", 0, INT64_C(1) << 52);
  return s;
}

}  // namespace

OptimizerPlan to_optimizer_plan(Napi::Value v, const std::string& pre, size_t param_count, Borrows& borrows) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, pre);
  OptimizerPlan plan;
  plan.schedule = to_schedule(o.Get("schedule"), pre + ".schedule");
  plan.state_count = (size_t)as_integer(o.Get("stateCount"), pre + ".stateCount", 0, INT64_C(1) << 40);
  Napi::Value list = o.Get("transforms");
  if (!list.IsArray()) throw_type_error(env, pre + ".transforms", "an array");
  Napi::Array arr = list.As<Napi::Array>();
  std::vector<std::pair<size_t, Napi::Value>> masks;  // bound once the transform vector is final
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
    if (get_optional(t, "mask", &f)) masks.emplace_back(plan.transforms.size(), f);
    plan.transforms.push_back(tr);
  }
  // The plan is moved, never copied, into the job: the transforms' storage (and so the address of
  // each mask field that `borrows` records) stays where it is.
  for (const auto& [i, value] : masks)
    borrows.bind(plan.transforms[i].mask, value, pre + ".transforms[" + std::to_string(i) + "].mask", Use::Read,
                 param_count);
  choose_update_path(plan);  // once, now that the transforms (and their masks) are final
  return plan;
}

}  // namespace bigstep::binding
