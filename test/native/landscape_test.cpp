// Tests for native/landscape: derivatives against central differences, eigenvalues, the minima
// finder (x* global, thresholds), the GD stability law on a pure quadratic, determinism.
#include "landscape.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "landscape_sweep.h"

namespace {

int landscape_failures = 0, landscape_passes = 0;

void landscape_check(bool ok, const char* file, int line, const std::string& what) {
  if (ok) {
    ++landscape_passes;
  } else {
    ++landscape_failures;
    std::fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, what.c_str());
  }
}
#define LCHECK(cond) landscape_check((cond), __FILE__, __LINE__, #cond)
#define LCHECK_MSG(cond, msg) landscape_check((cond), __FILE__, __LINE__, (msg))

using namespace bigstep::landscape;

double sq_norm(int d, const double* a) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += a[j] * a[j];
  return s;
}

double rel_err(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::max(std::fabs(a), std::fabs(b))); }

void test_derivatives() {
  for (Kind kind : {Kind::Gaussian, Kind::Compact})
    for (int dim : {1, 2, 5}) {
      GenerateOptions go;
      go.kind = kind;
      go.separation = 2;
      go.dim = dim;
      go.dips = dim == 1 ? 2 : 6;
      go.seed = 7 + dim;
      Instance inst = generate(go);
      LCHECK((int)inst.depths.size() == go.dips);
      std::vector<double> starts(20 * dim);
      sample_ball(dim, 20, 2.2, 99, starts.data());
      // Also probe right next to each dip centre, where the curvature is largest.
      for (int i = 0; i < inst.dips; ++i)
        for (int j = 0; j < dim; ++j)
          starts.push_back(inst.centers[i * dim + j] + 0.3 * inst.widths[i] * (j % 2 ? 1 : -1));
      const int n = (int)starts.size() / dim;
      double worst_g = 0, worst_h = 0;
      std::vector<double> g(dim), gp(dim), gm(dim), h(dim * dim), xp(dim);
      for (int k = 0; k < n; ++k) {
        const double* x = &starts[k * dim];
        const double f = value_grad(inst, x, g.data());
        LCHECK(rel_err(f, value(inst, x)) < 1e-14);
        hessian(inst, x, h.data());
        for (int j = 0; j < dim; ++j) {
          const double eps = 1e-6 * std::min(1.0, inst.widths[0]);
          xp.assign(x, x + dim);
          xp[j] = x[j] + eps;
          const double fp = value_grad(inst, xp.data(), gp.data());
          xp[j] = x[j] - eps;
          const double fm = value_grad(inst, xp.data(), gm.data());
          const double scale = 1 + std::fabs(g[j]);
          worst_g = std::max(worst_g, std::fabs((fp - fm) / (2 * eps) - g[j]) / scale);
          for (int q = 0; q < dim; ++q) {
            const double fd = (gp[q] - gm[q]) / (2 * eps);
            worst_h = std::max(worst_h, std::fabs(fd - h[q * dim + j]) / (1 + std::fabs(h[q * dim + j])));
          }
        }
        for (int r = 0; r < dim; ++r)
          for (int q = 0; q < dim; ++q) LCHECK(h[r * dim + q] == h[q * dim + r]);
      }
      std::printf("  dim %d: max rel err grad vs FD %.2e, Hessian vs FD of grad %.2e\n", dim, worst_g, worst_h);
      LCHECK_MSG(worst_g < 1e-6, "gradient matches central differences, dim " + std::to_string(dim));
      LCHECK_MSG(worst_h < 1e-5, "Hessian matches central differences of the gradient, dim " + std::to_string(dim));
    }
}

void test_eigen() {
  // 2x2 closed form and 4x4 Jacobi against a matrix with known spectrum (Q diag Q^T).
  double a2[4] = {2, 1, 1, 2}, e2[2];
  sym_eigenvalues(2, a2, e2);
  LCHECK(std::fabs(e2[0] - 1) < 1e-14 && std::fabs(e2[1] - 3) < 1e-14);
  const double lam[4] = {-1, 0.5, 2, 7};
  // Householder Q = I - 2 v v^T / |v|^2 with v = (1, 2, -1, 3).
  const double v[4] = {1, 2, -1, 3};
  const double vv = 15;
  double q[16], a[16], e[4];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) q[r * 4 + c] = (r == c ? 1 : 0) - 2 * v[r] * v[c] / vv;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      a[r * 4 + c] = 0;
      for (int k = 0; k < 4; ++k) a[r * 4 + c] += q[r * 4 + k] * lam[k] * q[c * 4 + k];
    }
  sym_eigenvalues(4, a, e);
  for (int k = 0; k < 4; ++k) LCHECK_MSG(std::fabs(e[k] - lam[k]) < 1e-12, "Jacobi eigenvalue " + std::to_string(k));
}

