// The planner: describe(spec) and the layer plan of a Model (plan.h). One walk over the spec
// validates every field (errors name the parameter, e.g. spec.layers[3].kernel), lays out the flat
// parameter and state vectors, and decides relu fusion and channels-last layouts.
#include <algorithm>
#include <string>
#include <utility>

#include "errors.h"
#include "plan.h"

namespace bigstep {

namespace {

constexpr size_t kMaxParams = size_t(1) << 31;            // floats in the flat parameter vector
constexpr size_t kMaxActivation = (size_t(1) << 31) - 1;  // floats per example per activation

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
        default: throw_range(layer_param(i, "kind"), "unknown layer kind " + std::to_string((int)ls.kind));
      }
      check_act(op.out, layer_param(i, ""));
      if (ls.init != InitKind::Default && ls.init != InitKind::HeNormal && ls.init != InitKind::XavierUniform)
        throw_range(layer_param(i, "init"), "unknown init kind " + std::to_string((int)ls.init));
      L_.layer_output_shapes.push_back(op.out.dims());
      cur = op.out;
      if (ops_) ops_->push_back(std::move(op));
    }
    L_.output_shape = cur.dims();
    L_.output_size = cur.size();
    if (spec.loss == LossKind::SoftmaxCrossEntropy) {
      if (cur.is3d || cur.size() < 2)
        throw_range("spec.loss",
                    "softmax cross-entropy needs the model output to be a vector of >= 2 "
                    "class scores (got " +
                        shape_str(cur.dims()) + "; end with a dense layer of units >= 2)");
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
    if (ls.units < 1) throw_range(layer_param(idx_, "units"), "must be >= 1 (got " + std::to_string(ls.units) + ")");
  }

  InitKind weight_init(const LayerSpec& ls) const {
    return ls.init == InitKind::XavierUniform ? InitKind::XavierUniform : InitKind::HeNormal;
  }

  // Multiplies sizes, refusing anything past the parameter cap (also guards size_t overflow).
  size_t mul(size_t a, size_t b) const {
    if (a != 0 && b > kMaxParams / a) throw_range(layer_param(idx_, ""), "model would have more than 2^31 parameters");
    return a * b;
  }

  size_t add(std::vector<TensorEntry>& list, size_t& count, const std::string& name, std::vector<int> shape, int fan_in,
             int fan_out, const char* init) {
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
    if (count + size > kMaxParams) throw_range(layer_param(idx_, ""), "model would have more than 2^31 parameters");
    count += size;
    list.push_back(std::move(e));
    return list.back().offset;
  }
  size_t param(const std::string& name, std::vector<int> shape, int fan_in, int fan_out, const char* init) {
    return add(L_.params, L_.param_count, name, std::move(shape), fan_in, fan_out, init);
  }
  size_t state(const std::string& name, std::vector<int> shape, const char* init) {
    return add(L_.state, L_.state_count, name, std::move(shape), 0, 0, init);
  }
  static const char* init_name(InitKind k) { return k == InitKind::XavierUniform ? "xavier_uniform" : "he_normal"; }

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

  ConvP make_conv(const std::string& prefix, const Shape& in, int units, int k, int s, int p, bool bias,
                  InitKind init) {
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
    if (ls.kernel < 1) throw_range(layer_param(idx_, "kernel"), "must be >= 1 (got " + std::to_string(ls.kernel) + ")");
    if (ls.stride < 1) throw_range(layer_param(idx_, "stride"), "must be >= 1 (got " + std::to_string(ls.stride) + ")");
    if (ls.padding < 0)
      throw_range(layer_param(idx_, "padding"), "must be >= 0 (got " + std::to_string(ls.padding) + ")");
    if (ls.padding >= ls.kernel)
      throw_range(layer_param(idx_, "padding"),
                  "must be < kernel " + std::to_string(ls.kernel) + " (got " + std::to_string(ls.padding) + ")");
    const int64_t ph = (int64_t)op.in.h + 2 * (int64_t)ls.padding;
    const int64_t pw = (int64_t)op.in.w + 2 * (int64_t)ls.padding;
    if (ls.kernel > ph || ls.kernel > pw)
      throw_range(layer_param(idx_, "kernel"), "must be <= padded input height " + std::to_string(ph) + " and width " +
                                                   std::to_string(pw) + " (got " + std::to_string(ls.kernel) + ")");
    op.conv =
        make_conv(std::to_string(idx_), op.in, ls.units, ls.kernel, ls.stride, ls.padding, ls.bias, weight_init(ls));
    op.out = Shape{true, ls.units, out_dim(op.in.h, ls.kernel, ls.stride, ls.padding),
                   out_dim(op.in.w, ls.kernel, ls.stride, ls.padding)};
  }

  void plan_pool(const LayerSpec& ls, Op& op) {
    need3d(op, ls);
    if (ls.kernel < 1) throw_range(layer_param(idx_, "kernel"), "must be >= 1 (got " + std::to_string(ls.kernel) + ")");
    if (ls.stride < 0)
      throw_range(layer_param(idx_, "stride"),
                  "must be >= 1, or 0 for stride = kernel (got " + std::to_string(ls.stride) + ")");
    if (ls.padding != 0)
      throw_range(layer_param(idx_, "padding"),
                  "pools do not support padding; must be 0 (got " + std::to_string(ls.padding) + ")");
    if (ls.kernel > op.in.h || ls.kernel > op.in.w)
      throw_range(layer_param(idx_, "kernel"), "must be <= input height " + std::to_string(op.in.h) + " and width " +
                                                   std::to_string(op.in.w) + " (got " + std::to_string(ls.kernel) +
                                                   ")");
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
    if (ls.stride < 1) throw_range(layer_param(idx_, "stride"), "must be >= 1 (got " + std::to_string(ls.stride) + ")");
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
    // Layouts (see plan.h).
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
};

}  // namespace

void plan_layers(const ModelSpec& spec, Layout& layout, std::vector<Op>* ops) { Planner(layout, ops).run(spec); }

Layout describe(const ModelSpec& spec) {
  Layout L;
  plan_layers(spec, L, nullptr);
  return L;
}

}  // namespace bigstep
