// Every fast kernel against its naive twin (run in double): forward and backward, odd shapes;
// the channels-last kernels against the NCHW twins through the layout transposes (conv strides,
// paddings, kernel sizes, tails of every micro-tile dimension, 1 vs 2 threads bitwise).
#include <cstring>
#include <random>

#include "check.h"
#include "gemm.h"
#include "kernels.h"
#include "conv.h"
#include "pool.h"
#include "batchnorm.h"
#include "transpose.h"
#include "threads.h"

using namespace bigstep;

static std::mt19937 gen(7);

static std::vector<float> rnd(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> U(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = U(gen);
  return v;
}
static std::vector<double> dbl(const std::vector<float>& v) { return {v.begin(), v.end()}; }

static void expect_close(const char* what, const std::vector<float>& got, const std::vector<double>& want,
                         double tol = 1e-4) {
  size_t worst = 0;
  const double e = check::max_rel_err(got.data(), want.data(), want.size(), 1e-2, &worst);
  CHECK_MSG(got.size() == want.size() && e <= tol,
            check::fmt("%s: max rel err %.3g at %zu (got %.8g want %.8g)", what, e, worst,
                       want.empty() ? 0.0 : (double)got[worst], want.empty() ? 0.0 : want[worst]));
}

static void test_dense(int N, int I, int O, bool bias, bool relu) {
  auto x = rnd((size_t)N * I), W = rnd((size_t)O * I), b = rnd(O), dy = rnd((size_t)N * O);
  std::vector<float> y((size_t)N * O);
  dense_forward(y.data(), x.data(), W.data(), bias ? b.data() : nullptr, N, I, O, relu);
  auto xd = dbl(x), Wd = dbl(W), bd = dbl(b), dyd = dbl(dy);
  std::vector<double> yd((size_t)N * O);
  dense_forward_naive(yd.data(), xd.data(), Wd.data(), bias ? bd.data() : nullptr, N, I, O);
  if (relu)
    for (auto& v : yd) v = relu_naive(v);
  expect_close(check::fmt("dense fwd N=%d I=%d O=%d bias=%d relu=%d", N, I, O, bias, relu).c_str(), y, yd);

  std::vector<float> dx((size_t)N * I), dW((size_t)O * I, NAN), db(O, NAN);
  dense_backward(dx.data(), dW.data(), bias ? db.data() : nullptr, dy.data(), x.data(), W.data(), N, I, O);
  std::vector<double> dxd((size_t)N * I), dWd((size_t)O * I), dbd(O);
  dense_backward_naive(dxd.data(), dWd.data(), dbd.data(), dyd.data(), xd.data(), Wd.data(), N, I, O);
  expect_close("dense dx", dx, dxd);
  expect_close("dense dW", dW, dWd);
  if (bias) expect_close("dense db", db, dbd);
}

static void test_pools(int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  auto x = rnd((size_t)N * C * H * W), dy = rnd((size_t)N * C * OH * OW);
  auto xd = dbl(x), dyd = dbl(dy);
  std::vector<float> y((size_t)N * C * OH * OW), dx(x.size(), NAN);
  std::vector<double> yd(y.size()), dxd(x.size());
  std::string tag = check::fmt("N=%d C=%d H=%d W=%d K=%d S=%d", N, C, H, W, K, S);
  maxpool_forward(y.data(), x.data(), N, C, H, W, K, S);
  maxpool_forward_naive(yd.data(), xd.data(), N, C, H, W, K, S);
  expect_close(("maxpool fwd " + tag).c_str(), y, yd, 0);
  maxpool_backward(dx.data(), dy.data(), x.data(), N, C, H, W, K, S);
  maxpool_backward_naive(dxd.data(), dyd.data(), xd.data(), N, C, H, W, K, S);
  expect_close(("maxpool bwd " + tag).c_str(), dx, dxd);
  avgpool_forward(y.data(), x.data(), N, C, H, W, K, S);
  avgpool_forward_naive(yd.data(), xd.data(), N, C, H, W, K, S);
  expect_close(("avgpool fwd " + tag).c_str(), y, yd);
  std::fill(dx.begin(), dx.end(), NAN);
  avgpool_backward(dx.data(), dy.data(), N, C, H, W, K, S);
  avgpool_backward_naive(dxd.data(), dyd.data(), N, C, H, W, K, S);
  expect_close(("avgpool bwd " + tag).c_str(), dx, dxd);
}

static void test_gap(int N, int C, int HW) {
  auto x = rnd((size_t)N * C * HW), dy = rnd((size_t)N * C);
  auto xd = dbl(x), dyd = dbl(dy);
  std::vector<float> y((size_t)N * C), dx(x.size());
  std::vector<double> yd(y.size()), dxd(x.size());
  global_avgpool_forward(y.data(), x.data(), N, C, HW);
  global_avgpool_forward_naive(yd.data(), xd.data(), N, C, HW);
  expect_close("gap fwd", y, yd);
  global_avgpool_backward(dx.data(), dy.data(), N, C, HW);
  global_avgpool_backward_naive(dxd.data(), dyd.data(), N, C, HW);
  expect_close("gap bwd", dx, dxd);
}

static void test_activations() {
  const size_t n = 1001;
  auto x = rnd(n, -4, 4), dy = rnd(n);
  std::vector<float> y(n), dx(n);
  std::vector<double> yd(n), dxd(n);
  relu_forward(y.data(), x.data(), n);
  relu_backward(dx.data(), dy.data(), y.data(), n);
  for (size_t i = 0; i < n; ++i) yd[i] = relu_naive<double>(x[i]), dxd[i] = dy[i] * relu_grad_naive<double>(x[i]);
  expect_close("relu fwd", y, yd, 0);
  expect_close("relu bwd", dx, dxd, 0);
  tanh_forward(y.data(), x.data(), n);
  tanh_backward(dx.data(), dy.data(), y.data(), n);
  for (size_t i = 0; i < n; ++i) yd[i] = tanh_naive<double>(x[i]), dxd[i] = dy[i] * tanh_grad_naive<double>(x[i]);
  expect_close("tanh fwd", y, yd);
  expect_close("tanh bwd", dx, dxd);
  gelu_forward(y.data(), x.data(), n);
  gelu_backward(dx.data(), dy.data(), x.data(), n);
  for (size_t i = 0; i < n; ++i) yd[i] = gelu_naive<double>(x[i]), dxd[i] = dy[i] * gelu_grad_naive<double>(x[i]);
  expect_close("gelu fwd", y, yd);
  expect_close("gelu bwd", dx, dxd);
  // GELU is the exact erf form: gelu(1) = 0.8413447460685429 (torch default).
  float one = 1.0f, g1;
  gelu_forward(&g1, &one, 1);
  CHECK(std::fabs(g1 - 0.8413447460685429) < 1e-6);
  // In place works.
  std::vector<float> z = x;
  relu_forward(z.data(), z.data(), n);
  for (size_t i = 0; i < n; ++i) yd[i] = relu_naive<double>(x[i]);
  expect_close("relu in place", z, yd, 0);
}

static void test_losses() {
  const int N = 7, C = 5;
  auto z = rnd((size_t)N * C, -3, 3);
  z[3] += 1000.f;  // huge logit: must stay finite (stable logsumexp)
  std::vector<int32_t> lab(N);
  for (int n = 0; n < N; ++n) lab[n] = (n * 3) % C;
  std::vector<float> dz(z.size());
  int64_t correct = 0;
  const double L = softmax_ce(dz.data(), z.data(), lab.data(), N, C, 1.0f / N, &correct);
  auto zd = dbl(z);
  std::vector<double> dzd(z.size());
  const double Ld = softmax_ce_naive(dzd.data(), zd.data(), lab.data(), N, C, 1.0 / N);
  CHECK_MSG(std::isfinite(L) && std::fabs(L - Ld) <= 1e-6 * std::fabs(Ld), check::fmt("ce loss %.9g vs %.9g", L, Ld));
  expect_close("ce grad", dz, dzd);
  int64_t want_correct = 0;
  for (int n = 0; n < N; ++n) {
    int arg = 0;
    for (int c = 1; c < C; ++c)
      if (z[(size_t)n * C + c] > z[(size_t)n * C + arg]) arg = c;
    want_correct += arg == lab[n];
  }
  CHECK(correct == want_correct);

  auto out = rnd(35), t = rnd(35);
  std::vector<float> d(35);
  const double S = mse(d.data(), out.data(), t.data(), 35, 1.0f / 35);
  std::vector<double> dd(35);
  auto od = dbl(out), td = dbl(t);
  const double Sd = mse_naive(dd.data(), od.data(), td.data(), 35, 1.0 / 35);
  CHECK(std::fabs(S - Sd) <= 1e-6 * Sd);
  expect_close("mse grad", d, dd);
}

static void test_batchnorm(int N, int C, int HW, float shift) {
  auto x = rnd((size_t)N * C * HW, -2 + shift, 2 + shift), g = rnd(C, 0.5, 1.5), b = rnd(C), dy = rnd(x.size());
  auto xd = dbl(x), gd = dbl(g), bd = dbl(b), dyd = dbl(dy);
  std::vector<float> y(x.size()), rm(C, 0.2f), rv(C, 1.5f), sm(C), si(C);
  std::vector<double> yd(x.size()), rmd(C, 0.2), rvd(C, 1.5);
  std::string tag = check::fmt("bn N=%d C=%d HW=%d shift=%g", N, C, HW, shift);
  batchnorm_forward_train(y.data(), x.data(), g.data(), b.data(), N, C, HW, rm.data(), rv.data(), sm.data(), si.data());
  batchnorm_forward_train_naive(yd.data(), xd.data(), gd.data(), bd.data(), N, C, HW, rmd.data(), rvd.data());
  // With a large mean, (x - mean) uses the mean rounded to float (~4e-6 absolute at 100), about
  // 1e-4 relative to max_rel_err's 1 % floor: the shifted case gets 2e-4 for y and dgamma.
  const double shifted_tol = shift != 0.f ? 2e-4 : 1e-4;
  expect_close((tag + " train fwd").c_str(), y, yd, shifted_tol);
  expect_close((tag + " running mean").c_str(), rm, rmd);
  expect_close((tag + " running var").c_str(), rv, rvd);
  std::vector<float> dx(x.size()), dg(C), dbeta(C);
  std::vector<double> dxd(x.size()), dgd(C), dbd(C);
  batchnorm_backward(dx.data(), dg.data(), dbeta.data(), dy.data(), x.data(), g.data(), sm.data(), si.data(), N, C, HW,
                     true);
  batchnorm_backward_train_naive(dxd.data(), dgd.data(), dbd.data(), dyd.data(), xd.data(), gd.data(), N, C, HW);
  expect_close((tag + " train dx").c_str(), dx, dxd, 1e-3);
  expect_close((tag + " train dgamma").c_str(), dg, dgd, shifted_tol);
  expect_close((tag + " train dbeta").c_str(), dbeta, dbd);
  // In place (dx aliases dy).
  std::vector<float> dyi = dy;
  batchnorm_backward(dyi.data(), dg.data(), dbeta.data(), dyi.data(), x.data(), g.data(), sm.data(), si.data(), N, C,
                     HW, true);
  expect_close((tag + " train dx in place").c_str(), dyi, dxd, 1e-3);
  // Eval.
  batchnorm_forward_eval(y.data(), x.data(), g.data(), b.data(), N, C, HW, rm.data(), rv.data(), sm.data(), si.data());
  batchnorm_forward_eval_naive(yd.data(), xd.data(), gd.data(), bd.data(), N, C, HW, rm.data(), rv.data());
  expect_close((tag + " eval fwd").c_str(), y, yd, 1e-4);
  batchnorm_backward(dx.data(), dg.data(), dbeta.data(), dy.data(), x.data(), g.data(), sm.data(), si.data(), N, C, HW,
                     false);
  for (int c = 0; c < C; ++c) {
    const double is = 1.0 / std::sqrt((double)rv[c] + kBnEps);
    double sg = 0;
    for (int n = 0; n < N; ++n)
      for (int p = 0; p < HW; ++p) {
        const size_t i = ((size_t)n * C + c) * HW + p;
        dxd[i] = dy[i] * gd[c] * is;
        sg += dy[i] * (x[i] - rm[c]) * is;
      }
    dgd[c] = sg;
  }
  expect_close((tag + " eval dx").c_str(), dx, dxd);
  expect_close((tag + " eval dgamma").c_str(), dg, dgd, 1e-4);
}

// ---- channels-last kernels: the NCHW naive twins through the layout transposes --------------

template <class T>
static std::vector<T> to_nhwc(const std::vector<T>& v, int N, int C, int HW) {
  std::vector<T> r(v.size());
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < HW; ++p) r[((size_t)n * HW + p) * C + c] = v[((size_t)n * C + c) * HW + p];
  return r;
}
template <class T>
static std::vector<T> to_nchw(const std::vector<T>& v, int N, int C, int HW) {
  std::vector<T> r(v.size());
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < HW; ++p) r[((size_t)n * C + c) * HW + p] = v[((size_t)n * HW + p) * C + c];
  return r;
}
static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

