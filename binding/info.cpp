// info() and setThreads(): what the addon was built with and which BLAS kernels it runs.
#include <napi.h>

#include <stdexcept>

#include "args.h"
#include "gemm.h"
#include "isa.h"
#include "kernels.h"
#include "register.h"

namespace bigstep::binding {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("blasVendor", blas_vendor());
  out.Set("blasCore", blas_core());
  out.Set("blasThreads", blas_threads());
  // The instruction-set path the own kernels take (chosen once at load; BIGSTEP_ISA forces it).
  out.Set("simd", isa_name(active_isa()));
  // Whether plain-SGD chunks may fold the update into the dense weight-gradient GEMMs at the
  // current thread count (bitwise the unfused step; measured once per thread count).
  out.Set("fusedGemmUpdate", fused_sgd_update_exact());
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
  // Choose the ISA path now, so a bad BIGSTEP_ISA fails the addon's load with its message
  // instead of the first kernel call.
  try {
    active_isa();
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
}

}  // namespace bigstep::binding
