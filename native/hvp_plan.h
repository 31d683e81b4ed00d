// The HVP engine's layer plan and workspace (native/hvp.cpp runs the passes over it): one op per
// layer with its shapes, parameter offsets and per-chunk buffers (activations, tangents, primal
// gradients), built from the spec and the layout alone, not from Model's internals.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "conv.h"
#include "model.h"

namespace bigstep::hvp {

constexpr size_t NONE = std::numeric_limits<size_t>::max();

struct Sh {
  bool is3d = false;
  int c = 0, h = 1, w = 1;
  size_t size() const { return (size_t)c * h * w; }
  int hw() const { return h * w; }
  bool distinct() const { return is3d && c > 1 && h * w > 1; }  // NCHW and NHWC bytes differ
};

struct RConv {
  ConvShape s;
  size_t w = NONE, b = NONE;
};

struct RBn {
  int C = 0;
  size_t g = NONE, b = NONE, rm = NONE, rv = NONE;
  std::vector<float> mean, invstd;
};

struct HOp {
  LayerKind kind = LayerKind::Dense;
  Sh in, out;
  size_t w = NONE, b = NONE;  // dense
  RConv conv, c1, c2, cs;     // conv2d; resblock conv1, conv2, shortcut
  RBn bn, bn1, bn2, bns;      // batchnorm; resblock
  bool proj = false, use_bn = false;
  int k = 1, s = 1;                                                // pools
  bool to_nchw = false;                                            // dense / flatten of a channels-last input
  bool first = false;                                              // reads the network input (whose tangent is zero)
  std::vector<float> y, ry, xt, rxt;                               // [N, out] / [N, in]
  std::vector<float> z1, rz1, h1, rh1, z2, rz2, sr, rsr, sb, rsb;  // resblock internals [N, out]
  const float* x = nullptr;                                        // this chunk's input and its tangent
  const float* rx = nullptr;
  const float* yp = nullptr;  // output (y, or the input for an aliasing flatten)
  const float* ryp = nullptr;
  // Primal gradients: gy = d(loss)/d(output) [N, out] (gyp: gy, or the next op's for an aliasing
  // flatten); a resblock's internal ones [N, out]: after its output relu (gm), bn2 (d2), conv2 with
  // h1's relu mask (d1), bn1 (d1b), the shortcut's bn (ds).
  std::vector<float> gy, gm, d2, d1, d1b, ds;
  const float* gyp = nullptr;
};

// What the kept primal pass was computed from (HvpEngine::product reuses it when all of it matches).
struct PrimalKey {
  bool valid = false;
  int n = 0, threads = 0;
  bool training = false;
  double loss = 0;  // the chunk's mean loss
  std::vector<float> params, state, x, values;
  std::vector<int32_t> labels;
};

// The ops, the buffers every pass shares, and this call's parameters and direction.
struct Workspace {
  std::vector<HOp> ops;
  size_t max_act = 0, max_tensor = 0, max_conv_w = 0;
  int max_c = 1, cap = 0, scratch_threads = 0;
  bool in_nhwc = false, out_nhwc = false;
  std::vector<float> xin, zeros, rg0, rg1, rt0, rt1, ftmp, out_nchw, rout_nchw;
  std::vector<float> scratch, wtmp, wjunk, V, RG;
  PrimalKey key;
  // this call's parameters and direction
  const float* P = nullptr;
  const float* S = nullptr;
  const float* Vp = nullptr;
  float* RGp = nullptr;
  int N = 0;
  bool training = false;

  // Buffers for chunks of up to n examples (and conv scratch for the current thread count).
  void ensure(int n);
  // Floats held.
  size_t floats() const;
};

// Fills ws.ops (and its sizes) for spec over layout; throws NativeError naming a missing tensor.
void build_plan(const ModelSpec& spec, const Layout& layout, Workspace& ws);

}  // namespace bigstep::hvp
