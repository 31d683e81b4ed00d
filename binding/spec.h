// JS model spec object -> bigstep::ModelSpec, and Layout -> JS object.
#pragma once
#include <napi.h>

#include "model.h"

namespace bigstep::binding {
ModelSpec to_model_spec(Napi::Value value);
Napi::Object layout_to_js(Napi::Env env, const Layout& layout);
}  // namespace bigstep::binding
