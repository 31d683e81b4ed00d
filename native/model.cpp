// describe(): spec validation + flat layout. Network: the layer graph with its scratch memory.
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
//
// Layout: convolutional trunks run channels-last. A conv2d or resblock writes [N, H, W, C]
// (native/nhwc.cpp: implicit-GEMM convolution, no im2col, no transposes inside); pools,
// activations and batch norm keep whatever layout their input has. Conversions happen only at
// the boundaries: an NCHW input (the network's) is transposed once before the first conv, and
// a channels-last activation is transposed back to NCHW where its element order is visible —
// before a flatten / dense layer (PyTorch's flatten order) and for a 3-d model output. A
// tensor with one channel or one pixel has the same bytes in both layouts and is never
// transposed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "errors.h"
#include "gemm.h"
#include "kernels.h"
#include "conv.h"
#include "pool.h"
#include "batchnorm.h"
#include "transpose.h"
#include "threads.h"
#include "model.h"
#include "rng.h"

namespace bigstep {

namespace {

constexpr size_t NONE = std::numeric_limits<size_t>::max();
constexpr size_t kMaxParams = size_t(1) << 31;          // floats in the flat parameter vector
constexpr size_t kMaxActivation = (size_t(1) << 31) - 1;  // floats per example per activation
constexpr size_t kMaxBatchFloats = size_t(1) << 36;      // 256 GB of activations: surely a mistake

std::string layer_param(size_t i, const char* field) {
  std::string s = "spec.layers[" + std::to_string(i) + "]";
  if (field && *field) s += std::string(".") + field;
  return s;
}

const char* kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Dense: return "dense";
    case LayerKind::Conv2d: return "conv2d";
    case LayerKind::MaxPool: return "maxpool";
    case LayerKind::AvgPool: return "avgpool";
    case LayerKind::GlobalAvgPool: return "global average pool";
    case LayerKind::Flatten: return "flatten";
    case LayerKind::Relu: return "relu";
    case LayerKind::Tanh: return "tanh";
    case LayerKind::Gelu: return "gelu";
    case LayerKind::ResBlock: return "resblock";
    case LayerKind::BatchNorm: return "batchnorm";
  }
  return "unknown";
}

std::string shape_str(const std::vector<int>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

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
  std::vector<float> mean, invstd;                   // saved by forward for backward
};

struct Op {
  LayerKind kind = LayerKind::Dense;
  Shape in, out;
  size_t w = NONE, b = NONE;  // dense
  ConvP conv, conv1, conv2, convs;
  BnP bn, bn1, bn2, bns;
  bool proj = false, use_bn = false;  // resblock
  int k = 1, s = 1;                   // pools
  bool fuse_relu = false;             // dense/conv2d: the following relu is applied here
  bool alias = false;                 // flatten / fused relu: output is the input buffer
  bool in_nhwc = false;               // the input activation is channels-last
  bool nhwc = false;                  // the output activation is channels-last
  bool to_nhwc = false;               // conv2d / resblock: transpose an NCHW input into xt
  bool to_nchw = false;               // dense / flatten: transpose a channels-last input (xt / y_buf)
  std::vector<float> y_buf, h1, a1, h2, sr, sb, xt;  // owned activations [N, ...]
  std::vector<float> dy;              // dense, Model::sgd_step: d(loss)/d(output) [N, out], kept for the fused update
  bool dw_stored = false;             // dense, Model::sgd_step: this step's dW was written to grads after all
  const float* x = nullptr;           // this step's input
  const float* y = nullptr;           // this step's output
};

// Walks the spec once: validates, fills the layout and (optionally) the op list.
class Planner {
 public:
  Planner(Layout& L, std::vector<Op>* ops) : L_(L), ops_(ops) {}

