// Layout transposes between NCHW and channels-last NHWC activations (transpose_nhwc.cpp, compiled
// once per ISA path): src[N, C, HW] <-> dst[N, HW, C], split over images.
#pragma once

namespace bigstep {

void nchw_to_nhwc(float* dst, const float* src, int N, int C, int HW);
void nhwc_to_nchw(float* dst, const float* src, int N, int C, int HW);

}  // namespace bigstep
