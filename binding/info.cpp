// info() and setThreads(): what the addon was built with and which BLAS kernels it runs.
#include <napi.h>

#include "args.h"
#include "gemm.h"
#include "register.h"

namespace bigstep::binding {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("blasVendor", blas_vendor());
  out.Set("blasCore", blas_core());
  out.Set("blasThreads", blas_threads());
#if defined(__AVX2__)
  out.Set("simd", "avx2");
#elif defined(__SSE2__)
  out.Set("simd", "sse2");
#else
  out.Set("simd", "none");
#endif
  out.Set("napiVersion", NAPI_VERSION);
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int64_t n = as_integer(info[0], "threads", 1, 256);
  set_blas_threads((int)n);
  return Napi::Number::New(info.Env(), blas_threads());
}

}  // namespace

void RegisterInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
}

}  // namespace bigstep::binding
