// Learning-rate schedules: pure functions of the step, evaluated per step inside a chunk.
#pragma once
#include <cstdint>
#include <vector>

namespace bigstep {

enum class ScheduleKind { Constant, StepDecay, Cosine, Piecewise };

struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  double lr = 0.1;                  // base learning rate
  int64_t step_size = 0;            // StepDecay: multiply by gamma every step_size steps
  double gamma = 1.0;               // StepDecay factor
  int64_t total_steps = 0;          // Cosine: steps from lr to final_lr
  double final_lr = 0.0;            // Cosine end value
  std::vector<int64_t> boundaries;  // Piecewise: lr = values[i] for boundaries[i-1] <= t < boundaries[i]
  std::vector<double> values;       // Piecewise: boundaries.size() + 1 values
  int64_t warmup_steps = 0;         // any kind: linear warmup from 0 over the first warmup_steps
};

// Learning rate at step t (0-based).
double schedule_lr(const Schedule& s, int64_t t);

// Throws NativeError (Range) naming the field (schedule.stepSize, ...) when s cannot be evaluated.
void validate_schedule(const Schedule& s);

}  // namespace bigstep
