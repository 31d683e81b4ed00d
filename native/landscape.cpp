// E1 landscape: see landscape.h for the function family, the generator rule and the contracts.
#include "landscape.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "errors.h"
#include "rng.h"

namespace bigstep::landscape {

namespace {

// Dips whose exponent exceeds this are skipped: exp(-700) ~ 1e-304, below anything representable
// next to the bowl's terms, and glibc's exp is slow near underflow (subnormal results).
constexpr double kFarExp = 700.0;

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
        throw_range("instance.widths",
                    "dip " + std::to_string(i) + " overlaps the global minimum at 0: its support radius " +
                        std::to_string(inst.widths[i]) + " must be < its centre's distance " + std::to_string(rho));
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
      throw_range("options.sharpnessMin",
                  "must be >= " + std::to_string(need) + " (= 1 + " + (o.kind == Kind::Compact ? "12" : "36") +
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
                                  std::to_string(kRounds) +
                                  " redraws); lower dips or separation, or widen radiusMin..radiusMax");
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

void gradient(const Instance& inst, const double* x, double* g) {
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

}  // namespace bigstep::landscape