  void run(const ModelSpec& spec) {
    if (spec.input.size() != 1 && spec.input.size() != 3)
      throw_range("spec.input", "must have 1 dim [features] or 3 dims [channels, height, width] (got " +
                                    std::to_string(spec.input.size()) + " dims)");
    for (size_t i = 0; i < spec.input.size(); ++i)
      if (spec.input[i] < 1)
        throw_range("spec.input[" + std::to_string(i) + "]",
                    "must be a positive integer (got " + std::to_string(spec.input[i]) + ")");
    Shape cur;
    cur.is3d = spec.input.size() == 3;
    cur.c = spec.input[0];
    if (cur.is3d) cur.h = spec.input[1], cur.w = spec.input[2];
    check_act(cur, "spec.input");
    L_.input_size = cur.size();
    if (spec.layers.empty()) throw_range("spec.layers", "must contain at least one layer");

    for (size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& ls = spec.layers[i];
      Op op;
      op.kind = ls.kind;
      op.in = cur;
      idx_ = i;
      switch (ls.kind) {
        case LayerKind::Dense: plan_dense(ls, op); break;
        case LayerKind::Conv2d: plan_conv(ls, op); break;
        case LayerKind::MaxPool:
        case LayerKind::AvgPool: plan_pool(ls, op); break;
        case LayerKind::GlobalAvgPool:
          need3d(op, ls);
          op.out = Shape{false, cur.c, 1, 1};
          break;
        case LayerKind::Flatten:
          op.out = Shape{false, (int)cur.size(), 1, 1};
          op.alias = true;
          break;
        case LayerKind::Relu:
        case LayerKind::Tanh:
        case LayerKind::Gelu: op.out = cur; break;
        case LayerKind::BatchNorm:
          op.out = cur;
          op.bn = plan_bn(std::to_string(i), cur);
          break;
        case LayerKind::ResBlock: plan_resblock(ls, op); break;
        default:
          throw_range(layer_param(i, "kind"), "unknown layer kind " + std::to_string((int)ls.kind));
      }
      check_act(op.out, layer_param(i, ""));
      if (ls.init != InitKind::Default && ls.init != InitKind::HeNormal &&
          ls.init != InitKind::XavierUniform)
        throw_range(layer_param(i, "init"), "unknown init kind " + std::to_string((int)ls.init));
      L_.layer_output_shapes.push_back(op.out.dims());
      cur = op.out;
      if (ops_) ops_->push_back(std::move(op));
    }
    L_.output_shape = cur.dims();
    L_.output_size = cur.size();
    if (spec.loss == LossKind::SoftmaxCrossEntropy) {
      if (cur.is3d || cur.size() < 2)
        throw_range("spec.loss", "softmax cross-entropy needs the model output to be a vector of >= 2 "
                                 "class scores (got " + shape_str(cur.dims()) +
                                 "; end with a dense layer of units >= 2)");
    } else if (spec.loss != LossKind::MeanSquaredError) {
      throw_range("spec.loss", "unknown loss kind " + std::to_string((int)spec.loss));
    }
    if (ops_) fuse();
  }

 private:
  Layout& L_;
  std::vector<Op>* ops_;
  size_t idx_ = 0;

  static void check_act(const Shape& s, const std::string& param) {
    if ((double)s.c * s.h * s.w > (double)kMaxActivation)
      throw_range(param, "activation of " + shape_str(s.dims()) + " exceeds 2^31 floats per example");
  }

  void need3d(const Op& op, const LayerSpec& ls) const {
    if (!op.in.is3d)
      throw_range(layer_param(idx_, ""), std::string(kind_name(ls.kind)) +
                                             " needs a [channels, height, width] input (got " +
                                             shape_str(op.in.dims()) + ")");
  }

  void check_units(const LayerSpec& ls) const {
    if (ls.units < 1)
      throw_range(layer_param(idx_, "units"), "must be >= 1 (got " + std::to_string(ls.units) + ")");
  }

  InitKind weight_init(const LayerSpec& ls) const {
    return ls.init == InitKind::XavierUniform ? InitKind::XavierUniform : InitKind::HeNormal;
  }

  // Multiplies sizes, refusing anything past the parameter cap (also guards size_t overflow).
  size_t mul(size_t a, size_t b) const {
    if (a != 0 && b > kMaxParams / a)
      throw_range(layer_param(idx_, ""), "model would have more than 2^31 parameters");
    return a * b;
  }

  size_t add(std::vector<TensorEntry>& list, size_t& count, const std::string& name,
             std::vector<int> shape, int fan_in, int fan_out, const char* init) {
    size_t size = 1;
    for (int d : shape) size = mul(size, (size_t)d);
    TensorEntry e;
    e.name = name;
    e.shape = std::move(shape);
    e.offset = count;
    e.size = size;
    e.fan_in = fan_in;
    e.fan_out = fan_out;
    e.init = init;
    if (count + size > kMaxParams)
      throw_range(layer_param(idx_, ""), "model would have more than 2^31 parameters");
    count += size;
    list.push_back(std::move(e));
    return list.back().offset;
  }
  size_t param(const std::string& name, std::vector<int> shape, int fan_in, int fan_out,
               const char* init) {
    return add(L_.params, L_.param_count, name, std::move(shape), fan_in, fan_out, init);
  }
  size_t state(const std::string& name, std::vector<int> shape, const char* init) {
    return add(L_.state, L_.state_count, name, std::move(shape), 0, 0, init);
  }
  static const char* init_name(InitKind k) {
    return k == InitKind::XavierUniform ? "xavier_uniform" : "he_normal";
  }

  void plan_dense(const LayerSpec& ls, Op& op) {
    check_units(ls);
    const size_t in = op.in.size();
    if (in > (size_t)std::numeric_limits<int>::max())
      throw_range(layer_param(idx_, ""), "dense input of " + std::to_string(in) + " features is too large");
    const std::string p = std::to_string(idx_);
    op.w = param(p + ".weight", {ls.units, (int)in}, (int)in, ls.units, init_name(weight_init(ls)));
    if (ls.bias) op.b = param(p + ".bias", {ls.units}, (int)in, ls.units, "zeros");
    op.out = Shape{false, ls.units, 1, 1};
  }

  ConvP make_conv(const std::string& prefix, const Shape& in, int units, int k, int s, int p,
                  bool bias, InitKind init) {
    ConvP c;
    c.s = ConvShape::make(in.c, in.h, in.w, units, k, s, p);
    const size_t fan_in = mul(mul(in.c, k), k), fan_out = mul(mul(units, k), k);
    c.w = param(prefix + ".weight", {units, in.c, k, k}, (int)std::min(fan_in, kMaxParams - 1),
                (int)std::min(fan_out, kMaxParams - 1), init_name(init));
    if (bias) c.b = param(prefix + ".bias", {units}, (int)fan_in, (int)fan_out, "zeros");
    return c;
  }

