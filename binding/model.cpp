// NativeModel and describe(): spec conversion, parameter checks, and the synchronous calls (the
// passes over data are binding/gradient.cpp and binding/evaluate.cpp, Hessian-vector products
// binding/hvp.cpp).
#include <napi.h>

#include "args.h"
#include "model_wrap.h"
#include "register.h"
#include "spec.h"

namespace bigstep::binding {

Napi::Function ModelWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<ModelWrap>::DefineClass(
      env, "NativeModel",
      {InstanceMethod("layout", &ModelWrap::Layout), InstanceMethod("init", &ModelWrap::Init),
       InstanceMethod("lossAndGrad", &ModelWrap::LossAndGrad),
       InstanceMethod("lossAndGradAsync", &ModelWrap::LossAndGradAsync),
       InstanceMethod("lossSums", &ModelWrap::LossSums), InstanceMethod("lossSumsAsync", &ModelWrap::LossSumsAsync),
       InstanceMethod("forward", &ModelWrap::Forward), InstanceMethod("hvp", &ModelWrap::Hvp),
       InstanceMethod("workspaceBytes", &ModelWrap::WorkspaceBytes), InstanceMethod("close", &ModelWrap::Close),
       InstanceMethod("isBusy", &ModelWrap::IsBusy)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) throw_type_error(env, "NativeModel", "called with new");
  ModelSpec spec = to_model_spec(info[0]);
  try {
    model_ = std::make_unique<Model>(spec);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}

ModelWrap* ModelWrap::from(Napi::Value value, const std::string& param) {
  // The constructor lives in per-environment instance data so the addon works in worker_threads.
  Napi::FunctionReference* ctor = value.Env().GetInstanceData<Napi::FunctionReference>();
  if (!value.IsObject() || !ctor || !value.As<Napi::Object>().InstanceOf(ctor->Value()))
    throw_type_error(value.Env(), param, "a NativeModel");
  // InstanceOf is also true for Object.create(NativeModel.prototype), which wraps nothing.
  void* wrapped = nullptr;
  if (napi_unwrap(value.Env(), value, &wrapped) != napi_ok || wrapped == nullptr)
    throw_type_error(value.Env(), param, "a NativeModel created with new");
  return static_cast<ModelWrap*>(wrapped);
}

Model& ModelWrap::acquire(Napi::Env env) {
  if (!model_) throw_state_error(env, "ERR_BIGSTEP_CLOSED", "model is closed");
  if (busy_)
    throw_state_error(env, "ERR_BIGSTEP_BUSY",
                      "model is busy: an async training chunk, evaluation or gradient pass is running; await it first");
  return *model_;
}

Napi::Value ModelWrap::Layout(const Napi::CallbackInfo& info) {
  return layout_to_js(info.Env(), acquire(info.Env()).layout());
}

// init(params: Float32Array, state: Float32Array|null, seed: number)
Napi::Value ModelWrap::Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  const auto& layout = model.layout();
  float* params = as_array<float>(info[0], "params", layout.param_count).data;
  float* state = layout.state_count ? as_array<float>(info[1], "state", layout.state_count).data : nullptr;
  const int64_t seed = as_integer(info[2], "seed", 0, 9007199254740991LL);
  model.init(params, state, (uint64_t)seed);
  return env.Undefined();
}

// forward(params, state, x, batch, out)
Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Model& model = acquire(env);
  const auto& layout = model.layout();
  const float* params = as_array<float>(info[0], "params", layout.param_count).data;
  const float* state = layout.state_count ? as_array<float>(info[1], "state", layout.state_count).data : nullptr;
  const int batch = (int)as_integer(info[3], "batch", 1, 1 << 30);
  const float* x = as_array<float>(info[2], "x", (size_t)batch * layout.input_size).data;
  float* out = as_array<float>(info[4], "out", (size_t)batch * layout.output_size).data;
  try {
    model.forward(params, state, x, batch, out);
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
  return env.Undefined();
}

Napi::Value ModelWrap::WorkspaceBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)acquire(info.Env()).workspace_bytes());
}

Napi::Value ModelWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_)
    throw_state_error(
        env, "ERR_BIGSTEP_BUSY",
        "model is busy: cannot close while an async training chunk, evaluation or gradient pass runs; await it first");
  model_.reset();
  hvp_.reset();
  hvp_ranks_ = DataParallelHvpScratch();
  trainer_ = Trainer();  // the step scratch (batch copies, update buffer) is native memory too
  chunk_scratch_.clear();
  return env.Undefined();
}

Napi::Value ModelWrap::IsBusy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }

namespace {
Napi::Value Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelSpec spec = to_model_spec(info[0]);
  try {
    return layout_to_js(env, describe(spec));
  } catch (const NativeError& e) {
    rethrow_native(env, e);
  }
}
}  // namespace

void RegisterModel(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = ModelWrap::DefineClass(env);
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(ctor)));
  exports.Set("NativeModel", ctor);
  exports.Set("describe", Napi::Function::New(env, Describe, "describe"));
}

}  // namespace bigstep::binding
