// Model-level checks: loss_and_grad against central finite differences of a float64 reference
// model (ref_model.h) for every layer kind and both losses, in training and eval mode; forward /
// loss_sum against the reference; describe() validation errors; layout names; init determinism
// and statistics; grads overwritten; no workspace growth in steady state.
#include <cstring>
#include <random>

#include "pool.h"
#include "check.h"
#include "errors.h"
#include "gemm.h"
#include "model.h"
#include "ref_model.h"

using namespace bigstep;

static LayerSpec dense(int u, bool bias = true, InitKind init = InitKind::Default) {
  LayerSpec l;
  l.kind = LayerKind::Dense;
  l.units = u;
  l.bias = bias;
  l.init = init;
  return l;
}
static LayerSpec conv(int u, int k, int s = 1, int p = 0, bool bias = true) {
  LayerSpec l;
  l.kind = LayerKind::Conv2d;
  l.units = u;
  l.kernel = k;
  l.stride = s;
  l.padding = p;
  l.bias = bias;
  return l;
}
static LayerSpec pool(LayerKind kind, int k, int s = 0) {
  LayerSpec l;
  l.kind = kind;
  l.kernel = k;
  l.stride = s;
  return l;
}
static LayerSpec act(LayerKind kind) {
  LayerSpec l;
  l.kind = kind;
  return l;
}
static LayerSpec res(int u, int s, bool bn) {
  LayerSpec l;
  l.kind = LayerKind::ResBlock;
  l.units = u;
  l.stride = s;
  l.batchnorm = bn;
  return l;
}
static ModelSpec model(std::vector<int> in, std::vector<LayerSpec> layers, LossKind loss) {
  ModelSpec m;
  m.input = std::move(in);
  m.layers = std::move(layers);
  m.loss = loss;
  return m;
}

struct Case {
  const char* name;
  ModelSpec spec;
  int batch;
  bool training;
  bool random_state = false;  // eval mode with non-trivial running stats
};

