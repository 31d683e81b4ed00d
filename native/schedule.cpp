#include "schedule.h"

#include <algorithm>
#include <cmath>

#include "errors.h"

namespace bigstep {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double schedule_lr(const Schedule& s, int64_t t) {
  double lr = s.lr;
  switch (s.kind) {
    case ScheduleKind::Constant: break;
    case ScheduleKind::StepDecay: lr = s.lr * std::pow(s.gamma, (double)(t / s.step_size)); break;
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

void validate_schedule(const Schedule& s) {
  if (s.kind == ScheduleKind::StepDecay && s.step_size < 1) throw_range("schedule.stepSize", "must be >= 1");
  if (s.kind == ScheduleKind::Cosine && s.total_steps < 1) throw_range("schedule.totalSteps", "must be >= 1");
  if (s.kind == ScheduleKind::Piecewise && s.values.size() != s.boundaries.size() + 1)
    throw_range("schedule.values", "must have one more entry than schedule.boundaries");
}

}  // namespace bigstep