struct NhwcConvOut {
  std::vector<float> y, dx, dx_acc, dW, db;
};

static NhwcConvOut run_conv_nhwc(int N, const ConvShape& s, const std::vector<float>& xt, const std::vector<float>& W,
                                 const float* b, bool relu, const float* res, const std::vector<float>& dyt,
                                 const std::vector<float>& mask) {
  NhwcConvOut o;
  std::vector<float> sf(conv2d_nhwc_forward_scratch(N, s), NAN), sb(conv2d_nhwc_backward_scratch(N, s), NAN);
  o.y.assign((size_t)N * s.out_size(), NAN);
  conv2d_nhwc_forward(o.y.data(), xt.data(), W.data(), b, N, s, relu, sf.data(), res);
  o.dx.assign(xt.size(), NAN);
  o.dW.assign(W.size(), NAN);
  o.db.assign(s.O, NAN);
  conv2d_nhwc_backward(o.dx.data(), o.dW.data(), o.db.data(), dyt.data(), xt.data(), W.data(), N, s, false, sb.data());
  o.dx_acc.assign(xt.size(), 1.0f);
  std::vector<float> dW2(W.size());
  conv2d_nhwc_backward(o.dx_acc.data(), dW2.data(), nullptr, dyt.data(), xt.data(), W.data(), N, s, true, sb.data(),
                       mask.data());
  CHECK(same_bits(dW2, o.dW));  // dW does not depend on din / db / accumulate
  return o;
}

