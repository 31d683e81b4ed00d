// Many models in one pass: K copies of one architecture trained on the SAME batches, each with its
// own optimizer plan (learning rate / schedule, noise, momentum...), in one native loop.
//
// Memory (all borrowed from the caller, so it can be checkpointed like a solo run):
//   params, grads   [K, P]   model k's flat vector at k*P (P = layout.param_count)
//   model_state     [K, S]   batch-norm running stats (S = layout.state_count), or null if S = 0
//   opt_state       [K, opt_stride]  model k's optimizer state at k*opt_stride
//   noise_rng       [K, 4]   model k's noise stream (gaussian noise transforms)
//   data_rng [4], perm [n], counters [3] = (step, cursor, epoch): ONE batch stream for all models
//   diverged_at     [K]      -1 while model k trains; else the step whose loss or gradient was
//                            non-finite. A diverged model is frozen (its update is not applied, it
//                            is not computed any more); the others continue.
//
// Contract: model k's trajectory (params, grads, opt_state, noise stream, per-step loss/lr/acc)
// is bitwise identical to a solo Trainer::run with the same spec, initial parameters, plan,
// batch plan, data stream and thread count. Each model's step runs exactly the solo code path
// (Model::sgd_step where fuses_update allows it, else Model::loss_and_grad then the shared
// apply_optimizer_plan); with threads = T > 1 the K models
// are spread over the T workers, and each model's GEMMs use the same fixed (shape, T) partition
// that a solo run with T threads uses (see sgemm in gemm.cpp), executed on one worker.
//
// The first dense layer is NOT fused into one [B, in] x [in, K*h] GEMM: OpenBLAS's summation
// blocking depends on the whole call's shape (gemm_test), so a fused GEMM would break the
// bitwise contract, and measured on this machine (docs/performance.md) the fused product ran no
// faster than K separate ones (68 vs 69 GFLOP/s for 784x2048 vs 8 x 784x256 at batch 128).
// The speed-up comes from one shared batch stream, no per-model thread hand-offs, and whole
// models as the unit of parallel work (no per-GEMM synchronisation).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "model.h"
#include "trainer.h"

namespace bigstep {

// The optimizer update Trainer::run applies after each step (defined in trainer.cpp and shared so
// a batched run applies exactly the same arithmetic). update: [count] scratch for generic chains.
void apply_optimizer_plan(const OptimizerPlan& plan, TrainState& st, size_t count, int64_t t,
                          float* update);

// True when the steps of `plan` on `batch` (n examples) may go through Model::sgd_step, the update
// fused into the dense weight-gradient GEMMs: plain SGD (learning rate only: no weight decay,
// momentum, noise or clipping), no microBatch, no amplified noise, batches of at most 256, and a
// GEMM for which the fused update is bitwise the unfused one (fused_sgd_update_exact). Results
// are then the same either way; both loops still take the unfused step at the end of each chunk,
// so grads holds the last step's whole gradient.
bool fuses_update(const OptimizerPlan& plan, const BatchPlan& batch, int64_t n);

// Copies the rows idx[0..b) of data.x (and their labels or targets) into the scratch buffers and
// points *x / *y at them. Throws NativeError (Range) naming `source[source_offset + i]` for an
// index outside [0, data.n) (e.g. "perm[37]": a permutation written while a chunk ran).
void gather_batch(const DataRef& data, size_t in, size_t out, const int32_t* idx, int64_t b,
                  const char* source, int64_t source_offset, std::vector<float>& xbuf,
                  std::vector<int32_t>& lbuf, std::vector<float>& tbuf, const float** x, Target* y);

// The next batch of `batch` (epoch order in perm [n], counters [step, cursor, epoch] advanced),
// drawn from rng; gathered into the scratch buffers except in Full mode (*x = data.x). The one
// batch stream of Trainer and MultiTrainer.
int64_t draw_batch(const DataRef& data, const BatchPlan& batch, double* counters, int32_t* perm, Rng rng,
                   size_t in, size_t out, std::vector<int32_t>& idx, const float** x, Target* y,
                   std::vector<float>& xbuf, std::vector<int32_t>& lbuf, std::vector<float>& tbuf);

struct MultiState {
  float* params = nullptr;       // [K, P]
  float* grads = nullptr;        // [K, P]
  float* model_state = nullptr;  // [K, S] or null when S = 0
  float* opt_state = nullptr;    // [K, opt_stride]
  size_t opt_stride = 0;
  uint64_t* noise_rng = nullptr;  // [K, 4]
  uint64_t* data_rng = nullptr;   // [4]
  int32_t* perm = nullptr;        // [n]
  double* counters = nullptr;     // [3]
  double* diverged_at = nullptr;  // [K]
};

// Per-model logs, each [K, steps] (row k = model k) or null. Rows of models that are frozen at
// a step get NaN for that step.
struct MultiLogs {
  double* loss = nullptr;
  double* lr = nullptr;
  double* accuracy = nullptr;
};

struct MultiResult {
  int64_t steps_done = 0;  // shared steps taken (the step counter advanced by this much)
  int alive = 0;           // models still training after the chunk
};

class MultiTrainer {
 public:
  // Throws NativeError on an invalid spec or count < 1.
  MultiTrainer(const ModelSpec& spec, int count);
  ~MultiTrainer();

  int count() const { return (int)models_.size(); }
  const Layout& layout() const { return models_[0]->layout(); }
  const ModelSpec& spec() const { return models_[0]->spec(); }

  // Validates data / batch / plans (names the parameter, e.g. "optimizers[3].schedule.stepSize").
  void validate(const DataRef& data, const BatchPlan& batch, const std::vector<OptimizerPlan>& plans,
                size_t opt_stride) const;

  // Runs up to `steps` shared steps; stops early when every model has diverged.
  MultiResult run(const DataRef& data, const BatchPlan& batch, const std::vector<OptimizerPlan>& plans,
                  MultiState& st, int64_t steps, const MultiLogs& logs);

  size_t workspace_bytes() const;

 private:
  int64_t next_batch(const DataRef& data, const BatchPlan& batch, MultiState& st, const float** x,
                     Target* y);

  std::vector<std::unique_ptr<Model>> models_;
  std::vector<std::vector<float>> update_;  // per model: generic-chain scratch [P]
  std::vector<int> alive_;                  // scratch: indices of models computed this step
  std::vector<double> loss_, correct_;      // scratch: per-model results of this step
  std::vector<uint8_t> bad_;
  std::vector<uint8_t> fused_;              // per model: steps go through Model::sgd_step
  std::vector<float> xbuf_, tbuf_;
  std::vector<int32_t> lbuf_, idx_;
};

}  // namespace bigstep