void test_minima() {
  for (int dim : {1, 2, 3}) {
    GenerateOptions go;
    go.dim = dim;
    go.dips = dim == 1 ? 2 : 6;
    go.seed = 3;
    Instance inst = generate(go);
    MinimaOptions mo;
    mo.seed = 1;
    mo.random_starts = 500;
    const auto t0 = std::chrono::steady_clock::now();
    MinimaResult mr = find_minima(inst, mo);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const Minimum& g = mr.minima[mr.global_index];
    std::printf(
        "  dim %d: %zu minima (%d starts, %d unconverged, %d saddles) in %.0f ms; |x*| = %.2e, f(x*) = %.3e, gap %.3f, "
        "verified %d, dips without minimum %d\n",
        dim, mr.minima.size(), mr.starts, mr.unconverged, mr.saddles, ms,
        std::sqrt(g.x[0] * g.x[0] + (dim > 1 ? g.x[1] * g.x[1] : 0)), g.value, mr.gap, (int)mr.verified,
        mr.dips_without_minimum);
    std::printf("         eta_sharp %.4g  eta_local %.4g  eta_global %.4g  eta_mu %.4g\n", mr.eta_sharp, mr.eta_local,
                mr.eta_global, mr.eta_mu);
    LCHECK(mr.verified);
    LCHECK(mr.gap > 0);
    LCHECK(mr.dips_without_minimum == 0);
    LCHECK((int)mr.minima.size() == inst.dips + 1);
    double gx = 0;
    for (double c : g.x) gx += c * c;
    LCHECK_MSG(std::sqrt(gx) < 1e-3, "the global minimum sits at the bottom of the bowl");
    LCHECK(std::fabs(mr.eta_global - mr.eta_mu) < 1e-6 * mr.eta_mu);
    LCHECK(mr.eta_sharp <= mr.eta_local && mr.eta_local < mr.eta_global);
    // Every minimum: zero gradient, PD Hessian; each local one has L_loc/mu in the generator's range (roughly).
    for (size_t k = 0; k < mr.minima.size(); ++k) {
      std::vector<double> gr(dim);
      value_grad(inst, mr.minima[k].x.data(), gr.data());
      double gn = 0;
      for (double c : gr) gn += c * c;
      LCHECK(std::sqrt(gn) < 1e-8);
      LCHECK(mr.minima[k].lambda_min > 0);
      if ((int)k != mr.global_index) LCHECK(mr.minima[k].lambda_max > 10 * inst.mu);
    }
  }
}

void test_quadratic_law() {
  // No dips: f = mu/2 |x|^2. GD converges iff eta < 2/mu.
  Instance q;
  q.dim = 2;
  q.mu = 4.0;
  double xstar[2] = {0, 0};
  std::vector<double> starts(2 * 50);
  sample_ball(2, 50, 1.0, 5, starts.data());
  RunOptions o;
  o.steps = 2000;
  o.classify_radius = 1e-3;
  o.diverge_radius = 1e6;
  o.basin = false;
  RunResult r;
  for (double frac : {0.1, 0.9, 0.99}) {
    o.eta = frac * 2 / q.mu;
    run_gd(q, xstar, 1, 0, starts.data(), 50, o, &r);
    LCHECK_MSG(r.counts[kGlobal] == 50, "GD on a quadratic converges at eta = " + std::to_string(frac) + " * 2/mu");
  }
  for (double frac : {1.01, 1.5}) {
    o.eta = frac * 2 / q.mu;
    run_gd(q, xstar, 1, 0, starts.data(), 50, o, &r);
    LCHECK_MSG(r.counts[kDiverged] == 50, "GD on a quadratic diverges at eta = " + std::to_string(frac) + " * 2/mu");
    LCHECK(r.diverge_step[0] > 0);
  }
}

