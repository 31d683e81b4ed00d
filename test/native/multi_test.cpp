// MultiTrainer against solo Trainer runs (bitwise, threads 1 and 2, incl. a diverging model and a
// small CNN), and "no allocation in steady state": a counting global operator new shows that
// training steps after warm-up allocate nothing (solo Trainer and MultiTrainer, 1 and 2 threads).
#include <atomic>
#include <cstring>
#include <new>
#include <random>

#include "check.h"
#include "specs.h"
#include "errors.h"
#include "gemm.h"
#include "kernels.h"
#include "multi.h"

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
  s.layers = {layer(LayerKind::Dense, 160), layer(LayerKind::Relu), layer(LayerKind::Dense, 64),
              layer(LayerKind::Tanh), layer(LayerKind::Dense, 5)};
  return s;
}

// Big enough that sgemm splits its products at 2 threads (M·N·K >= 2·2^20): each model's products
// must use the solo run's 2-thread partition (results differ in the last bits from 1 thread).
static ModelSpec wide_spec() {
  ModelSpec s;
  s.input = {256};
  s.layers = {layer(LayerKind::Dense, 512), layer(LayerKind::Relu), layer(LayerKind::Dense, 5)};
  return s;
}

static ModelSpec cnn_spec() {
  ModelSpec s;
  s.input = {1, 12, 12};
  s.layers = {layer(LayerKind::Conv2d, 8, 3), layer(LayerKind::Relu), layer(LayerKind::MaxPool, 0, 2, 2),
              layer(LayerKind::Dense, 16), layer(LayerKind::Relu), layer(LayerKind::Dense, 5)};
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
  return p;
}

struct Solo {
  std::vector<float> params, grads, opt;
  std::vector<double> loss;
  ChunkResult r;
};

static Solo solo(const ModelSpec& spec, const Data& d, const BatchPlan& bp, const OptimizerPlan& pl,
                 uint64_t init_seed, uint64_t seed, int steps) {
  Model m(spec);
  const size_t P = m.layout().param_count;
  Solo s;
  s.params.resize(P);
  s.grads.resize(P);
  s.opt.assign(std::max<size_t>(pl.state_count, 1), 0.f);
  s.loss.assign((size_t)steps, NAN);
  m.init(s.params.data(), nullptr, init_seed);
  uint64_t data_rng[4], noise_rng[4];
  Rng::seed_state(data_rng, seed, 1);
  Rng::seed_state(noise_rng, seed, 3);
  std::vector<int32_t> perm((size_t)d.ref.n);
  double counters[3] = {0, 0, 0};
  TrainState st;
  st.params = s.params.data();
  st.grads = s.grads.data();
  st.opt_state = s.opt.data();
  st.data_rng = data_rng;
  st.noise_rng = noise_rng;
  st.perm = perm.data();
  st.counters = counters;
  StepLogs logs;
  logs.loss = s.loss.data();
  Trainer t;
  s.r = t.run(m, d.ref, bp, pl, st, steps, logs);
  return s;
}

