// exports.kinds: the option kinds of binding/kinds.h as arrays of names, frozen, for the
// TypeScript layer's checks (src/native/kinds.ts).
#include "kinds.h"

#include "register.h"

namespace bigstep::binding {
namespace {

template <typename E, size_t N>
Napi::Array names(Napi::Env env, const KindName<E> (&table)[N]) {
  Napi::Array out = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; ++i) out.Set((uint32_t)i, table[i].name);
  out.Freeze();
  return out;
}

}  // namespace

void RegisterKinds(Napi::Env env, Napi::Object exports) {
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("batchModes", names(env, kBatchModes));
  kinds.Set("scheduleKinds", names(env, kScheduleKinds));
  kinds.Set("transformKinds", names(env, kTransformKinds));
  kinds.Set("noiseModes", names(env, kNoiseModes));
  kinds.Set("layerTypes", names(env, kLayerTypes));
  kinds.Set("losses", names(env, kLosses));
  kinds.Set("inits", names(env, kInits));
  kinds.Freeze();
  exports.Set("kinds", kinds);
}

}  // namespace bigstep::binding
