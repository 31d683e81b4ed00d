// HvpEngine: forward-over-reverse through the layer graph (formulas in hvp_kernels.h).
//
// Per chunk of N examples, for the parameter direction V (float copy of v), two passes each way:
//   primal:   the forward pass (every layer's output y), the loss gradient dout and the backward
//             pass of ordinary gradients dy, stored per layer. They depend on θ and the data only;
//   tangent:  every layer's ry = R{y} (the input's tangent is 0), rdout = R{dout}, and backwards
//             every layer maps rdy to rdx and writes R{dθ} of its parameters into RG.
// H·v of the chunk's mean loss is RG; the chunks are summed into the double output with weights
// N/n. Bilinear layers use the ordinary kernels on tangents: for y = W·x + b,
//   ry = W·rx + V_W·x + V_b,  rdx = Wᵀ·rdy + V_Wᵀ·dy,  R{dW} = rdy·xᵀ + dy·rxᵀ,  R{db} = Σ rdy.
// When all n examples fit one chunk, the primal pass is kept and reused by the next product at the
// same θ, state, data and thread count (compared bit for bit against a copy): an eigen solver's
// products then run the tangent pass alone, with results identical to a fresh computation.
// Layout: every 3-d activation is channels-last (the network's NCHW input is transposed once; a
// dense / flatten on a 3-d input transposes back to PyTorch's flatten order), as in native/model.cpp.
#include "hvp.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "gemm.h"
#include "hvp_kernels.h"
#include "hvp_plan.h"
#include "kernels.h"
#include "conv.h"
#include "pool.h"
#include "batchnorm.h"
#include "transpose.h"
#include "threads.h"

namespace bigstep {

using namespace hvp;

// The forward and backward passes over the workspace (formulas at the top of this file).
struct HvpPlan : Workspace {
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

  // rdx = convT(rdy, W) + convT(dy, V_W) (if non-null; stored, or accumulated into when acc; zeroed
  // where mask <= 0); R{dW} = corr(rdy, x) + corr(dy, rx), R{db} = Σ rdy. dy is the primal gradient.
  void conv_rop_backward(const RConv& c, float* rdx, const float* dy, const float* rdy, const float* x, const float* rx,
                         bool first, bool acc, const float* mask = nullptr) {
    const size_t wn = c.s.ckk() * (size_t)c.s.O;
    if (!first) conv2d_nhwc_backward(nullptr, wtmp.data(), nullptr, dy, rx, P + c.w, N, c.s, false, scratch.data());
    conv2d_nhwc_backward(rdx, RGp + c.w, c.b == NONE ? nullptr : RGp + c.b, rdy, x, P + c.w, N, c.s, acc,
                         scratch.data(), mask);
    if (!first)
      for (size_t i = 0; i < wn; ++i) RGp[c.w + i] += wtmp[i];
    if (rdx) conv2d_nhwc_backward(rdx, nullptr, nullptr, dy, x, Vp + c.w, N, c.s, true, scratch.data(), mask);
  }

  // dx = convT(dy, W) (stored, or accumulated into when acc; zeroed where mask <= 0).
  void conv_input_grad(const RConv& c, float* dx, const float* dy, const float* x, bool acc,
                       const float* mask = nullptr) {
    conv2d_nhwc_backward(dx, nullptr, nullptr, dy, x, P + c.w, N, c.s, acc, scratch.data(), mask);
  }

  // ---- batch norm ------------------------------------------------------------------------------

  // y = bn(x) with batch (training) or running statistics, which it leaves in bn.mean / bn.invstd.
  void bn_forward(RBn& bn, float* y, const float* x, int HW) {
    if (training)
      batchnorm_nhwc_forward_train(y, x, P + bn.g, P + bn.b, N, bn.C, HW, nullptr, nullptr, bn.mean.data(),
                                   bn.invstd.data());
    else
      batchnorm_nhwc_forward_eval(y, x, P + bn.g, P + bn.b, N, bn.C, HW, S + bn.rm, S + bn.rv, bn.mean.data(),
                                  bn.invstd.data());
  }
  void bn_rop_forward(const RBn& bn, float* ry, const float* x, const float* rx, int HW) {
    batchnorm_rop_forward(ry, x, rx, P + bn.g, Vp + bn.g, Vp + bn.b, bn.mean.data(), bn.invstd.data(), (size_t)N * HW,
                          bn.C, training);
  }
  void bn_input_grad(const RBn& bn, float* dx, const float* dy, const float* x, int HW) {
    batchnorm_nhwc_backward(dx, wjunk.data(), wjunk.data() + max_c, dy, x, P + bn.g, bn.mean.data(), bn.invstd.data(),
                            N, bn.C, HW, training);
  }
  void bn_rop_backward(const RBn& bn, float* rdx, const float* dy, const float* rdy, const float* x, const float* rx,
                       int HW) {
    batchnorm_rop_backward(rdx, RGp + bn.g, RGp + bn.b, dy, rdy, x, rx, P + bn.g, Vp + bn.g, bn.mean.data(),
                           bn.invstd.data(), (size_t)N * HW, bn.C, training);
  }

