// E1's particle sweep, vectorised over particles: see landscape_sweep.h.
//
// Why it is fast: the per-particle loop (landscape_run.cpp) is latency-bound, one dependent chain of a
// dozen flops per step, with a branch for the dip. Here a block of particles sits in SIMD registers
// (GCC/Clang vector extensions at each path's native width: 2 doubles baseline, 4 AVX2, 8 AVX-512;
// wider types are split lane by lane on narrower paths, so each path gets its own width), V
// vectors per block give V independent chains to hide the latency, the dip test is a lane mask
// instead of a branch, a dip that no live lane of a vector touches is skipped, and steps go in
// chunks of 16 without the per-step stop/divergence bookkeeping (replayed exactly if a particle
// stops or diverges inside the chunk): lanes whose particle is done are parked at NaN, so all lanes
// step with one eta, unmasked, and a step only folds |g|^2 and |x|^2 into a block-wide min and max
// (one minpd and one maxpd per vector; 1-D AVX-512 then runs 17 vector instructions per step, all
// in registers; before, a per-vector eta and per-vector event masks took 8 more registers and more
// instructions).
//
// Why it is bit-identical to the per-particle loop: every expression below is the per-particle
// loop's, in the same order (sums start from 0 and run over j = 0 .. dim-1, dips i = 0 .. dips-1),
// both are compiled with -ffp-contract=off, as is the gradient the loop calls (CMakeLists.txt),
// and a lane mask selects exactly what the loop's branches choose (including NaN: "r2 >= w2" is
// negated, not flipped to "<").
#include "landscape_sweep.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "isa.h"

// The vector types below never cross a non-inlined call, so the ABI note GCC gives for passing
// them without AVX enabled does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace bigstep::landscape {

