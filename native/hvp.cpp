// HvpEngine: forward-over-reverse through the layer graph (formulas in hvp_kernels.h).
//
// Per chunk of N examples, for the parameter direction V (float copy of v):
//   forward:  every layer computes its output y and its tangent ry = R{y} (the input's tangent is 0);
//   loss:     dout and rdout = R{dout};
//   backward: every layer maps (dy, rdy) to (dx, rdx) and writes R{dθ} of its parameters into RG.
// H·v of the chunk's mean loss is RG; the chunks are summed into the double output with weights
// N/n. Bilinear layers use the ordinary kernels on tangents: for y = W·x + b,
//   ry = W·rx + V_W·x + V_b,  rdx = Wᵀ·rdy + V_Wᵀ·dy,  R{dW} = rdy·xᵀ + dy·rxᵀ,  R{db} = Σ rdy.
// Layout: every 3-d activation is channels-last (the network's NCHW input is transposed once; a
// dense / flatten on a 3-d input transposes back to PyTorch's flatten order), as in native/model.cpp.
#include "hvp.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "errors.h"
#include "gemm.h"
#include "hvp_kernels.h"
#include "kernels.h"
#include "conv.h"
#include "pool.h"
#include "batchnorm.h"
#include "transpose.h"
#include "threads.h"

namespace bigstep {

namespace {

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
};

template <class Vec>
void grow(Vec& v, size_t n) {
  if (v.size() < n) {
    Vec().swap(v);
    v.resize(n);
  }
}

}  // namespace

struct HvpPlan {
  std::vector<HOp> ops;
  size_t max_act = 0, max_tensor = 0, max_conv_w = 0;
  int max_c = 1, cap = 0, scratch_threads = 0;
  bool in_nhwc = false, out_nhwc = false;
  std::vector<float> xin, zeros, g0, g1, rg0, rg1, t0, t1, rt0, rt1, ftmp, out_nchw, rout_nchw;
  std::vector<float> scratch, wtmp, wjunk, V, RG;
  // this call's parameters and direction
  const float* P = nullptr;
  const float* S = nullptr;
  const float* Vp = nullptr;
  float* RGp = nullptr;
  int N = 0;
  bool training = false;

