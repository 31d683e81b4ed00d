// E1 landscape: a family of non-convex functions with a wide global basin and sharp local dips,
//
//   f(x) = mu/2 * |x|^2 - sum_i a_i * exp(-|x - c_i|^2 / (2 sigma_i^2)),   x in R^d,
//
// closed-form gradient and Hessian, numerical location of every local minimum (with the Hessian
// spectrum there, hence the GD stability thresholds 2/L_loc and 2/mu), and vectorised gradient
// descent from N starting points at one step size, with optional Gaussian gradient noise, that
// classifies where each run ends.
//
// Plain C++17, no Node headers. All vectors are float64, row-major; shapes are given in the
// comments as [rows, cols]. Errors are bigstep::NativeError naming the offending parameter.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bigstep::landscape {

// Dip shapes. Gaussian: a exp(-r^2 / (2 w^2)) (smooth, unbounded support: beyond the paper's class
// C_l). Compact: a (1 - r^2 / w^2)^3 for r < w, else 0 (C^2, support the ball of radius w: the
// bowl is untouched outside it). Paper1d: the paper's 1-D illustration, 20 x^2 except on [6, 7],
// where the quintic patch p(t) = -4160 t^5 - 13520 t^4 + 2080 t^3 + 6780 t^2, t = x - 6.5, applies
// (C^1: it matches 20 x^2 in value and slope at 6 and 7); fixed, built by paper1d().
enum class Kind { Gaussian = 0, Compact = 1, Paper1d = 2 };

// One instance of the family. centers [dips, dim], depths a_i [dips], widths sigma_i [dips].
struct Instance {
  Kind kind = Kind::Gaussian;
  int dim = 1;
  double mu = 1.0;
  int dips = 0;
  std::vector<double> centers;  // [dips, dim]
  std::vector<double> depths;   // [dips]
  std::vector<double> widths;   // [dips]
};

// Throws NativeError (Range) naming "instance.<field>" if sizes or values are inconsistent
// (dim >= 1, mu > 0, depths > 0, widths > 0, everything finite; a compact dip's support must not
// reach the global minimum at 0; a paper-1d instance must be exactly paper1d()).
void validate(const Instance& inst);

// Instance generator. The rule (no per-instance tuning; every number is drawn from these ranges):
//   - centre radius rho_i ~ U[radius_min, radius_max], direction uniform on the sphere
//     (in 1-D: a random sign);
//   - relative depth delta_i ~ U[depth_min, depth_max], depth a_i = delta_i * mu * rho_i^2 / 2,
//     i.e. the dip removes the fraction delta_i < 1 of the bowl's height at its centre, so every
//     dip minimum keeps f ~ (1 - delta_i) mu rho_i^2 / 2 > 0 > f(x*) ~ 0: the global minimum is the
//     bowl's bottom near 0, by construction (and verified numerically by find_minima);
//   - sharpness kappa_i ~ logU[sharpness_min, sharpness_max] sets the curvature at the dip centre
//     to mu + a_i / sigma_i^2 = kappa_i * mu, i.e. sigma_i = sqrt(a_i / (mu (kappa_i - 1))), so
//     L_loc / mu ~ kappa_i >> 1;
//   - a dip is rejected and redrawn if it lies closer than separation * (sigma_i + sigma_j) to an
//     earlier dip (dips do not overlap); after 10000 failed draws for one dip the whole instance
//     is redrawn from the next stream (seed, "LAND" + round), and after 100 rounds the request is a
//     RangeError. Round 0 is the seed's own stream, so an instance that places at once is unchanged
//     (E1's compact-2d seed 129, 8 dips, is the first that needs a second round).
// A dip creates a local minimum when a_i > sqrt(e) mu sigma_i (rho_i - sigma_i) (its steepest pull
// beats the bowl's slope); with the defaults (delta >= 0.4, kappa >= 30) this holds with margin
// (it needs roughly delta > 2e / (kappa - 1) = 0.19), and find_minima checks it.
struct GenerateOptions {
  Kind kind = Kind::Gaussian;  // Gaussian or Compact (compact: w = sqrt(6 a / (mu (kappa - 1))))
  int dim = 2;
  int dips = 6;
  double mu = 1.0;
  uint64_t seed = 0;
  double radius_min = 1.0, radius_max = 2.0;
  double depth_min = 0.4, depth_max = 0.8;
  double sharpness_min = 30.0, sharpness_max = 100.0;
  double separation = 3.0;
};
// Throws RangeError naming options.sharpnessMin if a dip could overlap the global minimum
// (support w or 3 sigma > rho / 2 for some draw).
Instance generate(const GenerateOptions& opt);
// The paper's 1-D illustration (Kind::Paper1d): x* = 0, x-dagger = 6.5, both with f = 0.
Instance paper1d();

