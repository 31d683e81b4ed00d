// The data-parallel Hessian-vector product (native/data_parallel_hvp.h) without MPI: N threads, each
// with its own HvpEngine, exchange through an in-process Collective. Every rank's H·v and loss must
// be bitwise HvpEngine::product of one process with the same chunk size, for every N and chunk
// size, also when some ranks get no chunk at all; the chunk rule deals whole chunks in rank order.
#include <cstring>
#include <random>
#include <thread>

#include "check.h"
#include "data_parallel_hvp.h"
#include "gemm.h"
#include "hvp.h"
#include "model.h"
#include "specs.h"
#include "thread_collective.h"

using namespace bigstep;

struct Case {
  const char* name;
  ModelSpec spec;
};

static Case mlp_ce() {
  Case c{"MLP 12-16-4, cross-entropy", {}};
  c.spec.input = {12};
  c.spec.layers = {layer(LayerKind::Dense, 16), layer(LayerKind::Tanh), layer(LayerKind::Dense, 4)};
  return c;
}

static Case cnn_mse() {
  Case c{"CNN conv3x3(4)-relu-maxpool-dense(3), MSE", {}};
  c.spec.input = {2, 6, 6};
  LayerSpec conv = layer(LayerKind::Conv2d, 4, 3);
  conv.padding = 1;
  c.spec.layers = {conv, layer(LayerKind::Relu), layer(LayerKind::MaxPool, 0, 2, 0), layer(LayerKind::Flatten),
                   layer(LayerKind::Dense, 3)};
  c.spec.loss = LossKind::MeanSquaredError;
  return c;
}

struct Problem {
  std::vector<float> params, x, values;
  std::vector<int32_t> labels;
  std::vector<double> v;
  Target y;
};

static Problem make_problem(const Case& c, const Layout& L, int n) {
  std::mt19937 gen(17);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  std::normal_distribution<double> G(0.0, 1.0);
  Problem p;
  Model m(c.spec);
  p.params.resize(L.param_count);
  m.init(p.params.data(), nullptr, 5);
  p.x.resize((size_t)n * L.input_size);
  for (auto& e : p.x) e = U(gen);
  p.v.resize(L.param_count);
  for (auto& e : p.v) e = G(gen);
  if (c.spec.loss == LossKind::SoftmaxCrossEntropy) {
    p.labels.resize((size_t)n);
    for (auto& e : p.labels) e = (int32_t)(gen() % L.output_size);
    p.y.labels = p.labels.data();
  } else {
    p.values.resize((size_t)n * L.output_size);
    for (auto& e : p.values) e = U(gen);
    p.y.values = p.values.data();
  }
  return p;
}

static bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

static void test_matches_one_process(const Case& c, int n, int chunk, int n_ranks) {
  Model probe(c.spec);
  const Layout& L = probe.layout();
  const Problem p = make_problem(c, L, n);
  const size_t P = L.param_count;
  HvpEngine solo(c.spec, L);
  std::vector<double> want(P);
  const double want_loss =
      solo.product(p.params.data(), nullptr, p.x.data(), p.y, n, chunk, p.v.data(), want.data(), false);

  ThreadWorld world(n_ranks);
  std::vector<std::vector<double>> got((size_t)n_ranks, std::vector<double>(P, -1.0));
  std::vector<double> got_loss((size_t)n_ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < n_ranks; ++r)
    threads.emplace_back([&, r] {
      ThreadCollective comm(world, r);
      HvpEngine engine(c.spec, L);
      DataParallelHvpScratch scratch;
      // Twice on the same scratch: the second product must not see the first one's buffers.
      for (int rep = 0; rep < 2; ++rep)
        got_loss[(size_t)r] = data_parallel_hvp(engine, comm, L, p.params.data(), nullptr, p.x.data(), p.y, n, chunk,
                                                p.v.data(), got[(size_t)r].data(), false, scratch);
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n_ranks; ++r) {
    CHECK_MSG(same_bits(got[(size_t)r], want),
              check::fmt("%s n=%d chunk=%d N=%d rank %d: H·v differs from one process", c.name, n, chunk, n_ranks, r));
    CHECK_MSG(std::memcmp(&got_loss[(size_t)r], &want_loss, sizeof(double)) == 0,
              check::fmt("%s n=%d chunk=%d N=%d rank %d: loss %.17g vs %.17g", c.name, n, chunk, n_ranks, r,
                         got_loss[(size_t)r], want_loss));
  }
  // The reference is not trivially zero (a test that cannot fail otherwise).
  double norm = 0;
  for (double e : want) norm += e * e;
  CHECK_MSG(norm > 0, check::fmt("%s: H·v is zero", c.name));
}

// Another chunk size changes the one-process product's rounding: the comparison above is sharp.
static void test_chunk_size_changes_the_bits(const Case& c) {
  Model probe(c.spec);
  const Layout& L = probe.layout();
  const Problem p = make_problem(c, L, 23);
  HvpEngine e(c.spec, L);
  std::vector<double> a(L.param_count), b(L.param_count);
  e.product(p.params.data(), nullptr, p.x.data(), p.y, 23, 23, p.v.data(), a.data(), false);
  e.product(p.params.data(), nullptr, p.x.data(), p.y, 23, 4, p.v.data(), b.data(), false);
  CHECK_MSG(!same_bits(a, b),
            check::fmt("%s: chunks of 23 and of 4 agree bit for bit (the test would be blind)", c.name));
}

static void test_chunk_rule() {
  // 23 examples in chunks of 4: 6 chunks; over 4 ranks, 2 each: ranks 0-2 get 2, rank 3 none.
  const ChunkShare s0 = chunk_share(23, 4, 0, 4), s2 = chunk_share(23, 4, 2, 4), s3 = chunk_share(23, 4, 3, 4);
  CHECK(s0.count == 6 && s0.per_rank == 2 && s0.first == 0 && s0.end == 2);
  CHECK(s2.first == 4 && s2.end == 6);
  CHECK(s3.first == 6 && s3.end == 6);
  // A chunk larger than the data set is one chunk of n.
  const ChunkShare one = chunk_share(5, 100, 1, 2);
  CHECK(one.count == 1 && one.first == 1 && one.end == 1);
}

int main() {
  set_blas_threads(1);
  test_chunk_rule();
  for (const Case& c : {mlp_ce(), cnn_mse()}) {
    test_chunk_size_changes_the_bits(c);
    for (int n_ranks : {1, 2, 3, 4})
      for (int chunk : {23, 12, 5, 4}) test_matches_one_process(c, 23, chunk, n_ranks);
    test_matches_one_process(c, 3, 1, 5);  // more ranks than chunks: ranks 3 and 4 compute nothing
  }
  return check::finish("data_parallel_hvp_test");
}