static void test_conv_nhwc(int N, int C, int H, int Wd_, int O, int K, int S, int P, bool bias, bool relu,
                           bool residual) {
  const ConvShape s = ConvShape::make(C, H, Wd_, O, K, S, P);
  const int HW = H * Wd_, OHW = (int)s.ohw();
  const std::string name = check::fmt("conv nhwc N=%d C=%d H=%d W=%d O=%d K=%d S=%d P=%d%s%s%s", N, C, H, Wd_, O, K, S,
                                      P, bias ? " bias" : "", relu ? " relu" : "", residual ? " residual" : "");
  auto x = rnd((size_t)N * s.in_size()), W = rnd((size_t)O * s.ckk()), b = rnd(O), r = rnd((size_t)N * s.out_size()),
       dy = rnd((size_t)N * s.out_size()), mask = rnd((size_t)N * s.in_size());
  const auto xt = to_nhwc(x, N, C, HW), rt = to_nhwc(r, N, O, OHW), dyt = to_nhwc(dy, N, O, OHW);
  const NhwcConvOut got = run_conv_nhwc(N, s, xt, W, bias ? b.data() : nullptr, relu, residual ? rt.data() : nullptr,
                                        dyt, to_nhwc(mask, N, C, HW));
  // Oracle: the NCHW naive twin in double.
  auto xd = dbl(x), Wdd = dbl(W), bd = dbl(b), dyd = dbl(dy);
  std::vector<double> yd((size_t)N * s.out_size());
  conv2d_forward_naive(yd.data(), xd.data(), Wdd.data(), bias ? bd.data() : nullptr, N, s);
  for (size_t i = 0; i < yd.size(); ++i) {
    if (residual) yd[i] += r[i];
    if (relu) yd[i] = relu_naive(yd[i]);
  }
  expect_close((name + " fwd").c_str(), got.y, to_nhwc(yd, N, O, OHW));
  std::vector<double> dxd(x.size()), dWd(W.size()), dbd(O);
  conv2d_backward_naive(dxd.data(), dWd.data(), dbd.data(), dyd.data(), xd.data(), Wdd.data(), N, s);
  expect_close((name + " dx").c_str(), got.dx, to_nhwc(dxd, N, C, HW));
  expect_close((name + " dW").c_str(), got.dW, dWd);
  expect_close((name + " db").c_str(), got.db, dbd);
  for (size_t i = 0; i < dxd.size(); ++i) dxd[i] = 1.0 + (mask[i] > 0 ? dxd[i] : 0.0);
  expect_close((name + " dx masked, accumulated").c_str(), got.dx_acc, to_nhwc(dxd, N, C, HW));
  // Bitwise identical with 2 threads (the partition never changes an element's arithmetic).
  set_blas_threads(2);
  const NhwcConvOut got2 = run_conv_nhwc(N, s, xt, W, bias ? b.data() : nullptr, relu, residual ? rt.data() : nullptr,
                                         dyt, to_nhwc(mask, N, C, HW));
  set_blas_threads(1);
  CHECK_MSG(same_bits(got.y, got2.y) && same_bits(got.dx, got2.dx) && same_bits(got.dW, got2.dW) &&
                same_bits(got.db, got2.db) && same_bits(got.dx_acc, got2.dx_acc),
            name + ": 1 and 2 threads differ");
}