namespace {

// Vectors of W doubles and W lane masks (-1 true, 0 false; the masks double as counters).
template <int W>
struct Vec {
  typedef double d __attribute__((vector_size(8 * W)));
  typedef int64_t m __attribute__((vector_size(8 * W)));
};

// Lane select m ? a : b, as bit operations (SSE2 has no blend; GCC would split "?:" into scalars
// there, and emits a blend for these on AVX2 and AVX-512).
template <class VD, class VM>
BIGSTEP_ALWAYS_INLINE VD select(VM m, VD a, VD b) {
  return (VD)(((VM)a & m) | ((VM)b & ~m));
}
template <int W, class VM>
BIGSTEP_ALWAYS_INLINE bool any_lane(VM m) {
  int64_t acc = 0;
  for (int l = 0; l < W; ++l) acc |= m[l];
  return acc != 0;
}

struct SweepParams {
  int dim, dips, steps;
  double eta, mu, stop2, div2, settle2;
  int window;             // ceil(steps / 10): the settling window
  const double* xstar;    // [dim]
  const double* centers;  // [dips, dim]
  const double* a6;       // [dips]  6 a_i (the compact dip's gradient factor)
  const double* w2;       // [dips]  w_i^2
  bool paper1d;
};

// grad f -> g [dim][V] at x [dim][V] (vectors of W lanes): the compact family's grad_only().
// D = dim known at compile time (loops unrolled, x and g kept in registers), or 0 = p.dim.
// alive [V]: the lanes whose g is read; a dip none of them touches is skipped (the other lanes
// hold NaN, which is "inside" every dip).
template <int W, int D, int V>
BIGSTEP_ALWAYS_INLINE void compact_grad(const SweepParams& p, const typename Vec<W>::d (*x)[V],
                                        typename Vec<W>::d (*g)[V], const typename Vec<W>::m* alive) {
  using vd = typename Vec<W>::d;
  using vm = typename Vec<W>::m;
  const int d = D > 0 ? D : p.dim;
  for (int j = 0; j < d; ++j)
    for (int v = 0; v < V; ++v) g[j][v] = p.mu * x[j][v];
  for (int i = 0; i < p.dips; ++i) {
    const double* c = p.centers + (size_t)i * d;
    const double w2 = p.w2[i], a6 = p.a6[i];
    for (int v = 0; v < V; ++v) {
      vd r2 = {};
      for (int j = 0; j < d; ++j) {
        const vd t = x[j][v] - c[j];
        r2 += t * t;
      }
      const vm in = ~(r2 >= w2);
      if (!any_lane<W>(in & alive[v])) continue;  // no live lane of this vector is inside dip i's support
      const vd q = 1.0 - r2 / w2;
      const vd coef = a6 * q * q / w2;
      for (int j = 0; j < d; ++j) g[j][v] = select(in, g[j][v] + coef * (x[j][v] - c[j]), g[j][v]);
    }
  }
}

// grad f -> g [1][V] for paper-1d: paper1d_eval()'s derivative, the branch as a lane mask.
template <int W, int V>
BIGSTEP_ALWAYS_INLINE void paper1d_grad(const typename Vec<W>::d (*x)[V], typename Vec<W>::d (*g)[V]) {
  using vd = typename Vec<W>::d;
  using vm = typename Vec<W>::m;
  for (int v = 0; v < V; ++v) {
    const vd xv = x[0][v];
    const vd t = xv - 6.5;
    // x < 6 || x > 7 as one compare, |t| > 1/2 (two compares OR-ed into a select make GCC split
    // the select into scalars). Same lanes: t is exact for x in [3.25, 13] (Sterbenz), |t| > 3
    // outside it, and NaN is "inside" either way.
    const vm outside = (vd)((vm)t & INT64_MAX) > 0.5;
    const vd patch = t * (13560.0 + t * (6240.0 + t * (-54080.0 + t * -20800.0)));
    g[0][v] = select(outside, 40.0 * xv, patch);
  }
}

// The state of one block: V vectors of W particles. A lane is live while its particle steps. A
// particle that stops or diverges leaves its final iterate in x_done, and its x lane (like a
// padding lane's) is parked at NaN: NaN stays NaN through every step and is invisible to
// fast_steps' event accumulators, so every lane can step with the same eta, unmasked.
template <int W, int D, int V>
struct Block {
  using vd = typename Vec<W>::d;
  static constexpr int kDims = D > 0 ? D : kSweepMaxDim;
  vd x[kDims][V];
  vd x_done[kDims][V];  // a stopped particle's x_t, a diverged one's x_{t+1}
  // alive: still stepping; taken: steps taken (the stop step of a particle that stopped, t + 1 of
  // one that diverged); diverged: left the ball or became non-finite; settled: see sweep_gd.
  typename Vec<W>::m alive[V], taken[V], diverged[V], settled[V];
};

template <int W, bool PAPER1D, int D, int V>
BIGSTEP_ALWAYS_INLINE void block_grad(const SweepParams& p, const Block<W, D, V>& b, typename Vec<W>::d (*g)[V]) {
  if constexpr (PAPER1D)
    paper1d_grad<W, V>(b.x, g);
  else
    compact_grad<W, D, V>(p, b.x, g, b.alive);
}

// Lane-wise min(a, m) and max(a, m) that keep m where a is NaN (so dead lanes drop out): the
// ternary is exactly x86's minpd / maxpd, one instruction each.
template <class VD>
BIGSTEP_ALWAYS_INLINE VD min_keep(VD a, VD m) {
  return a < m ? a : m;
}
template <class VD>
BIGSTEP_ALWAYS_INLINE VD max_keep(VD a, VD m) {
  return a > m ? a : m;
}

// GD step t of the block, exactly as the per-particle loop takes it: a particle stops (without
// stepping) once |g|^2 <= stop2, diverges when |x_{t+1}|^2 > div2 or is not finite.
template <int W, bool PAPER1D, int D, int V>
BIGSTEP_ALWAYS_INLINE void exact_step(const SweepParams& p, Block<W, D, V>& b, int t) {
  using vd = typename Vec<W>::d;
  using vm = typename Vec<W>::m;
  constexpr int kDims = Block<W, D, V>::kDims;
  const int d = D > 0 ? D : p.dim;
  const vd nan = vd{} + std::numeric_limits<double>::quiet_NaN();
  vd g[kDims][V];
  block_grad<W, PAPER1D, D, V>(p, b, g);
  const bool in_window = p.settle2 > 0 && t + 1 > p.steps - p.window;
  for (int v = 0; v < V; ++v) {
    vd g2 = {};
    for (int j = 0; j < d; ++j) g2 += g[j][v] * g[j][v];
    const vm stop = b.alive[v] & (g2 <= p.stop2);  // a fixed point for all practical purposes
    const vm step = b.alive[v] & ~stop;
    vd x2 = {};
    for (int j = 0; j < d; ++j) {
      const vd xn = b.x[j][v] - p.eta * g[j][v];
      b.x_done[j][v] = select(stop, b.x[j][v], b.x_done[j][v]);
      b.x[j][v] = select(step, xn, nan);
      x2 += xn * xn;
    }
    const vm inside = x2 <= p.div2;  // false for NaN too
    const vm diverges = step & ~inside;
    for (int j = 0; j < d; ++j) {
      b.x_done[j][v] = select(diverges, b.x[j][v], b.x_done[j][v]);
      b.x[j][v] = select(diverges, nan, b.x[j][v]);
    }
    b.diverged[v] |= diverges;
    b.alive[v] = step & inside;
    b.taken[v] -= step;  // true lanes are -1
    if (in_window) {
      vd s2 = {};
      for (int j = 0; j < d; ++j) {
        const vd u = b.x[j][v] - p.xstar[j];
        s2 += u * u;
      }
      b.settled[v] -= b.alive[v] & (s2 <= p.settle2);
    }
  }
}

// kc steps without the per-step bookkeeping, speculatively: every lane steps with eta (dead lanes
// are NaN and stay NaN), and a step keeps only the block's smallest |g|^2 and largest |x_{t+1}|^2
// (min_keep / max_keep: NaN lanes drop out; the sums start from their first term, which is the
// same number as exact_step's 0 + term). A live particle that turns non-finite stays non-finite,
// so the check of x at the chunk's end catches it. Returns false, with x restored, if any live
// particle would have stopped or diverged within the kc steps: the caller then takes them with
// exact_step. Else the iterates are exactly exact_step's.
template <int W, bool PAPER1D, int D, int V>
BIGSTEP_ALWAYS_INLINE bool fast_steps(const SweepParams& p, Block<W, D, V>& b, int kc) {
  using vd = typename Vec<W>::d;
  using vm = typename Vec<W>::m;
  const int d = D > 0 ? D : p.dim;
  constexpr int kDims = Block<W, D, V>::kDims;
  vd saved[kDims][V], g[kDims][V];
  for (int v = 0; v < V; ++v)
    for (int j = 0; j < d; ++j) saved[j][v] = b.x[j][v];
  vd g2min = vd{} + std::numeric_limits<double>::infinity(), x2max = {};
  for (int s = 0; s < kc; ++s) {
    block_grad<W, PAPER1D, D, V>(p, b, g);
    for (int v = 0; v < V; ++v) {
      vd g2 = g[0][v] * g[0][v];
      for (int j = 1; j < d; ++j) g2 += g[j][v] * g[j][v];
      for (int j = 0; j < d; ++j) b.x[j][v] = b.x[j][v] - p.eta * g[j][v];
      vd x2 = b.x[0][v] * b.x[0][v];
      for (int j = 1; j < d; ++j) x2 += b.x[j][v] * b.x[j][v];
      g2min = min_keep(g2, g2min);
      x2max = max_keep(x2, x2max);
    }
  }
  vm event = (g2min <= p.stop2) | (x2max > p.div2);
  for (int v = 0; v < V; ++v) {
    vd x2 = {};
    for (int j = 0; j < d; ++j) x2 += b.x[j][v] * b.x[j][v];
    event |= b.alive[v] & ~(x2 <= p.div2);  // non-finite
  }
  if (any_lane<W>(event)) {
    for (int v = 0; v < V; ++v)
      for (int j = 0; j < d; ++j) b.x[j][v] = saved[j][v];
    return false;
  }
  for (int v = 0; v < V; ++v) b.taken[v] += b.alive[v] & (int64_t)kc;
  return true;
}

// One block of up to V * W particles; xb [count, dim] in/out (row-major, like x in sweep_gd).
// PAPER1D: the paper-1d gradient (D = 1), else compact dips; D as in compact_grad. Steps go in
// chunks of 16: fast_steps, or exact_step where an event (a stop, a divergence) falls in the
// chunk or the settling window is open (it counts per step).
template <int W, bool PAPER1D, int D, int V>
BIGSTEP_ALWAYS_INLINE void sweep_block(const SweepParams& p, int count, double* xb, int32_t* diverge_step,
                                       int32_t* settled_steps) {
  using vd = typename Vec<W>::d;
  using vm = typename Vec<W>::m;
  constexpr int kDims = Block<W, D, V>::kDims;
  constexpr int kChunk = 16;
  const int d = D > 0 ? D : p.dim;
  Block<W, D, V> b;
  {
    alignas(64) double lanes[kDims][V * W];
    alignas(64) int64_t live[V * W];
    for (int k = 0; k < V * W; ++k) {
      for (int j = 0; j < d; ++j)
        lanes[j][k] = k < count ? xb[(size_t)k * d + j] : std::numeric_limits<double>::quiet_NaN();
      live[k] = k < count ? -1 : 0;  // padding lanes never step
    }
    for (int v = 0; v < V; ++v) {
      for (int j = 0; j < d; ++j) {
        std::memcpy(&b.x[j][v], &lanes[j][v * W], sizeof(vd));
        b.x_done[j][v] = vd{};
      }
      std::memcpy(&b.alive[v], &live[v * W], sizeof(vm));
      b.taken[v] = vm{};
      b.diverged[v] = vm{};
      b.settled[v] = vm{};
    }
  }
  const bool settle = p.settle2 > 0;
  for (int t0 = 0; t0 < p.steps; t0 += kChunk) {
    vm any = b.alive[0];  // every particle of the block stopped or diverged: nothing left to do
    for (int v = 1; v < V; ++v) any |= b.alive[v];
    if (!any_lane<W>(any)) break;
    const int kc = std::min(kChunk, p.steps - t0);
    const bool window = settle && t0 + kc > p.steps - p.window;
    if (!window && fast_steps<W, PAPER1D, D, V>(p, b, kc)) continue;
    for (int t = t0; t < t0 + kc; ++t) exact_step<W, PAPER1D, D, V>(p, b, t);
  }
  for (int k = 0; k < count && k < V * W; ++k) {
    const int v = k / W, l = k % W;
    const bool done = b.alive[v][l] == 0, diverged = b.diverged[v][l] != 0;
    double s2 = 0;
    for (int j = 0; j < d; ++j) {
      const double xj = done ? b.x_done[j][v][l] : b.x[j][v][l];
      xb[(size_t)k * d + j] = xj;
      const double u = xj - p.xstar[j];
      s2 += u * u;
    }
    diverge_step[k] = diverged ? (int32_t)b.taken[v][l] : -1;
    int64_t s = b.settled[v][l];
    // a particle that stopped at step t stays put: its remaining iterates in the window count too
    const bool stopped = done && !diverged;
    if (settle && stopped && s2 <= p.settle2) s += std::min<int64_t>(p.window, p.steps - b.taken[v][l]);
    settled_steps[k] = (int32_t)s;
  }
}

template <int W, bool PAPER1D, int D, int V>
BIGSTEP_ALWAYS_INLINE void sweep_blocks(const SweepParams& p, int n, double* x, int32_t* diverge_step,
                                        int32_t* settled_steps) {
  constexpr int B = V * W;
  for (int k0 = 0; k0 < n; k0 += B)
    sweep_block<W, PAPER1D, D, V>(p, std::min(B, n - k0), x + (size_t)k0 * p.dim, diverge_step + k0,
                                  settled_steps + k0);
}

// All n particles, W lanes per vector. 1-D: eight vectors per block (the step is one dependent
// chain of ~12 flops; on AVX-512, before the chunked fast path: 2 vectors 0.7e9, 4 1.15e9,
// 8 1.4e9, 16 1.3e9 particle-steps/s; with it 4 and 8 are alike, ~1.35e9, and 16 spills);
// d-D: two (the dips already give independent work within a step). E1's dimensions get their
// own unrolled copies.
template <int W>
BIGSTEP_ALWAYS_INLINE void sweep_range_body(const SweepParams* p, int n, double* x, int32_t* diverge_step,
                                            int32_t* settled_steps) {
  if (p->paper1d) return sweep_blocks<W, true, 1, 8>(*p, n, x, diverge_step, settled_steps);
  switch (p->dim) {
    case 1: return sweep_blocks<W, false, 1, 8>(*p, n, x, diverge_step, settled_steps);
    case 2: return sweep_blocks<W, false, 2, 2>(*p, n, x, diverge_step, settled_steps);
    case 5: return sweep_blocks<W, false, 5, 2>(*p, n, x, diverge_step, settled_steps);
    default: return sweep_blocks<W, false, 0, 2>(*p, n, x, diverge_step, settled_steps);
  }
}

// One copy per ISA path at its native width (the *_avx2 / *_avx512 names mark them for
// test/native/no_vex_outside_isa_paths.sh).
void sweep_range_baseline(const SweepParams* p, int n, double* x, int32_t* ds, int32_t* ss) {
  sweep_range_body<2>(p, n, x, ds, ss);
}
#ifdef BIGSTEP_ISA_X86
BIGSTEP_TARGET_AVX2 void sweep_range_avx2(const SweepParams* p, int n, double* x, int32_t* ds, int32_t* ss) {
  sweep_range_body<4>(p, n, x, ds, ss);
}
BIGSTEP_TARGET_AVX512 void sweep_range_avx512(const SweepParams* p, int n, double* x, int32_t* ds, int32_t* ss) {
  sweep_range_body<8>(p, n, x, ds, ss);
}
#endif
void sweep_range(const SweepParams* p, int n, double* x, int32_t* ds, int32_t* ss) {
#ifdef BIGSTEP_ISA_X86
  switch (active_isa()) {
    case Isa::avx512: return sweep_range_avx512(p, n, x, ds, ss);
    case Isa::avx2: return sweep_range_avx2(p, n, x, ds, ss);
    default: break;
  }
#endif
  sweep_range_baseline(p, n, x, ds, ss);
}

}  // namespace