static void gradcheck(const Case& c) {
  Model m(c.spec);
  const Layout& L = m.layout();
  std::mt19937 gen(123);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  std::vector<float> P(L.param_count), S(L.state_count), G(L.param_count, NAN);
  m.init(P.data(), S.data(), 42);
  // Perturb gamma/beta away from 1/0 and biases from 0 so their gradients are exercised generically.
  for (const auto& e : L.params)
    if (e.init == "zeros" || e.init == "ones")
      for (size_t i = 0; i < e.size; ++i) P[e.offset + i] += 0.3f * U(gen);
  if (c.random_state)
    for (const auto& e : L.state)
      for (size_t i = 0; i < e.size; ++i) S[e.offset + i] = e.init == "ones" ? 0.5f + std::fabs(U(gen)) : 0.3f * U(gen);
  const int N = c.batch;
  std::vector<float> x((size_t)N * L.input_size);
  for (auto& v : x) v = U(gen);
  std::vector<int32_t> labels(N);
  std::vector<float> targets((size_t)N * L.output_size);
  for (int n = 0; n < N; ++n) labels[n] = (int)(gen() % L.output_size);
  for (auto& v : targets) v = U(gen);
  Target y;
  if (c.spec.loss == LossKind::SoftmaxCrossEntropy)
    y.labels = labels.data();
  else
    y.values = targets.data();

  std::vector<float> S_before = S;
  int64_t correct = -1;
  const double loss = m.loss_and_grad(P.data(), S.data(), x.data(), y, N, G.data(), c.training, &correct);

  ref::Ref r(c.spec, L);
  std::vector<double> Pd(P.begin(), P.end());
  const double ref_loss = r.loss(Pd, S_before.data(), x.data(), y, N, c.training);
  CHECK_MSG(std::fabs(loss - ref_loss) <= 2e-5 * std::max(1.0, std::fabs(ref_loss)),
            check::fmt("%s: loss %.9g vs float64 reference %.9g", c.name, loss, ref_loss));
  if (c.spec.loss == LossKind::SoftmaxCrossEntropy) CHECK(correct >= 0 && correct <= N);

  // Running stats: updated in training mode, untouched in eval mode.
  if (L.state_count) {
    const bool changed = std::memcmp(S.data(), S_before.data(), S.size() * sizeof(float)) != 0;
    CHECK_MSG(changed == c.training,
              check::fmt("%s: running stats %s", c.name, changed ? "changed in eval" : "not updated"));
  }

  std::vector<double> num(L.param_count);
  const double h = 1e-6;
  for (size_t j = 0; j < L.param_count; ++j) {
    const double p0 = Pd[j];
    Pd[j] = p0 + h;
    const double lp = r.loss(Pd, S_before.data(), x.data(), y, N, c.training);
    Pd[j] = p0 - h;
    const double lm = r.loss(Pd, S_before.data(), x.data(), y, N, c.training);
    Pd[j] = p0;
    num[j] = (lp - lm) / (2 * h);
  }
  size_t worst = 0;
  const double err = check::max_rel_err(G.data(), num.data(), num.size(), 1e-2, &worst);
  std::string where;
  for (const auto& e : L.params)
    if (worst >= e.offset && worst < e.offset + e.size) where = e.name + "[" + std::to_string(worst - e.offset) + "]";
  CHECK_MSG(err <= 1e-3, check::fmt("%s: grad max rel err %.3g at %s (got %.8g, finite diff %.8g)", c.name, err,
                                    where.c_str(), G.empty() ? 0.0 : G[worst], num.empty() ? 0.0 : num[worst]));
  std::printf("  %-40s params %5zu  loss %.6f  grad rel err %.2e\n", c.name, L.param_count, loss, err);

  // Eval-mode forward / loss_sum against the reference (uses running stats).
  std::vector<float> out((size_t)N * L.output_size);
  m.forward(P.data(), S.data(), x.data(), N, out.data());
  std::vector<double> ref_out = r.forward(Pd, S.data(), x.data(), N, false);
  const double ferr = check::max_rel_err(out.data(), ref_out.data(), out.size(), 1e-2);
  CHECK_MSG(ferr <= 1e-4, check::fmt("%s: forward rel err %.3g", c.name, ferr));
  const double ls = m.loss_sum(P.data(), S.data(), x.data(), y, N, nullptr);
  const double ref_ls = r.loss(Pd, S.data(), x.data(), y, N, false) * N;
  CHECK_MSG(std::fabs(ls - ref_ls) <= 2e-5 * std::max(1.0, std::fabs(ref_ls)),
            check::fmt("%s: loss_sum %.9g vs %.9g", c.name, ls, ref_ls));

  // Same inputs => bitwise-identical grads (overwritten, not accumulated); no workspace growth.
  if (!c.training) {
    const size_t ws = m.workspace_bytes();
    std::vector<float> G2(L.param_count, 123.f);
    const double loss2 = m.loss_and_grad(P.data(), S.data(), x.data(), y, N, G2.data(), c.training, nullptr);
    CHECK_MSG(loss2 == loss && std::memcmp(G.data(), G2.data(), G.size() * sizeof(float)) == 0,
              check::fmt("%s: repeated loss_and_grad is not bitwise identical", c.name));
    CHECK(m.workspace_bytes() == ws);
    // A smaller batch reuses the buffers.
    m.loss_and_grad(P.data(), S.data(), x.data(), y, 1, G2.data(), c.training, nullptr);
    CHECK(m.workspace_bytes() == ws);
  }
}