static void test_transposes() {
  const int N = 3, C = 19, HW = 37;
  auto x = rnd((size_t)N * C * HW);
  std::vector<float> t(x.size()), back(x.size());
  nchw_to_nhwc(t.data(), x.data(), N, C, HW);
  CHECK(same_bits(t, to_nhwc(x, N, C, HW)));
  nhwc_to_nchw(back.data(), t.data(), N, C, HW);
  CHECK(same_bits(back, x));
}

// NHWC pools against the NCHW fast kernels (bitwise: same per-element arithmetic) and naive twins.
static void test_pools_nhwc(int N, int C, int H, int W, int K, int S, bool nans) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1, HW = H * W, OHW = OH * OW;
  auto x = rnd((size_t)N * C * H * W), dy = rnd((size_t)N * C * OH * OW);
  if (nans) {
    x[5] = NAN;
    for (size_t i = 7; i < x.size(); i += 11) x[i] = x[i - 1];  // ties
  }
  const auto xt = to_nhwc(x, N, C, HW), dyt = to_nhwc(dy, N, C, OHW);
  std::string tag = check::fmt("nhwc N=%d C=%d H=%d W=%d K=%d S=%d%s", N, C, H, W, K, S, nans ? " nan/ties" : "");
  std::vector<float> y(dy.size()), yt(dy.size()), dx(x.size()), dxt(x.size(), NAN);
  maxpool_forward(y.data(), x.data(), N, C, H, W, K, S);
  maxpool_nhwc_forward(yt.data(), xt.data(), N, C, H, W, K, S);
  CHECK_MSG(same_bits(to_nchw(yt, N, C, OHW), y), "maxpool fwd " + tag);
  maxpool_backward(dx.data(), dy.data(), x.data(), N, C, H, W, K, S);
  maxpool_nhwc_backward(dxt.data(), dyt.data(), xt.data(), N, C, H, W, K, S);
  CHECK_MSG(same_bits(to_nchw(dxt, N, C, HW), dx), "maxpool bwd " + tag);
  if (nans) return;
  std::vector<double> yd(y.size()), dxd(x.size());
  avgpool_nhwc_forward(yt.data(), xt.data(), N, C, H, W, K, S);
  avgpool_forward_naive(yd.data(), dbl(x).data(), N, C, H, W, K, S);
  expect_close(("avgpool fwd " + tag).c_str(), yt, to_nhwc(yd, N, C, OHW));
  std::fill(dxt.begin(), dxt.end(), NAN);
  avgpool_nhwc_backward(dxt.data(), dyt.data(), N, C, H, W, K, S);
  avgpool_backward_naive(dxd.data(), dbl(dy).data(), N, C, H, W, K, S);
  expect_close(("avgpool bwd " + tag).c_str(), dxt, to_nhwc(dxd, N, C, HW));
  // Global average pool.
  std::vector<float> g((size_t)N * C), gdx(x.size(), NAN);
  std::vector<double> gd((size_t)N * C), gdxd(x.size());
  global_avgpool_nhwc_forward(g.data(), xt.data(), N, C, HW);
  global_avgpool_forward_naive(gd.data(), dbl(x).data(), N, C, HW);
  expect_close(("gap fwd " + tag).c_str(), g, gd);
  auto gy = rnd((size_t)N * C);
  global_avgpool_nhwc_backward(gdx.data(), gy.data(), N, C, HW);
  global_avgpool_backward_naive(gdxd.data(), dbl(gy).data(), N, C, HW);
  expect_close(("gap bwd " + tag).c_str(), gdx, to_nhwc(gdxd, N, C, HW));
}

