// The public channels-last kernels (kernels.h) forward to the ISA path chosen at load (isa.h).
// nhwc.cpp is compiled once per path into bigstep::isa_<path>; BIGSTEP_NHWC_FUNCTIONS lists each
// function once, as (return type, name, parameters, arguments), to declare and forward it.
#include "isa.h"
#include "kernels.h"
#include "conv.h"
#include "pool.h"
#include "batchnorm.h"
#include "transpose.h"

#define BIGSTEP_NHWC_FUNCTIONS(X)                                                                                      \
  X(void, nchw_to_nhwc, (float* dst, const float* src, int N, int C, int HW), (dst, src, N, C, HW))                    \
  X(void, nhwc_to_nchw, (float* dst, const float* src, int N, int C, int HW), (dst, src, N, C, HW))                    \
  X(size_t, conv2d_nhwc_forward_scratch, (int N, const ConvShape& s), (N, s))                                          \
  X(size_t, conv2d_nhwc_backward_scratch, (int N, const ConvShape& s), (N, s))                                         \
  X(void, conv2d_nhwc_forward,                                                                                         \
    (float* out, const float* in, const float* W, const float* b, int N, const ConvShape& s, bool relu,                \
     float* scratch, const float* residual),                                                                           \
    (out, in, W, b, N, s, relu, scratch, residual))                                                                    \
  X(void, conv2d_nhwc_backward,                                                                                        \
    (float* din, float* dW, float* db, const float* dout, const float* in, const float* W, int N, const ConvShape& s,  \
     bool accumulate_din, float* scratch, const float* din_mask),                                                      \
    (din, dW, db, dout, in, W, N, s, accumulate_din, scratch, din_mask))                                               \
  X(void, maxpool_nhwc_forward, (float* out, const float* in, int N, int C, int H, int W, int K, int S),               \
    (out, in, N, C, H, W, K, S))                                                                                       \
  X(void, maxpool_nhwc_backward,                                                                                       \
    (float* din, const float* dout, const float* in, int N, int C, int H, int W, int K, int S),                        \
    (din, dout, in, N, C, H, W, K, S))                                                                                 \
  X(void, avgpool_nhwc_forward, (float* out, const float* in, int N, int C, int H, int W, int K, int S),               \
    (out, in, N, C, H, W, K, S))                                                                                       \
  X(void, avgpool_nhwc_backward, (float* din, const float* dout, int N, int C, int H, int W, int K, int S),            \
    (din, dout, N, C, H, W, K, S))                                                                                     \
  X(void, global_avgpool_nhwc_forward, (float* out, const float* in, int N, int C, int HW), (out, in, N, C, HW))       \
  X(void, global_avgpool_nhwc_backward, (float* din, const float* dout, int N, int C, int HW), (din, dout, N, C, HW))  \
  X(void, batchnorm_nhwc_forward_train,                                                                                \
    (float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW, float* running_mean,       \
     float* running_var, float* save_mean, float* save_invstd),                                                        \
    (y, x, gamma, beta, N, C, HW, running_mean, running_var, save_mean, save_invstd))                                  \
  X(void, batchnorm_nhwc_forward_eval,                                                                                 \
    (float* y, const float* x, const float* gamma, const float* beta, int N, int C, int HW, const float* running_mean, \
     const float* running_var, float* save_mean, float* save_invstd),                                                  \
    (y, x, gamma, beta, N, C, HW, running_mean, running_var, save_mean, save_invstd))                                  \
  X(void, batchnorm_nhwc_backward,                                                                                     \
    (float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,                      \
     const float* save_mean, const float* save_invstd, int N, int C, int HW, bool batch_stats),                        \
    (dx, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd, N, C, HW, batch_stats))

namespace bigstep {

#define BIGSTEP_DECLARE(ret, name, params, args) ret name params;
namespace isa_baseline {
BIGSTEP_NHWC_FUNCTIONS(BIGSTEP_DECLARE)
}
#ifdef BIGSTEP_ISA_X86
namespace isa_avx2 {
BIGSTEP_NHWC_FUNCTIONS(BIGSTEP_DECLARE)
}
namespace isa_avx512 {
BIGSTEP_NHWC_FUNCTIONS(BIGSTEP_DECLARE)
}
#define BIGSTEP_FORWARD(ret, name, params, args)      \
  ret name params {                                   \
    switch (active_isa()) {                           \
      case Isa::avx512: return isa_avx512::name args; \
      case Isa::avx2: return isa_avx2::name args;     \
      default: return isa_baseline::name args;        \
    }                                                 \
  }
#else
#define BIGSTEP_FORWARD(ret, name, params, args) \
  ret name params { return isa_baseline::name args; }
#endif
BIGSTEP_NHWC_FUNCTIONS(BIGSTEP_FORWARD)

}  // namespace bigstep
