// The network of a Model: it runs the layer plan (plan.h) forward and backward over one flat
// parameter vector, and owns the scratch memory for it.
//
// Memory plan (per batch capacity N, grown on demand, never shrunk, so a steady-state training
// step allocates nothing):
//   - every layer that produces new values owns its output activation [N, out_size] (backward
//     needs them); Flatten and a Relu that directly follows a Dense/Conv2d alias their input
//     (the relu is fused into the producer's bias pass and applied in place);
//   - gradients w.r.t. activations ping-pong between two buffers g0/g1 of the largest activation
//     size; elementwise layers (relu, tanh, gelu, batch norm) run their backward in place;
//   - residual blocks keep their intermediate activations and borrow two more shared gradient
//     buffers (s1, s2); all convolutions share one scratch buffer (packed weights, padded
//     image groups), sized for the current thread count.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

#include "plan.h"

namespace bigstep {

struct Network {
  std::vector<Op> ops;
  size_t max_act = 0;       // largest per-example activation (floats), input included
  int cap = 0;              // batch capacity of the activation buffers
  int grad_cap = 0;         // batch capacity of the gradient buffers
  int scratch_threads = 0;  // compute_threads() the conv scratch was sized for
  bool out_nhwc = false;    // the last activation is channels-last (3-d output)
  std::vector<float> g0, g1, s1, s2, scratch, out_nchw;
  int dy_cap = 0;                                  // batch capacity of the dense ops' dy buffers (sgd_step)
  std::vector<std::pair<size_t, size_t>> unfused;  // [0, P) minus the dense weights (sgd_step)

  void ensure(int N, bool grads);

  size_t bytes() const;

  // ---- forward -------------------------------------------------------------------------------

  static void bn_forward(BnP& bn, float* y, const float* x, int N, const float* P, float* S, bool training, bool nhwc);

  // Channels-last conv; residual (optional) is added before the relu.
  void conv_fwd(const ConvP& c, float* y, const float* x, int N, const float* P, bool relu,
                const float* residual = nullptr);

  // The input a conv2d / resblock reads: its NCHW input transposed into xt when needed.
  const float* nhwc_input(Op& op, const float* x, int N);

  // training: batch statistics for batch norm; update_stats: write running stats into S.
  const float* forward(const float* P, float* S, const float* x, int N, bool training, bool update_stats);

  // x is channels-last; so are all intermediate activations and out.
  void resblock_forward(Op& op, float* out, const float* x, int N, const float* P, float* S, bool training);

  // ---- backward ------------------------------------------------------------------------------

  static void bn_backward(BnP& bn, float* dx, const float* dy, const float* x, int N, const float* P, float* G,
                          bool training, bool nhwc);

  // Channels-last conv backward; mask (optional): a fused relu backward on dx (see conv.h).
  void conv_bwd(const ConvP& c, float* dx, const float* dy, const float* x, int N, const float* P, float* G,
                bool accumulate, const float* mask = nullptr);

  // g0 holds d(loss)/d(output) on entry. defer_dense: dense weight gradients are not computed;
  // each dense op keeps its d(loss)/d(output) in op.dy for the fused update (Model::sgd_step).
  void backward(const float* P, float* G, int N, bool training, bool defer_dense = false);

  // g: d(loss)/d(block output), overwritten (used as scratch); dx: d(loss)/d(block input) or null.
  // Everything channels-last (op.x is the block's channels-last input).
  void resblock_backward(Op& op, float* dx, float* g, int N, const float* P, float* G, bool training);
};

// Grows v to at least n elements (contents not kept): buffers only grow, so the steady state
// allocates nothing.
template <class V>
void grow(V& v, size_t n) {
  if (v.size() < n) {
    V().swap(v);  // drop the old block first: no copy, lower peak
    v.resize(n);
  }
}

}  // namespace bigstep