static void test_batchnorm_nhwc(int N, int C, int HW, float shift) {
  auto x = rnd((size_t)N * C * HW, -2 + shift, 2 + shift), g = rnd(C, 0.5, 1.5), b = rnd(C), dy = rnd(x.size());
  const auto xt = to_nhwc(x, N, C, HW), dyt = to_nhwc(dy, N, C, HW);
  auto xd = dbl(x), gd = dbl(g), bd = dbl(b), dyd = dbl(dy);
  std::vector<float> y(x.size()), rm(C, 0.2f), rv(C, 1.5f), sm(C), si(C);
  std::vector<double> yd(x.size()), rmd(C, 0.2), rvd(C, 1.5);
  std::string tag = check::fmt("bn nhwc N=%d C=%d HW=%d shift=%g", N, C, HW, shift);
  batchnorm_nhwc_forward_train(y.data(), xt.data(), g.data(), b.data(), N, C, HW, rm.data(), rv.data(), sm.data(),
                               si.data());
  batchnorm_forward_train_naive(yd.data(), xd.data(), gd.data(), bd.data(), N, C, HW, rmd.data(), rvd.data());
  // (x - mean) uses the mean rounded to float, as the NCHW kernel does: at |mean| = 100 that
  // alone is ~4e-6 absolute, ~1e-4 relative to the 1 % floor of max_rel_err.
  expect_close((tag + " train fwd").c_str(), y, to_nhwc(yd, N, C, HW), 2e-4);
  expect_close((tag + " running mean").c_str(), rm, rmd);
  expect_close((tag + " running var").c_str(), rv, rvd);
  std::vector<float> dx(x.size()), dg(C), dbeta(C);
  std::vector<double> dxd(x.size()), dgd(C), dbd(C);
  batchnorm_nhwc_backward(dx.data(), dg.data(), dbeta.data(), dyt.data(), xt.data(), g.data(), sm.data(), si.data(), N,
                          C, HW, true);
  batchnorm_backward_train_naive(dxd.data(), dgd.data(), dbd.data(), dyd.data(), xd.data(), gd.data(), N, C, HW);
  expect_close((tag + " train dx").c_str(), dx, to_nhwc(dxd, N, C, HW), 1e-3);
  expect_close((tag + " train dgamma").c_str(), dg, dgd, 1e-4);
  expect_close((tag + " train dbeta").c_str(), dbeta, dbd);
  std::vector<float> dyi = dyt;  // in place
  batchnorm_nhwc_backward(dyi.data(), dg.data(), dbeta.data(), dyi.data(), xt.data(), g.data(), sm.data(), si.data(), N,
                          C, HW, true);
  CHECK_MSG(same_bits(dyi, dx), tag + " train dx in place");
  // Eval: the same per-element arithmetic as the NCHW kernel.
  std::vector<float> ye(x.size()), yen(x.size());
  batchnorm_nhwc_forward_eval(ye.data(), xt.data(), g.data(), b.data(), N, C, HW, rm.data(), rv.data(), sm.data(),
                              si.data());
  batchnorm_forward_eval(yen.data(), x.data(), g.data(), b.data(), N, C, HW, rm.data(), rv.data(), nullptr, nullptr);
  CHECK_MSG(same_bits(to_nchw(ye, N, C, HW), yen), tag + " eval fwd");
  std::vector<float> dxe(x.size()), dxen(x.size()), dg2(C), db2(C);
  batchnorm_nhwc_backward(dxe.data(), dg.data(), dbeta.data(), dyt.data(), xt.data(), g.data(), sm.data(), si.data(), N,
                          C, HW, false);
  batchnorm_backward(dxen.data(), dg2.data(), db2.data(), dy.data(), x.data(), g.data(), sm.data(), si.data(), N, C, HW,
                     false);
  CHECK_MSG(same_bits(to_nchw(dxe, N, C, HW), dxen), tag + " eval dx");
  expect_close((tag + " eval dgamma").c_str(), dg, dbl(dg2), 1e-6);
}

