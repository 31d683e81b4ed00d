// JS optimizer plan (from compilePlan in src/optim/optimizer.ts) -> bigstep::OptimizerPlan, shared
// by trainSync/trainAsync (param "job.optimizer").
#pragma once
#include <napi.h>

#include <string>

#include "trainer.h"

namespace bigstep::binding {

class Borrows;

// `param` is the plan's path in messages; every field error names "<param>.<field>". A transform's
// `mask` (Uint8Array [param_count]) is recorded in `borrows` (read-only).
OptimizerPlan to_optimizer_plan(Napi::Value v, const std::string& param, size_t param_count, Borrows& borrows);

}  // namespace bigstep::binding