void test_local_stability_law() {
  // 1-D instance: start exactly at each local minimum; below 2/L_loc GD stays, above it leaves.
  GenerateOptions go;
  go.dim = 1;
  go.dips = 3;
  go.seed = 11;
  Instance inst = generate(go);
  MinimaOptions mo;
  MinimaResult mr = find_minima(inst, mo);
  std::vector<double> mins;
  for (auto& m : mr.minima) mins.push_back(m.x[0]);
  for (size_t k = 1; k < mr.minima.size(); ++k) {
    const double L = mr.minima[k].lambda_max;
    double start = mr.minima[k].x[0] + 1e-6;  // tiny offset so instability can grow
    RunOptions o;
    o.steps = 4000;
    o.classify_radius = mr.min_separation / 100;
    o.basin = false;
    RunResult r;
    o.eta = 0.95 * 2 / L;
    run_gd(inst, mins.data(), (int)mins.size(), 0, &start, 1, o, &r);
    LCHECK_MSG(r.minimum[0] == (int)k && r.converged[0],
               "GD below 2/L_loc stays in local minimum " + std::to_string(k));
    o.eta = 1.05 * 2 / L;
    run_gd(inst, mins.data(), (int)mins.size(), 0, &start, 1, o, &r);
    LCHECK_MSG(!r.converged[0] || r.minimum[0] != (int)k,
               "GD above 2/L_loc does not converge to local minimum " + std::to_string(k));
  }
}

void test_determinism_and_noise() {
  GenerateOptions go;
  go.dim = 2;
  go.dips = 5;
  go.seed = 21;
  Instance a = generate(go), b = generate(go);
  LCHECK(a.centers == b.centers && a.depths == b.depths && a.widths == b.widths);
  go.seed = 22;
  Instance c = generate(go);
  LCHECK(a.centers != c.centers);
  MinimaResult mr = find_minima(a, MinimaOptions());
  std::vector<double> mins;
  for (auto& m : mr.minima) mins.insert(mins.end(), m.x.begin(), m.x.end());
  const int n = 64;
  std::vector<double> starts(2 * n), starts2(2 * 2 * n);
  sample_ball(2, n, 2.5, 4, starts.data());
  sample_ball(2, 2 * n, 2.5, 4, starts2.data());
  LCHECK_MSG(std::equal(starts.begin(), starts.end(), starts2.begin()),
             "sample_ball: prefix of a larger set is the same");
  RunOptions o;
  o.eta = 0.2 * mr.eta_sharp;
  o.steps = 500;
  o.noise_std = 3.0;
  o.anneal = Anneal::Linear;
  o.seed = 5;
  o.classify_radius = 0.25 * a.widths[0];
  o.record_count = 3;
  o.record_every = 7;
  RunResult r1, r2, r3;
  run_gd(a, mins.data(), (int)mr.minima.size(), 0, starts.data(), n, o, &r1);
  run_gd(a, mins.data(), (int)mr.minima.size(), 0, starts.data(), n, o, &r2);
  LCHECK_MSG(r1.final_x == r2.final_x && r1.cls == r2.cls && r1.trajectories == r2.trajectories,
             "same seed => bitwise-identical runs");
  LCHECK(r1.frames == 500 / 7 + 2);
  // Point k's noise depends only on (seed, k): running the first 10 points alone gives the same result.
  run_gd(a, mins.data(), (int)mr.minima.size(), 0, starts.data(), 10, o, &r3);
  LCHECK(std::equal(r3.final_x.begin(), r3.final_x.end(), r1.final_x.begin()));
  o.seed = 6;
  run_gd(a, mins.data(), (int)mr.minima.size(), 0, starts.data(), n, o, &r3);
  LCHECK_MSG(r3.final_x != r1.final_x, "another noise seed => another run");
  int64_t total = 0;
  for (auto cnt : r1.counts) total += cnt;
  LCHECK(total == n);
}

void test_errors() {
  Instance bad;
  bad.dim = 2;
  bad.dips = 1;
  bad.centers = {1.0};
  bad.depths = {1.0};
  bad.widths = {0.1};
  bool threw = false;
  try {
    validate(bad);
  } catch (const bigstep::NativeError& e) {
    threw = e.kind() == bigstep::ErrorKind::Range && e.param() == "instance.centers";
  }
  LCHECK_MSG(threw, "validate names instance.centers");
  threw = false;
  GenerateOptions go;
  go.dim = 1;
  go.dips = 200;
  try {
    generate(go);
  } catch (const bigstep::NativeError& e) {
    threw = e.param() == "options.dips";
  }
  LCHECK_MSG(threw, "generate: too many dips for 1-D is a RangeError naming options.dips");
  // E1's compact-2d study family (8 dips, separation 2, seeds 1..200): seed 129's first draw
  // dead-ends after 7 dips; the redraw places all of them, apart by the rule.
  bool all = true, apart = true;
  for (int seed = 1; seed <= 200; ++seed) {
    GenerateOptions c2;
    c2.kind = Kind::Compact;
    c2.dim = 2;
    c2.dips = 8;
    c2.separation = 2;
    c2.seed = seed;
    try {
      const Instance inst = generate(c2);
      for (int i = 0; i < inst.dips; ++i)
        for (int k = 0; k < i; ++k) {
          const double dx = inst.centers[2 * i] - inst.centers[2 * k],
                       dy = inst.centers[2 * i + 1] - inst.centers[2 * k + 1];
          if (std::sqrt(dx * dx + dy * dy) < 2 * (inst.widths[i] + inst.widths[k])) apart = false;
        }
    } catch (const bigstep::NativeError&) {
      all = false;
    }
  }
  LCHECK_MSG(all && apart, "generate: every compact-2d study seed places its 8 dips, separated by the rule");
}

}  // namespace