// Kernels that split large inputs over the workers (element-wise passes, per-image pools and
// transposes, column sums): bitwise the same with 1 and 2 threads, above the split thresholds.
static void test_parallel_kernels_thread_invariant() {
  const int N = 64, C = 32, H = 24, W = 24;  // 1.2M floats: split into several parts
  const size_t n = (size_t)N * C * H * W;
  auto x = rnd(n, -2, 2), dy = rnd(n), dyp = rnd(n / 4);
  auto run = [&](int threads) {
    set_blas_threads(threads);
    std::vector<std::vector<float>> r;
    std::vector<float> a(n), b(n), t(n), pool(n / 4), dpool(n), cs(C * H), big_db(1024);
    relu_forward(a.data(), x.data(), n);
    relu_backward(b.data(), dy.data(), x.data(), n);
    r.push_back(a), r.push_back(b);
    tanh_forward(a.data(), x.data(), n);
    tanh_backward(b.data(), dy.data(), a.data(), n);
    r.push_back(a), r.push_back(b);
    gelu_forward(a.data(), x.data(), n);
    gelu_backward(b.data(), dy.data(), x.data(), n);
    r.push_back(a), r.push_back(b);
    nchw_to_nhwc(t.data(), x.data(), N, C, H * W);
    r.push_back(t);
    nhwc_to_nchw(a.data(), t.data(), N, C, H * W);
    r.push_back(a);
    maxpool_nhwc_forward(pool.data(), t.data(), N, C, H, W, 2, 2);
    maxpool_nhwc_backward(dpool.data(), dyp.data(), t.data(), N, C, H, W, 2, 2);
    r.push_back(pool), r.push_back(dpool);
    maxpool_nhwc_backward(dpool.data(), dyp.data(), t.data(), N, C, H, W, 3, 3);  // cleared + added path
    r.push_back(dpool);
    column_sums(cs.data(), x.data(), n / cs.size(), (int)cs.size());
    r.push_back(cs);
    // dense backward with a large batch: column-sliced db.
    std::vector<float> dW((size_t)1024 * 8), din((size_t)1000 * 8);
    dense_backward(din.data(), dW.data(), big_db.data(), dy.data(), x.data(), x.data(), 1000, 8, 1024);
    r.push_back(big_db);
    set_blas_threads(1);
    return r;
  };
  const auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); ++i)
    CHECK_MSG(same_bits(one[i], two[i]), check::fmt("parallel kernel output %zu differs between 1 and 2 threads", i));
  // column_sums against a double oracle.
  const size_t rows = n / one[11].size();
  std::vector<double> want(one[11].size(), 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < want.size(); ++c) want[c] += x[r * want.size() + c];
  expect_close("column_sums", one[11], want, 1e-6);
}