  void ensure(int n) {
    if (n > cap) {
      for (HOp& op : ops) {
        const size_t no = (size_t)n * op.out.size();
        grow(op.y, no), grow(op.ry, no);
        if (op.to_nchw) grow(op.xt, (size_t)n * op.in.size()), grow(op.rxt, (size_t)n * op.in.size());
        if (op.kind == LayerKind::ResBlock) {
          for (auto* v : {&op.h1, &op.rh1, &op.rz1}) grow(*v, no);
          if (op.use_bn)
            for (auto* v : {&op.z1, &op.z2, &op.rz2}) grow(*v, no);
          else
            grow(op.rz2, no);
          if (op.proj) grow(op.sr, no), grow(op.rsr, no);
          if (op.proj && op.use_bn) grow(op.sb, no), grow(op.rsb, no);
        }
      }
      const size_t a = (size_t)n * max_act;
      for (auto* v : {&g0, &g1, &rg0, &rg1, &t0, &t1, &rt0, &rt1, &ftmp, &zeros}) grow(*v, a);
      std::fill(zeros.begin(), zeros.end(), 0.0f);
      if (in_nhwc) grow(xin, a);
      if (out_nhwc)
        grow(out_nchw, (size_t)n * ops.back().out.size()), grow(rout_nchw, (size_t)n * ops.back().out.size());
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

  // ---- bilinear layers -----------------------------------------------------------------------

  // r[N, out] = conv(rx, W) + conv(x, V_W) + V_b (+ residual); rx is zero when first.
  void conv_rop_forward(float* r, const RConv& c, const float* x, const float* rx, bool first,
                        const float* residual = nullptr) {
    const float* vb = c.b == NONE ? nullptr : Vp + c.b;
    if (first) {
      conv2d_nhwc_forward(r, x, Vp + c.w, vb, N, c.s, false, scratch.data(), residual);
      return;
    }
    conv2d_nhwc_forward(ftmp.data(), rx, P + c.w, nullptr, N, c.s, false, scratch.data(), residual);
    conv2d_nhwc_forward(r, x, Vp + c.w, vb, N, c.s, false, scratch.data(), ftmp.data());
  }

  // dx = convT(dy, W), rdx = convT(rdy, W) + convT(dy, V_W) (each null if not needed; stored, or
  // accumulated into when acc; zeroed where mask <= 0); R{dW} = corr(rdy, x) + corr(dy, rx), R{db} = Σ rdy.
  void conv_rop_backward(const RConv& c, float* dx, float* rdx, const float* dy, const float* rdy, const float* x,
                         const float* rx, bool first, bool acc, const float* mask = nullptr) {
    const size_t wn = c.s.ckk() * (size_t)c.s.O;
    if (!first) conv2d_nhwc_backward(dx, wtmp.data(), nullptr, dy, rx, P + c.w, N, c.s, acc, scratch.data(), mask);
    conv2d_nhwc_backward(rdx, RGp + c.w, c.b == NONE ? nullptr : RGp + c.b, rdy, x, P + c.w, N, c.s, acc,
                         scratch.data(), mask);
    if (!first)
      for (size_t i = 0; i < wn; ++i) RGp[c.w + i] += wtmp[i];
    if (rdx) conv2d_nhwc_backward(rdx, nullptr, nullptr, dy, x, Vp + c.w, N, c.s, true, scratch.data(), mask);
  }

  // ---- batch norm ------------------------------------------------------------------------------

  void bn_forward(RBn& bn, float* y, float* ry, const float* x, const float* rx, int HW) {
    const float* g = P + bn.g;
    if (training) {
      batchnorm_nhwc_forward_train(y, x, g, P + bn.b, N, bn.C, HW, nullptr, nullptr, bn.mean.data(), bn.invstd.data());
    } else {
      batchnorm_nhwc_forward_eval(y, x, g, P + bn.b, N, bn.C, HW, S + bn.rm, S + bn.rv, bn.mean.data(),
                                  bn.invstd.data());
    }
    batchnorm_rop_forward(ry, x, rx, g, Vp + bn.g, Vp + bn.b, bn.mean.data(), bn.invstd.data(), (size_t)N * HW, bn.C,
                          training);
  }

  void bn_backward(RBn& bn, float* dx, float* rdx, const float* dy, const float* rdy, const float* x, const float* rx,
                   int HW) {
    batchnorm_rop_backward(rdx, RGp + bn.g, RGp + bn.b, dy, rdy, x, rx, P + bn.g, Vp + bn.g, bn.mean.data(),
                           bn.invstd.data(), (size_t)N * HW, bn.C, training);
    if (dx)
      batchnorm_nhwc_backward(dx, wjunk.data(), wjunk.data() + max_c, dy, x, P + bn.g, bn.mean.data(), bn.invstd.data(),
                              N, bn.C, HW, training);
  }

  // ---- forward -----------------------------------------------------------------------------------

  // Returns the output (NCHW) and its tangent in *rout.
  const float* forward(const float* x, const float** rout) {
    const float* cur = x;
    const float* rcur = zeros.data();
    if (in_nhwc) {
      const HOp& f = ops.front();
      nchw_to_nhwc(xin.data(), x, N, f.in.c, f.in.hw());
      cur = xin.data();
    }
    for (HOp& op : ops) {
      op.x = cur, op.rx = rcur;
      float* y = op.y.data();
      float* ry = op.ry.data();
      const size_t no = (size_t)N * op.out.size();
      const int HW = op.in.hw();
      op.yp = y, op.ryp = ry;
      switch (op.kind) {
        case LayerKind::Dense: {
          const int I = (int)op.in.size(), O = op.out.c;
          if (op.to_nchw) {
            nhwc_to_nchw(op.xt.data(), cur, N, op.in.c, HW);
            nhwc_to_nchw(op.rxt.data(), rcur, N, op.in.c, HW);
            op.x = op.xt.data(), op.rx = op.rxt.data();
          }
          dense_forward(y, op.x, P + op.w, op.b == NONE ? nullptr : P + op.b, N, I, O, false);
          dense_forward(ry, op.x, Vp + op.w, op.b == NONE ? nullptr : Vp + op.b, N, I, O, false);
          if (!op.first) sgemm(false, true, N, O, I, 1.0f, op.rx, I, P + op.w, I, 1.0f, ry, O);
          break;
        }
        case LayerKind::Conv2d:
          conv2d_nhwc_forward(y, cur, P + op.conv.w, op.conv.b == NONE ? nullptr : P + op.conv.b, N, op.conv.s, false,
                              scratch.data());
          conv_rop_forward(ry, op.conv, cur, rcur, op.first);
          break;
        case LayerKind::MaxPool:
          maxpool_nhwc_forward(y, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          maxpool_nhwc_rop_forward(ry, rcur, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::AvgPool:
          avgpool_nhwc_forward(y, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          avgpool_nhwc_forward(ry, rcur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::GlobalAvgPool:
          global_avgpool_nhwc_forward(y, cur, N, op.in.c, HW);
          global_avgpool_nhwc_forward(ry, rcur, N, op.in.c, HW);
          break;
        case LayerKind::Flatten:
          if (op.to_nchw) {
            nhwc_to_nchw(y, cur, N, op.in.c, HW);
            nhwc_to_nchw(ry, rcur, N, op.in.c, HW);
          } else {
            op.yp = cur, op.ryp = rcur;
          }
          break;
        case LayerKind::Relu:
          relu_forward(y, cur, no);
          relu_backward(ry, rcur, y, no);  // ry = 1[y > 0]·rx
          break;
        case LayerKind::Tanh:
          tanh_forward(y, cur, no);
          tanh_backward(ry, rcur, y, no);  // ry = (1 - y²)·rx
          break;
        case LayerKind::Gelu:
          gelu_forward(y, cur, no);
          gelu_backward(ry, rcur, cur, no);  // ry = g'(x)·rx
          break;
        case LayerKind::BatchNorm: bn_forward(op.bn, y, ry, cur, rcur, HW); break;
        case LayerKind::ResBlock: resblock_forward(op, y, ry, cur, rcur); break;
      }
      cur = op.yp, rcur = op.ryp;
    }
    if (out_nhwc) {
      const HOp& last = ops.back();
      nhwc_to_nchw(out_nchw.data(), cur, N, last.out.c, last.out.hw());
      nhwc_to_nchw(rout_nchw.data(), rcur, N, last.out.c, last.out.hw());
      *rout = rout_nchw.data();
      return out_nchw.data();
    }
    *rout = rcur;
    return cur;
  }

  void resblock_forward(HOp& op, float* out, float* rout, const float* x, const float* rx) {
    const size_t n = (size_t)N * op.out.size();
    const int HW = op.out.hw();
    const float* sc = x;
    const float* rsc = rx;
    if (op.proj) {
      conv2d_nhwc_forward(op.sr.data(), x, P + op.cs.w, op.cs.b == NONE ? nullptr : P + op.cs.b, N, op.cs.s, false,
                          scratch.data());
      conv_rop_forward(op.rsr.data(), op.cs, x, rx, op.first);
      sc = op.sr.data(), rsc = op.rsr.data();
      if (op.use_bn) {
        bn_forward(op.bns, op.sb.data(), op.rsb.data(), op.sr.data(), op.rsr.data(), HW);
        sc = op.sb.data(), rsc = op.rsb.data();
      }
    }
    const float* b1 = op.c1.b == NONE ? nullptr : P + op.c1.b;
    const float* b2 = op.c2.b == NONE ? nullptr : P + op.c2.b;
    if (!op.use_bn) {
      // h1 = relu(conv1 x + b1); out = relu(conv2 h1 + b2 + shortcut)
      conv2d_nhwc_forward(op.h1.data(), x, P + op.c1.w, b1, N, op.c1.s, true, scratch.data());
      conv_rop_forward(op.rz1.data(), op.c1, x, rx, op.first);
      relu_backward(op.rh1.data(), op.rz1.data(), op.h1.data(), n);
      conv2d_nhwc_forward(out, op.h1.data(), P + op.c2.w, b2, N, op.c2.s, true, scratch.data(), sc);
      conv_rop_forward(op.rz2.data(), op.c2, op.h1.data(), op.rh1.data(), false, rsc);
      relu_backward(rout, op.rz2.data(), out, n);
      return;
    }
    // z1 = conv1 x; h1 = relu(bn1 z1); z2 = conv2 h1; out = relu(bn2 z2 + shortcut)
    conv2d_nhwc_forward(op.z1.data(), x, P + op.c1.w, nullptr, N, op.c1.s, false, scratch.data());
    conv_rop_forward(op.rz1.data(), op.c1, x, rx, op.first);
    bn_forward(op.bn1, op.h1.data(), op.rh1.data(), op.z1.data(), op.rz1.data(), HW);
    relu_forward(op.h1.data(), op.h1.data(), n);
    relu_backward(op.rh1.data(), op.rh1.data(), op.h1.data(), n);
    conv2d_nhwc_forward(op.z2.data(), op.h1.data(), P + op.c2.w, nullptr, N, op.c2.s, false, scratch.data());
    conv_rop_forward(op.rz2.data(), op.c2, op.h1.data(), op.rh1.data(), false);
    bn_forward(op.bn2, out, rout, op.z2.data(), op.rz2.data(), HW);
    for (size_t i = 0; i < n; ++i) {
      out[i] = std::max(out[i] + sc[i], 0.0f);
      rout[i] = out[i] > 0.0f ? rout[i] + rsc[i] : 0.0f;
    }
  }

  // ---- backward ----------------------------------------------------------------------------------

  // (g0, rg0) hold (dout, rdout) on entry; RG receives R{dθ}.
  void backward() {
    float *g = g0.data(), *rg = rg0.data();
    for (size_t i = ops.size(); i-- > 0;) {
      HOp& op = ops[i];
      const bool need_dx = i > 0;
      float* o = g == g0.data() ? g1.data() : g0.data();
      float* ro = rg == rg0.data() ? rg1.data() : rg0.data();
      const size_t no = (size_t)N * op.out.size();
      const int HW = op.in.hw();
      bool swap = true;
      switch (op.kind) {
        case LayerKind::Dense: {
          const int I = (int)op.in.size(), O = op.out.c;
          sgemm(true, false, O, I, N, 1.0f, rg, O, op.x, I, 0.0f, RGp + op.w, I);
          if (!op.first) sgemm(true, false, O, I, N, 1.0f, g, O, op.rx, I, 1.0f, RGp + op.w, I);
          if (op.b != NONE) column_sums(RGp + op.b, rg, (size_t)N, O);
          if (!need_dx) break;
          sgemm(false, false, N, I, O, 1.0f, g, O, P + op.w, I, 0.0f, o, I);
          sgemm(false, false, N, I, O, 1.0f, rg, O, P + op.w, I, 0.0f, ro, I);
          sgemm(false, false, N, I, O, 1.0f, g, O, Vp + op.w, I, 1.0f, ro, I);
          if (op.to_nchw) {  // back to channels-last, into the buffers just freed
            nchw_to_nhwc(g, o, N, op.in.c, HW);
            nchw_to_nhwc(rg, ro, N, op.in.c, HW);
            swap = false;
          }
          break;
        }
        case LayerKind::Conv2d:
          conv_rop_backward(op.conv, need_dx ? o : nullptr, need_dx ? ro : nullptr, g, rg, op.x, op.rx, op.first,
                            false);
          break;
        case LayerKind::MaxPool:
          if (need_dx) {
            maxpool_nhwc_backward(o, g, op.x, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
            maxpool_nhwc_backward(ro, rg, op.x, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          }
          break;
        case LayerKind::AvgPool:
          if (need_dx) {
            avgpool_nhwc_backward(o, g, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
            avgpool_nhwc_backward(ro, rg, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          }
          break;
        case LayerKind::GlobalAvgPool:
          if (need_dx) {
            global_avgpool_nhwc_backward(o, g, N, op.in.c, HW);
            global_avgpool_nhwc_backward(ro, rg, N, op.in.c, HW);
          }
          break;
        case LayerKind::Flatten:
          if (op.to_nchw && need_dx) {
            nchw_to_nhwc(o, g, N, op.in.c, HW);
            nchw_to_nhwc(ro, rg, N, op.in.c, HW);
          } else {
            swap = false;
          }
          break;
        case LayerKind::Relu:
          relu_backward(rg, rg, op.yp, no);
          relu_backward(g, g, op.yp, no);
          swap = false;
          break;
        case LayerKind::Tanh:
          tanh_rop_backward(rg, g, rg, op.yp, op.ryp, no);
          tanh_backward(g, g, op.yp, no);
          swap = false;
          break;
        case LayerKind::Gelu:
          gelu_rop_backward(rg, g, rg, op.x, op.rx, no);
          gelu_backward(g, g, op.x, no);
          swap = false;
          break;
        case LayerKind::BatchNorm: bn_backward(op.bn, need_dx ? o : nullptr, ro, g, rg, op.x, op.rx, HW); break;
        case LayerKind::ResBlock: resblock_backward(op, need_dx ? o : nullptr, need_dx ? ro : nullptr, g, rg); break;
      }
      if (swap) g = o, rg = ro;
    }
  }

  // g, rg: d(loss)/d(block output) and its R (overwritten); dx, rdx: for the block input, or null.
  void resblock_backward(HOp& op, float* dx, float* rdx, float* g, float* rg) {
    const size_t n = (size_t)N * op.out.size();
    const int HW = op.out.hw();
    relu_backward(rg, rg, op.yp, n);  // now d/d(main + shortcut)
    relu_backward(g, g, op.yp, n);
    const float* d2 = g;
    const float* rd2 = rg;
    if (op.use_bn) {
      bn_backward(op.bn2, t1.data(), rt1.data(), g, rg, op.z2.data(), op.rz2.data(), HW);
      d2 = t1.data(), rd2 = rt1.data();
    }
    // d/d(conv1 output, through bn1 when present): conv2's din through the relu (mask h1).
    conv_rop_backward(op.c2, t0.data(), rt0.data(), d2, rd2, op.h1.data(), op.rh1.data(), false, false, op.h1.data());
    const float* d1 = t0.data();
    const float* rd1 = rt0.data();
    if (op.use_bn) {
      bn_backward(op.bn1, t1.data(), rt1.data(), t0.data(), rt0.data(), op.z1.data(), op.rz1.data(), HW);
      d1 = t1.data(), rd1 = rt1.data();
    }
    conv_rop_backward(op.c1, dx, rdx, d1, rd1, op.x, op.rx, op.first, false);
    if (op.proj) {
      const float* ds = g;
      const float* rds = rg;
      if (op.use_bn) {
        bn_backward(op.bns, t1.data(), rt1.data(), g, rg, op.sr.data(), op.rsr.data(), HW);
        ds = t1.data(), rds = rt1.data();
      }
      conv_rop_backward(op.cs, dx, rdx, ds, rds, op.x, op.rx, op.first, true);
    } else if (dx) {
      for (size_t i = 0; i < n; ++i) dx[i] += g[i], rdx[i] += rg[i];
    }
  }
};

// ---- plan -----------------------------------------------------------------------------------------

namespace {

class PlanBuilder {
 public:
  PlanBuilder(const Layout& L, HvpPlan& plan) : plan_(plan) {
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
  HvpPlan& plan_;
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

HvpEngine::HvpEngine(const ModelSpec& spec, const Layout& layout) : spec_(spec), layout_(layout), plan_(new HvpPlan) {
  PlanBuilder(layout_, *plan_).run(spec_);
  HvpPlan& p = *plan_;
  p.wtmp.resize(std::max<size_t>(p.max_conv_w, 1));
  p.wjunk.resize((size_t)2 * p.max_c);  // batch norm's unused dgamma, dbeta
  p.V.resize(layout_.param_count);
  p.RG.resize(layout_.param_count);
}

HvpEngine::~HvpEngine() = default;

void HvpEngine::begin(const float* params, const float* state, const double* v, int chunk, bool training) {
  const size_t P = layout_.param_count;
  if (chunk < 1) throw_range("chunk", "must be >= 1 (got " + std::to_string(chunk) + ")");
  if (!params || !v) throw_range("params", "params, x, v and out must not be null");
  if (layout_.state_count && !state) throw_range("state", "must not be null: this model has batch-norm state");
  if (!all_finite(params, P)) throw_range("params", "must be finite: the model's parameters contain NaN or Infinity");
  HvpPlan& p = *plan_;
  for (size_t i = 0; i < P; ++i) p.V[i] = (float)v[i];
  if (!all_finite(p.V.data(), P)) throw_range("v", "must be finite and within float range");
  p.ensure(chunk);
  p.P = params, p.S = state, p.Vp = p.V.data(), p.RGp = p.RG.data(), p.training = training;
  chunk_ = chunk;
}

double HvpEngine::chunk(const float* x, const Target& y, int N) {
  if (N < 1 || N > chunk_)
    throw_range("N", "must be in [1, " + std::to_string(chunk_) + "] (got " + std::to_string(N) + ")");
  if (!x) throw_range("params", "params, x, v and out must not be null");
  HvpPlan& p = *plan_;
  const size_t D = layout_.output_size;
  p.N = N;
  const float* rout = nullptr;
  const float* o = p.forward(x, &rout);
  // The loss sees NCHW outputs; a channels-last 3-d output gets its gradients transposed back.
  float* dout = p.out_nhwc ? p.g1.data() : p.g0.data();
  float* rdout = p.out_nhwc ? p.rg1.data() : p.rg0.data();
  double loss;
  if (spec_.loss == LossKind::SoftmaxCrossEntropy) {
    loss = softmax_ce(dout, o, y.labels, N, (int)D, (float)(1.0 / N), nullptr);
    softmax_ce_rop(rdout, o, rout, N, (int)D, (float)(1.0 / N));
  } else {
    const float scale = (float)(1.0 / ((double)N * D));
    loss = mse(dout, o, y.values, (size_t)N * D, scale) / (double)D;
    mse_rop(rdout, rout, (size_t)N * D, scale);
  }
  if (p.out_nhwc) {
    const HOp& last = p.ops.back();
    nchw_to_nhwc(p.g0.data(), dout, N, last.out.c, last.out.hw());
    nchw_to_nhwc(p.rg0.data(), rdout, N, last.out.c, last.out.hw());
  }
  p.backward();
  return loss;
}

const float* HvpEngine::chunk_hv() const { return plan_->RG.data(); }

double HvpEngine::product(const float* params, const float* state, const float* x, const Target& y, int n, int chunk,
                          const double* v, double* out, bool training) {
  const size_t P = layout_.param_count;
  if (n < 1) throw_range("n", "must be >= 1 (got " + std::to_string(n) + ")");
  if (chunk < 1) throw_range("chunk", "must be >= 1 (got " + std::to_string(chunk) + ")");
  if (!params || !x || !v || !out) throw_range("params", "params, x, v and out must not be null");
  const int C = std::min(chunk, n);
  begin(params, state, v, C, training);
  std::fill(out, out + P, 0.0);
  const size_t D = layout_.output_size, I = layout_.input_size;
  double loss = 0;
  for (int start = 0; start < n; start += C) {
    const int N = std::min(C, n - start);
    const Target yc = y.labels ? Target{y.labels + start, nullptr} : Target{nullptr, y.values + (size_t)start * D};
    loss += this->chunk(x + (size_t)start * I, yc, N);
    const double w = (double)N / n;
    const float* rg = chunk_hv();
    for (size_t i = 0; i < P; ++i) out[i] += w * rg[i];
  }
  return loss / n;
}

size_t HvpEngine::workspace_bytes() const {
  const HvpPlan& p = *plan_;
  size_t f = 0;
  for (const auto* v : {&p.xin, &p.zeros, &p.g0, &p.g1, &p.rg0, &p.rg1, &p.t0, &p.t1, &p.rt0, &p.rt1, &p.ftmp,
                        &p.out_nchw, &p.rout_nchw, &p.scratch, &p.wtmp, &p.wjunk, &p.V, &p.RG})
    f += v->capacity();
  for (const HOp& op : p.ops)
    for (const auto* v : {&op.y, &op.ry, &op.xt, &op.rxt, &op.z1, &op.rz1, &op.h1, &op.rh1, &op.z2, &op.rz2, &op.sr,
                          &op.rsr, &op.sb, &op.rsb})
      f += v->capacity();
  return f * sizeof(float);
}

}  // namespace bigstep