  // ---- forward -----------------------------------------------------------------------------------

  // The tangent pass, and the primal one first in each layer when `primal` (else the kept outputs
  // are read). Returns the output (NCHW) and its tangent in *rout.
  const float* forward(const float* x, bool primal, const float** rout) {
    const float* cur = x;
    const float* rcur = zeros.data();
    if (in_nhwc) {
      const HOp& f = ops.front();
      if (primal) nchw_to_nhwc(xin.data(), x, N, f.in.c, f.in.hw());
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
            if (primal) nhwc_to_nchw(op.xt.data(), cur, N, op.in.c, HW);
            if (!op.first) nhwc_to_nchw(op.rxt.data(), rcur, N, op.in.c, HW);
            op.x = op.xt.data(), op.rx = op.rxt.data();
          }
          if (primal) dense_forward(y, op.x, P + op.w, op.b == NONE ? nullptr : P + op.b, N, I, O, false);
          dense_forward(ry, op.x, Vp + op.w, op.b == NONE ? nullptr : Vp + op.b, N, I, O, false);
          if (!op.first) sgemm(false, true, N, O, I, 1.0f, op.rx, I, P + op.w, I, 1.0f, ry, O);
          break;
        }
        case LayerKind::Conv2d:
          if (primal)
            conv2d_nhwc_forward(y, cur, P + op.conv.w, op.conv.b == NONE ? nullptr : P + op.conv.b, N, op.conv.s, false,
                                scratch.data());
          conv_rop_forward(ry, op.conv, cur, rcur, op.first);
          break;
        case LayerKind::MaxPool:
          if (primal) maxpool_nhwc_forward(y, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          maxpool_nhwc_rop_forward(ry, rcur, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::AvgPool:
          if (primal) avgpool_nhwc_forward(y, cur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          avgpool_nhwc_forward(ry, rcur, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::GlobalAvgPool:
          if (primal) global_avgpool_nhwc_forward(y, cur, N, op.in.c, HW);
          global_avgpool_nhwc_forward(ry, rcur, N, op.in.c, HW);
          break;
        case LayerKind::Flatten:
          if (op.to_nchw) {
            if (primal) nhwc_to_nchw(y, cur, N, op.in.c, HW);
            nhwc_to_nchw(ry, rcur, N, op.in.c, HW);
          } else {
            op.yp = cur, op.ryp = rcur;
          }
          break;
        case LayerKind::Relu:
          if (primal) relu_forward(y, cur, no);
          relu_backward(ry, rcur, y, no);  // ry = 1[y > 0]·rx
          break;
        case LayerKind::Tanh:
          if (primal) tanh_forward(y, cur, no);
          tanh_backward(ry, rcur, y, no);  // ry = (1 - y²)·rx
          break;
        case LayerKind::Gelu:
          if (primal) gelu_forward(y, cur, no);
          gelu_backward(ry, rcur, cur, no);  // ry = g'(x)·rx
          break;
        case LayerKind::BatchNorm:
          if (primal) bn_forward(op.bn, y, cur, HW);
          bn_rop_forward(op.bn, ry, cur, rcur, HW);
          break;
        case LayerKind::ResBlock: resblock_forward(op, y, ry, cur, rcur, primal); break;
      }
      cur = op.yp, rcur = op.ryp;
    }
    if (out_nhwc) {
      const HOp& last = ops.back();
      if (primal) nhwc_to_nchw(out_nchw.data(), cur, N, last.out.c, last.out.hw());
      nhwc_to_nchw(rout_nchw.data(), rcur, N, last.out.c, last.out.hw());
      *rout = rout_nchw.data();
      return out_nchw.data();
    }
    *rout = rcur;
    return cur;
  }

  void resblock_forward(HOp& op, float* out, float* rout, const float* x, const float* rx, bool primal) {
    const size_t n = (size_t)N * op.out.size();
    const int HW = op.out.hw();
    const float* sc = x;
    const float* rsc = rx;
    if (op.proj) {
      if (primal)
        conv2d_nhwc_forward(op.sr.data(), x, P + op.cs.w, op.cs.b == NONE ? nullptr : P + op.cs.b, N, op.cs.s, false,
                            scratch.data());
      conv_rop_forward(op.rsr.data(), op.cs, x, rx, op.first);
      sc = op.sr.data(), rsc = op.rsr.data();
      if (op.use_bn) {
        if (primal) bn_forward(op.bns, op.sb.data(), op.sr.data(), HW);
        bn_rop_forward(op.bns, op.rsb.data(), op.sr.data(), op.rsr.data(), HW);
        sc = op.sb.data(), rsc = op.rsb.data();
      }
    }
    const float* b1 = op.c1.b == NONE ? nullptr : P + op.c1.b;
    const float* b2 = op.c2.b == NONE ? nullptr : P + op.c2.b;
    if (!op.use_bn) {
      // h1 = relu(conv1 x + b1); out = relu(conv2 h1 + b2 + shortcut)
      if (primal) conv2d_nhwc_forward(op.h1.data(), x, P + op.c1.w, b1, N, op.c1.s, true, scratch.data());
      conv_rop_forward(op.rz1.data(), op.c1, x, rx, op.first);
      relu_backward(op.rh1.data(), op.rz1.data(), op.h1.data(), n);
      if (primal) conv2d_nhwc_forward(out, op.h1.data(), P + op.c2.w, b2, N, op.c2.s, true, scratch.data(), sc);
      conv_rop_forward(op.rz2.data(), op.c2, op.h1.data(), op.rh1.data(), false, rsc);
      relu_backward(rout, op.rz2.data(), out, n);
      return;
    }
    // z1 = conv1 x; h1 = relu(bn1 z1); z2 = conv2 h1; out = relu(bn2 z2 + shortcut)
    if (primal) {
      conv2d_nhwc_forward(op.z1.data(), x, P + op.c1.w, nullptr, N, op.c1.s, false, scratch.data());
      bn_forward(op.bn1, op.h1.data(), op.z1.data(), HW);
      relu_forward(op.h1.data(), op.h1.data(), n);
      conv2d_nhwc_forward(op.z2.data(), op.h1.data(), P + op.c2.w, nullptr, N, op.c2.s, false, scratch.data());
      bn_forward(op.bn2, out, op.z2.data(), HW);
      for (size_t i = 0; i < n; ++i) out[i] = std::max(out[i] + sc[i], 0.0f);
    }
    conv_rop_forward(op.rz1.data(), op.c1, x, rx, op.first);
    bn_rop_forward(op.bn1, op.rh1.data(), op.z1.data(), op.rz1.data(), HW);
    relu_backward(op.rh1.data(), op.rh1.data(), op.h1.data(), n);
    conv_rop_forward(op.rz2.data(), op.c2, op.h1.data(), op.rh1.data(), false);
    bn_rop_forward(op.bn2, rout, op.z2.data(), op.rz2.data(), HW);
    for (size_t i = 0; i < n; ++i) rout[i] = out[i] > 0.0f ? rout[i] + rsc[i] : 0.0f;
  }

  // ---- backward ----------------------------------------------------------------------------------

  // Primal: from ops.back().gy = dout, every op's d(loss)/d(output) into the previous op's gy (and
  // a resblock's internal gradients). Writes no parameter gradient (the tangent pass needs none).
  void backward_primal() {
    ops.back().gyp = ops.back().gy.data();
    for (size_t i = ops.size(); i-- > 0;) {
      HOp& op = ops[i];
      const float* g = op.gyp;
      HOp* prev = i > 0 ? &ops[i - 1] : nullptr;
      float* dx = prev ? prev->gy.data() : nullptr;
      if (prev) prev->gyp = dx;
      const size_t no = (size_t)N * op.out.size();
      const int HW = op.in.hw();
      if (op.kind == LayerKind::ResBlock) {
        resblock_backward_primal(op, dx, g);
        continue;
      }
      if (!dx) break;  // the first op's input gradient: nobody reads it
      switch (op.kind) {
        case LayerKind::Dense: {
          const int I = (int)op.in.size(), O = op.out.c;
          float* to = op.to_nchw ? ftmp.data() : dx;
          sgemm(false, false, N, I, O, 1.0f, g, O, P + op.w, I, 0.0f, to, I);
          if (op.to_nchw) nchw_to_nhwc(dx, to, N, op.in.c, HW);
          break;
        }
        case LayerKind::Conv2d: conv_input_grad(op.conv, dx, g, op.x, false); break;
        case LayerKind::MaxPool: maxpool_nhwc_backward(dx, g, op.x, N, op.in.c, op.in.h, op.in.w, op.k, op.s); break;
        case LayerKind::AvgPool: avgpool_nhwc_backward(dx, g, N, op.in.c, op.in.h, op.in.w, op.k, op.s); break;
        case LayerKind::GlobalAvgPool: global_avgpool_nhwc_backward(dx, g, N, op.in.c, HW); break;
        case LayerKind::Flatten:
          if (op.to_nchw)
            nchw_to_nhwc(dx, g, N, op.in.c, HW);
          else
            prev->gyp = g;  // the output is the input
          break;
        case LayerKind::Relu: relu_backward(dx, g, op.yp, no); break;
        case LayerKind::Tanh: tanh_backward(dx, g, op.yp, no); break;
        case LayerKind::Gelu: gelu_backward(dx, g, op.x, no); break;
        case LayerKind::BatchNorm: bn_input_grad(op.bn, dx, g, op.x, HW); break;
        case LayerKind::ResBlock: break;
      }
    }
  }

  // g: d(loss)/d(block output); dx: for the block input, or null.
  void resblock_backward_primal(HOp& op, float* dx, const float* g) {
    const size_t n = (size_t)N * op.out.size();
    const int HW = op.out.hw();
    relu_backward(op.gm.data(), g, op.yp, n);  // d/d(main + shortcut)
    const float* d2 = op.gm.data();
    if (op.use_bn) {
      bn_input_grad(op.bn2, op.d2.data(), op.gm.data(), op.z2.data(), HW);
      d2 = op.d2.data();
    }
    conv_input_grad(op.c2, op.d1.data(), d2, op.h1.data(), false, op.h1.data());  // through h1's relu
    const float* d1 = op.d1.data();
    if (op.use_bn) {
      bn_input_grad(op.bn1, op.d1b.data(), op.d1.data(), op.z1.data(), HW);
      d1 = op.d1b.data();
    }
    if (dx) conv_input_grad(op.c1, dx, d1, op.x, false);
    if (op.proj) {
      const float* ds = op.gm.data();
      if (op.use_bn) {
        bn_input_grad(op.bns, op.ds.data(), op.gm.data(), op.sr.data(), HW);
        ds = op.ds.data();
      }
      if (dx) conv_input_grad(op.cs, dx, ds, op.x, true);
    } else if (dx) {
      for (size_t i = 0; i < n; ++i) dx[i] += op.gm[i];
    }
  }

  // Tangent: rg0 holds rdout on entry; RG receives R{dθ}. Reads the primal gradients.
  void backward_tangent() {
    float* rg = rg0.data();
    for (size_t i = ops.size(); i-- > 0;) {
      HOp& op = ops[i];
      const float* g = op.gyp;
      const bool need_dx = i > 0;
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
          sgemm(false, false, N, I, O, 1.0f, rg, O, P + op.w, I, 0.0f, ro, I);
          sgemm(false, false, N, I, O, 1.0f, g, O, Vp + op.w, I, 1.0f, ro, I);
          if (op.to_nchw) {  // back to channels-last, into the buffer just freed
            nchw_to_nhwc(rg, ro, N, op.in.c, HW);
            swap = false;
          }
          break;
        }
        case LayerKind::Conv2d:
          conv_rop_backward(op.conv, need_dx ? ro : nullptr, g, rg, op.x, op.rx, op.first, false);
          break;
        case LayerKind::MaxPool:
          if (need_dx) maxpool_nhwc_backward(ro, rg, op.x, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::AvgPool:
          if (need_dx) avgpool_nhwc_backward(ro, rg, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
          break;
        case LayerKind::GlobalAvgPool:
          if (need_dx) global_avgpool_nhwc_backward(ro, rg, N, op.in.c, HW);
          break;
        case LayerKind::Flatten:
          if (op.to_nchw && need_dx)
            nchw_to_nhwc(ro, rg, N, op.in.c, HW);
          else
            swap = false;
          break;
        case LayerKind::Relu:
          relu_backward(rg, rg, op.yp, no);
          swap = false;
          break;
        case LayerKind::Tanh:
          tanh_rop_backward(rg, g, rg, op.yp, op.ryp, no);
          swap = false;
          break;
        case LayerKind::Gelu:
          gelu_rop_backward(rg, g, rg, op.x, op.rx, no);
          swap = false;
          break;
        case LayerKind::BatchNorm: bn_rop_backward(op.bn, ro, g, rg, op.x, op.rx, HW); break;
        case LayerKind::ResBlock: resblock_backward_tangent(op, need_dx ? ro : nullptr, rg); break;
      }
      if (swap) rg = ro;
    }
  }

  // rg: R{d(loss)/d(block output)} (overwritten); rdx: for the block input, or null.
  void resblock_backward_tangent(HOp& op, float* rdx, float* rg) {
    const size_t n = (size_t)N * op.out.size();
    const int HW = op.out.hw();
    relu_backward(rg, rg, op.yp, n);
    const float* rd2 = rg;
    if (op.use_bn) {
      bn_rop_backward(op.bn2, rt1.data(), op.gm.data(), rg, op.z2.data(), op.rz2.data(), HW);
      rd2 = rt1.data();
    }
    const float* d2 = op.use_bn ? op.d2.data() : op.gm.data();
    conv_rop_backward(op.c2, rt0.data(), d2, rd2, op.h1.data(), op.rh1.data(), false, false, op.h1.data());
    const float* rd1 = rt0.data();
    if (op.use_bn) {
      bn_rop_backward(op.bn1, rt1.data(), op.d1.data(), rt0.data(), op.z1.data(), op.rz1.data(), HW);
      rd1 = rt1.data();
    }
    const float* d1 = op.use_bn ? op.d1b.data() : op.d1.data();
    conv_rop_backward(op.c1, rdx, d1, rd1, op.x, op.rx, op.first, false);
    if (op.proj) {
      const float* rds = rg;
      if (op.use_bn) {
        bn_rop_backward(op.bns, rt1.data(), op.gm.data(), rg, op.sr.data(), op.rsr.data(), HW);
        rds = rt1.data();
      }
      const float* ds = op.use_bn ? op.ds.data() : op.gm.data();
      conv_rop_backward(op.cs, rdx, ds, rds, op.x, op.rx, op.first, true);
    } else if (rdx) {
      for (size_t i = 0; i < n; ++i) rdx[i] += rg[i];
    }
  }
};

HvpEngine::HvpEngine(const ModelSpec& spec, const Layout& layout) : spec_(spec), layout_(layout), plan_(new HvpPlan) {
  build_plan(spec_, layout_, *plan_);
  HvpPlan& p = *plan_;
  p.wtmp.resize(std::max<size_t>(p.max_conv_w, 1));
  p.wjunk.resize((size_t)2 * p.max_c);  // batch norm's unused dgamma, dbeta
  p.V.resize(layout_.param_count);
  p.RG.resize(layout_.param_count);
}

HvpEngine::~HvpEngine() = default;

namespace {

template <class T>
bool same(const std::vector<T>& kept, const T* now, size_t n) {
  return kept.size() == n && (n == 0 || std::memcmp(kept.data(), now, n * sizeof(T)) == 0);
}

template <class T>
void keep(std::vector<T>& kept, const T* now, size_t n) {
  kept.assign(now, now + (now ? n : 0));
}

}  // namespace

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

// Primal and tangent pass of one chunk (its primal buffers no longer match the kept key).
double HvpEngine::chunk(const float* x, const Target& y, int N) {
  if (N < 1 || N > chunk_)
    throw_range("N", "must be in [1, " + std::to_string(chunk_) + "] (got " + std::to_string(N) + ")");
  if (!x) throw_range("params", "params, x, v and out must not be null");
  HvpPlan& p = *plan_;
  p.key.valid = false;
  const size_t D = layout_.output_size;
  p.N = N;
  const float* rout = nullptr;
  const float* o = p.forward(x, true, &rout);
  // The loss sees NCHW outputs; a channels-last 3-d output gets its gradients transposed back.
  const HOp& last = p.ops.back();
  const bool ce = spec_.loss == LossKind::SoftmaxCrossEntropy;
  const float scale = ce ? (float)(1.0 / N) : (float)(1.0 / ((double)N * D));
  float* dout = p.out_nhwc ? p.ftmp.data() : p.ops.back().gy.data();
  double loss;
  if (ce)
    loss = softmax_ce(dout, o, y.labels, N, (int)D, scale, nullptr);
  else
    loss = mse(dout, o, y.values, (size_t)N * D, scale) / (double)D;
  if (p.out_nhwc) nchw_to_nhwc(p.ops.back().gy.data(), dout, N, last.out.c, last.out.hw());
  p.backward_primal();
  float* rdout = p.out_nhwc ? p.rg1.data() : p.rg0.data();
  if (ce)
    softmax_ce_rop(rdout, o, rout, N, (int)D, scale);
  else
    mse_rop(rdout, rout, (size_t)N * D, scale);
  if (p.out_nhwc) nchw_to_nhwc(p.rg0.data(), rdout, N, last.out.c, last.out.hw());
  p.backward_tangent();
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
  HvpPlan& p = *plan_;
  const size_t D = layout_.output_size, I = layout_.input_size;
  const bool ce = spec_.loss == LossKind::SoftmaxCrossEntropy;
  const size_t ny = ce ? 0 : (size_t)n * D;
  // One chunk: the kept primal pass serves when it was computed from exactly these inputs.
  PrimalKey& key = p.key;
  const bool single = n <= C;
  const bool reuse = single && key.valid && key.n == n && key.training == training &&
                     key.threads == compute_threads() && same(key.params, params, P) &&
                     same(key.state, state, state ? layout_.state_count : 0) && same(key.x, x, (size_t)n * I) &&
                     (ce ? same(key.labels, y.labels, (size_t)n) : same(key.values, y.values, ny));
  if (!reuse) key.valid = false;
  std::fill(out, out + P, 0.0);
  double loss = 0;
  for (int start = 0; start < n; start += C) {
    const int N = std::min(C, n - start);
    p.N = N;
    const float* rout = nullptr;
    const float* o = p.forward(x + (size_t)start * I, !reuse, &rout);
    // The loss sees NCHW outputs; a channels-last 3-d output gets its gradients transposed back.
    const HOp& last = p.ops.back();
    float* rdout = p.out_nhwc ? p.rg1.data() : p.rg0.data();
    const float scale = ce ? (float)(1.0 / N) : (float)(1.0 / ((double)N * D));
    if (!reuse) {
      float* dout = p.out_nhwc ? p.ftmp.data() : p.ops.back().gy.data();
      if (ce)
        loss += softmax_ce(dout, o, y.labels + start, N, (int)D, scale, nullptr);
      else
        loss += mse(dout, o, y.values + (size_t)start * D, (size_t)N * D, scale) / (double)D;
      if (p.out_nhwc) nchw_to_nhwc(p.ops.back().gy.data(), dout, N, last.out.c, last.out.hw());
      p.backward_primal();
    }
    if (ce)
      softmax_ce_rop(rdout, o, rout, N, (int)D, scale);
    else
      mse_rop(rdout, rout, (size_t)N * D, scale);
    if (p.out_nhwc) nchw_to_nhwc(p.rg0.data(), rdout, N, last.out.c, last.out.hw());
    p.backward_tangent();
    const double w = (double)N / n;
    const float* rg = chunk_hv();
    for (size_t i = 0; i < P; ++i) out[i] += w * rg[i];
  }
  if (reuse) return key.loss;
  if (single) {
    keep(key.params, params, P);
    keep(key.state, state, state ? layout_.state_count : 0);
    keep(key.x, x, (size_t)n * I);
    if (ce)
      keep(key.labels, y.labels, (size_t)n), key.values.clear();
    else
      keep(key.values, y.values, ny), key.labels.clear();
    key.n = n, key.training = training, key.threads = compute_threads(), key.loss = loss / n;
    key.valid = true;
  }
  return loss / n;
}

size_t HvpEngine::workspace_bytes() const { return plan_->floats() * sizeof(float); }

}  // namespace bigstep
