// E1 landscape: see landscape.h for the function family, the generator rule and the contracts.
#include "landscape.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "errors.h"
#include "landscape_sweep.h"
#include "rng.h"

namespace bigstep::landscape {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Dips whose exponent exceeds this are skipped: exp(-700) ~ 1e-304, below anything representable
// next to the bowl's terms, and glibc's exp is slow near underflow (subnormal results).
constexpr double kFarExp = 700.0;

double sq_dist(int d, const double* a, const double* b) {
  double s = 0;
  for (int j = 0; j < d; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

double norm(int d, const double* a) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += a[j] * a[j];
  return std::sqrt(s);
}

// The paper's 1-D illustration: 20x^2, except on [6, 7] where the C^1 quintic patch
//   p(t) = -4160 t^5 - 13520 t^4 + 2080 t^3 + 6780 t^2,  t = x - 6.5
// (matches 20x^2 in value and slope at 6 and 7; minimum p(0) = 0 at x = 6.5) applies.
// f(x) -> return, f'(x) -> *g, f''(x) -> *h.
inline double paper1d_eval(double x, double* g, double* h) {
  if (x < 6.0 || x > 7.0) {
    *g = 40.0 * x;
    *h = 40.0;
    return 20.0 * x * x;
  }
  const double t = x - 6.5;
  *g = t * (13560.0 + t * (6240.0 + t * (-54080.0 + t * -20800.0)));
  *h = 13560.0 + t * (12480.0 + t * (-162240.0 + t * -83200.0));
  return t * t * (6780.0 + t * (2080.0 + t * (-13520.0 + t * -4160.0)));
}
inline double paper1d_value(double x) {
  double g, h;
  return paper1d_eval(x, &g, &h);
}

// One dip's contribution at squared distance r2 from its centre: f -= phi, grad += g (x - c),
// Hessian += g I - h2 (x - c)(x - c)^T. False if the dip contributes nothing there.
//   Gaussian: phi = a e,   g = a e / s^2,        h2 = g / s^2,        e = exp(-r2 / (2 s^2))
//   Compact:  phi = a q^3, g = 6 a q^2 / w^2,    h2 = 24 a q / w^4,   q = 1 - r2 / w^2 (r2 < w^2)
struct DipTerm {
  double phi, g, h2;
};
inline bool dip_term(const Instance& inst, int i, double r2, DipTerm* t) {
  const double a = inst.depths[i], w = inst.widths[i], w2 = w * w;
  if (inst.kind == Kind::Compact) {
    if (r2 >= w2) return false;
    const double q = 1.0 - r2 / w2;
    t->phi = a * q * q * q;
    t->g = 6.0 * a * q * q / w2;
    t->h2 = 24.0 * a * q / (w2 * w2);
    return true;
  }
  const double z = r2 / (2 * w2);
  if (z > kFarExp) return false;  // exp(-z) < 1e-304: this dip contributes nothing representable
  const double e = std::exp(-z);
  t->phi = a * e;
  t->g = a * e / w2;
  t->h2 = t->g / w2;
  return true;
}

// grad f(x) -> g [dim] (no value: the hot loop of run_gd).
inline void grad_only(const Instance& inst, const double* x, double* g) {
  if (inst.kind == Kind::Paper1d) {
    double h;
    paper1d_eval(x[0], g, &h);
    return;
  }
  const int d = inst.dim;
  for (int j = 0; j < d; ++j) g[j] = inst.mu * x[j];
  const double* c = inst.centers.data();
  for (int i = 0; i < inst.dips; ++i, c += d) {
    double r2 = 0;
    for (int j = 0; j < d; ++j) {
      const double t = x[j] - c[j];
      r2 += t * t;
    }
    DipTerm t;
    if (!dip_term(inst, i, r2, &t)) continue;
    for (int j = 0; j < d; ++j) g[j] += t.g * (x[j] - c[j]);
  }
}

// In-place Cholesky of a [n, n] (lower triangle); false if not positive definite.
bool cholesky(int n, double* a) {
  for (int j = 0; j < n; ++j) {
    double s = a[j * n + j];
    for (int k = 0; k < j; ++k) s -= a[j * n + k] * a[j * n + k];
    if (!(s > 0)) return false;
    const double l = std::sqrt(s);
    a[j * n + j] = l;
    for (int i = j + 1; i < n; ++i) {
      double t = a[i * n + j];
      for (int k = 0; k < j; ++k) t -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = t / l;
    }
  }
  return true;
}

// Solves L L^T p = b with the factor from cholesky(); b [n] -> p [n].
void cholesky_solve(int n, const double* l, const double* b, double* p) {
  for (int i = 0; i < n; ++i) {
    double t = b[i];
    for (int k = 0; k < i; ++k) t -= l[i * n + k] * p[k];
    p[i] = t / l[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double t = p[i];
    for (int k = i + 1; k < n; ++k) t -= l[k * n + i] * p[k];
    p[i] = t / l[i * n + i];
  }
}

}  // namespace

void validate(const Instance& inst) {
  if (inst.dim < 1) throw_range("instance.dim", "must be a positive integer (got " + std::to_string(inst.dim) + ")");
  if (!(inst.mu > 0) || !std::isfinite(inst.mu)) throw_range("instance.mu", "must be a finite number > 0");
  if (inst.dips < 0) throw_range("instance.dips", "must be >= 0");
  if (inst.centers.size() != (size_t)inst.dips * inst.dim)
    throw_range("instance.centers", "must have length dips * dim = " + std::to_string((size_t)inst.dips * inst.dim) +
                                        " (got " + std::to_string(inst.centers.size()) + ")");
  if (inst.depths.size() != (size_t)inst.dips)
    throw_range("instance.depths", "must have length dips = " + std::to_string(inst.dips));
  if (inst.widths.size() != (size_t)inst.dips)
    throw_range("instance.widths", "must have length dips = " + std::to_string(inst.dips));
  for (double c : inst.centers)
    if (!std::isfinite(c)) throw_range("instance.centers", "must be finite");
  for (double a : inst.depths)
    if (!(a > 0) || !std::isfinite(a)) throw_range("instance.depths", "must be finite and > 0");
  for (double s : inst.widths)
    if (!(s > 0) || !std::isfinite(s)) throw_range("instance.widths", "must be finite and > 0");
  if (inst.kind == Kind::Paper1d) {
    // The patch is fixed (see paper1d_eval); the one dip only records its support [6, 7].
    if (inst.dim != 1 || inst.mu != 40.0 || inst.dips != 1 || inst.centers[0] != 6.5 || inst.widths[0] != 0.5)
      throw_range("instance.kind", "'paper-1d' is fixed: dim 1, mu 40, one dip with centre 6.5 and width 0.5");
  }
  if (inst.kind == Kind::Compact) {
    // A compact dip whose support reaches 0 would move the bowl's minimum x* = 0.
    for (int i = 0; i < inst.dips; ++i) {
      const double rho = norm(inst.dim, &inst.centers[(size_t)i * inst.dim]);
      if (!(rho > inst.widths[i]))
        throw_range("instance.widths", "dip " + std::to_string(i) + " overlaps the global minimum at 0: its support radius " +
                                           std::to_string(inst.widths[i]) + " must be < its centre's distance " +
                                           std::to_string(rho));
    }
  }
}

Instance generate(const GenerateOptions& o) {
  if (o.dim < 1) throw_range("options.dim", "must be >= 1");
  if (o.dips < 0) throw_range("options.dips", "must be >= 0");
  if (!(o.mu > 0) || !std::isfinite(o.mu)) throw_range("options.mu", "must be a finite number > 0");
  if (!(o.radius_min > 0) || !(o.radius_max >= o.radius_min) || !std::isfinite(o.radius_max))
    throw_range("options.radiusMin", "and radiusMax must satisfy 0 < radiusMin <= radiusMax < inf");
  if (!(o.depth_min > 0) || !(o.depth_max >= o.depth_min) || !(o.depth_max < 1))
    throw_range("options.depthMin", "and depthMax must satisfy 0 < depthMin <= depthMax < 1");
  if (!(o.sharpness_min > 1) || !(o.sharpness_max >= o.sharpness_min) || !std::isfinite(o.sharpness_max))
    throw_range("options.sharpnessMin", "and sharpnessMax must satisfy 1 < sharpnessMin <= sharpnessMax < inf");
  if (!(o.separation >= 0) || !std::isfinite(o.separation))
    throw_range("options.separation", "must be a finite number >= 0");

  if (o.kind == Kind::Paper1d) throw_range("options.kind", "'paper-1d' is a fixed instance: build it with paper1d()");
  // Every dip must leave the bowl's minimum x* = 0 alone for every draw: require its support
  // (compact: w = rho sqrt(3 delta / (kappa - 1)); Gaussian: 3 sigma = 3 rho sqrt(delta / (kappa - 1)))
  // to be <= rho / 2, i.e. kappa_min >= 1 + 12 delta_max (compact), 1 + 36 delta_max (Gaussian).
  {
    const double need = 1 + (o.kind == Kind::Compact ? 12.0 : 36.0) * o.depth_max;
    if (o.sharpness_min < need)
      throw_range("options.sharpnessMin", "must be >= " + std::to_string(need) +
                                              " (= 1 + " + (o.kind == Kind::Compact ? "12" : "36") +
                                              " * depthMax): with a smaller sharpness a dip can overlap the global minimum at 0");
  }

  Instance inst;
  inst.kind = o.kind;
  inst.dim = o.dim;
  inst.mu = o.mu;
  inst.dips = o.dips;
  // Placement can dead-end (the dips placed first leave no room for the next one). Then the whole
  // instance is redrawn from the next stream: round 0 is the seed's own stream, so every instance
  // that places at once is the one this generator always drew.
  constexpr int kRounds = 100;
  int placed_dips = 0;
  for (int round = 0; round < kRounds; ++round) {
    inst.centers.clear();
    inst.depths.clear();
    inst.widths.clear();
    uint64_t state[4];
    Rng::seed_state(state, o.seed, 0x4C414E44ULL /* "LAND" */ + (uint64_t)round);
    Rng rng{state};
    std::vector<double> c(o.dim);
    int i = 0;
    for (; i < o.dips; ++i) {
      bool placed = false;
      for (int attempt = 0; attempt < 10000 && !placed; ++attempt) {
        const double rho = o.radius_min + (o.radius_max - o.radius_min) * rng.uniform();
        double n2 = 0;
        if (o.dim == 1) {
          c[0] = rng.uniform() < 0.5 ? -1.0 : 1.0;
          n2 = 1;
        } else {
          do {
            n2 = 0;
            for (int j = 0; j < o.dim; ++j) {
              c[j] = rng.normal();
              n2 += c[j] * c[j];
            }
          } while (n2 < 1e-20);
        }
        const double scale = rho / std::sqrt(n2);
        for (int j = 0; j < o.dim; ++j) c[j] *= scale;
        const double delta = o.depth_min + (o.depth_max - o.depth_min) * rng.uniform();
        const double kappa = o.sharpness_min * std::exp(std::log(o.sharpness_max / o.sharpness_min) * rng.uniform());
        const double a = delta * o.mu * rho * rho / 2;
        // curvature at the centre: mu + a / sigma^2 (Gaussian), mu + 6 a / w^2 (compact) = kappa mu
        const double sigma = std::sqrt((o.kind == Kind::Compact ? 6.0 : 1.0) * a / (o.mu * (kappa - 1)));
        placed = true;
        for (int k = 0; k < i && placed; ++k) {
          const double dist = std::sqrt(sq_dist(o.dim, c.data(), &inst.centers[(size_t)k * o.dim]));
          if (dist < o.separation * (sigma + inst.widths[k])) placed = false;
        }
        if (placed) {
          inst.centers.insert(inst.centers.end(), c.begin(), c.end());
          inst.depths.push_back(a);
          inst.widths.push_back(sigma);
        }
      }
      if (!placed) break;
    }
    placed_dips = std::max(placed_dips, i);
    if (i == o.dips) return inst;
  }
  throw_range("options.dips", "cannot place " + std::to_string(o.dips) + " non-overlapping dips in dimension " +
                                  std::to_string(o.dim) + " (at most " + std::to_string(placed_dips) + " in " +
                                  std::to_string(kRounds) + " redraws); lower dips or separation, or widen radiusMin..radiusMax");
  return inst;
}

Instance paper1d() {
  Instance inst;
  inst.kind = Kind::Paper1d;
  inst.dim = 1;
  inst.mu = 40.0;
  inst.dips = 1;
  inst.centers = {6.5};
  inst.depths = {1.0};
  inst.widths = {0.5};
  return inst;
}

double value(const Instance& inst, const double* x) {
  if (inst.kind == Kind::Paper1d) return paper1d_value(x[0]);
  const int d = inst.dim;
  double f = 0;
  for (int j = 0; j < d; ++j) f += x[j] * x[j];
  f *= 0.5 * inst.mu;
  const double* c = inst.centers.data();
  for (int i = 0; i < inst.dips; ++i, c += d) {
    DipTerm t;
    if (dip_term(inst, i, sq_dist(d, x, c), &t)) f -= t.phi;
  }
  return f;
}

double value_grad(const Instance& inst, const double* x, double* g) {
  if (inst.kind == Kind::Paper1d) {
    double h;
    return paper1d_eval(x[0], g, &h);
  }
  const int d = inst.dim;
  double f = 0;
  for (int j = 0; j < d; ++j) {
    f += x[j] * x[j];
    g[j] = inst.mu * x[j];
  }
  f *= 0.5 * inst.mu;
  const double* c = inst.centers.data();
  for (int i = 0; i < inst.dips; ++i, c += d) {
    DipTerm t;
    if (!dip_term(inst, i, sq_dist(d, x, c), &t)) continue;
    f -= t.phi;
    for (int j = 0; j < d; ++j) g[j] += t.g * (x[j] - c[j]);
  }
  return f;
}

void hessian(const Instance& inst, const double* x, double* h) {
  if (inst.kind == Kind::Paper1d) {
    double g;
    paper1d_eval(x[0], &g, h);
    return;
  }
  const int d = inst.dim;
  for (int r = 0; r < d; ++r)
    for (int q = 0; q < d; ++q) h[r * d + q] = r == q ? inst.mu : 0.0;
  const double* c = inst.centers.data();
  for (int i = 0; i < inst.dips; ++i, c += d) {
    DipTerm t;
    if (!dip_term(inst, i, sq_dist(d, x, c), &t)) continue;
    for (int r = 0; r < d; ++r) {
      h[r * d + r] += t.g;
      for (int q = 0; q <= r; ++q) h[r * d + q] -= t.h2 * (x[r] - c[r]) * (x[q] - c[q]);
    }
  }
  for (int r = 0; r < d; ++r)  // mirror the lower triangle: exactly symmetric
    for (int q = r + 1; q < d; ++q) h[r * d + q] = h[q * d + r];
}

double curvature_bound(const Instance& inst) {
  if (inst.kind == Kind::Paper1d) return 31160.0;  // |p''| peaks at t = 0.5 (checked by the tests)
  // Compact: |g| <= 6a/w^2 and |h2 r2| <= 24a/w^2, so each dip adds at most 30a/w^2.
  const double per = inst.kind == Kind::Compact ? 30.0 : 1.0;
  double b = inst.mu;
  for (int i = 0; i < inst.dips; ++i) b += per * inst.depths[i] / (inst.widths[i] * inst.widths[i]);
  return b;
}

void sym_eigenvalues(int n, const double* a, double* eig) {
  if (n == 1) {
    eig[0] = a[0];
    return;
  }
  if (n == 2) {
    const double m = 0.5 * (a[0] + a[3]);
    const double h = 0.5 * (a[0] - a[3]);
    const double r = std::hypot(h, 0.5 * (a[1] + a[2]));
    eig[0] = m - r;
    eig[1] = m + r;
    return;
  }
  // Cyclic Jacobi on a copy.
  std::vector<double> m(a, a + (size_t)n * n);
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int p = 0; p < n; ++p) {
      diag += m[p * n + p] * m[p * n + p];
      for (int q = p + 1; q < n; ++q) off += m[p * n + q] * m[p * n + q];
    }
    if (off <= 1e-30 * (diag + 1e-300)) break;
    for (int p = 0; p < n; ++p) {
      for (int q = p + 1; q < n; ++q) {
        const double apq = m[p * n + q];
        if (apq == 0) continue;
        const double theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double cs = 1 / std::sqrt(t * t + 1), sn = t * cs;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double mkp = m[k * n + p], mkq = m[k * n + q];
          m[k * n + p] = cs * mkp - sn * mkq;
          m[k * n + q] = sn * mkp + cs * mkq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double mpk = m[p * n + k], mqk = m[q * n + k];
          m[p * n + k] = cs * mpk - sn * mqk;
          m[q * n + k] = sn * mpk + cs * mqk;
        }
      }
    }
  }
  for (int p = 0; p < n; ++p) eig[p] = m[p * n + p];
  std::sort(eig, eig + n);
}

