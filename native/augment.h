// Image augmentation applied per batch, in place on the gathered copy (the dataset is never
// modified or copied whole): random crop with zero padding, then random horizontal flip — the
// standard CIFAR recipe (torchvision RandomCrop(H, padding=p) + RandomHorizontalFlip()).
#pragma once
#include <cstdint>
#include <vector>

#include "rng.h"

namespace bigstep {

struct AugmentPlan {
  int64_t channels = 0, height = 0, width = 0;  // per-example image shape, CHW
  int64_t crop_pad = 0;                         // p: shift in [-p, p] along each axis, zeros outside
  bool hflip = false;                           // mirror left-right with probability 1/2
  bool enabled() const { return crop_pad > 0 || hflip; }
};

// x: [b, C, H, W] row-major, rewritten in place. Per example, in this order, draws
// oy = below(2p + 1), ox = below(2p + 1) (only when p > 0), then flip = below(2) (only when hflip),
// and writes out(c, i, j) = src(c, i + oy − p, j' + ox − p) with j' = flip ? W − 1 − j : j
// (zero where the source index falls outside the image). `scratch` holds one image.
void augment_batch(float* x, int64_t b, const AugmentPlan& plan, Rng rng, std::vector<float>& scratch);

// Checks plan against the per-example input size; throws NativeError naming the field.
void validate_augment(const AugmentPlan& plan, size_t input_size);

}  // namespace bigstep
