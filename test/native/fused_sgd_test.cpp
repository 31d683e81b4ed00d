// Model::sgd_step (plain SGD with the dense weight update fused into the weight-gradient GEMM)
// against the unfused step it replaces: loss_and_grad, a finiteness check of loss and gradient,
// then θ += -lr·g (sgd_update). Where fused_sgd_update_exact() holds (OpenBLAS Haswell and the
// portable GEMM with FMA: both store fma(alpha, acc, C)) the new θ must be bitwise equal, else
// within a few float roundings (the trainers then do not fuse). Covers
// an MLP, a CNN whose dense layer reads a channels-last trunk, the path where the overflow bound
// fails but the gradient is finite, and non-finite steps (not applied, grads = full gradient).
#include <cmath>
#include <cstring>
#include <random>

#include "check.h"
#include "specs.h"
#include "gemm.h"
#include "kernels.h"
#include "model.h"

using namespace bigstep;

static ModelSpec mlp_spec() {
  ModelSpec s;
  s.input = {96};
  s.layers = {layer(LayerKind::Dense, 160), layer(LayerKind::Relu), layer(LayerKind::Dense, 64), layer(LayerKind::Tanh),
              layer(LayerKind::Dense, 5)};
  return s;
}

static ModelSpec cnn_spec() {
  ModelSpec s;
  s.input = {3, 10, 10};
  s.layers = {layer(LayerKind::Conv2d, 8, 3), layer(LayerKind::Relu), layer(LayerKind::MaxPool, 0, 2, 2),
              layer(LayerKind::Dense, 16),    layer(LayerKind::Relu), layer(LayerKind::Dense, 5)};
  return s;
}

struct Batch {
  std::vector<float> x;
  std::vector<int32_t> y;
};

static Batch make_batch(const Layout& L, int n, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  Batch b;
  b.x.resize((size_t)n * L.input_size);
  for (auto& v : b.x) v = scale * U(gen);
  b.y.resize((size_t)n);
  for (auto& v : b.y) v = (int32_t)(gen() % L.output_size);
  return b;
}

// Dense weights (the only 2-d parameter tensors): sgd_step updates them inside their GEMM.
static bool is_fused(const Model& m, size_t i) {
  for (const TensorEntry& e : m.layout().params)
    if (e.shape.size() == 2 && i >= e.offset && i < e.offset + e.size) return true;
  return false;
}

static ModelSpec relu_mlp_spec() {
  ModelSpec s;
  s.input = {40};
  s.layers = {layer(LayerKind::Dense, 30), layer(LayerKind::Relu), layer(LayerKind::Dense, 4)};
  return s;
}

// Runs `steps` steps both ways from the same θ on the same batches and compares. Returns how many
// fused-range gradient entries applied steps wrote (0 unless the overflow bound failed) and counts
// the steps not applied in *skipped.
static size_t compare(const ModelSpec& spec, int batch, float x_scale, float lr, int steps, const char* tag,
                      int* skipped = nullptr) {
  Model fused(spec), plain(spec);
  const Layout& L = fused.layout();
  const size_t P = L.param_count;
  std::vector<float> pf(P), pp(P), gf(P, 0.f), gp(P);
  fused.init(pf.data(), nullptr, 11);
  pp = pf;
  const bool bitwise = fused_sgd_update_exact();
  size_t stored = 0;
  for (int s = 0; s < steps; ++s) {
    std::fill(gf.begin(), gf.end(), 7.f);  // a sentinel: which entries does the step write?
    const Batch b = make_batch(L, batch, x_scale, 100 + s);
    const Target y{b.y.data(), nullptr};
    bool applied = false;
    int64_t cf = 0, cp = 0;
    const double lf = fused.sgd_step(pf.data(), nullptr, b.x.data(), y, batch, gf.data(), -lr, &cf, &applied);
    const double lp = plain.loss_and_grad(pp.data(), nullptr, b.x.data(), y, batch, gp.data(), true, &cp);
    const bool finite = std::isfinite(lp) && all_finite(gp.data(), P);
    CHECK_MSG(std::memcmp(&lf, &lp, sizeof lf) == 0 && cf == cp,
              check::fmt("%s step %d: loss %.9g vs %.9g", tag, s, lf, lp));
    CHECK_MSG(applied == finite, check::fmt("%s step %d: applied %d, unfused finite %d", tag, s, applied, finite));
    // grads: every entry outside the fused ranges; all of them when the step was not applied.
    size_t grad_diff = 0;
    for (size_t i = 0; i < P; ++i)
      if ((!applied || !is_fused(fused, i)) && std::memcmp(&gf[i], &gp[i], sizeof(float)) != 0) ++grad_diff;
    CHECK_MSG(grad_diff == 0, check::fmt("%s step %d: %zu gradient entries differ", tag, s, grad_diff));
    if (applied)
      for (size_t i = 0; i < P; ++i) stored += is_fused(fused, i) && gf[i] != 7.f;
    if (!finite) {
      if (skipped) ++*skipped;
      // Not applied: θ untouched (compare with the unfused θ, which was not updated either).
      CHECK_MSG(std::memcmp(pf.data(), pp.data(), P * sizeof(float)) == 0, check::fmt("%s step %d: θ changed", tag, s));
      continue;
    }
    sgd_update(pp.data(), gp.data(), P, -lr);
    if (bitwise) {
      size_t diff = 0;
      for (size_t i = 0; i < P; ++i) diff += std::memcmp(&pf[i], &pp[i], sizeof(float)) != 0;
      CHECK_MSG(diff == 0, check::fmt("%s step %d: %zu of %zu parameters differ (must be bitwise)", tag, s, diff, P));
    } else {
      double worst = 0;
      for (size_t i = 0; i < P; ++i)
        worst = std::fmax(worst, std::fabs((double)pf[i] - pp[i]) / std::fmax(std::fabs((double)pp[i]), 1e-3));
      CHECK_MSG(worst < 1e-5, check::fmt("%s step %d: relative difference %.3g", tag, s, worst));
      pf = pp;  // continue from one trajectory so differences do not compound
    }
  }
  return stored;
}

