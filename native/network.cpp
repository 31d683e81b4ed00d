// The layer-graph interpreter (network.h): forward, backward and the buffers they use.
#include "network.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "batchnorm.h"
#include "conv.h"
#include "errors.h"
#include "kernels.h"
#include "pool.h"
#include "threads.h"
#include "transpose.h"

namespace bigstep {

namespace {
constexpr size_t kMaxBatchFloats = size_t(1) << 36;  // 256 GB of activations: surely a mistake
}  // namespace

void Network::ensure(int N, bool grads) {
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

size_t Network::bytes() const {
  size_t n = g0.capacity() + g1.capacity() + s1.capacity() + s2.capacity() + scratch.capacity() + out_nchw.capacity();
  for (const Op& op : ops)
    n += op.y_buf.capacity() + op.h1.capacity() + op.a1.capacity() + op.h2.capacity() + op.sr.capacity() +
         op.sb.capacity() + op.xt.capacity() + op.bn.mean.capacity() * 2 + op.bn1.mean.capacity() * 2 +
         op.bn2.mean.capacity() * 2 + op.bns.mean.capacity() * 2;
  return n * sizeof(float);
}

void Network::bn_forward(BnP& bn, float* y, const float* x, int N, const float* P, float* S, bool training, bool nhwc) {
  float* rm = S ? S + bn.rm : nullptr;
  float* rv = S ? S + bn.rv : nullptr;
  if (training) {
    (nhwc ? batchnorm_nhwc_forward_train : batchnorm_forward_train)(y, x, P + bn.g, P + bn.b, N, bn.C, bn.HW, rm, rv,
                                                                    bn.mean.data(), bn.invstd.data());
  } else {
    (nhwc ? batchnorm_nhwc_forward_eval : batchnorm_forward_eval)(y, x, P + bn.g, P + bn.b, N, bn.C, bn.HW, rm, rv,
                                                                  bn.mean.data(), bn.invstd.data());
  }
}

void Network::conv_fwd(const ConvP& c, float* y, const float* x, int N, const float* P, bool relu,
                       const float* residual) {
  conv2d_nhwc_forward(y, x, P + c.w, c.b == NONE ? nullptr : P + c.b, N, c.s, relu, scratch.data(), residual);
}

const float* Network::nhwc_input(Op& op, const float* x, int N) {
  if (!op.to_nhwc) return x;
  nchw_to_nhwc(op.xt.data(), x, N, op.in.c, op.in.h * op.in.w);
  return op.xt.data();
}

const float* Network::forward(const float* P, float* S, const float* x, int N, bool training, bool update_stats) {
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
        dense_forward(y, op.x, P + op.w, op.b == NONE ? nullptr : P + op.b, N, (int)op.in.size(), op.out.c,
                      op.fuse_relu);
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

void Network::resblock_forward(Op& op, float* out, const float* x, int N, const float* P, float* S, bool training) {
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

void Network::bn_backward(BnP& bn, float* dx, const float* dy, const float* x, int N, const float* P, float* G,
                          bool training, bool nhwc) {
  (nhwc ? batchnorm_nhwc_backward : batchnorm_backward)(dx, G + bn.g, G + bn.b, dy, x, P + bn.g, bn.mean.data(),
                                                        bn.invstd.data(), N, bn.C, bn.HW, training);
}

void Network::conv_bwd(const ConvP& c, float* dx, const float* dy, const float* x, int N, const float* P, float* G,
                       bool accumulate, const float* mask) {
  conv2d_nhwc_backward(dx, G + c.w, c.b == NONE ? nullptr : G + c.b, dy, x, P + c.w, N, c.s, accumulate, scratch.data(),
                       mask);
}

void Network::backward(const float* P, float* G, int N, bool training, bool defer_dense) {
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
        dense_backward(need_dx ? other : nullptr, defer_dense ? nullptr : G + op.w, op.b == NONE ? nullptr : G + op.b,
                       g, op.x, P + op.w, N, (int)op.in.size(), op.out.c);
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
          (nh ? maxpool_nhwc_backward : maxpool_backward)(other, g, op.x, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
        g = other;
        break;
      case LayerKind::AvgPool:
        if (need_dx)
          (nh ? avgpool_nhwc_backward : avgpool_backward)(other, g, N, op.in.c, op.in.h, op.in.w, op.k, op.s);
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

void Network::resblock_backward(Op& op, float* dx, float* g, int N, const float* P, float* G, bool training) {
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

}  // namespace bigstep
