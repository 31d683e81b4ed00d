#include "optimizer_plan.h"

#include <cmath>
#include <vector>

#include "args.h"
#include "kinds.h"

namespace bigstep::binding {
namespace {

Schedule to_schedule(Napi::Value v, const std::string& pre) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, pre);
  Schedule s;
  s.kind = parse_kind(kScheduleKinds, o.Get("kind"), pre + ".kind");
  s.lr = as_finite(o.Get("lr"), pre + ".lr");
  Napi::Value f;
  if (s.kind == ScheduleKind::StepDecay) {
    s.step_size = as_integer(o.Get("stepSize"), pre + ".stepSize", 1, INT64_C(1) << 52);
    s.gamma = as_finite(o.Get("gamma"), pre + ".gamma");
  } else if (s.kind == ScheduleKind::Cosine) {
    s.total_steps = as_integer(o.Get("totalSteps"), pre + ".totalSteps", 1, INT64_C(1) << 52);
    s.final_lr = get_optional(o, "finalLr", &f) ? as_finite(f, pre + ".finalLr") : 0.0;
  } else if (s.kind == ScheduleKind::Piecewise) {
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
  }
  if (get_optional(o, "warmupSteps", &f)) s.warmup_steps = as_integer(f, pre + ".warmupSteps", 0, INT64_C(1) << 52);
  return s;
}

}  // namespace

OptimizerPlan to_optimizer_plan(Napi::Value v, const std::string& pre, size_t param_count,
                                std::vector<std::vector<uint8_t>>& masks) {
  Napi::Env env = v.Env();
  Napi::Object o = as_object(v, pre);
  OptimizerPlan plan;
  plan.schedule = to_schedule(o.Get("schedule"), pre + ".schedule");
  plan.state_count = (size_t)as_integer(o.Get("stateCount"), pre + ".stateCount", 0, INT64_C(1) << 40);
  Napi::Value list = o.Get("transforms");
  if (!list.IsArray()) throw_type_error(env, pre + ".transforms", "an array");
  Napi::Array arr = list.As<Napi::Array>();
  masks.clear();
  std::vector<size_t> masked;  // transform index of each entry of `masks`
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string p = pre + ".transforms[" + std::to_string(i) + "]";
    Napi::Object t = as_object(arr.Get(i), p);
    Transform tr;
    tr.kind = parse_kind(kTransformKinds, t.Get("kind"), p + ".kind");
    Napi::Value f;
    if (tr.kind != TransformKind::ScaleByLearningRate) {
      tr.value = as_finite(t.Get("value"), p + ".value");
      if (tr.value < 0) throw_range_error(env, p + ".value", "must be >= 0");
    }
    if (get_optional(t, "nesterov", &f)) tr.nesterov = as_bool(f, p + ".nesterov");
    if (get_optional(t, "annealSteps", &f)) tr.anneal_steps = as_integer(f, p + ".annealSteps", 0, INT64_C(1) << 52);
    if (get_optional(t, "noiseMode", &f)) tr.noise_mode = parse_kind(kNoiseModes, f, p + ".noiseMode");
    if (get_optional(t, "stateOffset", &f))
      tr.state_offset = (size_t)as_integer(f, p + ".stateOffset", 0, INT64_C(1) << 40);
    if (get_optional(t, "mask", &f)) {
      auto view = as_array<uint8_t>(f, p + ".mask", param_count);
      masks.emplace_back(view.data, view.data + view.length);
      masked.push_back(plan.transforms.size());
    }
    plan.transforms.push_back(tr);
  }
  for (size_t m = 0; m < masked.size(); ++m) plan.transforms[masked[m]].mask = masks[m].data();
  choose_update_path(plan);  // once, now that the transforms (and their masks) are final
  return plan;
}

}  // namespace bigstep::binding