static void gradchecks() {
  using K = LayerKind;
  const auto CE = LossKind::SoftmaxCrossEntropy;
  const auto MSE = LossKind::MeanSquaredError;
  std::vector<Case> cases = {
      {"mlp relu/tanh ce", model({5}, {dense(7), act(K::Relu), dense(4), act(K::Tanh), dense(3)}, CE), 4, true},
      {"mlp gelu mse nobias xavier",
       model({5}, {dense(6, true, InitKind::XavierUniform), act(K::Gelu), dense(3, false)}, MSE), 3, true},
      {"mlp ends in fused relu mse", model({4}, {dense(5), act(K::Relu), dense(3), act(K::Relu)}, MSE), 3, true},
      {"relu first, not fused", model({6}, {act(K::Relu), dense(3)}, CE), 2, true},
      {"cnn conv/maxpool/avgpool/flatten",
       model({2, 6, 6},
             {conv(3, 3, 1, 1), act(K::Relu), pool(K::MaxPool, 2), conv(4, 2), act(K::Tanh), pool(K::AvgPool, 2),
              act(K::Flatten), dense(3)},
             CE),
       2, true},
      {"cnn strided conv gelu gap",
       model({3, 7, 7}, {conv(4, 3, 2, 1, false), act(K::Gelu), act(K::GlobalAvgPool), dense(3)}, CE), 3, true},
      {"cnn overlapping pools, implicit flatten",
       model({2, 7, 6}, {conv(3, 2), pool(K::MaxPool, 3, 2), pool(K::AvgPool, 2, 1), dense(4)}, CE), 2, true},
      {"flatten first", model({2, 3, 3}, {act(K::Flatten), dense(3)}, CE), 2, true},
      {"mse on 3d output", model({2, 5, 5}, {conv(2, 3, 1, 1), act(K::Tanh)}, MSE), 2, true},
      {"resblock identity", model({3, 5, 5}, {res(3, 1, false), dense(3)}, CE), 2, true},
      {"resblock projection stride 2 mse", model({2, 6, 6}, {res(4, 2, false)}, MSE), 2, true},
      {"resblock channel change stride 1", model({2, 4, 4}, {res(3, 1, false), act(K::GlobalAvgPool), dense(2)}, CE), 2,
       true},
      {"two resblocks",
       model({2, 6, 6},
             {conv(3, 3, 1, 1), act(K::Relu), res(3, 1, false), res(4, 2, false), act(K::GlobalAvgPool), dense(3)}, CE),
       2, true},
      {"resblock bn train", model({2, 6, 6}, {res(3, 2, true), act(K::GlobalAvgPool), dense(3)}, CE), 4, true},
      {"resblock bn identity train", model({3, 4, 4}, {res(3, 1, true), dense(3)}, CE), 3, true},
      {"resblock bn eval", model({2, 6, 6}, {res(3, 2, true), act(K::GlobalAvgPool), dense(3)}, CE), 3, false, true},
      {"batchnorm 1d train", model({6}, {dense(5), act(K::BatchNorm), act(K::Relu), dense(3)}, CE), 6, true},
      {"batchnorm 2d train",
       model({2, 5, 5}, {conv(3, 3), act(K::BatchNorm), act(K::Relu), act(K::GlobalAvgPool), dense(3)}, CE), 3, true},
      {"batchnorm 2d eval mse", model({2, 5, 5}, {conv(3, 3), act(K::BatchNorm), act(K::Tanh), dense(2)}, MSE), 3,
       false, true},
      {"batchnorm first layer", model({4}, {act(K::BatchNorm), dense(3)}, MSE), 5, true},
      {"no params: flatten only, mse", model({2, 2, 2}, {act(K::Flatten)}, MSE), 3, true},
      {"big batch conv groups", model({2, 8, 8}, {conv(3, 3, 1, 1), act(K::Relu), pool(K::MaxPool, 2), dense(3)}, CE),
       37, false},
      // Layout boundaries (model.cpp: channels-last trunks): an NCHW pool output feeding a conv /
      // resblock that needs din (transposed back), batch norm and pools on channels-last data, a
      // channels-last 3-d output, a one-channel input (both layouts alike).
      {"nchw pool -> conv (din transposed back) -> bn -> avgpool",
       model({3, 7, 7},
             {pool(K::MaxPool, 2, 1), conv(4, 3, 1, 1), act(K::BatchNorm), act(K::Relu), pool(K::AvgPool, 2),
              act(K::Flatten), dense(3)},
             CE),
       3, true},
      {"nchw pool -> resblock stride 2, 3-d mse output",
       model({2, 6, 6}, {pool(K::AvgPool, 2, 1), res(3, 2, false), act(K::Tanh)}, MSE), 2, true},
      {"one-channel input, conv stride 2, maxpool 3/1, dense",
       model({1, 9, 8}, {conv(5, 3, 2, 1), act(K::Relu), pool(K::MaxPool, 3, 1), dense(3)}, CE), 3, true},
  };
  for (const auto& c : cases) gradcheck(c);
}

