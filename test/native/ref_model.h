// A float64 reference implementation of a whole model, built only from the naive kernel twins
// and the layout's parameter NAMES (not Model's internals), used as the oracle for gradient
// checks: central finite differences of ref_loss() in double vs Model::loss_and_grad in float.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "errors.h"
#include "kernels.h"
#include "conv.h"
#include "pool.h"
#include "batchnorm.h"
#include "model.h"

namespace ref {

using namespace bigstep;

struct Ref {
  const ModelSpec& spec;
  const Layout& L;
  std::map<std::string, size_t> poff, soff;

  Ref(const ModelSpec& s, const Layout& l) : spec(s), L(l) {
    for (auto& e : L.params) poff[e.name] = e.offset;
    for (auto& e : L.state) soff[e.name] = e.offset;
  }
  bool has(const std::string& n) const { return poff.count(n) > 0; }
  const double* p(const std::vector<double>& P, const std::string& n) const {
    auto it = poff.find(n);
    if (it == poff.end()) throw std::runtime_error("ref: no parameter " + n);
    return P.data() + it->second;
  }
  const double* pb(const std::vector<double>& P, const std::string& n) const {
    return has(n) ? P.data() + poff.at(n) : nullptr;
  }

  struct Act {
    std::vector<double> v;
    bool is3d;
    int c, h, w;
  };

  void conv(const std::vector<double>& P, const std::string& name, Act& a, int O, int K, int S, int Pd, int N) const {
    const ConvShape s = ConvShape::make(a.c, a.h, a.w, O, K, S, Pd);
    std::vector<double> y((size_t)N * s.out_size());
    conv2d_forward_naive(y.data(), a.v.data(), p(P, name + ".weight"), pb(P, name + ".bias"), N, s);
    a = Act{std::move(y), true, O, s.OH, s.OW};
  }

  void bn(const std::vector<double>& P, const float* state, const std::string& name, Act& a, int N,
          bool training) const {
    const int HW = a.h * a.w;
    std::vector<double> y(a.v.size());
    if (training) {
      batchnorm_forward_train_naive<double>(y.data(), a.v.data(), p(P, name + ".weight"), p(P, name + ".bias"), N, a.c,
                                            HW, nullptr, nullptr);
    } else {
      batchnorm_forward_eval_naive<double>(y.data(), a.v.data(), p(P, name + ".weight"), p(P, name + ".bias"), N, a.c,
                                           HW, state + soff.at(name + ".running_mean"),
                                           state + soff.at(name + ".running_var"));
    }
    a.v = std::move(y);
  }

  // Output activations [N, output_size] in double.
  std::vector<double> forward(const std::vector<double>& P, const float* state, const float* x, int N,
                              bool training) const {
    Act a;
    a.v.assign(x, x + (size_t)N * L.input_size);
    a.is3d = spec.input.size() == 3;
    a.c = spec.input[0];
    a.h = a.is3d ? spec.input[1] : 1;
    a.w = a.is3d ? spec.input[2] : 1;
    for (size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& ls = spec.layers[i];
      const std::string id = std::to_string(i);
      switch (ls.kind) {
        case LayerKind::Dense: {
          const int I = a.c * a.h * a.w;
          std::vector<double> y((size_t)N * ls.units);
          dense_forward_naive(y.data(), a.v.data(), p(P, id + ".weight"), pb(P, id + ".bias"), N, I, ls.units);
          a = Act{std::move(y), false, ls.units, 1, 1};
          break;
        }
        case LayerKind::Conv2d: conv(P, id, a, ls.units, ls.kernel, ls.stride, ls.padding, N); break;
        case LayerKind::MaxPool:
        case LayerKind::AvgPool: {
          const int S = ls.stride == 0 ? ls.kernel : ls.stride, K = ls.kernel;
          const int OH = (a.h - K) / S + 1, OW = (a.w - K) / S + 1;
          std::vector<double> y((size_t)N * a.c * OH * OW);
          if (ls.kind == LayerKind::MaxPool)
            maxpool_forward_naive(y.data(), a.v.data(), N, a.c, a.h, a.w, K, S);
          else
            avgpool_forward_naive(y.data(), a.v.data(), N, a.c, a.h, a.w, K, S);
          a = Act{std::move(y), true, a.c, OH, OW};
          break;
        }
        case LayerKind::GlobalAvgPool: {
          std::vector<double> y((size_t)N * a.c);
          global_avgpool_forward_naive(y.data(), a.v.data(), N, a.c, a.h * a.w);
          a = Act{std::move(y), false, a.c, 1, 1};
          break;
        }
        case LayerKind::Flatten: a = Act{std::move(a.v), false, a.c * a.h * a.w, 1, 1}; break;
        case LayerKind::Relu:
          for (auto& v : a.v) v = relu_naive(v);
          break;
        case LayerKind::Tanh:
          for (auto& v : a.v) v = tanh_naive(v);
          break;
        case LayerKind::Gelu:
          for (auto& v : a.v) v = gelu_naive(v);
          break;
        case LayerKind::BatchNorm: bn(P, state, id, a, N, training); break;
        case LayerKind::ResBlock: {
          Act in = a, h = a;
          conv(P, id + ".conv1", h, ls.units, 3, ls.stride, 1, N);
          if (has(id + ".bn1.weight")) bn(P, state, id + ".bn1", h, N, training);
          for (auto& v : h.v) v = relu_naive(v);
          conv(P, id + ".conv2", h, ls.units, 3, 1, 1, N);
          if (has(id + ".bn2.weight")) bn(P, state, id + ".bn2", h, N, training);
          Act sc = in;
          if (has(id + ".shortcut.weight")) {
            conv(P, id + ".shortcut", sc, ls.units, 1, ls.stride, 0, N);
            if (has(id + ".shortcut_bn.weight")) bn(P, state, id + ".shortcut_bn", sc, N, training);
          }
          for (size_t j = 0; j < h.v.size(); ++j) h.v[j] = relu_naive(h.v[j] + sc.v[j]);
          a = std::move(h);
          break;
        }
      }
    }
    return a.v;
  }

  // Mean loss over the batch (the quantity whose gradient loss_and_grad returns).
  double loss(const std::vector<double>& P, const float* state, const float* x, const Target& y, int N,
              bool training) const {
    std::vector<double> out = forward(P, state, x, N, training);
    const int D = (int)L.output_size;
    if (spec.loss == LossKind::SoftmaxCrossEntropy)
      return softmax_ce_naive<double>(nullptr, out.data(), y.labels, N, D, 0) / N;
    std::vector<double> t(y.values, y.values + (size_t)N * D);
    return mse_naive<double>(nullptr, out.data(), t.data(), out.size(), 0) / ((double)N * D);
  }
};

}  // namespace ref
