// The HVP engine's layer plan (PlanBuilder: ops from the spec, tensor offsets from the layout) and
// its workspace sizing.
#include "hvp_plan.h"

#include <algorithm>
#include <map>
#include <string>

#include "errors.h"
#include "threads.h"

namespace bigstep::hvp {

namespace {

template <class Vec>
void grow(Vec& v, size_t n) {
  if (v.size() < n) {
    Vec().swap(v);
    v.resize(n);
  }
}

class PlanBuilder {
 public:
  PlanBuilder(const Layout& L, Workspace& plan) : plan_(plan) {
    for (const TensorEntry& e : L.params)
      param_[e.name] = e.offset, plan_.max_tensor = std::max(plan_.max_tensor, e.size);
    for (const TensorEntry& e : L.state) state_[e.name] = e.offset;
  }

  void run(const ModelSpec& spec) {
    Sh cur;
    cur.is3d = spec.input.size() == 3;
    cur.c = spec.input[0];
    if (cur.is3d) cur.h = spec.input[1], cur.w = spec.input[2];
    plan_.in_nhwc = cur.distinct();
    plan_.max_act = cur.size();
    for (size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& ls = spec.layers[i];
      const std::string p = std::to_string(i);
      HOp op;
      op.kind = ls.kind;
      op.in = cur;
      op.first = i == 0;
      switch (ls.kind) {
        case LayerKind::Dense:
          op.w = param(p + ".weight");
          op.b = ls.bias ? param(p + ".bias") : NONE;
          op.out = Sh{false, ls.units, 1, 1};
          op.to_nchw = cur.distinct();
          break;
        case LayerKind::Conv2d:
          op.conv = conv(p, cur, ls.units, ls.kernel, ls.stride, ls.padding, ls.bias);
          op.out = Sh{true, ls.units, op.conv.s.OH, op.conv.s.OW};
          break;
        case LayerKind::MaxPool:
        case LayerKind::AvgPool:
          op.k = ls.kernel;
          op.s = ls.stride == 0 ? ls.kernel : ls.stride;
          op.out = Sh{true, cur.c, (cur.h - op.k) / op.s + 1, (cur.w - op.k) / op.s + 1};
          break;
        case LayerKind::GlobalAvgPool: op.out = Sh{false, cur.c, 1, 1}; break;
        case LayerKind::Flatten:
          op.out = Sh{false, (int)cur.size(), 1, 1};
          op.to_nchw = cur.distinct();
          break;
        case LayerKind::Relu:
        case LayerKind::Tanh:
        case LayerKind::Gelu: op.out = cur; break;
        case LayerKind::BatchNorm:
          op.out = cur;
          op.bn = bn(p, cur.c);
          break;
        case LayerKind::ResBlock: {
          op.use_bn = ls.batchnorm;
          const bool bias = ls.bias && !ls.batchnorm;
          op.c1 = conv(p + ".conv1", cur, ls.units, 3, ls.stride, 1, bias);
          const Sh mid{true, ls.units, op.c1.s.OH, op.c1.s.OW};
          op.c2 = conv(p + ".conv2", mid, ls.units, 3, 1, 1, bias);
          op.proj = ls.stride != 1 || cur.c != ls.units;
          if (op.proj) op.cs = conv(p + ".shortcut", cur, ls.units, 1, ls.stride, 0, bias);
          if (op.use_bn) {
            op.bn1 = bn(p + ".bn1", ls.units);
            op.bn2 = bn(p + ".bn2", ls.units);
            if (op.proj) op.bns = bn(p + ".shortcut_bn", ls.units);
          }
          op.out = mid;
          break;
        }
      }
      plan_.max_act = std::max(plan_.max_act, op.out.size());
      cur = op.out;
      plan_.ops.push_back(std::move(op));
    }
    plan_.out_nhwc = cur.distinct();
  }

 private:
  Workspace& plan_;
  std::map<std::string, size_t> param_, state_;

  size_t param(const std::string& name) const {
    auto it = param_.find(name);
    if (it == param_.end()) throw_range("spec", "internal: the layout has no parameter \"" + name + "\"");
    return it->second;
  }
  size_t state(const std::string& name) const {
    auto it = state_.find(name);
    if (it == state_.end()) throw_range("spec", "internal: the layout has no state \"" + name + "\"");
    return it->second;
  }

