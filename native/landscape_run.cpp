// E1 landscape: gradient descent from N starts at one step size, with optional gradient noise,
// classifying where each run ends (run_gd). Noise-free paper-1d and compact runs step their
// particles in SIMD blocks (landscape_sweep.h); step_particle is that sweep's naive twin and the
// only path for every other run. Contracts in landscape.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "errors.h"
#include "landscape.h"
#include "landscape_sweep.h"
#include "rng.h"

namespace bigstep::landscape {

void validate_run(const Instance& inst, int m, int gidx, int n, const RunOptions& o) {
  validate(inst);
  if (m < 1) throw_range("minima", "must hold at least one minimum");
  if (gidx < 0 || gidx >= m) throw_range("options.globalIndex", "must be in [0, " + std::to_string(m - 1) + "]");
  if (n < 0) throw_range("starts", "must hold n >= 0 points");
  if (!(o.eta > 0) || !std::isfinite(o.eta)) throw_range("options.eta", "must be a finite number > 0");
  if (o.steps < 0) throw_range("options.steps", "must be >= 0");
  if (!(o.noise_std >= 0) || !std::isfinite(o.noise_std))
    throw_range("options.noiseStd", "must be a finite number >= 0");
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
int step_particle(const Instance& inst, const double* xstar, const RunOptions& o, int k, double* x, double* traj,
                  int32_t* diverge_step) {
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
    gradient(inst, x, g.data());
    if (noisy) {
      double s = o.noise_std;
      if (o.anneal == Anneal::Linear)
        s *= 1.0 - (double)t / o.steps;
      else if (o.anneal == Anneal::Inverse)
        s /= 1.0 + 10.0 * t / o.steps;
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