  static int out_dim(int64_t in, int64_t k, int64_t s, int64_t p) { return (int)((in + 2 * p - k) / s + 1); }

  void plan_conv(const LayerSpec& ls, Op& op) {
    need3d(op, ls);
    check_units(ls);
    const std::string lp = layer_param(idx_, "");
    if (ls.kernel < 1)
      throw_range(layer_param(idx_, "kernel"), "must be >= 1 (got " + std::to_string(ls.kernel) + ")");
    if (ls.stride < 1)
      throw_range(layer_param(idx_, "stride"), "must be >= 1 (got " + std::to_string(ls.stride) + ")");
    if (ls.padding < 0)
      throw_range(layer_param(idx_, "padding"), "must be >= 0 (got " + std::to_string(ls.padding) + ")");
    if (ls.padding >= ls.kernel)
      throw_range(layer_param(idx_, "padding"), "must be < kernel " + std::to_string(ls.kernel) +
                                                    " (got " + std::to_string(ls.padding) + ")");
    const int64_t ph = (int64_t)op.in.h + 2 * (int64_t)ls.padding;
    const int64_t pw = (int64_t)op.in.w + 2 * (int64_t)ls.padding;
    if (ls.kernel > ph || ls.kernel > pw)
      throw_range(layer_param(idx_, "kernel"),
                  "must be <= padded input height " + std::to_string(ph) + " and width " +
                      std::to_string(pw) + " (got " + std::to_string(ls.kernel) + ")");
    op.conv = make_conv(std::to_string(idx_), op.in, ls.units, ls.kernel, ls.stride, ls.padding,
                        ls.bias, weight_init(ls));
    op.out = Shape{true, ls.units, out_dim(op.in.h, ls.kernel, ls.stride, ls.padding),
                   out_dim(op.in.w, ls.kernel, ls.stride, ls.padding)};
  }

  void plan_pool(const LayerSpec& ls, Op& op) {
    need3d(op, ls);
    if (ls.kernel < 1)
      throw_range(layer_param(idx_, "kernel"), "must be >= 1 (got " + std::to_string(ls.kernel) + ")");
    if (ls.stride < 0)
      throw_range(layer_param(idx_, "stride"),
                  "must be >= 1, or 0 for stride = kernel (got " + std::to_string(ls.stride) + ")");
    if (ls.padding != 0)
      throw_range(layer_param(idx_, "padding"),
                  "pools do not support padding; must be 0 (got " + std::to_string(ls.padding) + ")");
    if (ls.kernel > op.in.h || ls.kernel > op.in.w)
      throw_range(layer_param(idx_, "kernel"), "must be <= input height " + std::to_string(op.in.h) +
                                                   " and width " + std::to_string(op.in.w) + " (got " +
                                                   std::to_string(ls.kernel) + ")");
    op.k = ls.kernel;
    op.s = ls.stride == 0 ? ls.kernel : ls.stride;
    op.out = Shape{true, op.in.c, out_dim(op.in.h, op.k, op.s, 0), out_dim(op.in.w, op.k, op.s, 0)};
  }

  BnP plan_bn(const std::string& prefix, const Shape& s) {
    BnP b;
    b.C = s.c;
    b.HW = s.h * s.w;
    b.g = param(prefix + ".weight", {s.c}, 0, 0, "ones");
    b.b = param(prefix + ".bias", {s.c}, 0, 0, "zeros");
    b.rm = state(prefix + ".running_mean", {s.c}, "zeros");
    b.rv = state(prefix + ".running_var", {s.c}, "ones");
    if (ops_) b.mean.assign(s.c, 0.0f), b.invstd.assign(s.c, 1.0f);
    return b;
  }

  void plan_resblock(const LayerSpec& ls, Op& op) {
    need3d(op, ls);
    check_units(ls);
    if (ls.stride < 1)
      throw_range(layer_param(idx_, "stride"), "must be >= 1 (got " + std::to_string(ls.stride) + ")");
    const std::string p = std::to_string(idx_);
    const InitKind init = weight_init(ls);
    op.use_bn = ls.batchnorm;
    const bool bias = ls.bias && !ls.batchnorm;  // BN's beta makes a conv bias redundant
    op.conv1 = make_conv(p + ".conv1", op.in, ls.units, 3, ls.stride, 1, bias, init);
    const Shape mid{true, ls.units, op.conv1.s.OH, op.conv1.s.OW};
    check_act(mid, layer_param(idx_, ""));
    if (op.use_bn) op.bn1 = plan_bn(p + ".bn1", mid);
    op.conv2 = make_conv(p + ".conv2", mid, ls.units, 3, 1, 1, bias, init);
    if (op.use_bn) op.bn2 = plan_bn(p + ".bn2", mid);
    op.proj = ls.stride != 1 || op.in.c != ls.units;
    if (op.proj) {
      op.convs = make_conv(p + ".shortcut", op.in, ls.units, 1, ls.stride, 0, bias, init);
      if (op.use_bn) op.bns = plan_bn(p + ".shortcut_bn", mid);
    }
    op.out = mid;
  }