  RConv conv(const std::string& p, const Sh& in, int units, int k, int s, int pad, bool bias) {
    RConv c;
    c.s = ConvShape::make(in.c, in.h, in.w, units, k, s, pad);
    c.w = param(p + ".weight");
    c.b = bias ? param(p + ".bias") : NONE;
    plan_.max_conv_w = std::max(plan_.max_conv_w, c.s.ckk() * (size_t)units);
    return c;
  }

  RBn bn(const std::string& p, int C) {
    RBn b;
    b.C = C;
    b.g = param(p + ".weight");
    b.b = param(p + ".bias");
    b.rm = state(p + ".running_mean");
    b.rv = state(p + ".running_var");
    b.mean.assign(C, 0.0f);
    b.invstd.assign(C, 1.0f);
    plan_.max_c = std::max(plan_.max_c, C);
    return b;
  }
};

}  // namespace

void build_plan(const ModelSpec& spec, const Layout& layout, Workspace& ws) { PlanBuilder(layout, ws).run(spec); }

void Workspace::ensure(int n) {
  if (n > cap) {
    key.valid = false;  // the buffers holding the kept primal pass are replaced
    for (HOp& op : ops) {
      const size_t no = (size_t)n * op.out.size();
      grow(op.y, no), grow(op.ry, no), grow(op.gy, no);
      if (op.to_nchw) grow(op.xt, (size_t)n * op.in.size()), grow(op.rxt, (size_t)n * op.in.size());
      if (op.kind == LayerKind::ResBlock) {
        for (auto* v : {&op.h1, &op.rh1, &op.rz1, &op.gm, &op.d1}) grow(*v, no);
        if (op.use_bn)
          for (auto* v : {&op.z1, &op.z2, &op.rz2, &op.d2, &op.d1b}) grow(*v, no);
        else
          grow(op.rz2, no);
        if (op.proj) grow(op.sr, no), grow(op.rsr, no);
        if (op.proj && op.use_bn) grow(op.sb, no), grow(op.rsb, no), grow(op.ds, no);
      }
    }
    const size_t a = (size_t)n * max_act;
    for (auto* v : {&rg0, &rg1, &rt0, &rt1, &ftmp, &zeros}) grow(*v, a);
    std::fill(zeros.begin(), zeros.end(), 0.0f);
    if (in_nhwc) grow(xin, a);
    if (out_nhwc) grow(out_nchw, (size_t)n * ops.back().out.size()), grow(rout_nchw, (size_t)n * ops.back().out.size());
    cap = n;
    scratch_threads = 0;
  }
  if (scratch_threads != compute_threads()) {
    size_t need = 0;
    for (const HOp& op : ops)
      for (const RConv* c : {&op.conv, &op.c1, &op.c2, &op.cs}) {
        if (c->w == NONE) continue;
        need = std::max({need, conv2d_nhwc_forward_scratch(cap, c->s), conv2d_nhwc_backward_scratch(cap, c->s)});
      }
    grow(scratch, need);
    scratch_threads = compute_threads();
  }
}

size_t Workspace::floats() const {
  const Workspace& p = *this;  // (read as the engine reads it)
  size_t f = 0;
  for (const auto* v :
       {&p.xin, &p.zeros, &p.rg0, &p.rg1, &p.rt0, &p.rt1, &p.ftmp, &p.out_nchw, &p.rout_nchw, &p.scratch, &p.wtmp,
        &p.wjunk, &p.V, &p.RG, &p.key.params, &p.key.state, &p.key.x, &p.key.values})
    f += v->capacity();
  f += p.key.labels.capacity();
  for (const HOp& op : p.ops)
    for (const auto* v : {&op.y,  &op.ry,  &op.xt, &op.rxt, &op.z1, &op.rz1, &op.h1, &op.rh1, &op.z2,  &op.rz2,
                          &op.sr, &op.rsr, &op.sb, &op.rsb, &op.gy, &op.gm,  &op.d2, &op.d1,  &op.d1b, &op.ds})
      f += v->capacity();
  return f;
}

}  // namespace bigstep::hvp
