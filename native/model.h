// Model specs, the flat parameter layout, and the network that runs forward/backward over one
// contiguous parameter vector.
//
// Layout convention (same as PyTorch, so weights can be compared/exchanged):
//   dense   weight [out, in], bias [out]
//   conv2d  weight [out, in_c, k, k], bias [out]
//   resblock "<name>.conv1.weight" [c, in_c, 3, 3], conv1.bias [c], conv2.weight [c, c, 3, 3],
//            conv2.bias [c], optional "shortcut.weight" [c, in_c, 1, 1] (when stride != 1 or
//            in_c != c) + shortcut.bias [c]; with batchnorm, bn1/bn2(/shortcut_bn) .weight/.bias [c]
//   batchnorm weight (gamma) [c], bias (beta) [c]; running mean/var live in the *state* vector.
//   Resblock conv biases exist only when the layer's `bias` is true AND batchnorm is off (with
//   batch norm, beta makes them redundant, as in torchvision). State tensors are named
//   "<i>.running_mean"/"<i>.running_var", "<i>.bn1.running_mean", "<i>.shortcut_bn.running_var"...
//   init() draws everything from one Rng stream: Rng::seed_state(seed, stream 0), in layout order.
// Inputs and outputs are row-major: an example is [features] or [C, H, W] (NCHW for a batch, as in
// PyTorch). Inside convolutional trunks the network keeps activations channels-last (plan.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bigstep {

enum class LayerKind { Dense, Conv2d, MaxPool, AvgPool, GlobalAvgPool, Flatten, Relu, Tanh, Gelu, ResBlock, BatchNorm };

enum class InitKind { Default, HeNormal, XavierUniform };

struct LayerSpec {
  LayerKind kind = LayerKind::Dense;
  int units = 0;   // dense: output features; conv2d / resblock: output channels
  int kernel = 0;  // conv2d: square kernel size; pools: window size
  // conv2d / resblock: default 1. Pools: 0 means stride = kernel (non-overlapping windows, as
  // PyTorch's MaxPool2d/AvgPool2d); the JS spec conversion (binding/spec.cpp) gives a pool without
  // `stride` stride 0, i.e. stride = kernel.
  int stride = 1;
  int padding = 0;                    // conv2d
  bool bias = true;                   // dense / conv2d
  bool batchnorm = false;             // resblock: batch norm after each conv
  InitKind init = InitKind::Default;  // Default: He-normal for dense/conv weights
};

enum class LossKind { SoftmaxCrossEntropy, MeanSquaredError };

struct ModelSpec {
  std::vector<int> input;  // [features] or [channels, height, width]
  std::vector<LayerSpec> layers;
  LossKind loss = LossKind::SoftmaxCrossEntropy;
};

struct TensorEntry {
  std::string name;        // e.g. "0.weight", "3.conv1.bias"
  std::vector<int> shape;  // e.g. {out, in}
  size_t offset = 0;       // into the flat vector, in floats
  size_t size = 0;         // product of shape
  int fan_in = 0;          // for initialisation
  int fan_out = 0;
  // "he_normal" | "xavier_uniform" | "zeros" | "ones" (how init() fills it)
  std::string init;
};

struct Layout {
  std::vector<TensorEntry> params;  // trainable, in the flat parameter vector
  size_t param_count = 0;
  std::vector<TensorEntry> state;  // non-trainable (batch-norm running stats)
  size_t state_count = 0;
  std::vector<int> output_shape;                      // per example
  size_t input_size = 0;                              // floats per example
  size_t output_size = 0;                             // floats per example (logits / regression outputs)
  std::vector<std::vector<int>> layer_output_shapes;  // per layer, per example
};

// Validates the spec and computes the layout. Throws NativeError (Range) naming the parameter,
// e.g. "spec.layers[3].kernel: must be <= input height 2 (got 3)".
Layout describe(const ModelSpec& spec);