// The paper's 1-D illustration: C^1 at 6 and 7, minimum 0 at 6.5, f'' against central differences
// of f' away from the joins, and uniform noise stays inside its box (|x_1 - x_0| <= eta (|f'| + s)).
void test_paper1d() {
  Instance inst = paper1d();
  double g = 0;
  LCHECK(std::fabs(value_grad(inst, (const double[]){6.0}, &g) - 720) < 1e-9 && std::fabs(g - 240) < 1e-9);
  LCHECK(std::fabs(value_grad(inst, (const double[]){7.0}, &g) - 980) < 1e-9 && std::fabs(g - 280) < 1e-9);
  LCHECK(value_grad(inst, (const double[]){6.5}, &g) == 0 && g == 0);
  double worst = 0;
  for (double x = 5.9; x < 7.1; x += 0.0137) {
    if (std::fabs(x - 6) < 1e-5 || std::fabs(x - 7) < 1e-5) continue;
    const double eps = 1e-6;
    double gp, gm, h;
    const double xp = x + eps, xm = x - eps;
    const double fp = value_grad(inst, &xp, &gp), fm = value_grad(inst, &xm, &gm);
    value_grad(inst, &x, &g);
    hessian(inst, &x, &h);
    worst = std::max(worst, std::fabs((fp - fm) / (2 * eps) - g) / (1 + std::fabs(g)));
    worst = std::max(worst, std::fabs((gp - gm) / (2 * eps) - h) / (1 + std::fabs(h)));
  }
  std::printf("  paper-1d: max rel err vs FD %.2e\n", worst);
  LCHECK_MSG(worst < 1e-5, "paper-1d derivatives match central differences");
  RunOptions o;
  o.eta = 1e-3;
  o.steps = 1;
  o.noise_std = 5;
  o.noise = Noise::Uniform;
  o.classify_radius = 0.1;
  o.basin = false;
  const double minima[2] = {0, 6.5};
  std::vector<double> starts(200, 6.5);
  RunResult r;
  run_gd(inst, minima, 2, 0, starts.data(), 200, o, &r);
  double lo = 1e9, hi = -1e9;
  for (double x : r.final_x) lo = std::min(lo, x - 6.5), hi = std::max(hi, x - 6.5);
  LCHECK_MSG(lo >= -5e-3 && hi <= 5e-3 && hi - lo > 8e-3, "uniform noise fills [-eta s, eta s] and stays in it");
}