  // A relu right after a dense/conv2d is applied in the producer's bias pass (one memory pass
  // instead of two) and the relu op just aliases the producer's output.
  void fuse() {
    auto& ops = *ops_;
    for (size_t i = 1; i < ops.size(); ++i) {
      if (ops[i].kind == LayerKind::Relu &&
          (ops[i - 1].kind == LayerKind::Dense || ops[i - 1].kind == LayerKind::Conv2d)) {
        ops[i - 1].fuse_relu = true;
        ops[i].alias = true;
      }
    }
    // Layouts (see the top of the file).
    bool cur = false;  // the network input is NCHW
    for (Op& op : ops) {
      op.in_nhwc = cur;
      const bool mixed = distinct_layouts(op.in);
      switch (op.kind) {
        case LayerKind::Conv2d:
        case LayerKind::ResBlock:
          op.to_nhwc = !cur && mixed;
          op.nhwc = true;
          break;
        case LayerKind::Dense:
          op.to_nchw = cur && mixed;
          op.nhwc = false;
          break;
        case LayerKind::Flatten:
          op.to_nchw = cur && mixed;
          if (op.to_nchw) op.alias = false;
          op.nhwc = false;
          break;
        case LayerKind::GlobalAvgPool: op.nhwc = false; break;
        default: op.nhwc = cur; break;  // pools, activations, batch norm keep the layout
      }
      op.nhwc = op.nhwc && distinct_layouts(op.out);
      cur = op.nhwc;
    }
  }

 public:
  // A 3-d activation whose NCHW and NHWC byte orders differ.
  static bool distinct_layouts(const Shape& s) { return s.is3d && s.c > 1 && s.h * s.w > 1; }
};

template <class V>
void grow(V& v, size_t n) {
  if (v.size() < n) {
    V().swap(v);  // drop the old block first: no copy, lower peak
    v.resize(n);
  }
}

}  // namespace

Layout describe(const ModelSpec& spec) {
  Layout L;
  Planner(L, nullptr).run(spec);
  return L;
}

struct Network {
  std::vector<Op> ops;
  size_t max_act = 0;  // largest per-example activation (floats), input included
  int cap = 0;         // batch capacity of the activation buffers
  int grad_cap = 0;    // batch capacity of the gradient buffers
  int scratch_threads = 0;  // compute_threads() the conv scratch was sized for
  bool out_nhwc = false;    // the last activation is channels-last (3-d output)
  std::vector<float> g0, g1, s1, s2, scratch, out_nchw;
  int dy_cap = 0;  // batch capacity of the dense ops' dy buffers (sgd_step)
  std::vector<std::pair<size_t, size_t>> unfused;  // [0, P) minus the dense weights (sgd_step)

  void ensure(int N, bool grads) {
    if ((double)N * (double)max_act > (double)kMaxBatchFloats)
      throw_range("batch", "batch of " + std::to_string(N) + " needs more than 2^36 floats of activations");
    if (N > cap) {
      for (Op& op : ops) {
        const size_t n_out = (size_t)N * op.out.size();
        if (!op.alias) grow(op.y_buf, n_out);
        if (op.to_nhwc || op.to_nchw) grow(op.xt, (size_t)N * op.in.size());
        if (op.kind == LayerKind::ResBlock) {
          grow(op.h1, n_out);
          if (op.use_bn) grow(op.a1, n_out), grow(op.h2, n_out);
          if (op.proj) grow(op.sr, n_out);
          if (op.proj && op.use_bn) grow(op.sb, n_out);
        }
      }
      if (out_nhwc) grow(out_nchw, (size_t)N * ops.back().out.size());
      cap = N;
      scratch_threads = 0;
    }
    if (scratch_threads != compute_threads()) {
      // Conv scratch depends on the thread count (one padded-group buffer per parallel part).
      const int T = compute_threads();
      size_t conv_scratch = 0;
      for (const Op& op : ops)
        for (const ConvP* c : {&op.conv, &op.conv1, &op.conv2, &op.convs}) {
          if (c->w == NONE) continue;
          conv_scratch = std::max(conv_scratch, conv2d_nhwc_backward_scratch(cap, c->s));
          conv_scratch = std::max(conv_scratch, conv2d_nhwc_forward_scratch(cap, c->s));
        }
      grow(scratch, conv_scratch);
      scratch_threads = T;
    }
    if (grads && N > grad_cap) {
      const size_t n = (size_t)N * max_act;
      grow(g0, n);
      grow(g1, n);
      bool res = false;
      for (const Op& op : ops) res |= op.kind == LayerKind::ResBlock;
      if (res) grow(s1, n), grow(s2, n);
      grad_cap = N;
    }
  }

  size_t bytes() const {
    size_t n = g0.capacity() + g1.capacity() + s1.capacity() + s2.capacity() + scratch.capacity() +
               out_nchw.capacity();
    for (const Op& op : ops)
      n += op.y_buf.capacity() + op.h1.capacity() + op.a1.capacity() + op.h2.capacity() +
           op.sr.capacity() + op.sb.capacity() + op.xt.capacity() + op.bn.mean.capacity() * 2 +
           op.bn1.mean.capacity() * 2 + op.bn2.mean.capacity() * 2 + op.bns.mean.capacity() * 2;
    return n * sizeof(float);
  }

