// The solo training loop's guarantees that survive MultiTrainer's removal (they lived in its test):
// "no allocation in steady state" (a counting global operator new shows that Trainer::run steps
// after warm-up allocate nothing, 1 and 2 threads) and a permutation index out of range (JS can
// write caller memory while a chunk runs) is a RangeError naming perm[i] before any row is read.
#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "check.h"
#include "specs.h"
#include "errors.h"
#include "gemm.h"
#include "kernels.h"
#include "model.h"
#include "rng.h"
#include "trainer.h"

using namespace bigstep;

static std::atomic<long> g_allocs{0};
void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

static ModelSpec mlp_spec() {
  ModelSpec s;
  s.input = {96};
  s.layers = {layer(LayerKind::Dense, 160), layer(LayerKind::Relu), layer(LayerKind::Dense, 64), layer(LayerKind::Tanh),
              layer(LayerKind::Dense, 5)};
  return s;
}

struct Data {
  std::vector<float> x;
  std::vector<int32_t> y;
  DataRef ref;
};
static Data make_data(const Layout& L, int n) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  Data d;
  d.x.resize((size_t)n * L.input_size);
  for (auto& v : d.x) v = U(gen);
  d.y.resize((size_t)n);
  for (int i = 0; i < n; ++i) d.y[(size_t)i] = (int32_t)(gen() % L.output_size);
  d.ref.x = d.x.data();
  d.ref.y.labels = d.y.data();
  d.ref.n = n;
  return d;
}

static OptimizerPlan plan(double lr, double momentum, double noise, size_t P) {
  OptimizerPlan p;
  if (noise > 0) {
    Transform t;
    t.kind = TransformKind::GaussianNoise;
    t.value = noise;
    p.transforms.push_back(t);
  }
  if (momentum > 0) {
    Transform t;
    t.kind = TransformKind::Momentum;
    t.value = momentum;
    p.transforms.push_back(t);
    p.state_count = P;
  }
  Transform s;
  s.kind = TransformKind::ScaleByLearningRate;
  p.transforms.push_back(s);
  p.schedule.lr = lr;
  choose_update_path(p);
  return p;
}

static void test_no_steady_state_allocation(int threads) {
  set_blas_threads(threads);
  ModelSpec spec;
  spec.input = {256};
  spec.layers = {layer(LayerKind::Dense, 512), layer(LayerKind::Relu), layer(LayerKind::Dense, 10)};
  Model m(spec);
  const size_t P = m.layout().param_count;
  Data d = make_data(m.layout(), 512);
  BatchPlan bp;
  bp.mode = BatchMode::Shuffle;
  bp.batch = 128;
  OptimizerPlan pl = plan(0.01, 0.9, 0.001, P);
  std::vector<float> params(P), grads(P), opt(P, 0.f);
  m.init(params.data(), nullptr, 1);
  uint64_t data_rng[4], noise_rng[4];
  Rng::seed_state(data_rng, 1, 1);
  Rng::seed_state(noise_rng, 1, 3);
  std::vector<int32_t> perm(512);
  double counters[3] = {0, 0, 0};
  TrainState st{params.data(), grads.data(), nullptr, opt.data(), data_rng, noise_rng, perm.data(), counters};
  Trainer t;
  t.run(m, d.ref, bp, pl, st, 3, StepLogs{});
  const long before = g_allocs.load();
  t.run(m, d.ref, bp, pl, st, 20, StepLogs{});
  CHECK_MSG(g_allocs.load() == before, check::fmt("Trainer::run threads=%d allocated %ld times in 20 steady steps",
                                                  threads, g_allocs.load() - before));
}

// A permutation holding an out-of-range index mid-epoch (JS can write caller memory while a chunk
// runs) is a RangeError naming perm[i] before any row is read (ASan would report the
// out-of-bounds read otherwise).
static void test_bad_perm_is_range_error() {
  const ModelSpec spec = mlp_spec();
  Model m(spec);
  const size_t P = m.layout().param_count;
  Data d = make_data(m.layout(), 40);
  BatchPlan bp;
  bp.mode = BatchMode::Shuffle;
  bp.batch = 8;
  const OptimizerPlan pl = plan(0.01, 0, 0, P);
  std::vector<float> params(P), grads(P), opt(1, 0.f);
  m.init(params.data(), nullptr, 1);
  uint64_t data_rng[4], noise_rng[4];
  Rng::seed_state(data_rng, 1, 1);
  Rng::seed_state(noise_rng, 1, 3);
  for (const int32_t bad : {40, -1, 1 << 30}) {
    std::vector<int32_t> perm(40);
    for (int i = 0; i < 40; ++i) perm[(size_t)i] = i;
    perm[19] = bad;
    double counters[3] = {2, 16, 0};  // mid-epoch: the next batch reads perm[16..24)
    TrainState st{params.data(), grads.data(), nullptr, opt.data(), data_rng, noise_rng, perm.data(), counters};
    Trainer t;
    CHECK_THROWS_PARAM(t.run(m, d.ref, bp, pl, st, 5, StepLogs{}), ErrorKind::Range, "perm[19]");
  }
}

int main() {
  test_bad_perm_is_range_error();
  for (int threads : {1, 2}) test_no_steady_state_allocation(threads);
  return check::finish("trainer_loop_test");
}