// The SIMD sweep (run_gd) against its naive twin (run_gd_reference): bit-identical iterates and
// identical outcomes, on paper-1d and compact instances in 1, 2 and 5 dimensions, over step sizes
// from far below the window to past divergence, with partial blocks, early stops, the settling
// window and recorded particles (which step alone) mixed in. Runs once per ISA path (ctest).
void test_sweep_matches_reference() {
  struct Case {
    std::string name;
    Instance inst;
  };
  std::vector<Case> cases;
  cases.push_back({"paper-1d", paper1d()});
  for (int dim : {1, 2, 5}) {
    GenerateOptions go;
    go.kind = Kind::Compact;
    go.dim = dim;
    go.dips = dim == 1 ? 3 : dim == 2 ? 8 : 16;
    go.separation = 2;
    go.seed = 31 + dim;
    cases.push_back({"compact-" + std::to_string(dim) + "d", generate(go)});
  }
  int64_t diverged = 0, global = 0, local = 0, stopped = 0, settled = 0;
  for (const Case& c : cases) {
    const Instance& inst = c.inst;
    LCHECK_MSG(sweep_supported(inst, RunOptions()), c.name + ": the SIMD sweep applies");
    const int d = inst.dim;
    MinimaOptions mo;
    mo.random_starts = 200;
    const MinimaResult mr = find_minima(inst, mo);
    std::vector<double> mins;
    for (auto& m : mr.minima) mins.insert(mins.end(), m.x.begin(), m.x.end());
    // 77 starts (two full blocks and a partial one in 1-D): half near the dips, half in a ball
    const int n = 77;
    std::vector<double> starts((size_t)n * d);
    sample_ball(d, n, 1.0, 9, starts.data());
    double reach = 0;
    for (int i = 0; i < inst.dips; ++i)
      reach = std::max(reach, std::sqrt(sq_norm(d, &inst.centers[(size_t)i * d])) + inst.widths[i]);
    for (int k = 0; k < n; ++k) {
      const int i = k % inst.dips;
      for (int j = 0; j < d; ++j) {
        double& x = starts[(size_t)k * d + j];
        x = k % 2 == 0 ? inst.centers[(size_t)i * d + j] + 1.5 * inst.widths[i] * x : 1.25 * reach * x;
      }
    }
    // and three starts the sweep parks at once: x* = 0 (stops at step 0), +inf and NaN (diverge
    // at step 1, to non-finite x_T whose bits must match too)
    for (int j = 0; j < d; ++j) {
      starts[(size_t)(n - 3) * d + j] = 0.0;
      starts[(size_t)(n - 2) * d + j] = j == 0 ? std::numeric_limits<double>::infinity() : 1.0;
      starts[(size_t)(n - 1) * d + j] = std::numeric_limits<double>::quiet_NaN();
    }
    // step sizes as fractions of 2/mu: small (stays), mid, near the edge, past it (diverges)
    for (double frac : {1e-3, 0.05, 0.4, 0.9, 0.999, 1.3}) {
      for (int variant = 0; variant < 3; ++variant) {
        RunOptions o;
        o.eta = frac * 2 / inst.mu;
        o.steps = 700;
        o.classify_radius = 0.25 * inst.widths[0];
        o.diverge_radius = 1e3;
        o.basin = variant == 0;
        o.settle_radius = variant == 1 ? 0.5 * inst.widths[0] : 0;
        o.record_count = variant == 2 ? 3 : 0;
        RunResult fast, ref;
        run_gd(inst, mins.data(), (int)mr.minima.size(), 0, starts.data(), n, o, &fast);
        run_gd_reference(inst, mins.data(), (int)mr.minima.size(), 0, starts.data(), n, o, &ref);
        const std::string what =
            c.name + " eta = " + std::to_string(frac) + " * 2/mu, variant " + std::to_string(variant);
        LCHECK_MSG(std::memcmp(fast.final_x.data(), ref.final_x.data(), fast.final_x.size() * sizeof(double)) == 0,
                   what + ": final iterates bit-identical");
        LCHECK_MSG(fast.diverge_step == ref.diverge_step, what + ": same divergence steps");
        LCHECK_MSG(fast.cls == ref.cls && fast.minimum == ref.minimum && fast.basin == ref.basin,
                   what + ": same outcomes");
        LCHECK_MSG(fast.settled == ref.settled && fast.converged == ref.converged,
                   what + ": same settled fractions and convergence");
        LCHECK_MSG(fast.trajectories == ref.trajectories, what + ": same recorded trajectories");
        for (int k = 0; k < n; ++k) {
          diverged += ref.cls[k] == kDiverged;
          global += ref.cls[k] == kGlobal;
          local += ref.cls[k] == kLocal;
          stopped += ref.converged[k];
          settled += ref.settled[k] > 0;
        }
      }
    }
  }
  std::printf(
      "  sweep vs reference: %lld diverged, %lld at x*, %lld at a local minimum, %lld converged, %lld settled > 0\n",
      (long long)diverged, (long long)global, (long long)local, (long long)stopped, (long long)settled);
  // the comparison above covered every branch of the step
  LCHECK_MSG(diverged > 0 && global > 0 && local > 0 && stopped > 0 && settled > 0,
             "the sweep test reaches divergence, x*, local minima, early stops and settled iterates");
}

int main() {
  std::printf("landscape_test\n");
  if (const int skip = check::isa_path_or_skip("landscape_test"); skip >= 0) return skip;
  test_paper1d();
  test_derivatives();
  test_eigen();
  test_minima();
  test_quadratic_law();
  test_local_stability_law();
  test_determinism_and_noise();
  test_errors();
  test_sweep_matches_reference();
  std::printf("%d passed, %d failed\n", landscape_passes, landscape_failures);
  return landscape_failures == 0 ? 0 : 1;
}
