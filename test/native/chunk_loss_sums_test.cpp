// Model::chunk_loss_sums, the pass behind evaluate / evaluateAsync: each chunk's sum is the
// loss_sum of exactly its examples (bitwise), the sums agree with a float64 oracle of the mean
// cross-entropy and the argmax count, any split [first, end) gives the same per-chunk values
// (what the data-parallel evaluation deals to ranks), and bad ranges are RangeErrors naming them.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "errors.h"
#include "model.h"
#include "specs.h"

using namespace bigstep;

static ModelSpec mlp_spec() {
  ModelSpec s;
  s.input = {12};
  s.layers = {layer(LayerKind::Dense, 9), layer(LayerKind::Relu), layer(LayerKind::Dense, 4)};
  return s;
}

struct Set {
  std::vector<float> x;
  std::vector<int32_t> y;
};

static Set make_set(const Layout& L, int n) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  Set d;
  d.x.resize((size_t)n * L.input_size);
  for (auto& v : d.x) v = U(gen);
  d.y.resize((size_t)n);
  for (auto& v : d.y) v = (int32_t)(gen() % L.output_size);
  return d;
}

// Float64 oracle: mean softmax cross-entropy and argmax-correct count from the model's outputs.
static void oracle(Model& m, const float* params, const Set& d, int n, double* loss, int64_t* correct) {
  const size_t D = m.layout().output_size;
  std::vector<float> out((size_t)n * D);
  m.forward(params, nullptr, d.x.data(), n, out.data());
  double sum = 0;
  *correct = 0;
  for (int i = 0; i < n; ++i) {
    const float* z = out.data() + (size_t)i * D;
    size_t best = 0;
    double mx = z[0];
    for (size_t j = 1; j < D; ++j)
      if (z[j] > mx) mx = z[j], best = j;
    double se = 0;
    for (size_t j = 0; j < D; ++j) se += std::exp((double)z[j] - mx);
    sum += mx + std::log(se) - (double)z[d.y[(size_t)i]];
    if ((int32_t)best == d.y[(size_t)i]) ++*correct;
  }
  *loss = sum / n;
}

static void test_chunks_are_loss_sums_and_match_oracle() {
  Model m(mlp_spec());
  const Layout& L = m.layout();
  std::vector<float> params(L.param_count);
  m.init(params.data(), nullptr, 3);
  const int n = 53;
  Set d = make_set(L, n);
  Target y;
  y.labels = d.y.data();
  double want_loss;
  int64_t want_correct;
  oracle(m, params.data(), d, n, &want_loss, &want_correct);
  for (const int chunk : {1, 5, 10, 53, 1000}) {
    const int c = std::min(chunk, n), count = (n + c - 1) / c;
    std::vector<double> sums((size_t)(2 * count));
    m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, n, chunk, 0, count, sums.data());
    double total = 0, correct = 0;
    bool same = true;
    for (int g = 0; g < count; ++g) {
      const int start = g * c, b = std::min(n, start + c) - start;
      Target part;
      part.labels = d.y.data() + start;
      int64_t k = 0;
      const double s = m.loss_sum(params.data(), nullptr, d.x.data() + (size_t)start * L.input_size, part, b, &k);
      same = same && std::memcmp(&s, &sums[(size_t)(2 * g)], sizeof s) == 0 && (double)k == sums[(size_t)(2 * g + 1)];
      total += sums[(size_t)(2 * g)];
      correct += sums[(size_t)(2 * g + 1)];
    }
    CHECK_MSG(same, check::fmt("chunk %d: a chunk's sum is not loss_sum of its examples", chunk));
    CHECK_MSG(std::fabs(total / n - want_loss) <= 1e-5 * std::fmax(1.0, want_loss),
              check::fmt("chunk %d: mean loss %.9g vs oracle %.9g", chunk, total / n, want_loss));
    CHECK_MSG(correct == (double)want_correct,
              check::fmt("chunk %d: correct %g vs %lld", chunk, correct, (long long)want_correct));
    // A part [first, end) of the pass is the same numbers as those chunks of the whole pass.
    for (int first = 0; first <= count; first += std::max(1, count / 3)) {
      const int end = std::min(count, first + 2);
      std::vector<double> part((size_t)(2 * (end - first)) + 1);
      m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, n, chunk, first, end, part.data());
      CHECK(std::memcmp(part.data(), sums.data() + 2 * first, sizeof(double) * (size_t)(2 * (end - first))) == 0);
    }
  }
}

static void test_bad_ranges_are_range_errors() {
  Model m(mlp_spec());
  const Layout& L = m.layout();
  std::vector<float> params(L.param_count);
  m.init(params.data(), nullptr, 1);
  Set d = make_set(L, 10);
  Target y;
  y.labels = d.y.data();
  double out[8];
  CHECK_THROWS_PARAM(m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, 10, 0, 0, 1, out), ErrorKind::Range,
                     "batchSize");
  CHECK_THROWS_PARAM(m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, 10, 4, 0, 4, out), ErrorKind::Range,
                     "chunks");  // 3 chunks of 4
  CHECK_THROWS_PARAM(m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, 10, 4, 2, 1, out), ErrorKind::Range,
                     "chunks");
  CHECK_THROWS_PARAM(m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, 0, 4, 0, 0, out), ErrorKind::Range, "n");
  // An empty range computes nothing and is allowed (a rank with no chunks).
  m.chunk_loss_sums(params.data(), nullptr, d.x.data(), y, 10, 4, 3, 3, nullptr);
  CHECK(true);
}

int main() {
  test_chunks_are_loss_sums_and_match_oracle();
  test_bad_ranges_are_range_errors();
  return check::finish("chunk_loss_sums_test");
}
