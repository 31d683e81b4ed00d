// Convolution: the shape of a conv2d layer, its channels-last (NHWC) implicit-GEMM kernels
// (conv_nhwc.cpp, compiled once per ISA path) and their naive NCHW twin (the tests compare the two
// through the layout transposes of transpose.h). Weights are [O,C,K,K], PyTorch's layout.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace bigstep {

// Square kernel K, stride S, zero padding P. Input C×H×W per example, output O×OH×OW; weights
// [O,C,K,K] (PyTorch's layout).
struct ConvShape {
  int C = 0, H = 0, W = 0, O = 0, K = 1, S = 1, P = 0, OH = 0, OW = 0;
  static ConvShape make(int C, int H, int W, int O, int K, int S, int P) {
    ConvShape s;
    s.C = C, s.H = H, s.W = W, s.O = O, s.K = K, s.S = S, s.P = P;
    s.OH = (H + 2 * P - K) / S + 1;
    s.OW = (W + 2 * P - K) / S + 1;
    return s;
  }
  size_t in_size() const { return (size_t)C * H * W; }
  size_t out_size() const { return (size_t)O * OH * OW; }
  size_t ckk() const { return (size_t)C * K * K; }
  size_t ohw() const { return (size_t)OH * OW; }
};

// The convolution kernels are channels-last (conv2d_nhwc_*). (The model keeps conv trunks
// channels-last; an NCHW fast path via im2col + GEMM existed before and was 2x slower.)

// Convolution without im2col (implicit GEMM over a per-group zero-padded copy of the input).
// in[N,H,W,C] -> out[N,OH,OW,O]. Every result is bitwise identical for any thread count.
// scratch: conv2d_nhwc_*_scratch(N, s) floats, which depends on compute_threads() at the time of
// the call: size it again after set_blas_threads.
size_t conv2d_nhwc_forward_scratch(int N, const ConvShape& s);
size_t conv2d_nhwc_backward_scratch(int N, const ConvShape& s);
// out = relu?(conv(in, W) + b + residual)   (b, residual may be null; residual is [N,OH,OW,O])
void conv2d_nhwc_forward(float* out, const float* in, const float* W, const float* b, int N, const ConvShape& s,
                         bool relu, float* scratch, const float* residual = nullptr);
// dout[N,OH,OW,O] -> dW[O,C,K,K] (overwritten, if non-null), db[O] (overwritten, if non-null),
//   din[N,H,W,C] (if non-null; overwritten, or accumulated into when accumulate_din).
// din_mask ([N,H,W,C], optional): this call's din is zeroed where din_mask <= 0 before it is
// stored or accumulated (a fused relu backward: pass the relu's output).
void conv2d_nhwc_backward(float* din, float* dW, float* db, const float* dout, const float* in, const float* W, int N,
                          const ConvShape& s, bool accumulate_din, float* scratch, const float* din_mask = nullptr);

// ---- naive twin (plain loops, double accumulation, float or double) ----

// Direct convolution (no im2col).
template <class T>
void conv2d_forward_naive(T* out, const T* in, const T* W, const T* b, int N, const ConvShape& s) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < s.O; ++o)
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow) {
          double acc = b ? (double)b[o] : 0.0;
          for (int c = 0; c < s.C; ++c)
            for (int kh = 0; kh < s.K; ++kh) {
              const int ih = oh * s.S - s.P + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (int kw = 0; kw < s.K; ++kw) {
                const int iw = ow * s.S - s.P + kw;
                if (iw < 0 || iw >= s.W) continue;
                acc += (double)in[(((size_t)n * s.C + c) * s.H + ih) * s.W + iw] *
                       W[(((size_t)o * s.C + c) * s.K + kh) * s.K + kw];
              }
            }
          out[(((size_t)n * s.O + o) * s.OH + oh) * s.OW + ow] = (T)acc;
        }
}

// din (if non-null) is overwritten.
template <class T>
void conv2d_backward_naive(T* din, T* dW, T* db, const T* dout, const T* in, const T* W, int N, const ConvShape& s) {
  const size_t wsize = (size_t)s.O * s.ckk();
  double* dWacc = new double[wsize]();
  double* dinacc = din ? new double[(size_t)N * s.in_size()]() : nullptr;
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < s.O; ++o)
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow) {
          const double g = dout[(((size_t)n * s.O + o) * s.OH + oh) * s.OW + ow];
          for (int c = 0; c < s.C; ++c)
            for (int kh = 0; kh < s.K; ++kh) {
              const int ih = oh * s.S - s.P + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (int kw = 0; kw < s.K; ++kw) {
                const int iw = ow * s.S - s.P + kw;
                if (iw < 0 || iw >= s.W) continue;
                const size_t xi = (((size_t)n * s.C + c) * s.H + ih) * s.W + iw;
                const size_t wi = (((size_t)o * s.C + c) * s.K + kh) * s.K + kw;
                dWacc[wi] += g * (double)in[xi];
                if (dinacc) dinacc[xi] += g * (double)W[wi];
              }
            }
        }
  for (size_t i = 0; i < wsize; ++i) dW[i] = (T)dWacc[i];
  if (db)
    for (int o = 0; o < s.O; ++o) {
      double acc = 0;
      for (int n = 0; n < N; ++n)
        for (size_t p = 0; p < s.ohw(); ++p) acc += dout[((size_t)n * s.O + o) * s.ohw() + p];
      db[o] = (T)acc;
    }
  if (din)
    for (size_t i = 0; i < (size_t)N * s.in_size(); ++i) din[i] = (T)dinacc[i];
  delete[] dWacc;
  delete[] dinacc;
}

}  // namespace bigstep
