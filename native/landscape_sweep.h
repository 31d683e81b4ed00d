// E1's hot loop: noise-free gradient descent of many particles at one step size, lanes of a block
// stepped in lockstep with SIMD (one copy per ISA path, isa.h). The fast twin of the per-particle
// loop in landscape_run.cpp (run_gd_reference is its test oracle): same operations in the same order,
// compiled without FMA contraction, so the iterates are bit-identical on every ISA path.
//
// Plain C++17, no Node headers. Shapes as [rows, cols], row-major, float64.
#pragma once
#include <cstdint>

#include "landscape.h"

namespace bigstep::landscape {

// Whether sweep_gd can step this run: paper-1d or compact dips (Gaussian dips need exp, which has
// no bit-identical vector form), no gradient noise, dim <= kSweepMaxDim.
constexpr int kSweepMaxDim = 16;
bool sweep_supported(const Instance& inst, const RunOptions& opt);

// Steps n particles for opt.steps GD steps, x_{t+1} = x_t - eta grad f(x_t), with run_gd's rules:
// a particle stops early once |grad f| <= 1e-3 grad_tol (a fixed point), and diverges (stops) when
// |x| > diverge_radius or x is not finite.
//   x              [n, dim]  starts in, final iterates out
//   diverge_step   [n]       -1, or the step t + 1 at which the particle diverged
//   settled_steps  [n]       iterates of the last ceil(steps / 10) within settle_radius of xstar
//   xstar          [dim]     the global minimum (used only when opt.settle_radius > 0)
// Precondition: validate_run passed and sweep_supported(inst, opt).
void sweep_gd(const Instance& inst, const double* xstar, const RunOptions& opt, int n, double* x, int32_t* diverge_step,
              int32_t* settled_steps);

}  // namespace bigstep::landscape