// Classification labels (int32, [batch], in [0, output_size)) or regression targets
// (float, [batch, output_size]). Exactly one is non-null.
struct Target {
  const int32_t* labels = nullptr;
  const float* values = nullptr;
};

struct Network;  // layer graph + scratch workspace (activations, conv scratch)

class Model {
 public:
  explicit Model(const ModelSpec& spec);  // throws NativeError on an invalid spec
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelSpec& spec() const { return spec_; }
  const Layout& layout() const { return layout_; }

  // Fills params[param_count] (and state[state_count], if any) with a seeded initialisation:
  // He-normal (std = sqrt(2 / fan_in)) for weights unless the layer asks for Xavier-uniform,
  // zeros for biases, ones/zeros for batch-norm gamma/beta, running var = 1, mean = 0.
  // Same seed => same bits.
  void init(float* params, float* state, uint64_t seed) const;

  // Forward + backward over one batch.
  //   x: [batch, input_size]; params, grads: [param_count]; state: [state_count] or null.
  //   grads is OVERWRITTEN with d(mean loss over the batch)/d(params).
  //   training: batch norm uses batch statistics and updates running stats in `state`.
  // Returns the mean loss; *correct (if non-null) gets the number of argmax == label (CE only).
  double loss_and_grad(const float* params, float* state, const float* x, const Target& y, int batch, float* grads,
                       bool training, int64_t* correct);

  // One plain-SGD training step, θ ← θ + neg_lr·g, with the update of every dense weight fused
  // into its weight-gradient GEMM (W ← W + neg_lr·doutᵀ·in, beta = 1): those gradients are never
  // stored, so the GEMM's zeroing and a read and write of dW and of θ per step are saved.
  //   Same arguments as loss_and_grad (training mode). The update is applied only when the loss and
  //   every gradient are finite (exactly the cases in which loss_and_grad + a finiteness check +
  //   θ += neg_lr·g would apply it); *applied says whether it was. grads gets every gradient
  //   except the dense weights', whose entries are left as they were — unless the
  //   step is not applied: then grads gets the whole gradient, as loss_and_grad would write it.
  //   With FMA and a batch within one GEMM K block (OpenBLAS Haswell: <= 320) the new θ is bitwise
  //   the unfused step's; larger batches accumulate the update per K block (a rounding difference).
  double sgd_step(float* params, float* state, const float* x, const Target& y, int batch, float* grads, float neg_lr,
                  int64_t* correct, bool* applied);

  // Forward only (no gradient); running stats are used for batch norm (eval mode).
  // Returns the SUM of per-example losses over the batch (so callers can average over chunks).
  double loss_sum(const float* params, const float* state, const float* x, const Target& y, int batch,
                  int64_t* correct);

  // Loss sums of a full-data pass cut into chunks (eval mode; what evaluate adds up).
  //   x: [n, input_size]; y: labels [n] or targets [n, output_size]; out: [2·(end − first)].
  //   Chunk g covers examples [g·c, min(n, (g+1)·c)) with c = min(chunk, n), for g in [first, end)
  //   (end <= ⌈n/c⌉); out[2t] = its loss_sum, out[2t+1] = its correct count (t = g − first).
  void chunk_loss_sums(const float* params, const float* state, const float* x, const Target& y, int64_t n,
                       int64_t chunk, int64_t first, int64_t end, double* out);

  // Forward only, writes outputs [batch, output_size] (eval mode).
  void forward(const float* params, const float* state, const float* x, int batch, float* out);

  // Bytes of scratch memory currently held (activations etc.), for memory reports.
  size_t workspace_bytes() const;

 private:
  double forward_backward(const float* params, float* state, const float* x, const Target& y, int batch, float* grads,
                          bool training, int64_t* correct, bool defer_dense);

  ModelSpec spec_;
  Layout layout_;
  std::unique_ptr<Network> net_;
};

}  // namespace bigstep
