// Tests for native/augment: the in-place crop+flip against a naive twin that builds the padded
// image, crops the window and mirrors it (torchvision's order); draw order; every shift reachable.
#include "augment.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "check.h"
#include "errors.h"

using namespace bigstep;

namespace {

// Naive twin: pad with zeros to (H+2p)×(W+2p), take the H×W window at (oy, ox), then flip.
std::vector<float> naive(const std::vector<float>& img, int64_t C, int64_t H, int64_t W, int64_t p, int64_t oy,
                         int64_t ox, bool flip) {
  const int64_t PH = H + 2 * p, PW = W + 2 * p;
  std::vector<float> padded((size_t)(C * PH * PW), 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        padded[(size_t)((c * PH + i + p) * PW + j + p)] = img[(size_t)((c * H + i) * W + j)];
  std::vector<float> crop((size_t)(C * H * W));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        crop[(size_t)((c * H + i) * W + j)] = padded[(size_t)((c * PH + i + oy) * PW + j + ox)];
  if (!flip) return crop;
  std::vector<float> out(crop.size());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        out[(size_t)((c * H + i) * W + j)] = crop[(size_t)((c * H + i) * W + (W - 1 - j))];
  return out;
}

void test_against_naive(int64_t C, int64_t H, int64_t W, int64_t p, bool hflip) {
  const int64_t b = 64;
  const size_t image = (size_t)(C * H * W);
  std::vector<float> x((size_t)b * image);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1.0f + (float)(i % 997);  // nonzero: padding is visible
  const std::vector<float> original = x;
  uint64_t state[4], replay[4];
  Rng::seed_state(state, 42, 2);
  std::memcpy(replay, state, sizeof(state));
  AugmentPlan plan{C, H, W, p, hflip};
  std::vector<float> scratch;
  augment_batch(x.data(), b, plan, Rng{state}, scratch);
  Rng r{replay};
  std::set<std::pair<int64_t, int64_t>> shifts;
  int flips = 0, mismatches = 0;
  for (int64_t e = 0; e < b; ++e) {
    const int64_t oy = p > 0 ? (int64_t)r.below((uint64_t)(2 * p + 1)) : 0;
    const int64_t ox = p > 0 ? (int64_t)r.below((uint64_t)(2 * p + 1)) : 0;
    const bool flip = hflip && r.below(2) == 1;
    shifts.insert({oy, ox});
    flips += flip;
    const std::vector<float> src(original.begin() + (ptrdiff_t)(e * (int64_t)image),
                                 original.begin() + (ptrdiff_t)((e + 1) * (int64_t)image));
    const std::vector<float> want = naive(src, C, H, W, p, oy, ox, flip);
    for (size_t k = 0; k < image; ++k) mismatches += x[(size_t)e * image + k] != want[k];
  }
  CHECK_MSG(mismatches == 0, check::fmt("C=%ld H=%ld W=%ld p=%ld flip=%d: %d mismatched values", (long)C, (long)H,
                                        (long)W, (long)p, (int)hflip, mismatches));
  CHECK_MSG(std::memcmp(state, replay, sizeof(state)) == 0,
            "augment_batch advances the RNG exactly by the documented draws");
  if (hflip) CHECK_MSG(flips > 10 && flips < b - 10, check::fmt("flip frequency %d / %ld", flips, (long)b));
  if (p > 0) CHECK_MSG(shifts.size() > 10, check::fmt("%zu distinct shifts seen", shifts.size()));
}

void test_disabled_is_identity() {
  std::vector<float> x(2 * 3 * 4 * 5, 3.5f);
  const std::vector<float> before = x;
  uint64_t state[4];
  Rng::seed_state(state, 1, 2);
  uint64_t copy[4];
  std::memcpy(copy, state, sizeof(state));
  std::vector<float> scratch;
  augment_batch(x.data(), 2, AugmentPlan{3, 4, 5, 0, false}, Rng{state}, scratch);
  CHECK(x == before);
  CHECK_MSG(std::memcmp(state, copy, sizeof(state)) == 0, "a disabled plan draws nothing");
}

void test_validation() {
  CHECK_THROWS_PARAM(validate_augment(AugmentPlan{3, 32, 32, 4, true}, 3 * 32 * 31), bigstep::ErrorKind::Range,
                     "batch.augment.shape");
  CHECK_THROWS_PARAM(validate_augment(AugmentPlan{1, 4, 4, 5, false}, 16), bigstep::ErrorKind::Range,
                     "batch.augment.cropPadding");
  validate_augment(AugmentPlan{3, 32, 32, 4, true}, 3 * 32 * 32);  // valid: no throw
}

}  // namespace

int main() {
  test_against_naive(3, 8, 8, 2, true);
  test_against_naive(3, 32, 32, 4, true);
  test_against_naive(1, 5, 7, 3, false);
  test_against_naive(2, 6, 9, 0, true);
  test_disabled_is_identity();
  test_validation();
  return check::finish("augment_test");
}
