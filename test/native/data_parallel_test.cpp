// The data-parallel contract (native/data_parallel.h) without MPI: N threads, each with its own
// Model, parameters and Trainer, exchange through an in-process Collective. Every rank must end
// bitwise equal to one Trainer with microBatch = ⌈b/N⌉ (full-batch GD, shuffled SGD, the amplified
// estimator) and with shards = N (also through an epoch's shorter last batch), and bad plans get RangeErrors naming the
// parameter.
#include <cstring>
#include <random>
#include <thread>

#include "check.h"
#include "data_parallel.h"
#include "errors.h"
#include "gemm.h"
#include "model.h"
#include "rng.h"
#include "specs.h"
#include "thread_collective.h"
#include "trainer.h"

using namespace bigstep;

static ModelSpec mlp_spec() {
  ModelSpec s;
  s.input = {20};
  s.layers = {layer(LayerKind::Dense, 32), layer(LayerKind::Relu), layer(LayerKind::Dense, 4)};
  return s;
}

struct Data {
  std::vector<float> x;
  std::vector<int32_t> y;
  DataRef ref;
};
static Data make_data(const Layout& L, int n) {
  std::mt19937 gen(11);
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

// SGD with heavy-ball momentum (the generic transform chain, not the fused update).
static OptimizerPlan momentum_plan(size_t P) {
  OptimizerPlan p;
  Transform m;
  m.kind = TransformKind::Momentum;
  m.value = 0.9;
  p.transforms.push_back(m);
  Transform s;
  s.kind = TransformKind::ScaleByLearningRate;
  p.transforms.push_back(s);
  p.schedule.lr = 0.05;
  p.state_count = P;
  choose_update_path(p);
  return p;
}

struct RunOut {
  std::vector<float> params;
  std::vector<double> loss;
  ChunkResult result;
};

// `steps` steps of `bp` from the model's seed-1 init; with `comm`, as that rank.
static RunOut train(const ModelSpec& spec, const Data& d, BatchPlan bp, int steps, Collective* comm) {
  Model m(spec);
  const size_t P = m.layout().param_count;
  RunOut out;
  out.params.resize(P);
  out.loss.resize((size_t)steps);
  std::vector<float> grads(P), opt(P, 0.f);
  m.init(out.params.data(), nullptr, 1);
  uint64_t data_rng[4], noise_rng[4];
  Rng::seed_state(data_rng, 7, 1);
  Rng::seed_state(noise_rng, 7, 3);
  std::vector<int32_t> perm((size_t)d.ref.n);
  double counters[3] = {0, 0, 0};
  TrainState st{out.params.data(), grads.data(), nullptr, opt.data(), data_rng, noise_rng, perm.data(), counters};
  const OptimizerPlan plan = momentum_plan(P);
  bp.collective = comm;
  validate_training(m, d.ref, bp, plan);
  Trainer t;
  StepLogs logs;
  logs.loss = out.loss.data();
  out.result = t.run(m, d.ref, bp, plan, st, steps, logs);
  return out;
}

// Runs `bp` on n_ranks threads; returns each rank's result.
static std::vector<RunOut> train_ranks(const ModelSpec& spec, const Data& d, const BatchPlan& bp, int steps,
                                       int n_ranks) {
  ThreadWorld world(n_ranks);
  std::vector<RunOut> outs((size_t)n_ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < n_ranks; ++r)
    threads.emplace_back([&, r] {
      ThreadCollective comm(world, r);
      outs[(size_t)r] = train(spec, d, bp, steps, &comm);
    });
  for (auto& t : threads) t.join();
  return outs;
}

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
static bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// N ranks on `bp` equal one process with microBatch = ⌈b/N⌉ bit for bit (θ and every step's loss);
// with `by_shards`, the one process cuts every batch into N pieces (BatchPlan::shards) instead.
static void test_matches_micro_batched_single_process(const char* what, BatchPlan bp, int n, int n_ranks,
                                                      bool by_shards = false) {
  const ModelSpec spec = mlp_spec();
  Model probe(spec);
  const Data d = make_data(probe.layout(), n);
  const int steps = 6;
  const int64_t b = bp.mode == BatchMode::Full ? n : bp.batch;
  BatchPlan single = bp;
  if (by_shards)
    single.shards = n_ranks;
  else
    single.micro_batch = (b + n_ranks - 1) / n_ranks;
  const RunOut want = train(spec, d, single, steps, nullptr);
  const std::vector<RunOut> got = train_ranks(spec, d, bp, steps, n_ranks);
  for (int r = 0; r < n_ranks; ++r) {
    CHECK_MSG(got[(size_t)r].result.steps_done == steps, check::fmt("%s N=%d rank %d ran %lld steps", what, n_ranks, r,
                                                                    (long long)got[(size_t)r].result.steps_done));
    CHECK_MSG(
        same_bits(got[(size_t)r].params, want.params),
        check::fmt("%s N=%d rank %d: θ differs from microBatch=%lld", what, n_ranks, r, (long long)single.micro_batch));
    CHECK_MSG(same_bits(got[(size_t)r].loss, want.loss),
              check::fmt("%s N=%d rank %d: losses differ", what, n_ranks, r));
  }
  // The single-process reference itself must have moved (a test that cannot fail otherwise).
  std::vector<float> init(want.params.size());
  probe.init(init.data(), nullptr, 1);
  CHECK_MSG(!same_bits(init, want.params), check::fmt("%s: training did not change θ", what));
}

static void test_bad_plans_are_range_errors() {
  const ModelSpec spec = mlp_spec();
  Model m(spec);
  ThreadWorld world(4);
  ThreadCollective comm(world, 0);  // validation makes no collective call
  const OptimizerPlan plan = momentum_plan(m.layout().param_count);
  BatchPlan full;
  full.collective = &comm;
  // n = 3 < N = 4, and n = 5 over N = 4 (shards 2, 2, 1, 0).
  for (int n : {3, 5}) {
    const Data d = make_data(m.layout(), n);
    CHECK_THROWS_PARAM(validate_training(m, d.ref, full, plan), ErrorKind::Range, "data.n (full batch)");
  }
  const Data d = make_data(m.layout(), 30);
  BatchPlan sgd = full;
  sgd.mode = BatchMode::Shuffle;
  sgd.batch = 5;
  CHECK_THROWS_PARAM(validate_training(m, d.ref, sgd, plan), ErrorKind::Range, "batch.size");
  // 30 = 2·13 + 4 splits (4, 4, 4, 1 and 1, 1, 1, 1); 30 = 2·14 + 2 leaves a last batch of 2 < 4
  // ranks unless it is dropped.
  sgd.batch = 13;
  validate_training(m, d.ref, sgd, plan);
  sgd.batch = 14;
  CHECK_THROWS_PARAM(validate_training(m, d.ref, sgd, plan), ErrorKind::Range,
                     "batch.size (an epoch's last batch, n mod size)");
  sgd.drop_last = true;
  validate_training(m, d.ref, sgd, plan);
  // shards: another count than the ranks', or together with microBatch, is refused.
  sgd.shards = 3;
  CHECK_THROWS_PARAM(validate_training(m, d.ref, sgd, plan), ErrorKind::Range, "batch.shards");
  sgd.shards = 4;
  validate_training(m, d.ref, sgd, plan);
  sgd.micro_batch = 2;
  CHECK_THROWS_PARAM(validate_training(m, d.ref, sgd, plan), ErrorKind::Range, "batch.shards");

  ModelSpec bn = spec;
  bn.layers.insert(bn.layers.begin() + 1, layer(LayerKind::BatchNorm));
  Model mb(bn);
  const Data db = make_data(mb.layout(), 32);
  CHECK_THROWS_PARAM(validate_training(mb, db.ref, full, momentum_plan(mb.layout().param_count)), ErrorKind::Range,
                     "dataParallel");
}

int main() {
  set_blas_threads(1);
  BatchPlan full;
  for (int n_ranks : {1, 2, 3, 4}) test_matches_micro_batched_single_process("full-batch GD, n=30", full, 30, n_ranks);
  BatchPlan shuffle;
  shuffle.mode = BatchMode::Shuffle;
  shuffle.batch = 12;  // 36 = 3·12: every batch has 12 examples (see the contract in data_parallel.h)
  for (int n_ranks : {2, 3}) test_matches_micro_batched_single_process("shuffled SGD, batch 12", shuffle, 36, n_ranks);
  BatchPlan amplified = shuffle;
  amplified.mode = BatchMode::Replacement;
  amplified.amplify_k = 2.0;
  test_matches_micro_batched_single_process("amplified SGD, batch 12", amplified, 30, 2);
  // 30 = 2·12 + 6: the epoch's last batch of 6 is split 3 + 3 (2 + 2 + 2) by the ranks; one process
  // with shards = N cuts it the same way (a fixed microBatch = ⌈12/N⌉ would not), so every step agrees.
  for (int n_ranks : {2, 3})
    test_matches_micro_batched_single_process("shuffled SGD, batch 12, n = 30, shards", shuffle, 30, n_ranks, true);
  test_matches_micro_batched_single_process("amplified SGD, batch 12, shards", amplified, 30, 2, true);
  test_bad_plans_are_range_errors();
  return check::finish("data_parallel_test");
}
