// The optimizer plan: an ordered chain of gradient transforms (optax style) over the flat
// parameter vector, and the two ways of applying it: the generic chain (a pass per transform, any
// plan) and its fused twin (one pass over g, θ, v for the plans sgd() builds). Which one a plan
// takes is decided once, when the plan is made (choose_update_path), and reported with every
// chunk (the binding's `update` field).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "schedule.h"

namespace bigstep {

// Each transform maps the update u (initially the gradient g) in place; finally θ ← θ + u.
enum class TransformKind {
  ClipGlobalNorm,       // u ← u · min(1, max_norm / ‖u‖)
  AddWeightDecay,       // u ← u + wd · θ                      (L2, coupled)
  GaussianNoise,        // u ← u + std · ξ, ξ ~ N(0, I)          (noise RNG stream)
  Momentum,             // v ← β·v + u;  u ← v  (heavy ball) or u ← u + β·v (Nesterov) [PyTorch]
  ScaleByLearningRate,  // u ← −η(t) · u
  DecoupledWeightDecay  // u ← u − η(t) · wd · θ   (AdamW-style; place after ScaleByLearningRate)
};

struct Transform {
  TransformKind kind = TransformKind::ScaleByLearningRate;
  double value = 0.0;     // max_norm / wd / std / β
  bool nesterov = false;  // Momentum
  // GaussianNoise: anneal std linearly to 0 over anneal_steps (0 = constant std)
  int64_t anneal_steps = 0;
  // GaussianNoise: how `value` (σ_t after annealing) sets the noise, over the masked coordinates:
  //   Std      u ← u + σ·ξ                    (per-coordinate std; E‖σξ‖² = σ²·d)
  //   Norm     u ← u + σ·ξ/‖ξ‖                (exactly norm σ, uniformly random direction)
  //   Relative u ← u + σ·‖u‖·ξ/‖ξ‖            (norm σ times the incoming update's norm)
  // All three draw the same d normals per step from the noise stream (ziggurat.h; Norm/Relative
  // draw them twice from a saved copy of the state), so the stream advances identically.
  enum class NoiseMode { Std, Norm, Relative } noise_mode = NoiseMode::Std;
  size_t state_offset = 0;  // Momentum: offset (in floats) of its buffer in the optimizer state
  // Mask over parameters (1 = apply), e.g. no weight decay on biases; empty = all.
  const uint8_t* mask = nullptr;
};

// How a plan is applied (see the top of the file). The training loop has one more path on top of
// these, for plain SGD only: the update folded into the dense weight-gradient GEMMs
// (Model::sgd_step), chosen per chunk because it depends on the batch and the thread count.
enum class UpdatePath {
  Chain,     // a pass per transform over an update vector
  FusedSgd,  // [addWeightDecay] [momentum] scaleByLearningRate, no masks: one pass over (g, θ, v)
};

// The fused pass's parameters, read from the transforms by choose_update_path.
struct FusedSgd {
  double wd = 0.0;  // coupled weight decay (0 = none)
  bool momentum = false;
  double beta = 0.0;  // momentum β
  bool nesterov = false;
  size_t state_offset = 0;  // momentum buffer in the optimizer state
};

struct OptimizerPlan {
  std::vector<Transform> transforms;
  Schedule schedule;       // used by ScaleByLearningRate and DecoupledWeightDecay
  size_t state_count = 0;  // floats of optimizer state (param_count per Momentum)
  // Set by choose_update_path once the transforms are final; validate_optimizer refuses a plan
  // whose path was never chosen.
  UpdatePath path = UpdatePath::Chain;
  FusedSgd fused;
  bool path_chosen = false;
};

// Decides plan.path (and plan.fused) from plan.transforms. Call it once, when the plan is made.
void choose_update_path(OptimizerPlan& plan);

// "chain" or "fused-sgd" (reported in chunk results).
const char* update_path_name(UpdatePath path);

// Throws NativeError naming the field when the plan cannot run on param_count parameters.
void validate_optimizer(const OptimizerPlan& plan, size_t param_count);

// What an update reads and writes, all borrowed: params, grads [count], opt_state
// [plan.state_count], noise_rng 4 words (GaussianNoise draws).
struct OptimizerBuffers {
  float* params = nullptr;
  const float* grads = nullptr;
  float* opt_state = nullptr;
  uint64_t* noise_rng = nullptr;
};

// One optimizer step at step t along plan.path; grads is left intact. update: [count] scratch
// (used by the chain only).
void apply_update(const OptimizerPlan& plan, const OptimizerBuffers& buf, size_t count, int64_t t, float* update);

// The two paths, for the tests that hold them to each other: the generic chain (any plan) and the
// fused pass (only plans whose path is FusedSgd).
void apply_chain(const OptimizerPlan& plan, const OptimizerBuffers& buf, size_t count, int64_t t, float* update);
void apply_fused_sgd(const OptimizerPlan& plan, const OptimizerBuffers& buf, size_t count, int64_t t);

}  // namespace bigstep
