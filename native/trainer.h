// The training loop: n whole steps over a dataset with batching (sampler.h), gradient estimation
// and an optimizer plan (optimizer.h, schedule.h), all in native code so a chunk of steps never
// bounces through JS.
//
// Everything persistent (parameters, gradients, optimizer state, RNG states, permutation, step
// counters) is borrowed from caller-owned buffers so the caller can checkpoint it and resume
// bit for bit. The trainer owns only scratch memory (gathered batch, second gradient).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data_parallel.h"
#include "model.h"
#include "optimizer.h"
#include "rng.h"
#include "sampler.h"
#include "schedule.h"

namespace bigstep {

// Caller-owned persistent state (checkpointed with the run).
struct TrainState {
  float* params = nullptr;          // [param_count]
  float* grads = nullptr;           // [param_count] last gradient (of the mean batch loss)
  float* model_state = nullptr;     // [state_count] batch-norm running stats, or null
  float* opt_state = nullptr;       // [plan.state_count]
  uint64_t* data_rng = nullptr;     // 4 words: batch order
  uint64_t* noise_rng = nullptr;    // 4 words: gradient noise / amplification draws
  int32_t* perm = nullptr;          // [n] current epoch order (Sequential/Shuffle)
  double* counters = nullptr;       // [3]: step, cursor within epoch, epoch
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
  int64_t diverged_at = -1;                    // global step index whose loss/gradient was non-finite
  UpdatePath update_path = UpdatePath::Chain;  // the plan's path (choose_update_path)
  // Plain SGD only: the steps before the chunk's last folded the update into the dense
  // weight-gradient GEMMs (Model::sgd_step), the same θ bit for bit (see fuses_gemm_update).
  bool gemm_fused = false;
};

// "chain", "fused-sgd" or, when r.gemm_fused, "fused-gemm": the path a chunk's updates took.
const char* chunk_update_name(const ChunkResult& r);

// Validates plan/batch against the model and data (throws NativeError naming the parameter).
void validate_training(const Model& model, const DataRef& data, const BatchPlan& batch, const OptimizerPlan& plan);

// Runs up to `steps` steps. Stops early (without applying the update) at the first step whose
// loss or gradient is non-finite and reports it as diverged.
class Trainer {
 public:
  ChunkResult run(Model& model, const DataRef& data, const BatchPlan& batch, const OptimizerPlan& plan, TrainState& st,
                  int64_t steps, const StepLogs& logs);

 private:
  // Applies batch.augment to the b gathered examples at *x, in `buf` (copied there first when *x
  // points into the data set, as in Full mode), drawing from st.augment_rng.
  void augment(const float** x, int64_t b, std::vector<float>& buf, const BatchPlan& batch, TrainState& st);
  // loss_and_grad over the b examples at (x, y) in pieces of batch.micro_batch or ⌈b/batch.shards⌉ (see BatchPlan);
  // writes the mean-loss gradient to grads [param_count] and returns the mean loss.
  double batch_loss_and_grad(Model& model, const BatchPlan& batch, TrainState& st, const float* x, const Target& y,
                             int64_t b, float* grads, int64_t* correct);

  size_t in_size_ = 0, out_size_ = 0;
  // Scratch reused across steps (no allocation in steady state): gathered batches, the second
  // gradient of the amplified estimator, the update vector, index draws.
  std::vector<float> aug_scratch_;  // one image for augment_batch
  std::vector<float> piece_grads_;  // [param_count] gradient of one micro-batch
  std::vector<double> grad_sum_;    // [param_count] example-weighted sum over micro-batches
  DataParallelScratch dp_scratch_;  // with batch.collective
  BatchBuffers first_, second_;     // the batch, and the amplified estimator's second draw
  std::vector<float> grads2_, update_;
  std::vector<int32_t> index_scratch_;
};

}  // namespace bigstep
