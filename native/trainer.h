// The training loop: n whole steps over a dataset with batching, gradient estimation and an
// optimizer plan, all in native code so a chunk of steps never bounces through JS.
//
// Everything persistent (parameters, gradients, optimizer state, RNG states, permutation, step
// counters) is borrowed from caller-owned buffers so the caller can checkpoint it and resume
// bit for bit. The trainer owns only scratch memory (gathered batch, second gradient).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model.h"
#include "augment.h"
#include "data_parallel.h"
#include "rng.h"

namespace bigstep {

// ---- Learning-rate schedules: pure functions of the step --------------------------------------
enum class ScheduleKind { Constant, StepDecay, Cosine, Piecewise };

struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  double lr = 0.1;             // base learning rate
  int64_t step_size = 0;       // StepDecay: multiply by gamma every step_size steps
  double gamma = 1.0;          // StepDecay factor
  int64_t total_steps = 0;     // Cosine: steps from lr to final_lr
  double final_lr = 0.0;       // Cosine end value
  std::vector<int64_t> boundaries;  // Piecewise: lr = values[i] for boundaries[i-1] <= t < boundaries[i]
  std::vector<double> values;       // Piecewise: boundaries.size() + 1 values
  int64_t warmup_steps = 0;    // any kind: linear warmup from 0 over the first warmup_steps
};

// Learning rate at step t (0-based).
double schedule_lr(const Schedule& s, int64_t t);

// ---- Optimizer plan: an ordered chain of gradient transforms (optax style) ---------------------
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
  // All three draw the same d normals per step from the noise stream (Norm/Relative draw them
  // twice from a saved copy of the state), so the stream advances identically.
  enum class NoiseMode { Std, Norm, Relative } noise_mode = NoiseMode::Std;
  size_t state_offset = 0;  // Momentum: offset (in floats) of its buffer in the optimizer state
  // Mask over parameters (1 = apply), e.g. no weight decay on biases; empty = all.
  const uint8_t* mask = nullptr;
};

struct OptimizerPlan {
  std::vector<Transform> transforms;
  Schedule schedule;           // used by ScaleByLearningRate and DecoupledWeightDecay
  size_t state_count = 0;      // floats of optimizer state (param_count per Momentum)
};

// ---- Data and batching -------------------------------------------------------------------------
enum class BatchMode {
  Full,         // every step uses all n examples in order (gradient descent)
  Sequential,   // epochs in dataset order, no shuffling
  Shuffle,      // epochs of a fresh permutation, without replacement
  Replacement   // each batch drawn uniformly with replacement
};

struct DataRef {
  const float* x = nullptr;  // [n, input_size]
  Target y;                  // labels [n] or targets [n, output_size]
  int64_t n = 0;
};

struct BatchPlan {
  BatchMode mode = BatchMode::Full;
  int64_t batch = 0;        // examples per step (ignored for Full)
  bool drop_last = false;   // Sequential/Shuffle: drop a final partial batch
  // Gradient estimator: amplification k >= 1. k == 1 is the plain mini-batch gradient. k > 1
  // draws a second independent batch and uses g = g1 + c·(g1 − g2), (1 + c)² + c² = k², which
  // keeps the mean and multiplies the noise covariance by k².
  double amplify_k = 1.0;
  // Image augmentation applied to every gathered batch (both draws when amplified); off by default.
  AugmentPlan augment;
  // Examples per forward/backward pass (0 = the whole batch at once). A larger batch is processed
  // in pieces of this size and the gradient is their example-weighted mean, accumulated in double:
  // the mean-loss gradient of the whole batch up to rounding, in the memory of one piece. Batch
  // norm in training mode then normalises each piece with its own statistics.
  int64_t micro_batch = 0;
  // Data parallelism (native/data_parallel.h): each step's gradient is split over these ranks; null = one process.
  Collective* collective = nullptr;
};

// Caller-owned persistent state (checkpointed with the run).
struct TrainState {
  float* params = nullptr;     // [param_count]
  float* grads = nullptr;      // [param_count] last gradient (of the mean batch loss)
  float* model_state = nullptr;  // [state_count] batch-norm running stats, or null
  float* opt_state = nullptr;  // [plan.state_count]
  uint64_t* data_rng = nullptr;   // 4 words: batch order
  uint64_t* noise_rng = nullptr;  // 4 words: gradient noise / amplification draws
  int32_t* perm = nullptr;     // [n] current epoch order (Sequential/Shuffle)
  double* counters = nullptr;  // [3]: step, cursor within epoch, epoch
  uint64_t* augment_rng = nullptr;  // 4 words: crop/flip draws (needed only with batch.augment; last so
                                    // positional initialisers of the fields above stay valid)
};

struct StepLogs {
  double* loss = nullptr;      // [steps] mean batch loss before the update (or null)
  double* lr = nullptr;        // [steps] learning rate used (or null)
  double* accuracy = nullptr;  // [steps] batch accuracy for classification (or null)
};

struct ChunkResult {
  int64_t steps_done = 0;
  bool diverged = false;
  int64_t diverged_at = -1;  // global step index whose loss/gradient was non-finite
};

// Validates plan/batch against the model and data (throws NativeError naming the parameter).
void validate_training(const Model& model, const DataRef& data, const BatchPlan& batch,
                       const OptimizerPlan& plan);

// Runs up to `steps` steps. Stops early (without applying the update) at the first step whose
// loss or gradient is non-finite and reports it as diverged.
class Trainer {
 public:
  ChunkResult run(Model& model, const DataRef& data, const BatchPlan& batch,
                  const OptimizerPlan& plan, TrainState& st, int64_t steps, const StepLogs& logs);

 private:
  int64_t next_batch(const DataRef& data, const BatchPlan& batch, TrainState& st, Rng rng,
                     const float** x, Target* y, std::vector<float>& xbuf,
                     std::vector<int32_t>& lbuf, std::vector<float>& tbuf);
  int64_t second_batch(const DataRef& data, const BatchPlan& batch, int64_t b, Rng rng,
                       const float** x, Target* y);
  void apply_plan(const OptimizerPlan& plan, TrainState& st, size_t count, int64_t t);
  // Applies batch.augment to the b gathered examples at *x, in `buf` (copied there first when *x
  // points into the data set, as in Full mode), drawing from st.augment_rng.
  void augment(const float** x, int64_t b, std::vector<float>& buf, const BatchPlan& batch, TrainState& st);
  // loss_and_grad over the b examples at (x, y) in pieces of batch.micro_batch (see BatchPlan);
  // writes the mean-loss gradient to grads [param_count] and returns the mean loss.
  double batch_loss_and_grad(Model& model, const BatchPlan& batch, TrainState& st, const float* x,
                             const Target& y, int64_t b, float* grads, int64_t* correct);

  size_t in_size_ = 0, out_size_ = 0;
  // Scratch reused across steps (no allocation in steady state): gathered batches, the second
  // gradient of the amplified estimator, the update vector, index draws.
  std::vector<float> aug_scratch_;  // one image for augment_batch
  std::vector<float> piece_grads_;  // [param_count] gradient of one micro-batch
  std::vector<double> grad_sum_;    // [param_count] example-weighted sum over micro-batches
  DataParallelScratch dp_scratch_;  // with batch.collective
  std::vector<float> xbuf_, xbuf2_, tbuf_, tbuf2_, grads2_, update_;
  std::vector<int32_t> lbuf_, lbuf2_, index_scratch_;
};

}  // namespace bigstep
