// The model API (model.h): init, loss and gradient, the fused plain-SGD step, evaluation. The
// planner (planner.cpp) makes the layer plan; the network (network.cpp) runs it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "errors.h"
#include "gemm.h"
#include "kernels.h"
#include "model.h"
#include "network.h"
#include "rng.h"
#include "transpose.h"

namespace bigstep {

Model::Model(const ModelSpec& spec) : spec_(spec), net_(new Network) {
  plan_layers(spec_, layout_, &net_->ops);
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

void check_call(const Layout& L, const ModelSpec& spec, const float* params, const float* state, const float* x,
                const Target* y, int batch) {
  if (batch < 1) throw_range("batch", "must be >= 1 (got " + std::to_string(batch) + ")");
  if (!params && L.param_count) throw_range("params", "must not be null");
  if (!state && L.state_count) throw_range("state", "must not be null: this model has batch-norm running statistics");
  if (!x) throw_range("x", "must not be null");
  if (!y) return;
  if (spec.loss == LossKind::SoftmaxCrossEntropy) {
    if (!y->labels) throw_type("y", "softmax cross-entropy needs int32 class labels");
    const int C = (int)L.output_size;
    for (int n = 0; n < batch; ++n)
      if (y->labels[n] < 0 || y->labels[n] >= C)
        throw_range("y[" + std::to_string(n) + "]",
                    "label must be in [0, " + std::to_string(C) + ") (got " + std::to_string(y->labels[n]) + ")");
  } else if (!y->values) {
    throw_type("y", "mean squared error needs float targets");
  }
}

// Returns the SUM over the batch of per-example losses; dout (if non-null) gets the gradient of
// the MEAN loss. For MSE a per-example loss is the mean over its output elements, so that the
// batch mean equals torch's mean over all elements.
double compute_loss(const ModelSpec& spec, const Layout& L, const float* out, const Target& y, int N, float* dout,
                    int64_t* correct) {
  const size_t D = L.output_size;
  if (spec.loss == LossKind::SoftmaxCrossEntropy)
    return softmax_ce(dout, out, y.labels, N, (int)D, (float)(1.0 / N), correct);
  const double sse = mse(dout, out, y.values, (size_t)N * D, (float)(1.0 / ((double)N * D)));
  return sse / (double)D;
}

}  // namespace

double Model::loss_and_grad(const float* params, float* state, const float* x, const Target& y, int batch, float* grads,
                            bool training, int64_t* correct) {
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

double Model::loss_sum(const float* params, const float* state, const float* x, const Target& y, int batch,
                       int64_t* correct) {
  check_call(layout_, spec_, params, state, x, &y, batch);
  net_->ensure(batch, false);
  if (correct) *correct = 0;
  // Eval mode never writes the state, so the const_cast is only to share the forward code.
  const float* out = net_->forward(params, const_cast<float*>(state), x, batch, false, false);
  return compute_loss(spec_, layout_, out, y, batch, nullptr, correct);
}

void Model::chunk_loss_sums(const float* params, const float* state, const float* x, const Target& y, int64_t n,
                            int64_t chunk, int64_t first, int64_t end, double* out) {
  if (n < 1) throw_range("n", "must be >= 1 (got " + std::to_string(n) + ")");
  if (chunk < 1 || chunk > (int64_t)1 << 30)
    throw_range("batchSize", "must be in [1, 2^30] (got " + std::to_string(chunk) + ")");
  const int64_t c = std::min(chunk, n);
  const int64_t count = (n + c - 1) / c;
  if (first < 0 || first > end || end > count)
    throw_range("chunks", "must satisfy 0 <= first <= end <= " + std::to_string(count) + " (got [" +
                              std::to_string(first) + ", " + std::to_string(end) + "))");
  if (end > first && !out) throw_range("out", "must not be null");
  const size_t D = layout_.output_size;
  for (int64_t g = first; g < end; ++g) {
    const int64_t start = g * c;
    const int batch = (int)(std::min(n, start + c) - start);
    Target part;
    if (y.labels) part.labels = y.labels + start;
    if (y.values) part.values = y.values + (size_t)start * D;
    int64_t correct = 0;
    out[2 * (g - first)] = loss_sum(params, state, x + (size_t)start * layout_.input_size, part, batch, &correct);
    out[2 * (g - first) + 1] = (double)correct;
  }
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
