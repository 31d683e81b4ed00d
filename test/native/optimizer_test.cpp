// The optimizer (native/optimizer.h): which path a plan takes, the generic chain against a float64
// oracle written from each transform's formula, and the fused twin against the chain on every
// plan sgd() builds (plain, weight decay, momentum, Nesterov). On the baseline path the fused pass
// does the chain's float operations in the same order, so it must match bit for bit; avx2 / avx512
// contract a·b + c to FMA (one rounding instead of two), so there it must agree to a few float
// roundings. Run once per ISA path (CMakeLists.txt).
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "errors.h"
#include "isa.h"
#include "optimizer.h"
#include "rng.h"

using namespace bigstep;

static Transform make(TransformKind kind, double value = 0.0) {
  Transform t;
  t.kind = kind;
  t.value = value;
  return t;
}

static OptimizerPlan finished(std::vector<Transform> transforms, double lr, size_t state_count) {
  OptimizerPlan p;
  p.transforms = std::move(transforms);
  p.schedule.lr = lr;
  p.state_count = state_count;
  choose_update_path(p);
  return p;
}

struct Vectors {
  std::vector<float> theta, g, v;
};
static Vectors random_vectors(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> N01(0.f, 1.f);
  Vectors r;
  r.theta.resize(n);
  r.g.resize(n);
  r.v.resize(n);
  for (size_t i = 0; i < n; ++i) r.theta[i] = N01(gen), r.g[i] = N01(gen), r.v[i] = 0.5f * N01(gen);
  return r;
}

static void test_path_choice() {
  const size_t P = 10;
  const Transform wd = make(TransformKind::AddWeightDecay, 1e-3), mom = make(TransformKind::Momentum, 0.9),
                  lr = make(TransformKind::ScaleByLearningRate);
  CHECK(finished({lr}, 0.1, 0).path == UpdatePath::FusedSgd);
  CHECK(finished({wd, lr}, 0.1, 0).path == UpdatePath::FusedSgd);
  CHECK(finished({mom, lr}, 0.1, P).path == UpdatePath::FusedSgd);
  CHECK(finished({wd, mom, lr}, 0.1, P).path == UpdatePath::FusedSgd);
  const OptimizerPlan f = finished({wd, mom, lr}, 0.1, P);
  CHECK(f.fused.momentum && f.fused.beta == 0.9 && f.fused.wd == 1e-3);
  // Anything else takes the chain: noise, clipping, decoupled decay, a masked decay, a wrong order.
  CHECK(finished({make(TransformKind::GaussianNoise, 0.1), lr}, 0.1, 0).path == UpdatePath::Chain);
  CHECK(finished({make(TransformKind::ClipGlobalNorm, 1.0), lr}, 0.1, 0).path == UpdatePath::Chain);
  CHECK(finished({lr, make(TransformKind::DecoupledWeightDecay, 0.1)}, 0.1, 0).path == UpdatePath::Chain);
  CHECK(finished({mom, wd, lr}, 0.1, P).path == UpdatePath::Chain);
  CHECK(finished({}, 0.1, 0).path == UpdatePath::Chain);
  std::vector<uint8_t> mask(P, 1);
  Transform masked = wd;
  masked.mask = mask.data();
  CHECK(finished({masked, lr}, 0.1, 0).path == UpdatePath::Chain);
  CHECK(std::strcmp(update_path_name(UpdatePath::FusedSgd), "fused-sgd") == 0);
  CHECK(std::strcmp(update_path_name(UpdatePath::Chain), "chain") == 0);
  // A plan whose path was never chosen is refused by validation, naming the optimizer.
  OptimizerPlan raw;
  raw.transforms = {lr};
  CHECK_THROWS_PARAM(validate_optimizer(raw, P), ErrorKind::Range, "optimizer");
  CHECK_THROWS_PARAM(validate_optimizer(finished({mom, lr}, 0.1, P - 1), P), ErrorKind::Range, "optimizer.stateCount");
}

// The chain against a float64 oracle of the same formulas (optimizer.h), for a plan with every
// deterministic transform: clip, masked coupled decay, Nesterov momentum, scale, decoupled decay.
static void test_chain_against_oracle() {
  const size_t n = 1000;
  Vectors r = random_vectors(n, 7);
  std::vector<uint8_t> mask(n);
  for (size_t i = 0; i < n; ++i) mask[i] = (uint8_t)(i % 3 != 0);
  Transform clip = make(TransformKind::ClipGlobalNorm, 5.0), wd = make(TransformKind::AddWeightDecay, 0.01),
            mom = make(TransformKind::Momentum, 0.9), dwd = make(TransformKind::DecoupledWeightDecay, 0.05);
  wd.mask = mask.data();
  mom.nesterov = true;
  const double lr = 0.3;
  const OptimizerPlan plan = finished({clip, wd, mom, make(TransformKind::ScaleByLearningRate), dwd}, lr, n);
  CHECK(plan.path == UpdatePath::Chain);
  std::vector<double> th(r.theta.begin(), r.theta.end()), v(r.v.begin(), r.v.end()), u(r.g.begin(), r.g.end());
  double sq = 0;
  for (double x : u) sq += x * x;
  const double scale = std::sqrt(sq) > 5.0 ? 5.0 / std::sqrt(sq) : 1.0;
  for (size_t i = 0; i < n; ++i) {
    u[i] *= scale;
    if (mask[i]) u[i] += 0.01 * th[i];
    v[i] = 0.9 * v[i] + u[i];
    u[i] = u[i] + 0.9 * v[i];
    u[i] *= -lr;
    u[i] -= lr * 0.05 * th[i];
  }
  for (size_t i = 0; i < n; ++i) th[i] += u[i];
  std::vector<float> update(n), g0 = r.g;
  uint64_t noise[4];
  Rng::seed_state(noise, 1, 3);
  apply_chain(plan, OptimizerBuffers{r.theta.data(), r.g.data(), r.v.data(), noise}, n, 0, update.data());
  size_t worst = 0;
  const double e_th = check::max_rel_err(r.theta.data(), th.data(), n, 1e-3, &worst);
  CHECK_MSG(e_th < 1e-5, check::fmt("chain θ vs float64 oracle: rel err %.3g at %zu", e_th, worst));
  const double e_v = check::max_rel_err(r.v.data(), v.data(), n, 1e-3, &worst);
  CHECK_MSG(e_v < 1e-5, check::fmt("chain momentum buffer vs float64 oracle: rel err %.3g at %zu", e_v, worst));
  CHECK_MSG(std::memcmp(g0.data(), r.g.data(), n * sizeof(float)) == 0, "the chain leaves grads intact");
}