bool sweep_supported(const Instance& inst, const RunOptions& opt) {
  return (inst.kind == Kind::Paper1d || inst.kind == Kind::Compact) && opt.noise_std == 0 && inst.dim <= kSweepMaxDim;
}

void sweep_gd(const Instance& inst, const double* xstar, const RunOptions& o, int n, double* x, int32_t* diverge_step,
              int32_t* settled_steps) {
  std::vector<double> a6(inst.dips), w2(inst.dips);
  for (int i = 0; i < inst.dips; ++i) {
    a6[i] = 6.0 * inst.depths[i];
    w2[i] = inst.widths[i] * inst.widths[i];
  }
  SweepParams p;
  p.dim = inst.dim;
  p.dips = inst.dips;
  p.steps = o.steps;
  p.eta = o.eta;
  p.mu = inst.mu;
  const double stop_tol = o.grad_tol * 1e-3;  // as in run_gd_reference
  p.stop2 = stop_tol * stop_tol;
  p.div2 = o.diverge_radius * o.diverge_radius;
  p.settle2 = o.settle_radius * o.settle_radius;
  p.window = (o.steps + 9) / 10;
  p.xstar = xstar;
  p.centers = inst.centers.data();
  p.a6 = a6.data();
  p.w2 = w2.data();
  p.paper1d = inst.kind == Kind::Paper1d;
  sweep_range(&p, n, x, diverge_step, settled_steps);
}

}  // namespace bigstep::landscape