  // ---- forward -------------------------------------------------------------------------------

  static void bn_forward(BnP& bn, float* y, const float* x, int N, const float* P, float* S,
                         bool training, bool nhwc) {
    float* rm = S ? S + bn.rm : nullptr;
    float* rv = S ? S + bn.rv : nullptr;
    if (training) {
      (nhwc ? batchnorm_nhwc_forward_train : batchnorm_forward_train)(
          y, x, P + bn.g, P + bn.b, N, bn.C, bn.HW, rm, rv, bn.mean.data(), bn.invstd.data());
    } else {
      (nhwc ? batchnorm_nhwc_forward_eval : batchnorm_forward_eval)(
          y, x, P + bn.g, P + bn.b, N, bn.C, bn.HW, rm, rv, bn.mean.data(), bn.invstd.data());
    }
  }

  // Channels-last conv; residual (optional) is added before the relu.
  void conv_fwd(const ConvP& c, float* y, const float* x, int N, const float* P, bool relu,
                const float* residual = nullptr) {
    conv2d_nhwc_forward(y, x, P + c.w, c.b == NONE ? nullptr : P + c.b, N, c.s, relu, scratch.data(),
                        residual);
  }

  // The input a conv2d / resblock reads: its NCHW input transposed into xt when needed.
  const float* nhwc_input(Op& op, const float* x, int N) {
    if (!op.to_nhwc) return x;
    nchw_to_nhwc(op.xt.data(), x, N, op.in.c, op.in.h * op.in.w);
    return op.xt.data();
  }