// Gaussian noise in norm mode adds a vector of norm exactly σ (to float rounding), drawn from the
// noise stream, which advances the same way in every mode.
static void test_chain_noise_norm() {
  const size_t n = 4096;
  std::vector<float> theta(n, 0.f), g(n, 0.f), update(n);
  Transform noise = make(TransformKind::GaussianNoise, 0.25);
  noise.noise_mode = Transform::NoiseMode::Norm;
  const OptimizerPlan plan = finished({noise, make(TransformKind::ScaleByLearningRate)}, 1.0, 0);
  uint64_t rng[4], rng_std[4];
  Rng::seed_state(rng, 5, 3);
  std::memcpy(rng_std, rng, sizeof(rng));
  apply_chain(plan, OptimizerBuffers{theta.data(), g.data(), nullptr, rng}, n, 0, update.data());
  double sq = 0;
  for (float x : theta) sq += (double)x * x;
  CHECK_MSG(std::fabs(std::sqrt(sq) - 0.25) < 1e-6, check::fmt("noise norm %.9g, want 0.25", std::sqrt(sq)));
  std::vector<float> theta2(n, 0.f);
  const OptimizerPlan plan_std =
      finished({make(TransformKind::GaussianNoise, 0.25), make(TransformKind::ScaleByLearningRate)}, 1.0, 0);
  apply_chain(plan_std, OptimizerBuffers{theta2.data(), g.data(), nullptr, rng_std}, n, 0, update.data());
  CHECK_MSG(std::memcmp(rng, rng_std, sizeof(rng)) == 0, "norm and std modes advance the noise stream alike");
}

// The fused twin against the chain, on the plans sgd() builds, over several steps (the momentum
// buffer carries over) and a vector long enough to be split over the threads.
static void test_fused_against_chain() {
  const size_t n = (size_t)3 << 17;
  const bool exact = active_isa() == Isa::baseline;
  const Transform wd = make(TransformKind::AddWeightDecay, 1e-2), lr = make(TransformKind::ScaleByLearningRate);
  Transform mom = make(TransformKind::Momentum, 0.9), nes = make(TransformKind::Momentum, 0.9);
  nes.nesterov = true;
  struct Case {
    const char* name;
    std::vector<Transform> t;
  };
  const Case cases[] = {{"sgd", {lr}},
                        {"sgd + weight decay", {wd, lr}},
                        {"momentum", {mom, lr}},
                        {"nesterov + weight decay", {wd, nes, lr}}};
  for (const Case& c : cases) {
    const OptimizerPlan plan = finished(c.t, 0.05, n);
    CHECK_MSG(plan.path == UpdatePath::FusedSgd, check::fmt("%s: takes the fused path", c.name));
    Vectors a = random_vectors(n, 11), b = a;
    std::vector<float> update(n);
    for (int64_t t = 0; t < 3; ++t) {
      apply_fused_sgd(plan, OptimizerBuffers{a.theta.data(), a.g.data(), a.v.data(), nullptr}, n, t);
      apply_chain(plan, OptimizerBuffers{b.theta.data(), b.g.data(), b.v.data(), nullptr}, n, t, update.data());
    }
    if (exact) {
      CHECK_MSG(std::memcmp(a.theta.data(), b.theta.data(), n * sizeof(float)) == 0,
                check::fmt("%s: fused θ bitwise the chain's on the baseline path", c.name));
      CHECK_MSG(std::memcmp(a.v.data(), b.v.data(), n * sizeof(float)) == 0,
                check::fmt("%s: fused momentum buffer bitwise the chain's", c.name));
    } else {
      double worst = 0;
      for (size_t i = 0; i < n; ++i)
        worst = std::fmax(worst, std::fabs((double)a.theta[i] - b.theta[i]) / std::fmax(1.0, std::fabs(b.theta[i])));
      CHECK_MSG(worst < 1e-6, check::fmt("%s: fused θ vs chain, worst rel diff %.3g (FMA path)", c.name, worst));
    }
    // apply_update follows the plan's path.
    Vectors d = random_vectors(n, 11);
    apply_update(plan, OptimizerBuffers{d.theta.data(), d.g.data(), d.v.data(), nullptr}, n, 0, update.data());
    Vectors e = random_vectors(n, 11);
    apply_fused_sgd(plan, OptimizerBuffers{e.theta.data(), e.g.data(), e.v.data(), nullptr}, n, 0);
    CHECK_MSG(std::memcmp(d.theta.data(), e.theta.data(), n * sizeof(float)) == 0,
              check::fmt("%s: apply_update takes the fused pass", c.name));
  }
}

int main() {
  if (int rc = check::isa_path_or_skip("optimizer_test"); rc >= 0) return rc;
  test_path_choice();
  test_chain_against_oracle();
  test_chain_noise_norm();
  test_fused_against_chain();
  return check::finish("optimizer_test");
}
