// E1 landscape: the numerical location of every local minimum (find_minima) and the uniform
// start points (sample_ball). Contracts in landscape.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "errors.h"
#include "landscape.h"
#include "rng.h"

namespace bigstep::landscape {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

void sample_ball(int dim, int n, double radius, uint64_t seed, double* out) {
  if (dim < 1) throw_range("dim", "must be >= 1");
  if (n < 0) throw_range("count", "must be >= 0");
  if (!(radius > 0) || !std::isfinite(radius)) throw_range("radius", "must be a finite number > 0");
  uint64_t state[4];
  for (int k = 0; k < n; ++k) {
    Rng::seed_state(state, seed, (uint64_t)k);
    Rng rng{state};
    double* x = out + (size_t)k * dim;
    double n2 = 0;
    if (dim == 1) {
      x[0] = rng.uniform() < 0.5 ? -1.0 : 1.0;
      n2 = 1;
    } else {
      do {
        n2 = 0;
        for (int j = 0; j < dim; ++j) {
          x[j] = rng.normal();
          n2 += x[j] * x[j];
        }
      } while (n2 < 1e-20);
    }
    const double r = radius * std::pow(rng.uniform(), 1.0 / dim);
    const double s = r / std::sqrt(n2);
    for (int j = 0; j < dim; ++j) x[j] *= s;
  }
}

void validate_minima(const Instance& inst, const MinimaOptions& opt) {
  validate(inst);
  if (opt.random_starts < 0) throw_range("options.randomStarts", "must be >= 0");
  if (!std::isfinite(opt.grid_spacing)) throw_range("options.gridSpacing", "must be finite");
  if (!(opt.grad_tol > 0) || !std::isfinite(opt.grad_tol))
    throw_range("options.gradTol", "must be a finite number > 0");
  if (opt.max_iters < 1) throw_range("options.maxIters", "must be >= 1");
}

MinimaResult find_minima(const Instance& inst, const MinimaOptions& opt) {
  validate_minima(inst, opt);
  const int d = inst.dim;
  MinimaResult res;
  double sum_a = 0, sigma_min = std::numeric_limits<double>::infinity(), reach = 0;
  for (int i = 0; i < inst.dips; ++i) {
    sum_a += inst.depths[i];
    sigma_min = std::min(sigma_min, inst.widths[i]);
    reach = std::max(reach, norm(d, &inst.centers[(size_t)i * d]) + 6 * inst.widths[i]);
  }
  if (inst.dips == 0) sigma_min = 1.0 / std::sqrt(inst.mu);
  res.r_bound = std::sqrt(2 * sum_a / inst.mu);
  // Minima lie within a few sigma of a centre (elsewhere the dips' pull is ~0 and only the bowl's
  // minimum at ~0 remains) or below r_bound; search the ball that holds both.
  const double r_search = std::max({res.r_bound, reach, 1e-3});
  const double max_move = sigma_min / 4;

  // Start set: 0, every centre, random points in the search ball, and for d <= 2 a grid.
  std::vector<double> starts((size_t)d, 0.0);
  starts.insert(starts.end(), inst.centers.begin(), inst.centers.end());
  {
    std::vector<double> rnd((size_t)opt.random_starts * d);
    sample_ball(d, opt.random_starts, r_search, opt.seed, rnd.data());
    starts.insert(starts.end(), rnd.begin(), rnd.end());
  }
  double spacing = opt.grid_spacing == 0 ? sigma_min / 2 : opt.grid_spacing;
  const bool use_grid = d <= 2 && spacing > 0;
  int per_axis = 0;
  if (use_grid) {
    per_axis = (int)std::ceil(2 * r_search / spacing) + 1;
    if (per_axis > (d == 1 ? 200000 : 400)) {  // cap: keeps a 2-D search to <= 160k starts
      per_axis = d == 1 ? 200000 : 400;
    }
    spacing = 2 * r_search / (per_axis - 1);
    if (d == 1) {
      for (int a = 0; a < per_axis; ++a) starts.push_back(-r_search + a * spacing);
    } else {
      for (int a = 0; a < per_axis; ++a)
        for (int b = 0; b < per_axis; ++b) {
          const double x0 = -r_search + a * spacing, x1 = -r_search + b * spacing;
          if (x0 * x0 + x1 * x1 > r_search * r_search) continue;
          starts.push_back(x0);
          starts.push_back(x1);
        }
    }
  }
  const int n_starts = (int)(starts.size() / d);
  res.starts = n_starts;

  std::vector<double> x(d), h((size_t)d * d), eig(d);
  const double same_tol = sigma_min * 1e-3;
  for (int s = 0; s < n_starts; ++s) {
    std::copy(&starts[(size_t)s * d], &starts[(size_t)s * d] + d, x.begin());
    if (!descend(inst, x.data(), max_move, opt.grad_tol, opt.max_iters)) {
      ++res.unconverged;
      continue;
    }
    bool found = false;
    for (auto& m : res.minima)
      if (sq_dist(d, m.x.data(), x.data()) <= same_tol * same_tol) {
        ++m.hits;
        found = true;
        break;
      }
    if (found) continue;
    hessian(inst, x.data(), h.data());
    sym_eigenvalues(d, h.data(), eig.data());
    if (!(eig[0] > 0)) {
      ++res.saddles;
      continue;
    }
    Minimum m;
    m.x = x;
    m.value = value(inst, x.data());
    m.eig = eig;
    m.lambda_min = eig[0];
    m.lambda_max = eig[d - 1];
    m.hits = 1;
    res.minima.push_back(std::move(m));
  }
  if (res.minima.empty())
    throw NativeError(ErrorKind::State, "", "find_minima: no minimum found (descent failed from every start)");
  std::sort(res.minima.begin(), res.minima.end(), [](const Minimum& a, const Minimum& b) { return a.value < b.value; });
  res.global_index = 0;
  const Minimum& g = res.minima[0];

  // Nearest dip of each minimum (-1 for the global one when it sits in the bowl, away from dips).
  double min_rho = std::numeric_limits<double>::infinity();
  for (int i = 0; i < inst.dips; ++i) min_rho = std::min(min_rho, norm(d, &inst.centers[(size_t)i * d]));
  for (size_t k = 0; k < res.minima.size(); ++k) {
    Minimum& m = res.minima[k];
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < inst.dips; ++i) {
      const double dist = std::sqrt(sq_dist(d, m.x.data(), &inst.centers[(size_t)i * d])) / inst.widths[i];
      if (dist < best && dist <= 6) {
        best = dist;
        m.nearest_dip = i;
      }
    }
  }
  for (int i = 0; i < inst.dips; ++i) {
    bool has = false;
    for (size_t k = 1; k < res.minima.size(); ++k)
      if (std::sqrt(sq_dist(d, res.minima[k].x.data(), &inst.centers[(size_t)i * d])) <= 2 * inst.widths[i]) has = true;
    if (!has) ++res.dips_without_minimum;
  }