// NaN in a window propagates (forward), ties route to the first max (backward), in both paths.
static void test_maxpool_nan() {
  for (int W : {6, 32}) {
    std::vector<float> x((size_t)2 * W, 1.0f), y((size_t)W / 2), yn((size_t)W / 2), dy((size_t)W / 2, 1.0f);
    x[3] = NAN;      // window 1, position (0,1)
    x[W + 4] = 2.f;  // window 2, position (1,0)
    maxpool_forward(y.data(), x.data(), 1, 1, 2, W, 2, 2);
    maxpool_forward_naive(yn.data(), x.data(), 1, 1, 2, W, 2, 2);
    CHECK(std::isnan(y[1]) && y[0] == 1.0f && y[2] == 2.0f);
    std::vector<float> dx(x.size(), NAN), dxn(x.size());
    x[3] = 1.0f;
    maxpool_backward(dx.data(), dy.data(), x.data(), 1, 1, 2, W, 2, 2);
    maxpool_backward_naive(dxn.data(), dy.data(), x.data(), 1, 1, 2, W, 2, 2);
    CHECK(std::memcmp(dx.data(), dxn.data(), sizeof(float) * dx.size()) == 0);
  }
}

int main() {
  if (const int rc = check::isa_path_or_skip("kernels_test"); rc >= 0) return rc;
  set_blas_threads(1);
  test_dense(1, 1, 1, true, false);
  test_dense(5, 7, 3, true, true);
  test_dense(33, 65, 17, false, false);
  test_dense(64, 300, 10, true, true);
  test_pools(2, 3, 6, 6, 2, 2);
  test_pools(3, 2, 7, 5, 3, 2);
  test_pools(1, 1, 5, 5, 5, 1);
  test_pools(2, 2, 9, 8, 2, 3);
  test_pools(2, 3, 24, 24, 2, 2);  // vectorised 2x2/2 path: 8-wide + tail
  test_pools(2, 2, 7, 37, 2, 2);   // odd H and W: last row / column outside every window
  test_pools(1, 2, 4, 34, 2, 2);
  test_maxpool_nan();
  test_gap(3, 4, 25);
  test_gap(2, 3, 1);
  test_activations();
  test_losses();
  test_batchnorm(4, 3, 1, 0.f);
  test_batchnorm(3, 5, 49, 0.f);
  test_batchnorm(2, 4, 16, 100.f);  // large mean: no catastrophic cancellation
  // Channels-last convolution: tails in pixels (Q % 6), output channels (O % 16) and input
  // channels (C % 16, C < 6), strides 1-3 (gather and scatter din), kernels 1-5, padding 0-2,
  // groups of several images (small maps), residual + relu epilogue.
  test_conv_nhwc(2, 3, 6, 6, 4, 3, 1, 1, true, false, false);
  test_conv_nhwc(3, 2, 7, 5, 3, 3, 2, 1, true, true, false);
  test_conv_nhwc(2, 4, 9, 9, 5, 5, 2, 2, false, false, false);
  test_conv_nhwc(7, 3, 16, 16, 4, 3, 1, 1, true, true, true);
  test_conv_nhwc(2, 5, 16, 16, 6, 1, 1, 0, true, false, false);
  test_conv_nhwc(5, 5, 4, 4, 6, 1, 1, 0, true, false, true);
  test_conv_nhwc(4, 3, 8, 8, 5, 1, 2, 0, true, false, false);
  test_conv_nhwc(1, 1, 3, 3, 2, 3, 1, 0, true, false, false);
  test_conv_nhwc(3, 2, 5, 5, 2, 4, 3, 2, true, false, false);
  test_conv_nhwc(9, 16, 4, 4, 32, 3, 1, 1, true, true, true);    // resnet stage 4-like, 16-multiples
  test_conv_nhwc(5, 17, 8, 7, 33, 3, 2, 1, true, true, false);   // every tail at once, stride 2
  test_conv_nhwc(40, 8, 3, 3, 16, 3, 1, 1, false, true, false);  // many images per group, 2 groups
  test_conv_nhwc(2, 20, 12, 12, 18, 5, 1, 2, true, false, true);
  test_transposes();
  test_pools_nhwc(2, 3, 6, 6, 2, 2, false);
  test_pools_nhwc(3, 2, 7, 5, 3, 2, false);
  test_pools_nhwc(1, 1, 5, 5, 5, 1, false);
  test_pools_nhwc(2, 19, 9, 8, 2, 3, false);
  test_pools_nhwc(2, 21, 7, 9, 2, 2, false);  // odd H and W, 8-wide + channel tail
  test_pools_nhwc(2, 21, 7, 9, 2, 2, true);
  test_pools_nhwc(2, 9, 8, 8, 3, 1, true);   // overlapping windows
  test_pools_nhwc(2, 10, 8, 7, 3, 3, true);  // tiling windows (direct stores) with uncovered rows/cols
  test_batchnorm_nhwc(4, 3, 1, 0.f);
  test_batchnorm_nhwc(3, 5, 49, 0.f);
  test_batchnorm_nhwc(2, 20, 16, 100.f);
  test_parallel_kernels_thread_invariant();
  return check::finish("kernels_test");
}
