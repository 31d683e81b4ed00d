// The layer plan of a Model: per layer of the spec, its shapes, parameter offsets and layout
// decisions (Op). The planner (planner.cpp) makes it and the flat layout from a spec; the network
// (network.h) runs it and owns the buffers it names.
//
// Layout: convolutional trunks run channels-last. A conv2d or resblock writes [N, H, W, C]
// (native/conv_nhwc.cpp: implicit-GEMM convolution, no im2col, no transposes inside); pools,
// activations and batch norm keep whatever layout their input has. Conversions happen only at
// the boundaries: an NCHW input (the network's) is transposed once before the first conv, and
// a channels-last activation is transposed back to NCHW where its element order is visible —
// before a flatten / dense layer (PyTorch's flatten order) and for a 3-d model output. A
// tensor with one channel or one pixel has the same bytes in both layouts and is never
// transposed.
#pragma once
#include <cstddef>
#include <limits>
#include <vector>

#include "conv.h"
#include "model.h"

namespace bigstep {

// Offset of a tensor that the layer does not have.
constexpr size_t NONE = std::numeric_limits<size_t>::max();

// Per-example activation shape; a feature vector is {c = features, h = w = 1, is3d = false}.
struct Shape {
  bool is3d = false;
  int c = 0, h = 1, w = 1;
  size_t size() const { return (size_t)c * h * w; }
  std::vector<int> dims() const { return is3d ? std::vector<int>{c, h, w} : std::vector<int>{c}; }
};

struct ConvP {
  ConvShape s;
  size_t w = NONE, b = NONE;
};

struct BnP {
  int C = 0, HW = 1;
  size_t g = NONE, b = NONE, rm = NONE, rv = NONE;  // rm/rv index the state vector
  std::vector<float> mean, invstd;                  // saved by forward for backward
};

struct Op {
  LayerKind kind = LayerKind::Dense;
  Shape in, out;
  size_t w = NONE, b = NONE;  // dense
  ConvP conv, conv1, conv2, convs;
  BnP bn, bn1, bn2, bns;
  bool proj = false, use_bn = false;                 // resblock
  int k = 1, s = 1;                                  // pools
  bool fuse_relu = false;                            // dense/conv2d: the following relu is applied here
  bool alias = false;                                // flatten / fused relu: output is the input buffer
  bool in_nhwc = false;                              // the input activation is channels-last
  bool nhwc = false;                                 // the output activation is channels-last
  bool to_nhwc = false;                              // conv2d / resblock: transpose an NCHW input into xt
  bool to_nchw = false;                              // dense / flatten: transpose a channels-last input (xt / y_buf)
  std::vector<float> y_buf, h1, a1, h2, sr, sb, xt;  // owned activations [N, ...]
  std::vector<float> dy;     // dense, Model::sgd_step: d(loss)/d(output) [N, out], kept for the fused update
  bool dw_stored = false;    // dense, Model::sgd_step: this step's dW was written to grads after all
  const float* x = nullptr;  // this step's input
  const float* y = nullptr;  // this step's output
};

// A 3-d activation whose NCHW and NHWC byte orders differ.
inline bool distinct_layouts(const Shape& s) { return s.is3d && s.c > 1 && s.h * s.w > 1; }

// Validates the spec (throws NativeError naming the parameter) and fills the layout and, when ops
// is non-null, the layer plan: one Op per layer, relus fused into their producer, layouts chosen.
void plan_layers(const ModelSpec& spec, Layout& layout, std::vector<Op>* ops);

}  // namespace bigstep