static void test_equal_to_solo(const ModelSpec& spec, int threads, const char* tag) {
  set_blas_threads(threads);
  Model probe(spec);
  const Layout& L = probe.layout();
  const size_t P = L.param_count;
  Data d = make_data(L, 200);
  BatchPlan bp;
  bp.mode = BatchMode::Shuffle;
  bp.batch = 48;
  const std::vector<OptimizerPlan> plans = {plan(0.05, 0, 0, P), plan(0.02, 0.9, 0, P), plan(0.03, 0, 0.01, P),
                                            plan(INFINITY, 0, 0, P)};  // θ becomes ±inf/NaN: diverges at step 1
  const int K = (int)plans.size(), steps = 17;
  const uint64_t seed = 5;
  MultiTrainer multi(spec, K);
  std::vector<float> params(K * P), grads(K * P), opt(K * P, 0.f);
  std::vector<uint64_t> noise(4 * K);
  uint64_t data_rng[4];
  Rng::seed_state(data_rng, seed, 1);
  for (int k = 0; k < K; ++k) {
    probe.init(params.data() + k * P, nullptr, 100 + k);
    Rng::seed_state(noise.data() + 4 * k, seed, 3);
  }
  std::vector<int32_t> perm((size_t)d.ref.n);
  double counters[3] = {0, 0, 0};
  std::vector<double> diverged((size_t)K, -1.0), loss((size_t)K * steps);
  MultiState st;
  st.params = params.data();
  st.grads = grads.data();
  st.opt_state = opt.data();
  st.opt_stride = P;
  st.noise_rng = noise.data();
  st.data_rng = data_rng;
  st.perm = perm.data();
  st.counters = counters;
  st.diverged_at = diverged.data();
  MultiLogs logs;
  logs.loss = loss.data();
  multi.validate(d.ref, bp, plans, P);
  // Two chunks (10 + 7) must equal one solo run of 17 steps.
  MultiResult r1 = multi.run(d.ref, bp, plans, st, 10, logs);
  std::vector<double> loss2((size_t)K * 7);
  logs.loss = loss2.data();
  MultiResult r2 = multi.run(d.ref, bp, plans, st, 7, logs);
  int alive = 0;
  for (double v : diverged) alive += v < 0;
  CHECK(r1.steps_done == 10 && r2.steps_done == 7 && r2.alive == alive);
  for (int k = 0; k < K; ++k) {
    Solo s = solo(spec, d, bp, plans[(size_t)k], 100 + k, seed, steps);
    CHECK_MSG(std::memcmp(s.params.data(), params.data() + k * P, P * sizeof(float)) == 0,
              check::fmt("%s threads=%d: model %d params differ from its solo run", tag, threads, k));
    const bool solo_div = s.r.diverged;
    CHECK_MSG(solo_div == (diverged[(size_t)k] >= 0) && (!solo_div || s.r.diverged_at == (int64_t)diverged[(size_t)k]),
              check::fmt("%s threads=%d: model %d divergence differs", tag, threads, k));
    for (int j = 0; j < (solo_div ? (int)s.r.steps_done : steps); ++j) {
      const double got = j < 10 ? loss[(size_t)k * 10 + j] : loss2[(size_t)k * 7 + (j - 10)];
      CHECK_MSG(std::memcmp(&got, &s.loss[(size_t)j], sizeof(double)) == 0,
                check::fmt("%s threads=%d: model %d loss at step %d differs", tag, threads, k, j));
    }
  }
  // The lr = inf model diverges at step 1 (its first update makes θ non-finite).
  CHECK_MSG(diverged[3] >= 0 && alive == K - 1,
            check::fmt("%s: diverged_at %g %g %g %g", tag, diverged[0], diverged[1], diverged[2], diverged[3]));
  set_blas_threads(1);
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

  const int K = 4;
  MultiTrainer multi(spec, K);
  std::vector<float> mp(K * P), mg(K * P), mo(K * P, 0.f);
  std::vector<uint64_t> noise(4 * K);
  for (int k = 0; k < K; ++k) {
    m.init(mp.data() + k * P, nullptr, k);
    Rng::seed_state(noise.data() + 4 * k, 1, 3);
  }
  std::vector<double> div((size_t)K, -1.0);
  double mc[3] = {0, 0, 0};
  MultiState ms;
  ms.params = mp.data();
  ms.grads = mg.data();
  ms.opt_state = mo.data();
  ms.opt_stride = P;
  ms.noise_rng = noise.data();
  ms.data_rng = data_rng;
  ms.perm = perm.data();
  ms.counters = mc;
  ms.diverged_at = div.data();
  const std::vector<OptimizerPlan> plans(K, pl);
  multi.run(d.ref, bp, plans, ms, 3, MultiLogs{});
  const long before2 = g_allocs.load();
  multi.run(d.ref, bp, plans, ms, 20, MultiLogs{});
  CHECK_MSG(g_allocs.load() == before2, check::fmt("MultiTrainer::run threads=%d allocated %ld times in 20 steady steps",
                                                   threads, g_allocs.load() - before2));
  set_blas_threads(1);
}

// A permutation holding an out-of-range index mid-epoch (JS can write caller memory while a chunk
// runs) is a RangeError naming perm[i] in both loops, before any row is read (ASan would report the
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

    MultiTrainer multi(spec, 2);
    std::vector<float> mp(2 * P), mg(2 * P), mo(1, 0.f);
    std::vector<uint64_t> noise(8);
    Rng::seed_state(noise.data(), 1, 3);
    Rng::seed_state(noise.data() + 4, 2, 3);
    std::vector<double> div(2, -1.0);
    double mc[3] = {2, 16, 0};
    MultiState ms;
    ms.params = mp.data();
    ms.grads = mg.data();
    ms.opt_state = mo.data();
    ms.opt_stride = 0;
    ms.noise_rng = noise.data();
    ms.data_rng = data_rng;
    ms.perm = perm.data();
    ms.counters = mc;
    ms.diverged_at = div.data();
    const std::vector<OptimizerPlan> plans(2, pl);
    CHECK_THROWS_PARAM(multi.run(d.ref, bp, plans, ms, 5, MultiLogs{}), ErrorKind::Range, "perm[19]");
  }
}

int main() {
  test_bad_perm_is_range_error();
  for (int threads : {1, 2}) {
    test_equal_to_solo(mlp_spec(), threads, "mlp");
    test_equal_to_solo(cnn_spec(), threads, "cnn");
    test_equal_to_solo(wide_spec(), threads, "wide");
    test_no_steady_state_allocation(threads);
  }
  // Bad arguments name the parameter.
  try {
    MultiTrainer bad(mlp_spec(), 0);
    CHECK(false);
  } catch (const NativeError& e) {
    CHECK(e.param() == "count");
  }
  {
    MultiTrainer multi(mlp_spec(), 2);
    Data d = make_data(multi.layout(), 50);
    BatchPlan bp;
    bp.mode = BatchMode::Sequential;
    bp.batch = 10;
    OptimizerPlan ok = plan(0.1, 0, 0, 0), bad = plan(0.1, 0, 0, 0);
    bad.schedule.kind = ScheduleKind::StepDecay;
    bad.schedule.step_size = 0;
    try {
      multi.validate(d.ref, bp, {ok, bad}, 0);
      CHECK(false);
    } catch (const NativeError& e) {
      CHECK_MSG(e.param() == "optimizers[1].schedule.stepSize", e.param());
    }
    bp.amplify_k = 2;
    try {
      multi.validate(d.ref, bp, {ok, ok}, 0);
      CHECK(false);
    } catch (const NativeError& e) {
      CHECK(e.param() == "batch.amplify");
    }
  }
  return check::finish("multi_test");
}