static void describe_errors() {
  using K = LayerKind;
  const auto CE = LossKind::SoftmaxCrossEntropy;
  const auto MSE = LossKind::MeanSquaredError;
  const auto R = ErrorKind::Range;
  CHECK_THROWS_PARAM(describe(model({}, {dense(2)}, CE)), R, "spec.input");
  CHECK_THROWS_PARAM(describe(model({2, 3}, {dense(2)}, CE)), R, "spec.input");
  CHECK_THROWS_PARAM(describe(model({3, 0, 4}, {dense(2)}, CE)), R, "spec.input[1]");
  CHECK_THROWS_PARAM(describe(model({-1}, {dense(2)}, CE)), R, "spec.input[0]");
  CHECK_THROWS_PARAM(describe(model({3}, {}, CE)), R, "spec.layers");
  CHECK_THROWS_PARAM(describe(model({3}, {dense(4), dense(0)}, CE)), R, "spec.layers[1].units");
  CHECK_THROWS_PARAM(describe(model({3}, {conv(2, 1)}, MSE)), R, "spec.layers[0]");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(0, 3)}, MSE)), R, "spec.layers[0].units");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(2, 0)}, MSE)), R, "spec.layers[0].kernel");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(2, 7, 1, 1)}, MSE)), R, "spec.layers[0].kernel");
  CHECK_THROWS_PARAM(describe(model({1, 4, 9}, {conv(2, 5)}, MSE)), R, "spec.layers[0].kernel");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(2, 3, 0)}, MSE)), R, "spec.layers[0].stride");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(2, 3, 1, -1)}, MSE)), R, "spec.layers[0].padding");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(2, 3, 1, 3)}, MSE)), R, "spec.layers[0].padding");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {pool(K::MaxPool, 5)}, MSE)), R, "spec.layers[0].kernel");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {pool(K::AvgPool, 0)}, MSE)), R, "spec.layers[0].kernel");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {pool(K::AvgPool, 2, -1)}, MSE)), R, "spec.layers[0].stride");
  {
    LayerSpec p = pool(K::MaxPool, 2);
    p.padding = 1;
    CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {p}, MSE)), R, "spec.layers[0].padding");
  }
  CHECK_THROWS_PARAM(describe(model({4}, {pool(K::MaxPool, 2)}, MSE)), R, "spec.layers[0]");
  CHECK_THROWS_PARAM(describe(model({4}, {act(K::GlobalAvgPool)}, MSE)), R, "spec.layers[0]");
  CHECK_THROWS_PARAM(describe(model({4}, {res(2, 1, false)}, MSE)), R, "spec.layers[0]");
  CHECK_THROWS_PARAM(describe(model({2, 4, 4}, {res(2, 0, false)}, MSE)), R, "spec.layers[0].stride");
  CHECK_THROWS_PARAM(describe(model({2, 4, 4}, {res(0, 1, false)}, MSE)), R, "spec.layers[0].units");
  CHECK_THROWS_PARAM(describe(model({4}, {dense(1)}, CE)), R, "spec.loss");
  CHECK_THROWS_PARAM(describe(model({1, 4, 4}, {conv(3, 3)}, CE)), R, "spec.loss");
  CHECK_THROWS_PARAM(describe(model({4}, {dense(3)}, (LossKind)7)), R, "spec.loss");
  {
    LayerSpec bad = dense(3);
    bad.kind = (LayerKind)99;
    CHECK_THROWS_PARAM(describe(model({4}, {bad}, MSE)), R, "spec.layers[0].kind");
    LayerSpec badinit = dense(3);
    badinit.init = (InitKind)9;
    CHECK_THROWS_PARAM(describe(model({4}, {badinit}, MSE)), R, "spec.layers[0].init");
  }
  // Parameter cap (2^31 floats) without allocating anything.
  CHECK_THROWS_PARAM(describe(model({1 << 16}, {dense(1 << 16)}, MSE)), R, "spec.layers[0]");
  CHECK_THROWS_PARAM(describe(model({4096, 3, 3}, {conv(1 << 20, 3)}, MSE)), R, "spec.layers[0]");
  CHECK_THROWS_PARAM(describe(model({1 << 12, 1 << 12, 1 << 12}, {dense(2)}, MSE)), R, "spec.input");
  // Messages name the fix.
  try {
    describe(model({1, 4, 4}, {conv(2, 7, 1, 1)}, MSE));
  } catch (const NativeError& e) {
    CHECK_MSG(std::string(e.what()).find("must be <= padded input height 6") != std::string::npos, e.what());
  }
  // Model constructor throws the same.
  CHECK_THROWS_PARAM(Model(model({3}, {dense(0)}, CE)), R, "spec.layers[0].units");

  // Runtime argument checks.
  Model m(model({3}, {dense(2)}, CE));
  std::vector<float> P(m.layout().param_count), G(P.size()), x(6);
  int32_t lab[2] = {0, 2};
  Target t;
  t.labels = lab;
  m.init(P.data(), nullptr, 1);
  CHECK_THROWS_PARAM(m.loss_and_grad(P.data(), nullptr, x.data(), t, 0, G.data(), true, nullptr), R, "batch");
  CHECK_THROWS_PARAM(m.loss_and_grad(P.data(), nullptr, x.data(), t, 2, G.data(), true, nullptr), R, "y[1]");
  Target tv;
  tv.values = x.data();
  CHECK_THROWS_PARAM(m.loss_sum(P.data(), nullptr, x.data(), tv, 2, nullptr), ErrorKind::Type, "y");
  Model mb(model({3}, {act(K::BatchNorm), dense(2)}, CE));
  std::vector<float> Pb(mb.layout().param_count), Gb(Pb.size());
  CHECK_THROWS_PARAM(mb.forward(Pb.data(), nullptr, x.data(), 2, G.data()), R, "state");
}

