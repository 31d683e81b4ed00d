#include <napi.h>

#include "register.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace bigstep::binding;
  RegisterInfo(env, exports);
  RegisterModel(env, exports);
  RegisterTrainer(env, exports);
  RegisterLandscape(env, exports);
  RegisterGemmBench(env, exports);
  RegisterSignals(env, exports);
  RegisterMpi(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(bigstep, Init)