  res.gap = std::numeric_limits<double>::infinity();
  res.min_separation = std::numeric_limits<double>::infinity();
  double lmax_all = 0, lmin_all = std::numeric_limits<double>::infinity();
  for (size_t k = 1; k < res.minima.size(); ++k) {
    res.gap = std::min(res.gap, res.minima[k].value - g.value);
    lmax_all = std::max(lmax_all, res.minima[k].lambda_max);
    lmin_all = std::min(lmin_all, res.minima[k].lambda_max);
  }
  for (size_t a = 0; a < res.minima.size(); ++a)
    for (size_t b = a + 1; b < res.minima.size(); ++b)
      res.min_separation =
          std::min(res.min_separation, std::sqrt(sq_dist(d, res.minima[a].x.data(), res.minima[b].x.data())));
  res.eta_sharp = res.minima.size() > 1 ? 2 / lmax_all : kNaN;
  res.eta_local = res.minima.size() > 1 ? 2 / lmin_all : kNaN;
  res.eta_global = 2 / g.lambda_max;
  res.eta_mu = 2 / inst.mu;

  // Verification grid (d <= 2): 4x finer than the start grid; a deeper point anywhere in the
  // search ball would show up as grid_min < f(x*).
  res.grid_min = kNaN;
  bool grid_ok = true;
  if (use_grid) {
    const int fine = d == 1 ? std::min(4 * per_axis, 2000000) : std::min(4 * per_axis, 1600);
    const double hstep = 2 * r_search / (fine - 1);
    double gm = std::numeric_limits<double>::infinity();
    double p[2];
    if (d == 1) {
      for (int a = 0; a < fine; ++a) {
        p[0] = -r_search + a * hstep;
        gm = std::min(gm, value(inst, p));
      }
    } else {
      for (int a = 0; a < fine; ++a)
        for (int b = 0; b < fine; ++b) {
          p[0] = -r_search + a * hstep;
          p[1] = -r_search + b * hstep;
          gm = std::min(gm, value(inst, p));
        }
    }
    res.grid_min = gm;
    grid_ok = gm >= g.value - 1e-12 * (1 + std::fabs(g.value));
  }
  res.verified = (res.minima.size() == 1 || res.gap > 0) && grid_ok;
  return res;
}

}  // namespace bigstep::landscape