// A non-finite input: the loss is NaN, nothing is applied and grads gets the whole gradient.
static void test_not_applied() {
  Model m(mlp_spec());
  const size_t P = m.layout().param_count;
  std::vector<float> p(P), g(P, 7.f), before;
  m.init(p.data(), nullptr, 3);
  before = p;
  Batch b = make_batch(m.layout(), 16, 1.f, 9);
  b.x[5] = NAN;
  bool applied = true;
  const double loss =
      m.sgd_step(p.data(), nullptr, b.x.data(), Target{b.y.data(), nullptr}, 16, g.data(), -0.1f, nullptr, &applied);
  CHECK(!applied && std::isnan(loss));
  CHECK(std::memcmp(p.data(), before.data(), P * sizeof(float)) == 0);
  size_t untouched = 0;
  for (float v : g) untouched += v == 7.f;
  CHECK_MSG(untouched == 0, check::fmt("%zu gradient entries not written on a non-applied step", untouched));
}

int main() {
  if (const int rc = check::isa_path_or_skip("fused_sgd_test"); rc >= 0) return rc;
  for (int threads : {1, 2}) {
    set_blas_threads(threads);
    // The FMA paths (avx2, avx512) must keep the fast path: OpenBLAS's Haswell kernels and the
    // portable kernel both store fma(alpha, acc, C), and sgd_update contracts to the same fma.
    if (active_isa() != Isa::baseline &&
        (std::strcmp(blas_vendor(), "portable") == 0 || std::strcmp(blas_core(), "Haswell") == 0))
      CHECK_MSG(fused_sgd_update_exact(),
                check::fmt("%s/%s threads=%d: fused update not exact", blas_vendor(), blas_core(), threads));
    std::printf("fused_sgd_test: %s/%s threads=%d ISA %s: fused update exact: %s\n", blas_vendor(), blas_core(),
                threads, isa_name(active_isa()), fused_sgd_update_exact() ? "yes" : "no");
    CHECK(compare(mlp_spec(), 48, 1.f, 0.05f, 6, threads == 1 ? "mlp t1" : "mlp t2") == 0);
    CHECK(compare(mlp_spec(), 256, 1.f, 0.05f, 3, "mlp b256") == 0);
    CHECK(compare(cnn_spec(), 20, 1.f, 0.05f, 4, "cnn") == 0);
    // Inputs of 1e30: N·max|dout|·max|x| exceeds the 1e30 bound, so dW is stored and checked; it
    // is finite and the update goes through sgd_update — still the same step.
    CHECK(compare(relu_mlp_spec(), 32, 1e30f, 1e-30f, 3, "mlp bound") > 0);
    // Inputs of 3e38: the forward pass overflows; the step is not applied (both ways).
    int skipped = 0;
    compare(relu_mlp_spec(), 32, 3e38f, 1.f, 2, "mlp overflow", &skipped);
    CHECK(skipped == 2);
  }
  set_blas_threads(1);
  test_not_applied();
  return check::finish("fused_sgd_test");
}