bool descend(const Instance& inst, double* x, double max_move, double grad_tol, int max_iters) {
  const int d = inst.dim;
  std::vector<double> g(d), gn(d), xn(d), h((size_t)d * d), p(d);
  double fx = value_grad(inst, x, g.data());
  double step = 1.0 / inst.mu;
  for (int it = 0; it < max_iters; ++it) {
    const double gnorm = norm(d, g.data());
    if (!std::isfinite(gnorm) || !std::isfinite(fx)) return false;
    if (gnorm <= grad_tol) return true;
    // Newton step when the Hessian is positive definite and the step is short.
    hessian(inst, x, h.data());
    if (cholesky(d, h.data())) {
      cholesky_solve(d, h.data(), g.data(), p.data());
      if (norm(d, p.data()) <= max_move) {
        for (int j = 0; j < d; ++j) xn[j] = x[j] - p[j];
        const double fn = value_grad(inst, xn.data(), gn.data());
        if (fn < fx || norm(d, gn.data()) < gnorm) {
          std::copy(xn.begin(), xn.end(), x);
          g.swap(gn);
          fx = fn;
          continue;
        }
      }
    }
    // Armijo-backtracking gradient step, displacement capped at max_move.
    double t = std::min(step * 2, max_move / gnorm);
    bool accepted = false;
    while (t > 1e-300) {
      for (int j = 0; j < d; ++j) xn[j] = x[j] - t * g[j];
      const double fn = value_grad(inst, xn.data(), gn.data());
      if (fn <= fx - 0.5 * t * gnorm * gnorm) {
        std::copy(xn.begin(), xn.end(), x);
        g.swap(gn);
        fx = fn;
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) return norm(d, g.data()) <= grad_tol;
    step = t;
  }
  return norm(d, g.data()) <= grad_tol;
}

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
  if (!(opt.grad_tol > 0) || !std::isfinite(opt.grad_tol)) throw_range("options.gradTol", "must be a finite number > 0");
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
  if (res.minima.empty()) throw NativeError(ErrorKind::State, "", "find_minima: no minimum found (descent failed from every start)");
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
      res.min_separation = std::min(res.min_separation, std::sqrt(sq_dist(d, res.minima[a].x.data(), res.minima[b].x.data())));
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

void validate_run(const Instance& inst, int m, int gidx, int n, const RunOptions& o) {
  validate(inst);
  if (m < 1) throw_range("minima", "must hold at least one minimum");
  if (gidx < 0 || gidx >= m) throw_range("options.globalIndex", "must be in [0, " + std::to_string(m - 1) + "]");
  if (n < 0) throw_range("starts", "must hold n >= 0 points");
  if (!(o.eta > 0) || !std::isfinite(o.eta)) throw_range("options.eta", "must be a finite number > 0");
  if (o.steps < 0) throw_range("options.steps", "must be >= 0");
  if (!(o.noise_std >= 0) || !std::isfinite(o.noise_std)) throw_range("options.noiseStd", "must be a finite number >= 0");
  if (!(o.classify_radius > 0) || !std::isfinite(o.classify_radius))
    throw_range("options.classifyRadius", "must be a finite number > 0");
  if (!(o.diverge_radius > 0)) throw_range("options.divergeRadius", "must be > 0");
  if (!(o.grad_tol > 0)) throw_range("options.gradTol", "must be > 0");
  if (o.record_count < 0 || o.record_count > n) throw_range("options.recordCount", "must be in [0, n]");
  if (o.record_every < 1) throw_range("options.recordEvery", "must be >= 1");
  if (!(o.settle_radius >= 0) || !std::isfinite(o.settle_radius))
    throw_range("options.settleRadius", "must be a finite number >= 0");

}

namespace {

// The naive twin of sweep_gd (landscape_sweep.h), and the only path for noisy runs, Gaussian dips
// and recorded trajectories: steps particle k alone. x [dim] in/out (start in, x_T out); traj
// [frames, dim] or null; returns the settled iterate count, sets *diverge_step (-1 if none).
int step_particle(const Instance& inst, const double* xstar, const RunOptions& o, int k, double* x,
                  double* traj, int32_t* diverge_step) {
  const int d = inst.dim;
  const int settle_window = (o.steps + 9) / 10;
  const double settle2 = o.settle_radius * o.settle_radius;
  const bool noisy = o.noise_std > 0;
  const double div2 = o.diverge_radius * o.diverge_radius;
  const double stop_tol = o.grad_tol * 1e-3;  // noise-free runs stop once |grad| <= this
  std::vector<double> g(d);
  uint64_t state[4] = {1, 0, 0, 0};
  Rng rng{state};
  if (noisy) Rng::seed_state(state, o.seed, (uint64_t)k);
  // Box-Muller pairs, both values used (half the log/sqrt/cos cost of Rng::normal); the spare
  // is carried across steps, so point k's noise sequence depends only on (seed, k).
  double spare = 0;
  bool has_spare = false;
  auto gauss = [&]() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    double u1 = rng.uniform();
    const double u2 = rng.uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double rad = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
    spare = rad * std::sin(th);
    has_spare = true;
    return rad * std::cos(th);
  };
  const int frames = o.steps / o.record_every + 1 + (o.steps % o.record_every != 0 ? 1 : 0);
  int frame = 0;
  if (traj) std::copy(x, x + d, traj + (size_t)(frame++) * d);
  *diverge_step = -1;
  int settled_steps = 0;
  for (int t = 0; t < o.steps; ++t) {
    grad_only(inst, x, g.data());
    if (noisy) {
      double s = o.noise_std;
      if (o.anneal == Anneal::Linear) s *= 1.0 - (double)t / o.steps;
      else if (o.anneal == Anneal::Inverse) s /= 1.0 + 10.0 * t / o.steps;
      if (o.noise == Noise::Uniform)
        for (int j = 0; j < d; ++j) g[j] += s * (2.0 * rng.uniform() - 1.0);
      else
        for (int j = 0; j < d; ++j) g[j] += s * gauss();
    } else {
      double g2 = 0;
      for (int j = 0; j < d; ++j) g2 += g[j] * g[j];
      if (g2 <= stop_tol * stop_tol) {  // fixed point for all practical purposes
        // the remaining iterates all equal x: count those inside the settling window
        if (settle2 > 0 && sq_dist(d, x, xstar) <= settle2) settled_steps += std::min(settle_window, o.steps - t);
        break;
      }
    }
    double x2 = 0;
    for (int j = 0; j < d; ++j) {
      x[j] -= o.eta * g[j];
      x2 += x[j] * x[j];
    }
    if (!(x2 <= div2)) {  // also catches NaN
      *diverge_step = t + 1;
      break;
    }
    if (traj && ((t + 1) % o.record_every == 0)) std::copy(x, x + d, traj + (size_t)(frame++) * d);
    if (settle2 > 0 && t + 1 > o.steps - settle_window && sq_dist(d, x, xstar) <= settle2) ++settled_steps;
  }
  if (traj)
    while (frame < frames) std::copy(x, x + d, traj + (size_t)(frame++) * d);
  return settled_steps;
}

// run_gd and run_gd_reference: step every particle (the fast sweep where it applies, unless
// `reference`), then classify each x_T.
void run_gd_impl(const Instance& inst, const double* minima, int m, int gidx, const double* starts, int n,
                 const RunOptions& o, RunResult* out, bool reference) {
  validate_run(inst, m, gidx, n, o);
  const int d = inst.dim;

  RunResult& r = *out;
  r = RunResult();
  r.final_x.assign(starts, starts + (size_t)n * d);
  r.final_value.assign(n, 0.0);
  r.grad_norm.assign(n, 0.0);
  r.cls.assign(n, kOscillating);
  r.minimum.assign(n, -1);
  r.basin.assign(n, -1);
  r.diverge_step.assign(n, -1);
  r.converged.assign(n, 0);
  r.settled.assign(n, 0.0);
  const int settle_window = (o.steps + 9) / 10;
  const double* xstar = minima + (size_t)gidx * d;
  r.frames = o.steps / o.record_every + 1 + (o.steps % o.record_every != 0 ? 1 : 0);
  r.trajectories.assign((size_t)o.record_count * r.frames * d, 0.0);
  std::vector<int32_t> settled_steps(n, 0);

  // Recorded particles step alone; the rest in SIMD blocks when the sweep supports the run.
  const int lone = reference || !sweep_supported(inst, o) ? n : o.record_count;
  for (int k = 0; k < lone; ++k) {
    double* traj = k < o.record_count ? &r.trajectories[(size_t)k * r.frames * d] : nullptr;
    settled_steps[k] = step_particle(inst, xstar, o, k, &r.final_x[(size_t)k * d], traj, &r.diverge_step[k]);
  }
  if (lone < n)
    sweep_gd(inst, xstar, o, n - lone, &r.final_x[(size_t)lone * d], &r.diverge_step[lone], &settled_steps[lone]);

  const double r2_cls = o.classify_radius * o.classify_radius;
  const double basin_move = o.basin_max_move > 0 ? o.basin_max_move : o.classify_radius;
  std::vector<double> g(d), y(d);
  auto nearest = [&](const double* p) {
    int best = -1;
    double bd = r2_cls;
    for (int i = 0; i < m; ++i) {
      const double dd = sq_dist(d, p, minima + (size_t)i * d);
      if (dd <= bd) {
        bd = dd;
        best = i;
      }
    }
    return best;
  };
  for (int k = 0; k < n; ++k) {
    const double* x = &r.final_x[(size_t)k * d];
    const bool diverged = r.diverge_step[k] >= 0;
    if (settle_window > 0 && !diverged) r.settled[k] = (double)settled_steps[k] / settle_window;
    const double fx = value_grad(inst, x, g.data());
    const double gn = norm(d, g.data());
    r.final_value[k] = fx;
    r.grad_norm[k] = gn;
    if (diverged || !std::isfinite(fx) || !std::isfinite(gn)) {
      r.cls[k] = kDiverged;
      ++r.counts[kDiverged];
      continue;
    }
    if (gn <= o.grad_tol) {
      r.converged[k] = 1;
      ++r.converged_count;
    }
    const int at = nearest(x);
    r.minimum[k] = at;
    r.cls[k] = at < 0 ? kOscillating : (at == gidx ? kGlobal : kLocal);
    ++r.counts[r.cls[k]];
    if (o.basin) {
      y.assign(x, x + d);
      if (descend(inst, y.data(), basin_move, 1e-9, 200000)) r.basin[k] = nearest(y.data());
      if (r.basin[k] == gidx) ++r.basin_global;
    }
  }
}

}  // namespace

void run_gd(const Instance& inst, const double* minima, int m, int gidx, const double* starts, int n,
            const RunOptions& o, RunResult* out) {
  run_gd_impl(inst, minima, m, gidx, starts, n, o, out, false);
}

void run_gd_reference(const Instance& inst, const double* minima, int m, int gidx, const double* starts, int n,
                      const RunOptions& o, RunResult* out) {
  run_gd_impl(inst, minima, m, gidx, starts, n, o, out, true);
}

}  // namespace bigstep::landscape