// f(x); x [dim].
double value(const Instance& inst, const double* x);
// f(x) and grad f(x) -> grad [dim].
//   grad = mu x + sum_i (a_i / sigma_i^2) e_i (x - c_i),   e_i = exp(-|x - c_i|^2 / (2 sigma_i^2))
double value_grad(const Instance& inst, const double* x, double* grad);
// grad f(x) -> grad [dim], without the value (the hot loop of run_gd).
void gradient(const Instance& inst, const double* x, double* grad);

// Hessian -> hess [dim, dim]:
//   H = mu I + sum_i (a_i e_i / sigma_i^2) (I - (x - c_i)(x - c_i)^T / sigma_i^2)
void hessian(const Instance& inst, const double* x, double* hess);
// Upper bound on |H(x)|_2 over all x: mu + sum_i c a_i / w_i^2 (c = 1 Gaussian, 30 compact;
// paper-1d: max |p''| = 31160 at x = 7).
double curvature_bound(const Instance& inst);

// Eigenvalues (ascending) of a symmetric matrix a [n, n] -> eig [n]. n <= 2 closed form, else
// cyclic Jacobi (converges to machine precision for the small n used here).
void sym_eigenvalues(int n, const double* a, double* eig);

// Approximate gradient flow from x (in place, x [dim]): Armijo-backtracking GD whose displacement
// per iteration is capped at max_move (so it cannot jump over a dip), polished by Newton steps once
// the Hessian is positive definite. Returns true if |grad| <= grad_tol was reached within
// max_iters iterations.
bool descend(const Instance& inst, double* x, double max_move, double grad_tol, int max_iters);

struct Minimum {
  std::vector<double> x;  // [dim]
  double value = 0;
  std::vector<double> eig;  // Hessian eigenvalues, ascending [dim]
  double lambda_min = 0, lambda_max = 0;
  int hits = 0;          // how many starts flowed here
  int nearest_dip = -1;  // index of the nearest centre, -1 for the global minimum
};

struct MinimaOptions {
  uint64_t seed = 0;
  int random_starts = 2000;  // uniform in the ball |x| <= R_bound (see MinimaResult)
  // d <= 2: also start from a grid of this spacing over [-R_bound, R_bound]^d (0 = auto:
  // min sigma / 2; negative = no grid). The same grid at spacing/4 checks f >= f(x*).
  double grid_spacing = 0;
  double grad_tol = 1e-10;
  int max_iters = 100000;
};

// All local minima found, the global one, and the step-size thresholds of GD.
//   L_loc,i = lambda_max(H(m_i)) for each non-global local minimum m_i
//   eta_sharp  = 2 / max_i L_loc,i   above it the sharpest local minimum is unstable for GD
//   eta_local  = 2 / min_i L_loc,i   above it EVERY local minimum is unstable ("2/L_loc" headline)
//   eta_global = 2 / lambda_max(H(x*)) above it GD cannot converge to x* either
//   eta_mu     = 2 / mu            the bowl's threshold (eta_global ~ eta_mu: dip tails are ~0 at x*)
struct MinimaResult {
  std::vector<Minimum> minima;  // sorted by value; minima[global_index] is x*
  int global_index = 0;
  double r_bound = 0;  // every x with f(x) <= f(0) satisfies |x| <= r_bound = sqrt(2 sum a_i / mu)
  int starts = 0, unconverged = 0, saddles = 0;
  double gap = 0;                // min over other minima of f(m) - f(x*) (> 0 if x* is strictly global)
  double grid_min = 0;           // d <= 2: min of f over the check grid (NaN if no grid)
  bool verified = false;         // gap > 0, every converged start ends at f >= f(x*), grid_min >= f(x*) - tol
  int dips_without_minimum = 0;  // dips with no local minimum within 2 sigma of their centre
  double eta_sharp = 0, eta_local = 0, eta_global = 0, eta_mu = 0;
  double min_separation = 0;  // smallest distance between two minima
};
MinimaResult find_minima(const Instance& inst, const MinimaOptions& opt);
// The argument checks find_minima runs first (NativeError naming "options.<field>").
void validate_minima(const Instance& inst, const MinimaOptions& opt);

// Uniform samples in the ball |x| <= radius -> out [n, dim]. Point k uses its own stream
// (seed, k), so the set is independent of threading and a prefix of a larger set is the same.
void sample_ball(int dim, int n, double radius, uint64_t seed, double* out);

