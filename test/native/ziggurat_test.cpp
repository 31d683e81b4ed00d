// The ziggurat normal generator (native/ziggurat.h): its tables against the construction's own
// equations (every layer has area V, the top layer closes at the peak), and its draws against the
// exact normal CDF in float64 (erfc): a chi-square over 242 bins that includes both tails,
// Kolmogorov–Smirnov, the first four moments, and the tail mass beyond R. Seeds are fixed, so the
// run is deterministic; the thresholds are the tests' 1-in-10⁴ critical values.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "rng.h"
#include "ziggurat.h"

using namespace bigstep;

static double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

static void test_tables() {
  const ZigguratTables& z = ziggurat_tables();
  const double m = ZigguratTables::kAbscissaScale, V = ZigguratTables::kLayerArea;
  double worst = 0.0;
  for (int i = 1; i < ZigguratTables::kLayers; ++i) {
    const double x = z.w[i] * m;
    worst = std::max(worst, std::fabs(x * (z.f[i - 1] - z.f[i]) / V - 1.0));
    CHECK_MSG(std::fabs(z.f[i] - std::exp(-0.5 * x * x)) < 1e-15, check::fmt("f[%d] is the density at x_%d", i, i));
    if (i >= 2)
      CHECK_MSG(z.k[i] == (uint64_t)(z.w[i - 1] / z.w[i] * m), check::fmt("k[%d] = x_%d/x_%d·2^52", i, i - 1, i));
  }
  CHECK_MSG(worst < 1e-9, check::fmt("every layer has area V (worst relative error %.3g)", worst));
  // Base layer: its width q holds the rectangle [0, R] × [0, f(R)] plus the tail, area V.
  const double R = ZigguratTables::kTailStart, q = z.w[0] * m;
  const double tail = std::sqrt(M_PI / 2.0) * std::erfc(R / std::sqrt(2.0));
  CHECK_MSG(std::fabs((R * std::exp(-0.5 * R * R) + tail) / V - 1.0) < 1e-9, "base layer: R·f(R) + tail = V");
  CHECK_MSG(std::fabs(q * std::exp(-0.5 * R * R) - V) < 1e-15, "base layer width q = V / f(R)");
  CHECK(z.k[1] == 0);
  // Top layer closes at the peak: x_1 · (1 − f(x_1)) = V to the precision R and V are given to.
  const double x1 = z.w[1] * m;
  CHECK_MSG(
      std::fabs(x1 * (1.0 - std::exp(-0.5 * x1 * x1)) / V - 1.0) < 1e-6,
      check::fmt("top layer closes: x_1(1 − f(x_1)) / V − 1 = %.3g", x1 * (1.0 - std::exp(-0.5 * x1 * x1)) / V - 1.0));
}

static void test_distribution() {
  uint64_t state[4];
  Rng::seed_state(state, 12345, 3);
  Rng rng{state};
  const ZigguratTables& z = ziggurat_tables();
  const size_t n = 20'000'000;
  // Bins of width 1/24 over [−5, 5] plus one bin for each tail beyond ±5.
  const int inner = 240;
  std::vector<double> counts(inner + 2, 0.0);
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  size_t beyond_r = 0;
  std::vector<double> sample;
  sample.reserve(1'000'000);
  for (size_t i = 0; i < n; ++i) {
    const double x = normal_ziggurat(rng, z);
    s1 += x, s2 += x * x, s3 += x * x * x, s4 += x * x * x * x;
    if (std::fabs(x) > ZigguratTables::kTailStart) ++beyond_r;
    int bin = x < -5.0 ? 0 : x >= 5.0 ? inner + 1 : 1 + std::min(inner - 1, (int)((x + 5.0) * (inner / 10.0)));
    counts[bin] += 1.0;
    if (sample.size() < sample.capacity()) sample.push_back(x);
  }
  double chi2 = 0.0;
  for (int b = 0; b <= inner + 1; ++b) {
    const double lo = b == 0 ? -INFINITY : -5.0 + (b - 1) * (10.0 / inner);
    const double hi = b == inner + 1 ? INFINITY : -5.0 + b * (10.0 / inner);
    const double expected = n * ((b == inner + 1 ? 1.0 : normal_cdf(hi)) - (b == 0 ? 0.0 : normal_cdf(lo)));
    chi2 += (counts[b] - expected) * (counts[b] - expected) / expected;
  }
  // df = 241; its 0.9999 quantile is about 322.
  CHECK_MSG(chi2 < 322.0, check::fmt("chi-square over %d bins: %.1f (critical 322)", inner + 2, chi2));
  const double mean = s1 / n, var = s2 / n - mean * mean;
  const double skew = s3 / n, kurt = s4 / n;
  // Standard errors at n = 2e7: mean 2.2e-4, var 3.2e-4, E x³ 8.7e-4, E x⁴ 2.3e-3; 4 se each.
  CHECK_MSG(std::fabs(mean) < 9e-4, check::fmt("mean %.3g", mean));
  CHECK_MSG(std::fabs(var - 1.0) < 1.3e-3, check::fmt("variance %.6f", var));
  CHECK_MSG(std::fabs(skew) < 3.5e-3, check::fmt("E x^3 %.3g", skew));
  CHECK_MSG(std::fabs(kurt - 3.0) < 9.5e-3, check::fmt("E x^4 %.5f", kurt));
  // The tail branch: P(|x| > R) = erfc(R/√2) = 2.58e-4, i.e. about 5160 of 2e7 (sd 72).
  const double want = n * std::erfc(ZigguratTables::kTailStart / std::sqrt(2.0));
  CHECK_MSG(std::fabs(beyond_r - want) < 4.0 * std::sqrt(want),
            check::fmt("draws beyond R: %zu, expected %.0f", beyond_r, want));
  std::sort(sample.begin(), sample.end());
  double d = 0.0;
  const double m = (double)sample.size();
  for (size_t i = 0; i < sample.size(); ++i) {
    const double c = normal_cdf(sample[i]);
    d = std::max(d, std::max(c - i / m, (i + 1) / m - c));
  }
  // Kolmogorov: P(√m·D > 2.23) ≈ 1e-4.
  CHECK_MSG(std::sqrt(m) * d < 2.23,
            check::fmt("Kolmogorov-Smirnov sqrt(n)·D = %.3f (critical 2.23)", std::sqrt(m) * d));
}

// Most draws take one word; the wedge and tail rejections a few more (about 1.01 words per draw
// for 256 layers).
static void test_words_per_draw() {
  uint64_t state[4], counter[4];
  Rng::seed_state(state, 7, 3);
  std::copy(state, state + 4, counter);
  Rng rng{state}, count_rng{counter};
  const ZigguratTables& z = ziggurat_tables();
  const int n = 1'000'000;
  for (int i = 0; i < n; ++i) normal_ziggurat(rng, z);
  long words = 0;
  while (std::memcmp(state, counter, sizeof(state)) != 0) count_rng.next_u64(), ++words;
  const double per = (double)words / n;
  CHECK_MSG(per > 1.0 && per < 1.03, check::fmt("words per draw %.4f", per));
}

int main() {
  test_tables();
  test_distribution();
  test_words_per_draw();
  return check::finish("ziggurat_test");
}
