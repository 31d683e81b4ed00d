// Pooling: max / average / global average over NCHW activations (pool.cpp), their channels-last
// twins (pool_nhwc.cpp, compiled once per ISA path) and the naive twins the tests compare both with.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace bigstep {

// Window K, stride S, no padding: OH = (H-K)/S+1.
// out[N,C,OH,OW] = max over window of in[N,C,H,W]
void maxpool_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
// din[N,C,H,W] (overwritten) = dout routed to the (first) max of each window, recomputed from in
void maxpool_backward(float* din, const float* dout, const float* in, int N, int C, int H, int W, int K, int S);
// out[N,C,OH,OW] = mean over window of in[N,C,H,W]
void avgpool_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
// din[N,C,H,W] (overwritten) = dout / K² spread over each window
void avgpool_backward(float* din, const float* dout, int N, int C, int H, int W, int K, int S);
// out[N,C] = mean over HW of in[N,C,HW]
void global_avgpool_forward(float* out, const float* in, int N, int C, int HW);
// din[N,C,HW] (overwritten) = dout[N,C] / HW
void global_avgpool_backward(float* din, const float* dout, int N, int C, int HW);

// Channels-last versions: [N, H, W, C] (the layout the model keeps inside convolutional trunks,
// native/model.cpp). Same shapes, parameters and semantics as the NCHW kernels above; compiled
// once per ISA path and dispatched at load (nhwc_dispatch.cpp); the tests check each against the
// NCHW naive twin through the layout transposes (transpose.h).

void maxpool_nhwc_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
void maxpool_nhwc_backward(float* din, const float* dout, const float* in, int N, int C, int H, int W, int K, int S);
void avgpool_nhwc_forward(float* out, const float* in, int N, int C, int H, int W, int K, int S);
void avgpool_nhwc_backward(float* din, const float* dout, int N, int C, int H, int W, int K, int S);
void global_avgpool_nhwc_forward(float* out, const float* in, int N, int C, int HW);
void global_avgpool_nhwc_backward(float* din, const float* dout, int N, int C, int HW);

// ---- naive twins (plain loops, double accumulation, float or double) ----

template <class T>
void maxpool_forward_naive(T* out, const T* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        T m = -std::numeric_limits<T>::infinity();
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) m = std::max(m, in[((size_t)nc * H + oh * S + kh) * W + ow * S + kw]);
        out[((size_t)nc * OH + oh) * OW + ow] = m;
      }
}

template <class T>
void maxpool_backward_naive(T* din, const T* dout, const T* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  std::fill(din, din + (size_t)N * C * H * W, T(0));
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        size_t best = ((size_t)nc * H + oh * S) * W + ow * S;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const size_t i = ((size_t)nc * H + oh * S + kh) * W + ow * S + kw;
            if (in[i] > in[best]) best = i;
          }
        din[best] += dout[((size_t)nc * OH + oh) * OW + ow];
      }
}

template <class T>
void avgpool_forward_naive(T* out, const T* in, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        double acc = 0;
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) acc += in[((size_t)nc * H + oh * S + kh) * W + ow * S + kw];
        out[((size_t)nc * OH + oh) * OW + ow] = (T)(acc / (K * K));
      }
}

template <class T>
void avgpool_backward_naive(T* din, const T* dout, int N, int C, int H, int W, int K, int S) {
  const int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
  std::fill(din, din + (size_t)N * C * H * W, T(0));
  for (int nc = 0; nc < N * C; ++nc)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const T g = dout[((size_t)nc * OH + oh) * OW + ow] / T(K * K);
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) din[((size_t)nc * H + oh * S + kh) * W + ow * S + kw] += g;
      }
}

template <class T>
void global_avgpool_forward_naive(T* out, const T* in, int N, int C, int HW) {
  for (size_t nc = 0; nc < (size_t)N * C; ++nc) {
    double acc = 0;
    for (int p = 0; p < HW; ++p) acc += in[nc * HW + p];
    out[nc] = (T)(acc / HW);
  }
}

template <class T>
void global_avgpool_backward_naive(T* din, const T* dout, int N, int C, int HW) {
  for (size_t nc = 0; nc < (size_t)N * C; ++nc)
    for (int p = 0; p < HW; ++p) din[nc * HW + p] = dout[nc] / T(HW);
}

}  // namespace bigstep