static void layout_and_init() {
  using K = LayerKind;
  ModelSpec spec = model({3, 8, 8},
                         {conv(4, 3, 1, 1), act(K::Relu), res(4, 1, false), res(8, 2, true), act(K::GlobalAvgPool),
                          act(K::BatchNorm), dense(10)},
                         LossKind::SoftmaxCrossEntropy);
  const Layout L = describe(spec);
  std::vector<std::string> names;
  for (auto& e : L.params) names.push_back(e.name);
  const std::vector<std::string> want = {"0.weight",
                                         "0.bias",
                                         "2.conv1.weight",
                                         "2.conv1.bias",
                                         "2.conv2.weight",
                                         "2.conv2.bias",
                                         "3.conv1.weight",
                                         "3.bn1.weight",
                                         "3.bn1.bias",
                                         "3.conv2.weight",
                                         "3.bn2.weight",
                                         "3.bn2.bias",
                                         "3.shortcut.weight",
                                         "3.shortcut_bn.weight",
                                         "3.shortcut_bn.bias",
                                         "5.weight",
                                         "5.bias",
                                         "6.weight",
                                         "6.bias"};
  CHECK_MSG(names == want, "parameter names/order");
  size_t off = 0;
  bool contiguous = true;
  for (auto& e : L.params) contiguous &= e.offset == off, off += e.size;
  CHECK(contiguous && off == L.param_count);
  CHECK(L.params[2].shape == (std::vector<int>{4, 4, 3, 3}));
  CHECK(L.params[12].shape == (std::vector<int>{8, 4, 1, 1}));
  CHECK(L.state.size() == 8 && L.state[0].name == "3.bn1.running_mean" && L.state[1].name == "3.bn1.running_var");
  CHECK(L.state_count == 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8);
  CHECK(L.output_shape == std::vector<int>{10} && L.output_size == 10 && L.input_size == 192);
  CHECK(L.layer_output_shapes.size() == 7 && L.layer_output_shapes[3] == (std::vector<int>{8, 4, 4}));
  CHECK(L.params[0].fan_in == 27 && L.params[0].fan_out == 36);

  // Init: same seed => same bits; different seed => different; statistics match the scheme.
  Model m(model({512}, {dense(256), dense(300, true, InitKind::XavierUniform), act(K::BatchNorm)},
                LossKind::MeanSquaredError));
  const Layout& ML = m.layout();
  std::vector<float> a(ML.param_count), b(ML.param_count), c(ML.param_count), sa(ML.state_count), sb(ML.state_count);
  m.init(a.data(), sa.data(), 2024);
  m.init(b.data(), sb.data(), 2024);
  m.init(c.data(), sb.data(), 2025);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * 4) != 0);
  auto stats = [&](const TensorEntry& e, double& mean, double& sd, double& maxabs) {
    double s = 0, s2 = 0;
    maxabs = 0;
    for (size_t i = 0; i < e.size; ++i)
      s += a[e.offset + i], s2 += (double)a[e.offset + i] * a[e.offset + i],
          maxabs = std::max(maxabs, (double)std::fabs(a[e.offset + i]));
    mean = s / e.size;
    sd = std::sqrt(s2 / e.size - mean * mean);
  };
  double mean, sd, mx;
  stats(ML.params[0], mean, sd, mx);
  CHECK_MSG(std::fabs(sd / std::sqrt(2.0 / 512) - 1) < 0.02 && std::fabs(mean) < 0.002,
            check::fmt("he-normal sd %.5f want %.5f", sd, std::sqrt(2.0 / 512)));
  stats(ML.params[1], mean, sd, mx);
  CHECK(mx == 0);  // bias
  stats(ML.params[2], mean, sd, mx);
  const double bound = std::sqrt(6.0 / (256 + 300));
  CHECK_MSG(mx <= bound && std::fabs(sd / (bound / std::sqrt(3.0)) - 1) < 0.02,
            check::fmt("xavier sd %.5f max %.5f bound %.5f", sd, mx, bound));
  bool bn_ok = true;
  for (size_t i = 0; i < 300; ++i) bn_ok &= a[ML.params[4].offset + i] == 1.f && a[ML.params[5].offset + i] == 0.f;
  for (size_t i = 0; i < 300; ++i) bn_ok &= sa[i] == 0.f && sa[300 + i] == 1.f;
  CHECK(bn_ok);
}

int main() {
  if (const int rc = check::isa_path_or_skip("gradcheck_test"); rc >= 0) return rc;
  set_blas_threads(1);
  gradchecks();
  describe_errors();
  layout_and_init();
  return check::finish("gradcheck_test");
}