enum class Anneal { None = 0, Linear = 1, Inverse = 2 };

enum class Noise { Gaussian = 0, Uniform = 1 };

// Gradient descent with optional isotropic gradient noise:
//   x_{t+1} = x_t - eta (grad f(x_t) + s_t xi_t),  t = 0 .. steps-1,
//   xi_t ~ N(0, I_d) (Noise::Gaussian) or uniform on [-1, 1]^d (Noise::Uniform: the paper's model,
//   so s is the half-width sigma of the box)
//   s_t = s                          (Anneal::None)
//   s_t = s (1 - t / steps)          (Anneal::Linear: reaches 0 at the last step)
//   s_t = s / (1 + 10 t / steps)     (Anneal::Inverse: 1/t decay, s/11 at the end)
// Point k draws its noise from Rng stream (seed, k) (Box-Muller, both values of each pair used, in
// order over steps and coordinates): the same point sees the same noise sequence
// in every cell of a sweep (common random numbers), and results do not depend on threading.
struct RunOptions {
  double eta = 0.01;
  int steps = 1000;
  double noise_std = 0;
  Anneal anneal = Anneal::None;
  uint64_t seed = 0;
  double grad_tol = 1e-6;       // "converged" flag: |grad f(x_T)| <= grad_tol
  double classify_radius = 0;   // |x_T - m| <= r  =>  ends at minimum m  (must be > 0)
  double diverge_radius = 1e6;  // non-finite or |x| > this  =>  diverged (checked every step)
  int record_count = 0;         // trajectories of the first record_count points
  int record_every = 1;         // store x_0, x_e, x_2e, ..., and x_T
  bool basin = true;            // also classify the basin of x_T under gradient flow (descend())
  double basin_max_move = 0;    // descend() step cap (0 = auto: classify_radius)
  Noise noise = Noise::Gaussian;
  // Settled fraction: the share of the last ceil(steps / 10) iterates x_t (t = steps - w + 1 ..
  // steps) within settle_radius of minima[global_index]; 0 = not measured (all zeros).
  double settle_radius = 0;
};

enum Class : int32_t { kGlobal = 0, kLocal = 1, kOscillating = 2, kDiverged = 3 };

// Per point: cls = position class of x_T (precedence diverged > global > local > oscillating,
// where oscillating means "finite but not within classify_radius of any minimum");
// minimum = index of the minimum it ends at (-1 if none); basin = index of the minimum that
// gradient flow from x_T reaches (-1 if diverged or unresolved).
struct RunResult {
  std::vector<double> final_x;        // [n, dim]
  std::vector<double> final_value;    // [n]
  std::vector<double> grad_norm;      // [n]
  std::vector<int32_t> cls;           // [n]
  std::vector<int32_t> minimum;       // [n]
  std::vector<int32_t> basin;         // [n]
  std::vector<int32_t> diverge_step;  // [n], -1 if it did not diverge
  std::vector<uint8_t> converged;     // [n]
  std::vector<double> settled;        // [n], see RunOptions::settle_radius
  std::vector<double> trajectories;   // [record_count, frames, dim]
  int frames = 0;
  int64_t counts[4] = {0, 0, 0, 0};  // per Class
  int64_t converged_count = 0;
  int64_t basin_global = 0;
};

// The argument checks run_gd runs first (NativeError naming "options.<field>", "minima", "starts").
void validate_run(const Instance& inst, int m, int global_index, int n, const RunOptions& opt);
// starts [n, dim]; minima [m, dim] with minima[global_index] = x*.
// Noise-free runs on paper-1d and compact instances step their particles in SIMD blocks
// (sweep_gd, landscape_sweep.h), every other run one particle at a time; the iterates are the same
// bit for bit either way.
void run_gd(const Instance& inst, const double* minima, int m, int global_index, const double* starts, int n,
            const RunOptions& opt, RunResult* out);
// run_gd with every particle stepped alone by the per-particle loop: the naive twin and test
// oracle of the SIMD sweep.
void run_gd_reference(const Instance& inst, const double* minima, int m, int global_index, const double* starts, int n,
                      const RunOptions& opt, RunResult* out);

// |a - b|^2 and |a| for vectors of d doubles (shared by the landscape files).
inline double sq_dist(int d, const double* a, const double* b) {
  double s = 0;
  for (int j = 0; j < d; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

inline double norm(int d, const double* a) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += a[j] * a[j];
  return std::sqrt(s);
}

}  // namespace bigstep::landscape
