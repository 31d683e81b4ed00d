// Exact Hessian-vector products of the mean loss by forward-over-reverse (Pearlmutter's
// R-operator) through every layer kind a ModelSpec can hold. Works in float32 per chunk of
// examples (the same kernels as training), accumulates the chunks in double, as the full-data
// gradient is. One product costs about two to three loss-and-gradient passes over the data; with
// all n examples in one chunk, a later product at bit-identical inputs reuses the primal pass and
// runs the tangent pass alone.
//
// The engine keeps its own activations and tangents (its plan is built from the spec and the
// layout, not from Model's internals): it never writes params, grads or state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "model.h"

namespace bigstep {

struct HvpPlan;  // the plan and workspace (hvp_plan.h) with the passes (hvp.cpp)

class HvpEngine {
 public:
  HvpEngine(const ModelSpec& spec, const Layout& layout);
  ~HvpEngine();
  HvpEngine(const HvpEngine&) = delete;
  HvpEngine& operator=(const HvpEngine&) = delete;

  // out[P] (overwritten) = H·v, H the Hessian of L(θ) = (1/n) Σ_i loss_i at θ = params:
  //   params[P]; state[state_count] or null; x[n, input_size]; y: labels[n] or values[n, output_size];
  //   v[P] (double, converted to float); chunk: examples per float pass (>= 1).
  // training: batch norm uses each chunk's batch statistics (the loss is then the mean over chunks
  // of each chunk's batch-statistics loss); running statistics are never updated. Otherwise eval mode.
  // Returns the mean loss. Throws NativeError (Range) for non-finite params or v, naming them.
  double product(const float* params, const float* state, const float* x, const Target& y, int n, int chunk,
                 const double* v, double* out, bool training);

  // The pieces product() is made of, for callers that combine chunks themselves (the data-parallel
  // product, native/data_parallel_hvp.h). begin: θ = params, direction v[P], chunks of at most
  // `chunk` examples (same checks as product). chunk: x[N, input_size], y for those N examples
  // (N <= chunk) -> chunk_hv()[P] (float, valid until the next call) = H·v of those examples' mean
  // loss; returns their loss sum. product() is begin, then chunk() over the data, weighted N/n.
  void begin(const float* params, const float* state, const double* v, int chunk, bool training);
  double chunk(const float* x, const Target& y, int N);
  const float* chunk_hv() const;

  // Bytes of scratch memory held (activations, tangents, buffers).
  size_t workspace_bytes() const;

 private:
  ModelSpec spec_;
  Layout layout_;
  std::unique_ptr<HvpPlan> plan_;
  int chunk_ = 0;  // the chunk size of the last begin()
};

}  // namespace bigstep
