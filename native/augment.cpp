#include "augment.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"

namespace bigstep {

void validate_augment(const AugmentPlan& a, size_t input_size) {
  if (!a.enabled()) return;
  if (a.channels < 1 || a.height < 1 || a.width < 1)
    throw_range("batch.augment.shape", "must be [C, H, W] with positive sizes");
  if ((size_t)(a.channels * a.height * a.width) != input_size)
    throw_range("batch.augment.shape", "C·H·W = " + std::to_string(a.channels * a.height * a.width) +
                                           " does not match the model's input size " + std::to_string(input_size));
  if (a.crop_pad < 0 || a.crop_pad > std::min(a.height, a.width))
    throw_range("batch.augment.cropPadding", "must be in [0, min(H, W)] (got " + std::to_string(a.crop_pad) + ")");
}

void augment_batch(float* x, int64_t b, const AugmentPlan& a, Rng rng, std::vector<float>& scratch) {
  if (!a.enabled()) return;
  const int64_t C = a.channels, H = a.height, W = a.width, p = a.crop_pad;
  const size_t image = (size_t)(C * H * W);
  scratch.resize(image);
  for (int64_t e = 0; e < b; ++e) {
    const int64_t dy = p > 0 ? (int64_t)rng.below((uint64_t)(2 * p + 1)) - p : 0;
    const int64_t dx = p > 0 ? (int64_t)rng.below((uint64_t)(2 * p + 1)) - p : 0;
    const bool flip = a.hflip && rng.below(2) == 1;
    if (dy == 0 && dx == 0 && !flip) continue;
    float* img = x + (size_t)e * image;
    std::memcpy(scratch.data(), img, image * sizeof(float));
    // Output column j reads source column (flip ? W−1−j : j) + dx; valid j form one interval.
    for (int64_t c = 0; c < C; ++c) {
      const float* src = scratch.data() + (size_t)(c * H * W);
      float* dst = img + (size_t)(c * H * W);
      for (int64_t i = 0; i < H; ++i) {
        float* row = dst + i * W;
        const int64_t si = i + dy;
        if (si < 0 || si >= H) {
          std::fill(row, row + W, 0.0f);
          continue;
        }
        const float* srow = src + si * W;
        for (int64_t j = 0; j < W; ++j) {
          const int64_t sj = (flip ? W - 1 - j : j) + dx;
          row[j] = (sj >= 0 && sj < W) ? srow[sj] : 0.0f;
        }
      }
    }
  }
}

}  // namespace bigstep
