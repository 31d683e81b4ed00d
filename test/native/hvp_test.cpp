// Exact Hessian-vector products (native/hvp.h, hvp_kernels.h):
//   - every R-op kernel against its naive twin (float vs double);
//   - every naive twin against float64 central differences of the primal naive kernels (the
//     formulas themselves);
//   - HvpEngine on networks of every layer kind against an independent float64 reference: central
//     second differences of the float64 reference model's loss (ref_model.h), in eval and training
//     mode, with the data split over several chunks; Hessian symmetry; params/state untouched;
//     non-finite params or v rejected by name.
#include <algorithm>
#include <cstring>
#include <random>

#include "pool.h"
#include "batchnorm.h"
#include "check.h"
#include "errors.h"
#include "hvp.h"
#include "hvp_kernels.h"
#include "model.h"
#include "ref_model.h"

using namespace bigstep;

namespace {

std::mt19937 gen(7);

std::vector<double> randn(size_t n, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}
std::vector<float> to_f(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }
std::vector<double> to_d(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Central difference of a vector function f(ε) at 0, in double.
template <class F>
std::vector<double> ddeps(F f, double h = 1e-6) {
  std::vector<double> a = f(h), b = f(-h);
  for (size_t i = 0; i < a.size(); ++i) a[i] = (a[i] - b[i]) / (2 * h);
  return a;
}

double rel(const std::vector<double>& got, const std::vector<double>& want, double floor = 1e-3) {
  return check::max_rel_err(to_f(got).data(), want.data(), want.size(), floor);
}

// ---- kernels ----------------------------------------------------------------------------------

void test_activation_kernels() {
  const size_t n = 1000;
  auto z = randn(n, 2.0), rz = randn(n), dy = randn(n), rdy = randn(n);
  std::vector<double> y(n), ry(n);
  // tanh: twin vs fast
  for (size_t i = 0; i < n; ++i) y[i] = std::tanh(z[i]), ry[i] = (1 - y[i] * y[i]) * rz[i];
  std::vector<double> want(n);
  std::vector<float> got(n);
  {
    // the twin on the float inputs the fast kernel sees (1 - y² cancels near |y| = 1)
    auto fdy = to_f(dy), frdy = to_f(rdy), fy = to_f(y), fry = to_f(ry);
    tanh_rop_backward_naive(want.data(), to_d(fdy).data(), to_d(frdy).data(), to_d(fy).data(), to_d(fry).data(), n);
    tanh_rop_backward(got.data(), fdy.data(), frdy.data(), fy.data(), fry.data(), n);
    CHECK_MSG(check::max_rel_err(got.data(), want.data(), n) < 1e-5, "tanh_rop_backward vs its naive twin");
  }
  tanh_rop_backward_naive(want.data(), dy.data(), rdy.data(), y.data(), ry.data(), n);
  // tanh twin vs d/dε of dz = tanh'(z + ε rz)·(dy + ε rdy)
  auto fd = ddeps([&](double e) {
    std::vector<double> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = tanh_grad_naive(z[i] + e * rz[i]) * (dy[i] + e * rdy[i]);
    return d;
  });
  CHECK_MSG(rel(want, fd) < 1e-6, check::fmt("tanh R-op vs central differences: %.3g", rel(want, fd)));

  // gelu
  gelu_rop_backward_naive(want.data(), dy.data(), rdy.data(), z.data(), rz.data(), n);
  {
    auto fdy = to_f(dy), frdy = to_f(rdy), fz = to_f(z), frz = to_f(rz);
    gelu_rop_backward(got.data(), fdy.data(), frdy.data(), fz.data(), frz.data(), n);
    CHECK_MSG(check::max_rel_err(got.data(), want.data(), n) < 1e-5, "gelu_rop_backward vs its naive twin");
  }
  fd = ddeps([&](double e) {
    std::vector<double> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = gelu_grad_naive(z[i] + e * rz[i]) * (dy[i] + e * rdy[i]);
    return d;
  });
  CHECK_MSG(rel(want, fd) < 1e-6, check::fmt("gelu R-op vs central differences: %.3g", rel(want, fd)));
}

void test_maxpool_kernel() {
  for (int S : {2, 1, 3}) {
    const int N = 2, C = 3, H = 7, W = 6, K = 2 + (S == 3), OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    auto in = to_d(to_f(randn((size_t)N * H * W * C))), rin = to_d(to_f(randn(in.size())));
    std::vector<double> want((size_t)N * OH * OW * C);
    maxpool_nhwc_rop_forward_naive(want.data(), rin.data(), in.data(), N, C, H, W, K, S);
    std::vector<float> got(want.size());
    auto fin = to_f(in), frin = to_f(rin);
    maxpool_nhwc_rop_forward(got.data(), frin.data(), fin.data(), N, C, H, W, K, S);
    CHECK_MSG(check::max_rel_err(got.data(), want.data(), want.size()) == 0, "maxpool R-op fast vs twin (exact)");
    // The twin is the derivative of the pool (channels-last through the NCHW naive pool via C = 1 slices).
    auto fd = ddeps([&](double e) {
      std::vector<double> x(in.size()), y(want.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = in[i] + e * rin[i];
      // NHWC -> per-channel NCHW planes
      std::vector<double> plane((size_t)N * H * W), out((size_t)N * OH * OW);
      for (int c = 0; c < C; ++c) {
        for (size_t p = 0; p < plane.size(); ++p) plane[p] = x[p * C + c];
        maxpool_forward_naive(out.data(), plane.data(), N, 1, H, W, K, S);
        for (size_t p = 0; p < out.size(); ++p) y[p * C + c] = out[p];
      }
      return y;
    });
    CHECK_MSG(rel(want, fd) < 1e-6, "maxpool R-op vs central differences");
    // The gradient routing of maxpool_nhwc_backward is the transpose of the tangent gather.
    auto dout = to_f(randn(want.size()));
    std::vector<float> din(in.size());
    maxpool_nhwc_backward(din.data(), dout.data(), fin.data(), N, C, H, W, K, S);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < din.size(); ++i) lhs += (double)din[i] * frin[i];
    for (size_t i = 0; i < got.size(); ++i) rhs += (double)dout[i] * got[i];
    CHECK_MSG(std::fabs(lhs - rhs) < 1e-4 * (1 + std::fabs(rhs)), "maxpool tangent = transpose of its backward");
  }
}

void test_batchnorm_kernels() {
  for (bool train : {false, true}) {
    const int M = 9, C = 4;
    auto x = randn((size_t)M * C, 1.5), rx = randn(x.size()), dy = randn(x.size()), rdy = randn(x.size());
    auto gamma = randn(C), rgamma = randn(C), beta = randn(C), rbeta = randn(C);
    std::vector<float> rm(C), rv(C);
    for (int c = 0; c < C; ++c) rm[c] = (float)(0.3 * c - 0.2), rv[c] = (float)(0.5 + 0.25 * c);
    // statistics the forward used
    std::vector<double> mean(C), invstd(C);
    for (int c = 0; c < C; ++c) {
      if (train) {
        double s = 0, q = 0;
        for (int m = 0; m < M; ++m) s += x[m * C + c];
        s /= M;
        for (int m = 0; m < M; ++m) q += (x[m * C + c] - s) * (x[m * C + c] - s);
        mean[c] = s, invstd[c] = 1 / std::sqrt(q / M + kBnEps);
      } else {
        mean[c] = rm[c], invstd[c] = 1 / std::sqrt((double)rv[c] + kBnEps);
      }
    }
    // [M, C] with HW = 1 is the NCHW layout the primal naive kernels take (N = M).
    auto primal_y = [&](double e) {
      std::vector<double> xe(x.size()), g(C), b(C), y(x.size());
      for (size_t i = 0; i < x.size(); ++i) xe[i] = x[i] + e * rx[i];
      for (int c = 0; c < C; ++c) g[c] = gamma[c] + e * rgamma[c], b[c] = beta[c] + e * rbeta[c];
      if (train)
        batchnorm_forward_train_naive<double>(y.data(), xe.data(), g.data(), b.data(), M, C, 1, nullptr, nullptr);
      else
        batchnorm_forward_eval_naive<double>(y.data(), xe.data(), g.data(), b.data(), M, C, 1, rm.data(), rv.data());
      return y;
    };
    std::vector<double> ry(x.size());
    batchnorm_rop_forward_naive(ry.data(), x.data(), rx.data(), gamma.data(), rgamma.data(), rbeta.data(), mean.data(),
                                invstd.data(), M, C, train);
    auto fd = ddeps(primal_y);
    CHECK_MSG(rel(ry, fd) < 1e-6, check::fmt("batchnorm R forward (%s) vs central differences: %.3g",
                                             train ? "train" : "eval", rel(ry, fd)));
    // backward: (dx, dgamma, dbeta) as functions of ε
    auto primal_b = [&](double e) {
      std::vector<double> xe(x.size()), g(C), d(x.size()), dx(x.size()), dg(C), db(C);
      for (size_t i = 0; i < x.size(); ++i) xe[i] = x[i] + e * rx[i], d[i] = dy[i] + e * rdy[i];
      for (int c = 0; c < C; ++c) g[c] = gamma[c] + e * rgamma[c];
      if (train) {
        batchnorm_backward_train_naive<double>(dx.data(), dg.data(), db.data(), d.data(), xe.data(), g.data(), M, C, 1);
      } else {
        for (int c = 0; c < C; ++c) dg[c] = db[c] = 0;
        for (int m = 0; m < M; ++m)
          for (int c = 0; c < C; ++c) {
            const size_t i = (size_t)m * C + c;
            dx[i] = g[c] * invstd[c] * d[i];
            dg[c] += d[i] * (xe[i] - mean[c]) * invstd[c];
            db[c] += d[i];
          }
      }
      dx.insert(dx.end(), dg.begin(), dg.end());
      dx.insert(dx.end(), db.begin(), db.end());
      return dx;
    };
    std::vector<double> rdx(x.size()), rdg(C), rdb(C);
    batchnorm_rop_backward_naive(rdx.data(), rdg.data(), rdb.data(), dy.data(), rdy.data(), x.data(), rx.data(),
                                 gamma.data(), rgamma.data(), mean.data(), invstd.data(), M, C, train);
    std::vector<double> all = rdx;
    all.insert(all.end(), rdg.begin(), rdg.end());
    all.insert(all.end(), rdb.begin(), rdb.end());
    fd = ddeps(primal_b);
    CHECK_MSG(rel(all, fd) < 1e-6, check::fmt("batchnorm R backward (%s) vs central differences: %.3g",
                                              train ? "train" : "eval", rel(all, fd)));
    // fast vs twin
    auto fx = to_f(x), frx = to_f(rx), fdy = to_f(dy), frdy = to_f(rdy), fg = to_f(gamma), frg = to_f(rgamma),
         frb = to_f(rbeta), fm = to_f(mean), fi = to_f(invstd);
    std::vector<float> gry(x.size()), grdx(x.size()), grdg(C), grdb(C);
    batchnorm_rop_forward(gry.data(), fx.data(), frx.data(), fg.data(), frg.data(), frb.data(), fm.data(), fi.data(), M,
                          C, train);
    CHECK_MSG(check::max_rel_err(gry.data(), ry.data(), ry.size()) < 1e-4, "batchnorm_rop_forward vs its twin");
    batchnorm_rop_backward(grdx.data(), grdg.data(), grdb.data(), fdy.data(), frdy.data(), fx.data(), frx.data(),
                           fg.data(), frg.data(), fm.data(), fi.data(), M, C, train);
    std::vector<float> gall = grdx;
    gall.insert(gall.end(), grdg.begin(), grdg.end());
    gall.insert(gall.end(), grdb.begin(), grdb.end());
    CHECK_MSG(check::max_rel_err(gall.data(), all.data(), all.size()) < 1e-4, "batchnorm_rop_backward vs its twin");
  }
}

void test_loss_kernels() {
  const int N = 5, C = 7;
  auto z = randn((size_t)N * C, 2.0), rz = randn(z.size());
  std::vector<int32_t> labels(N);
  for (int n = 0; n < N; ++n) labels[n] = n % C;
  std::vector<double> want(z.size());
  softmax_ce_rop_naive(want.data(), z.data(), rz.data(), N, C, 0.2);
  auto fd = ddeps([&](double e) {
    std::vector<double> ze(z.size()), d(z.size());
    for (size_t i = 0; i < z.size(); ++i) ze[i] = z[i] + e * rz[i];
    softmax_ce_naive<double>(d.data(), ze.data(), labels.data(), N, C, 0.2);
    return d;
  });
  CHECK_MSG(rel(want, fd) < 1e-6, "softmax_ce R-op vs central differences");
  std::vector<float> got(z.size());
  auto fz = to_f(z), frz = to_f(rz);
  softmax_ce_rop(got.data(), fz.data(), frz.data(), N, C, 0.2f);
  CHECK_MSG(check::max_rel_err(got.data(), want.data(), want.size()) < 1e-5, "softmax_ce_rop vs its twin");
  // mse: d/dε of 2·s·(out + ε rout - t) is 2·s·rout
  mse_rop_naive(want.data(), rz.data(), z.size(), 0.1);
  mse_rop(got.data(), frz.data(), z.size(), 0.1f);
  CHECK_MSG(check::max_rel_err(got.data(), want.data(), want.size()) < 1e-6, "mse_rop vs its twin");
  std::vector<double> t(z.size(), 0.3);
  fd = ddeps([&](double e) {
    std::vector<double> ze(z.size()), d(z.size());
    for (size_t i = 0; i < z.size(); ++i) ze[i] = z[i] + e * rz[i];
    mse_naive<double>(d.data(), ze.data(), t.data(), z.size(), 0.1);
    return d;
  });
  CHECK_MSG(rel(want, fd) < 1e-6, "mse R-op vs central differences");
}

// ---- networks ------------------------------------------------------------------------------------

LayerSpec L(LayerKind k, int units = 0, int kernel = 0, int stride = 1, int padding = 0) {
  LayerSpec l;
  l.kind = k, l.units = units, l.kernel = kernel, l.stride = stride, l.padding = padding;
  return l;
}
LayerSpec res(int units, int stride, bool bn) {
  LayerSpec l = L(LayerKind::ResBlock, units, 3, stride);
  l.batchnorm = bn;
  return l;
}

struct Net {
  const char* name;
  std::vector<int> input;
  std::vector<LayerSpec> layers;
  LossKind loss;
  bool training = false;
};

// Loss of the engine's objective in float64: the n-weighted mean over chunks of each chunk's mean
// loss (equal to the mean over all examples except for batch-statistics batch norm).
double ref_objective(const ref::Ref& r, const std::vector<double>& P, const float* S, const std::vector<float>& x,
                     const Target& y, int n, int chunk, bool training, size_t in, size_t D) {
  double total = 0;
  for (int s = 0; s < n; s += chunk) {
    const int N = std::min(chunk, n - s);
    Target ys;
    if (y.labels)
      ys.labels = y.labels + s;
    else
      ys.values = y.values + (size_t)s * D;
    total += (double)N / n * r.loss(P, S, x.data() + (size_t)s * in, ys, N, training);
  }
  return total;
}

void test_network(const Net& c) {
  ModelSpec spec;
  spec.input = c.input, spec.layers = c.layers, spec.loss = c.loss;
  Model m(spec);
  const Layout& Lo = m.layout();
  std::vector<float> P(Lo.param_count), S(Lo.state_count);
  m.init(P.data(), S.data(), 3);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  for (const auto& e : Lo.params)
    if (e.init == "zeros" || e.init == "ones")
      for (size_t i = 0; i < e.size; ++i) P[e.offset + i] += 0.3f * U(gen);
  for (const auto& e : Lo.state)
    for (size_t i = 0; i < e.size; ++i) S[e.offset + i] = e.init == "ones" ? 0.5f + std::fabs(U(gen)) : 0.3f * U(gen);
  const int n = 5, chunk = 3;
  std::vector<float> x((size_t)n * Lo.input_size);
  for (auto& v : x) v = U(gen);
  std::vector<int32_t> labels(n);
  std::vector<float> targets((size_t)n * Lo.output_size);
  for (int i = 0; i < n; ++i) labels[i] = (int)(gen() % Lo.output_size);
  for (auto& v : targets) v = U(gen);
  Target y;
  if (c.loss == LossKind::SoftmaxCrossEntropy)
    y.labels = labels.data();
  else
    y.values = targets.data();

  HvpEngine eng(spec, Lo);
  const size_t Pn = Lo.param_count;
  auto v = randn(Pn), u = randn(Pn);
  std::vector<double> hv(Pn), hu(Pn);
  const std::vector<float> P0 = P, S0 = S;
  eng.product(P.data(), S.data(), x.data(), y, n, chunk, v.data(), hv.data(), c.training);
  CHECK_MSG(std::memcmp(P.data(), P0.data(), Pn * 4) == 0 &&
                (S.empty() || std::memcmp(S.data(), S0.data(), S.size() * 4) == 0),
            check::fmt("%s: params and state untouched", c.name));
  eng.product(P.data(), S.data(), x.data(), y, n, chunk, u.data(), hu.data(), c.training);

  // Symmetry: uᵀHv = vᵀHu.
  double uhv = 0, vhu = 0, scale = 0;
  for (size_t i = 0; i < Pn; ++i) uhv += u[i] * hv[i], vhu += v[i] * hu[i], scale += std::fabs(u[i] * hv[i]);
  CHECK_MSG(std::fabs(uhv - vhu) <= 1e-4 * scale, check::fmt("%s: uᵀHv %.8g vs vᵀHu %.8g", c.name, uhv, vhu));

  // Float64 reference: Hv_i = ∂²L/∂θ_i∂v by central second differences of the reference loss.
  ref::Ref r(spec, Lo);
  std::vector<double> Pd = to_d(P), want(Pn);
  // Steps: the rounding error of a second difference is ~eps·|L|/h² (1e-5 at h = 1.5e-6, enough to
  // fail a 2e-3 check on small entries); a ReLU / residual kink within the step corrupts the
  // quotient (seen at h = 2e-5). Each entry is the median over three steps in between, so one
  // crossing cannot move it; the worst error over these nets is 3.7e-4.
  auto L_at = [&](size_t i, double a, double b) {
    std::vector<double> q = Pd;
    for (size_t j = 0; j < Pn; ++j) q[j] += b * v[j];
    q[i] += a;
    return ref_objective(r, q, S.data(), x, y, n, chunk, c.training, Lo.input_size, Lo.output_size);
  };
  for (size_t i = 0; i < Pn; ++i) {
    double est[3];
    const double hs[3] = {1e-5, 6e-6, 4e-6};
    for (int k = 0; k < 3; ++k) {
      const double h = hs[k];
      est[k] = (L_at(i, h, h) - L_at(i, h, -h) - L_at(i, -h, h) + L_at(i, -h, -h)) / (4 * h * h);
    }
    std::sort(est, est + 3);
    want[i] = est[1];
  }
  size_t worst = 0;
  const double err = check::max_rel_err(to_f(hv).data(), want.data(), Pn, 1e-2, &worst);
  CHECK_MSG(err < 2e-3, check::fmt("%s: Hv vs float64 second differences: max rel err %.3g at %zu (%.6g vs %.6g)",
                                   c.name, err, worst, hv[worst], want[worst]));

  // One chunk (n <= chunk): a product at the inputs of the previous one reuses its primal pass. It
  // must equal a fresh engine's product bit for bit, and a change of params, state, data or
  // targets in place must be noticed.
  auto fresh = [&](const std::vector<double>& dir) {
    HvpEngine e(spec, Lo);
    std::vector<double> o(Pn);
    e.product(P.data(), S.data(), x.data(), y, n, n + 1, dir.data(), o.data(), c.training);
    return o;
  };
  auto kept = [&](const std::vector<double>& dir) {
    std::vector<double> o(Pn);
    eng.product(P.data(), S.data(), x.data(), y, n, n + 1, dir.data(), o.data(), c.training);
    return o;
  };
  kept(v);
  CHECK_MSG(kept(u) == fresh(u), check::fmt("%s: reused primal pass equals a fresh product bitwise", c.name));
  const auto changed = [&](const char* what, float* at, float delta) {
    kept(v);
    *at += delta;
    CHECK_MSG(kept(u) == fresh(u), check::fmt("%s: a changed %s is noticed", c.name, what));
    *at -= delta;
  };
  changed("parameter", &P[Pn / 2], 0.25f);
  changed("input", &x[x.size() / 2], 0.5f);
  if (!S.empty()) changed("state entry", &S[S.size() - 1], 0.25f);
  if (c.loss == LossKind::SoftmaxCrossEntropy) {
    kept(v);
    labels[n - 1] = (labels[n - 1] + 1) % (int32_t)Lo.output_size;
    CHECK_MSG(kept(u) == fresh(u), check::fmt("%s: a changed label is noticed", c.name));
  } else {
    changed("target", &targets[targets.size() - 1], 0.5f);
  }
}

void test_networks() {
  using K = LayerKind;
  const auto CE = LossKind::SoftmaxCrossEntropy, MSE = LossKind::MeanSquaredError;
  const std::vector<Net> nets = {
      {"tanh MLP, MSE", {6}, {L(K::Dense, 5), L(K::Tanh), L(K::Dense, 3)}, MSE},
      {"gelu MLP, CE", {6}, {L(K::Dense, 5), L(K::Gelu), L(K::Dense, 4)}, CE},
      {"relu MLP, CE", {6}, {L(K::Dense, 8), L(K::Relu), L(K::Dense, 6), L(K::Relu), L(K::Dense, 3)}, CE},
      {"relu CNN + maxpool",
       {2, 7, 7},
       {L(K::Conv2d, 3, 3), L(K::Relu), L(K::MaxPool, 2, 2, 2), L(K::Flatten), L(K::Dense, 3)},
       CE},
      {"conv pad/stride + avgpool + gap, tanh",
       {3, 8, 8},
       {L(K::Conv2d, 4, 3, 2, 1), L(K::Tanh), L(K::Conv2d, 3, 2), L(K::AvgPool, 2, 1, 1), L(K::GlobalAvgPool),
        L(K::Dense, 3)},
       CE},
      {"maxpool first, overlapping windows",
       {2, 6, 6},
       {L(K::MaxPool, 3, 3, 1), L(K::Conv2d, 3, 2), L(K::Gelu), L(K::Flatten), L(K::Dense, 4)},
       CE},
      {"resblocks (identity + projection), no batch norm",
       {2, 6, 6},
       {L(K::Conv2d, 3, 3, 1, 1), L(K::Relu), res(3, 1, false), res(4, 2, false), L(K::GlobalAvgPool), L(K::Dense, 3)},
       CE},
      {"resblock first layer", {3, 5, 5}, {res(3, 1, false), L(K::Flatten), L(K::Dense, 2)}, MSE},
      {"batch norm (eval): vector and conv, resblocks",
       {2, 6, 6},
       {L(K::Conv2d, 3, 3), L(K::BatchNorm), L(K::Relu), res(3, 1, true), res(4, 2, true), L(K::Flatten),
        L(K::Dense, 5), L(K::BatchNorm), L(K::Tanh), L(K::Dense, 3)},
       CE,
       false},
      {"batch norm (train): vector and conv, resblocks",
       {2, 6, 6},
       {L(K::Conv2d, 3, 3), L(K::BatchNorm), L(K::Relu), res(3, 1, true), res(4, 2, true), L(K::Flatten),
        L(K::Dense, 5), L(K::BatchNorm), L(K::Tanh), L(K::Dense, 3)},
       CE,
       true},
      {"3-d output, MSE", {2, 5, 5}, {L(K::Conv2d, 3, 3, 1, 1), L(K::Tanh), L(K::Conv2d, 2, 3)}, MSE},
  };
  for (const Net& c : nets) test_network(c);
}

void test_errors() {
  ModelSpec spec;
  spec.input = {4};
  spec.layers = {L(LayerKind::Dense, 3)};
  Model m(spec);
  const Layout& Lo = m.layout();
  std::vector<float> P(Lo.param_count), x(8, 0.5f);
  m.init(P.data(), nullptr, 1);
  std::vector<int32_t> labels = {0, 2};
  Target y;
  y.labels = labels.data();
  std::vector<double> v(Lo.param_count, 1.0), out(Lo.param_count);
  HvpEngine eng(spec, Lo);
  P[2] = NAN;
  CHECK_THROWS_PARAM(eng.product(P.data(), nullptr, x.data(), y, 2, 2, v.data(), out.data(), false), ErrorKind::Range,
                     "params");
  P[2] = 0.1f;
  v[1] = INFINITY;
  CHECK_THROWS_PARAM(eng.product(P.data(), nullptr, x.data(), y, 2, 2, v.data(), out.data(), false), ErrorKind::Range,
                     "v");
  v[1] = 1e300;  // finite in double, not in float
  CHECK_THROWS_PARAM(eng.product(P.data(), nullptr, x.data(), y, 2, 2, v.data(), out.data(), false), ErrorKind::Range,
                     "v");
}

}  // namespace

int main() {
  test_activation_kernels();
  test_maxpool_kernel();
  test_batchnorm_kernels();
  test_loss_kernels();
  test_networks();
  test_errors();
  return check::finish("hvp_test");
}