  // training: batch statistics for batch norm; update_stats: write running stats into S.
  const float* forward(const float* P, float* S, const float* x, int N, bool training, bool update_stats) {
    const float* cur = x;
    float* Su = update_stats ? S : nullptr;
    for (Op& op : ops) {
      op.x = cur;
      float* y = op.y_buf.data();
      const size_t n_out = (size_t)N * op.out.size();
      const bool nh = op.in_nhwc;
      const int HW = op.in.h * op.in.w;
      switch (op.kind) {
        case LayerKind::Dense:
          if (op.to_nchw) {
            nhwc_to_nchw(op.xt.data(), cur, N, op.in.c, HW);
            op.x = op.xt.data();
          }
          dense_forward(y, op.x, P + op.w, op.b == NONE ? nullptr : P + op.b, N, (int)op.in.size(),
                        op.out.c, op.fuse_relu);
          break;
        case LayerKind::Conv2d:
          op.x = nhwc_input(op, cur, N);
          conv_fwd(op.conv, y, op.x, N, P, op.fuse_relu);
          break;
        case LayerKind::MaxPool:
          (nh ? maxpool_nhwc_forward : maxpool_forward)(y, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::AvgPool:
          (nh ? avgpool_nhwc_forward : avgpool_forward)(y, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::GlobalAvgPool:
          (nh ? global_avgpool_nhwc_forward : global_avgpool_forward)(y, cur, N, op.in.c, HW);
          break;
        case LayerKind::Flatten:
          if (op.to_nchw) nhwc_to_nchw(y, cur, N, op.in.c, HW);
          break;
        case LayerKind::Relu:
          if (!op.alias) relu_forward(y, cur, n_out);
          break;
        case LayerKind::Tanh: tanh_forward(y, cur, n_out); break;
        case LayerKind::Gelu: gelu_forward(y, cur, n_out); break;
        case LayerKind::BatchNorm: bn_forward(op.bn, y, cur, N, P, training ? Su : S, training, nh); break;
        case LayerKind::ResBlock:
          op.x = nhwc_input(op, cur, N);
          resblock_forward(op, y, op.x, N, P, training ? Su : S, training);
          break;
      }
      op.y = op.alias ? cur : y;
      cur = op.y;
    }
    if (out_nhwc) {
      const Op& last = ops.back();
      nhwc_to_nchw(out_nchw.data(), cur, N, last.out.c, last.out.h * last.out.w);
      return out_nchw.data();
    }
    return cur;
  }

  // x is channels-last; so are all intermediate activations and out.
  void resblock_forward(Op& op, float* out, const float* x, int N, const float* P, float* S,
                        bool training) {
    const size_t n = (size_t)N * op.out.size();
    const float* sc = x;
    if (op.proj) {
      conv_fwd(op.convs, op.sr.data(), x, N, P, false);
      sc = op.sr.data();
      if (op.use_bn) {
        bn_forward(op.bns, op.sb.data(), op.sr.data(), N, P, S, training, true);
        sc = op.sb.data();
      }
    }
    if (!op.use_bn) {
      // h1 = relu(conv1 x + b1); out = relu(conv2 h1 + b2 + shortcut), both fused in the conv.
      conv_fwd(op.conv1, op.h1.data(), x, N, P, /*relu=*/true);
      conv_fwd(op.conv2, out, op.h1.data(), N, P, /*relu=*/true, sc);
      return;
    }
    conv_fwd(op.conv1, op.h1.data(), x, N, P, false);
    bn_forward(op.bn1, op.a1.data(), op.h1.data(), N, P, S, training, true);
    relu_forward(op.a1.data(), op.a1.data(), n);
    conv_fwd(op.conv2, op.h2.data(), op.a1.data(), N, P, false);
    bn_forward(op.bn2, out, op.h2.data(), N, P, S, training, true);
    for (size_t i = 0; i < n; ++i) out[i] = std::max(out[i] + sc[i], 0.0f);
  }

  // ---- backward ------------------------------------------------------------------------------

  static void bn_backward(BnP& bn, float* dx, const float* dy, const float* x, int N, const float* P,
                          float* G, bool training, bool nhwc) {
    (nhwc ? batchnorm_nhwc_backward : batchnorm_backward)(dx, G + bn.g, G + bn.b, dy, x, P + bn.g,
                                                          bn.mean.data(), bn.invstd.data(), N, bn.C,
                                                          bn.HW, training);
  }

  // Channels-last conv backward; mask (optional): a fused relu backward on dx (see kernels.h).
  void conv_bwd(const ConvP& c, float* dx, const float* dy, const float* x, int N, const float* P,
                float* G, bool accumulate, const float* mask = nullptr) {
    conv2d_nhwc_backward(dx, G + c.w, c.b == NONE ? nullptr : G + c.b, dy, x, P + c.w, N, c.s,
                         accumulate, scratch.data(), mask);
  }

  // g0 holds d(loss)/d(output) on entry. defer_dense: dense weight gradients are not computed;
  // each dense op keeps its d(loss)/d(output) in op.dy for the fused update (Model::sgd_step).
  void backward(const float* P, float* G, int N, bool training, bool defer_dense = false) {
    float* g = g0.data();
    for (size_t i = ops.size(); i-- > 0;) {
      Op& op = ops[i];
      const bool need_dx = i > 0;
      float* other = g == g0.data() ? g1.data() : g0.data();
      const size_t n_out = (size_t)N * op.out.size();
      const bool nh = op.in_nhwc;
      const int HW = op.in.h * op.in.w;
      switch (op.kind) {
        case LayerKind::Dense:
          if (defer_dense) std::memcpy(op.dy.data(), g, sizeof(float) * (size_t)N * op.out.c);
          dense_backward(need_dx ? other : nullptr, defer_dense ? nullptr : G + op.w,
                         op.b == NONE ? nullptr : G + op.b, g, op.x, P + op.w, N, (int)op.in.size(), op.out.c);
          // dx came out in NCHW order; the layer below is channels-last (g is free now).
          if (need_dx && op.to_nchw) {
            nchw_to_nhwc(g, other, N, op.in.c, HW);
          } else {
            g = other;
          }
          break;
        case LayerKind::Conv2d:
          conv_bwd(op.conv, need_dx ? other : nullptr, g, op.x, N, P, G, false);
          if (need_dx && op.to_nhwc) {
            nhwc_to_nchw(g, other, N, op.in.c, HW);
          } else {
            g = other;
          }
          break;
        case LayerKind::MaxPool:
          if (need_dx)
            (nh ? maxpool_nhwc_backward : maxpool_backward)(other, g, op.x, N, op.in.c, op.in.h, op.in.w,
                                                            op.k, op.s);
          g = other;
          break;
        case LayerKind::AvgPool:
          if (need_dx)
            (nh ? avgpool_nhwc_backward : avgpool_backward)(other, g, N, op.in.c, op.in.h, op.in.w, op.k,
                                                            op.s);
          g = other;
          break;
        case LayerKind::GlobalAvgPool:
          if (need_dx) (nh ? global_avgpool_nhwc_backward : global_avgpool_backward)(other, g, N, op.in.c, HW);
          g = other;
          break;
        case LayerKind::Flatten:
          if (op.to_nchw) {
            if (need_dx) nchw_to_nhwc(other, g, N, op.in.c, HW);
            g = other;
          }
          break;
        case LayerKind::Relu:
          if (need_dx) relu_backward(g, g, op.y, n_out);
          break;
        case LayerKind::Tanh:
          if (need_dx) tanh_backward(g, g, op.y, n_out);
          break;
        case LayerKind::Gelu:
          if (need_dx) gelu_backward(g, g, op.x, n_out);
          break;
        case LayerKind::BatchNorm: bn_backward(op.bn, g, g, op.x, N, P, G, training, nh); break;
        case LayerKind::ResBlock:
          resblock_backward(op, need_dx ? other : nullptr, g, N, P, G, training);
          if (need_dx && op.to_nhwc) {
            nhwc_to_nchw(g, other, N, op.in.c, HW);
          } else {
            g = other;
          }
          break;
      }
    }
  }

  // g: d(loss)/d(block output), overwritten (used as scratch); dx: d(loss)/d(block input) or null.
  // Everything channels-last (op.x is the block's channels-last input).
  void resblock_backward(Op& op, float* dx, float* g, int N, const float* P, float* G, bool training) {
    const size_t n = (size_t)N * op.out.size();
    relu_backward(g, g, op.y, n);  // g is now d/d(main + shortcut)
    const float* r1 = op.use_bn ? op.a1.data() : op.h1.data();
    const float* d2 = g;
    if (op.use_bn) {
      bn_backward(op.bn2, s1.data(), g, op.h2.data(), N, P, G, training, true);
      d2 = s1.data();
    }
    // d/d(conv1 output) = conv2's din through the relu between them (fused as a mask on r1).
    conv_bwd(op.conv2, s2.data(), d2, r1, N, P, G, false, /*mask=*/r1);
    if (op.use_bn) bn_backward(op.bn1, s2.data(), s2.data(), op.h1.data(), N, P, G, training, true);
    conv_bwd(op.conv1, dx, s2.data(), op.x, N, P, G, false);
    if (op.proj) {
      const float* ds = g;
      if (op.use_bn) {
        bn_backward(op.bns, s1.data(), g, op.sr.data(), N, P, G, training, true);
        ds = s1.data();
      }
      conv_bwd(op.convs, dx, ds, op.x, N, P, G, /*accumulate=*/true);
    } else if (dx) {
      for (size_t i = 0; i < n; ++i) dx[i] += g[i];
    }
  }
};

// ---- Model ---------------------------------------------------------------------------------------

Model::Model(const ModelSpec& spec) : spec_(spec), net_(new Network) {
  Planner(layout_, &net_->ops).run(spec_);
  size_t m = layout_.input_size;
  for (const Op& op : net_->ops) m = std::max(m, op.out.size());
  net_->max_act = m;
  net_->out_nhwc = net_->ops.back().nhwc;
  // What sgd_step checks and updates outside the dense weights (which it updates in their GEMM).
  size_t at = 0;
  for (const Op& op : net_->ops) {
    if (op.kind != LayerKind::Dense) continue;
    if (op.w > at) net_->unfused.emplace_back(at, op.w);
    at = op.w + op.in.size() * (size_t)op.out.c;
  }
  if (layout_.param_count > at) net_->unfused.emplace_back(at, layout_.param_count);
}

Model::~Model() = default;

void Model::init(float* params, float* state, uint64_t seed) const {
  if (!params && layout_.param_count) throw_range("params", "must not be null");
  if (!state && layout_.state_count) throw_range("state", "must not be null: this model has batch-norm state");
  uint64_t st[4];
  Rng::seed_state(st, seed, 0);
  Rng rng{st};
  for (const TensorEntry& e : layout_.params) {
    float* p = params + e.offset;
    if (e.init == "he_normal") {
      const double std = std::sqrt(2.0 / std::max(e.fan_in, 1));
      for (size_t i = 0; i < e.size; ++i) p[i] = (float)(std * rng.normal());
    } else if (e.init == "xavier_uniform") {
      const double bound = std::sqrt(6.0 / std::max(e.fan_in + e.fan_out, 1));
      for (size_t i = 0; i < e.size; ++i) p[i] = (float)(bound * (2.0 * rng.uniform() - 1.0));
    } else {
      std::fill(p, p + e.size, e.init == "ones" ? 1.0f : 0.0f);
    }
  }
  for (const TensorEntry& e : layout_.state)
    std::fill(state + e.offset, state + e.offset + e.size, e.init == "ones" ? 1.0f : 0.0f);
}

namespace {

void check_call(const Layout& L, const ModelSpec& spec, const float* params, const float* state,
                const float* x, const Target* y, int batch) {
  if (batch < 1) throw_range("batch", "must be >= 1 (got " + std::to_string(batch) + ")");
  if (!params && L.param_count) throw_range("params", "must not be null");
  if (!state && L.state_count)
    throw_range("state", "must not be null: this model has batch-norm running statistics");
  if (!x) throw_range("x", "must not be null");
  if (!y) return;
  if (spec.loss == LossKind::SoftmaxCrossEntropy) {
    if (!y->labels) throw_type("y", "softmax cross-entropy needs int32 class labels");
    const int C = (int)L.output_size;
    for (int n = 0; n < batch; ++n)
      if (y->labels[n] < 0 || y->labels[n] >= C)
        throw_range("y[" + std::to_string(n) + "]", "label must be in [0, " + std::to_string(C) +
                                                        ") (got " + std::to_string(y->labels[n]) + ")");
  } else if (!y->values) {
    throw_type("y", "mean squared error needs float targets");
  }
}

// Returns the SUM over the batch of per-example losses; dout (if non-null) gets the gradient of
// the MEAN loss. For MSE a per-example loss is the mean over its output elements, so that the
// batch mean equals torch's mean over all elements.
double compute_loss(const ModelSpec& spec, const Layout& L, const float* out, const Target& y, int N,
                    float* dout, int64_t* correct) {
  const size_t D = L.output_size;
  if (spec.loss == LossKind::SoftmaxCrossEntropy)
    return softmax_ce(dout, out, y.labels, N, (int)D, (float)(1.0 / N), correct);
  const double sse = mse(dout, out, y.values, (size_t)N * D, (float)(1.0 / ((double)N * D)));
  return sse / (double)D;
}

}  // namespace

double Model::loss_and_grad(const float* params, float* state, const float* x, const Target& y,
                            int batch, float* grads, bool training, int64_t* correct) {
  return forward_backward(params, state, x, y, batch, grads, training, correct, /*defer_dense=*/false);
}

double Model::forward_backward(const float* params, float* state, const float* x, const Target& y, int batch,
                               float* grads, bool training, int64_t* correct, bool defer_dense) {
  check_call(layout_, spec_, params, state, x, &y, batch);
  if (!grads && layout_.param_count) throw_range("grads", "must not be null");
  Network& net = *net_;
  net.ensure(batch, true);
  if (defer_dense && batch > net.dy_cap) {
    for (Op& op : net.ops)
      if (op.kind == LayerKind::Dense) grow(op.dy, (size_t)batch * op.out.c);
    net.dy_cap = batch;
  }
  if (correct) *correct = 0;
  const float* out = net.forward(params, state, x, batch, training, /*update_stats=*/training);
  // The loss sees NCHW outputs; a channels-last 3-d output gets its gradient transposed back.
  const double total =
      compute_loss(spec_, layout_, out, y, batch, net.out_nhwc ? net.g1.data() : net.g0.data(), correct);
  if (net.out_nhwc) {
    const Op& last = net.ops.back();
    nchw_to_nhwc(net.g0.data(), net.g1.data(), batch, last.out.c, last.out.h * last.out.w);
  }
  net.backward(params, grads, batch, training, defer_dense);
  return total / batch;
}

namespace {

// max |v| over v[0..n) (an integer max over the bits, which vectorises); Inf if any is Inf/NaN.
float max_abs(const float* v, size_t n) {
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(v);
  uint32_t m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, bits[i] & 0x7fffffffu);
  if (m >= 0x7f800000u) return std::numeric_limits<float>::infinity();
  float f;
  std::memcpy(&f, &m, sizeof f);
  return f;
}

// Below this bound on |dW| = |doutᵀ·in| <= N·max|dout|·max|in|, a float GEMM of finite factors
// cannot overflow (hence yields no Inf or NaN): far from FLT_MAX ≈ 3.4e38 even with rounding.
constexpr double kSafeGradBound = 1e30;

}  // namespace

double Model::sgd_step(float* params, float* state, const float* x, const Target& y, int batch, float* grads,
                       float neg_lr, int64_t* correct, bool* applied) {
  const double loss = forward_backward(params, state, x, y, batch, grads, /*training=*/true, correct,
                                       /*defer_dense=*/true);
  Network& net = *net_;
  const int N = batch;
  // The divergence check of the unfused step (loss and every gradient finite), without storing
  // the dense weight gradients when a bound proves them finite.
  bool ok = std::isfinite(loss);
  for (const auto& [lo, hi] : net.unfused) ok = ok && all_finite(grads + lo, hi - lo);
  for (Op& op : net.ops) {
    if (op.kind != LayerKind::Dense) continue;
    const int I = (int)op.in.size(), O = op.out.c;
    op.dw_stored = false;
    if (!ok) continue;
    const double bound = (double)N * max_abs(op.dy.data(), (size_t)N * O) * max_abs(op.x, (size_t)N * I);
    if (bound <= kSafeGradBound) continue;
    sgemm(true, false, O, I, N, 1.0f, op.dy.data(), O, op.x, I, 0.0f, grads + op.w, I);
    op.dw_stored = true;
    ok = all_finite(grads + op.w, (size_t)O * I);
  }
  *applied = ok;
  for (Op& op : net.ops) {
    if (op.kind != LayerKind::Dense) continue;
    const int I = (int)op.in.size(), O = op.out.c;
    if (op.dw_stored) {
      if (ok) sgd_update(params + op.w, grads + op.w, (size_t)O * I, neg_lr);
    } else if (ok) {
      sgemm(true, false, O, I, N, neg_lr, op.dy.data(), O, op.x, I, 1.0f, params + op.w, I);  // W += neg_lr·doutᵀ·in
    } else {
      // Not applied: the whole gradient goes to grads (for inspection); θ stays as it was.
      sgemm(true, false, O, I, N, 1.0f, op.dy.data(), O, op.x, I, 0.0f, grads + op.w, I);
    }
  }
  if (ok)
    for (const auto& [lo, hi] : net.unfused) sgd_update(params + lo, grads + lo, hi - lo, neg_lr);
  return loss;
}

double Model::loss_sum(const float* params, const float* state, const float* x, const Target& y,
                       int batch, int64_t* correct) {
  check_call(layout_, spec_, params, state, x, &y, batch);
  net_->ensure(batch, false);
  if (correct) *correct = 0;
  // Eval mode never writes the state, so the const_cast is only to share the forward code.
  const float* out = net_->forward(params, const_cast<float*>(state), x, batch, false, false);
  return compute_loss(spec_, layout_, out, y, batch, nullptr, correct);
}

void Model::forward(const float* params, const float* state, const float* x, int batch, float* out) {
  check_call(layout_, spec_, params, state, x, nullptr, batch);
  if (!out) throw_range("out", "must not be null");
  net_->ensure(batch, false);
  const float* y = net_->forward(params, const_cast<float*>(state), x, batch, false, false);
  std::memcpy(out, y, sizeof(float) * (size_t)batch * layout_.output_size);
}

size_t Model::workspace_bytes() const { return net_->bytes(); }

}  // namespace bigstep
