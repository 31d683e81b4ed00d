// JS optimizer plan (from compilePlan in src/optim/optimizer.ts) -> bigstep::OptimizerPlan, read
// once when a TrainJob is made (param "job.optimizer").
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "trainer.h"

namespace bigstep::binding {

// `param` is the plan's path in messages; every field error names "<param>.<field>". A transform's
// `mask` (Uint8Array [param_count]) is copied into `masks`, which must outlive the plan (its
// transforms point into it); the plan is then fixed for the job's life, like the rest of it.
OptimizerPlan to_optimizer_plan(Napi::Value v, const std::string& param, size_t param_count,
                                std::vector<std::vector<uint8_t>>& masks);

}  // namespace bigstep::binding
