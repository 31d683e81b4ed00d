#include "spec.h"

#include <string>

#include "args.h"
#include "kinds.h"

namespace bigstep::binding {
namespace {

Napi::Array int_vector_to_js(Napi::Env env, const std::vector<int>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set((uint32_t)i, values[i]);
  return out;
}

Napi::Array entries_to_js(Napi::Env env, const std::vector<TensorEntry>& entries) {
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const TensorEntry& e = entries[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", e.name);
    o.Set("shape", int_vector_to_js(env, e.shape));
    o.Set("offset", (double)e.offset);
    o.Set("size", (double)e.size);
    o.Set("fanIn", e.fan_in);
    o.Set("fanOut", e.fan_out);
    o.Set("init", e.init);
    out.Set((uint32_t)i, o);
  }
  return out;
}

}  // namespace

ModelSpec to_model_spec(Napi::Value value) {
  Napi::Env env = value.Env();
  Napi::Object obj = as_object(value, "spec");
  ModelSpec spec;

  Napi::Value input = obj.Get("input");
  if (!input.IsArray())
    throw_type_error(env, "spec.input", "an array of positive integers ([features] or [channels, height, width])");
  Napi::Array input_array = input.As<Napi::Array>();
  if (input_array.Length() != 1 && input_array.Length() != 3)
    throw_range_error(env, "spec.input", "must have 1 or 3 entries (got " + std::to_string(input_array.Length()) + ")");
  for (uint32_t i = 0; i < input_array.Length(); ++i)
    spec.input.push_back((int)as_integer(input_array.Get(i), "spec.input[" + std::to_string(i) + "]", 1, 1 << 24));

  Napi::Value layers = obj.Get("layers");
  if (!layers.IsArray()) throw_type_error(env, "spec.layers", "an array of layer objects");
  Napi::Array layer_array = layers.As<Napi::Array>();
  if (layer_array.Length() == 0) throw_range_error(env, "spec.layers", "must not be empty");
  for (uint32_t i = 0; i < layer_array.Length(); ++i) {
    const std::string p = "spec.layers[" + std::to_string(i) + "]";
    Napi::Object l = as_object(layer_array.Get(i), p);
    LayerSpec ls;
    ls.kind = parse_kind(kLayerTypes, l.Get("type"), p + ".type");
    Napi::Value v;
    if (get_optional(l, "units", &v)) ls.units = (int)as_integer(v, p + ".units", 1, 1 << 24);
    if (get_optional(l, "kernel", &v)) ls.kernel = (int)as_integer(v, p + ".kernel", 1, 1 << 16);
    if (get_optional(l, "stride", &v)) ls.stride = (int)as_integer(v, p + ".stride", 0, 1 << 16);
    // A pool without `stride` has stride = kernel (non-overlapping windows, PyTorch's MaxPool2d /
    // AvgPool2d default); native/model.h spells that stride 0. Convolutions and resblocks: 1.
    else if (ls.kind == LayerKind::MaxPool || ls.kind == LayerKind::AvgPool)
      ls.stride = 0;
    if (get_optional(l, "padding", &v)) ls.padding = (int)as_integer(v, p + ".padding", 0, 1 << 16);
    if (get_optional(l, "bias", &v)) ls.bias = as_bool(v, p + ".bias");
    if (get_optional(l, "batchnorm", &v)) ls.batchnorm = as_bool(v, p + ".batchnorm");
    if (get_optional(l, "init", &v)) ls.init = parse_kind(kInits, v, p + ".init");
    const bool needs_units =
        ls.kind == LayerKind::Dense || ls.kind == LayerKind::Conv2d || ls.kind == LayerKind::ResBlock;
    if (needs_units && ls.units == 0) throw_range_error(env, p + ".units", "is required for this layer type");
    const bool needs_kernel =
        ls.kind == LayerKind::Conv2d || ls.kind == LayerKind::MaxPool || ls.kind == LayerKind::AvgPool;
    if (needs_kernel && ls.kernel == 0) throw_range_error(env, p + ".kernel", "is required for this layer type");
    spec.layers.push_back(ls);
  }

  Napi::Value loss;
  if (get_optional(obj, "loss", &loss)) spec.loss = parse_kind(kLosses, loss, "spec.loss");
  return spec;
}

Napi::Object layout_to_js(Napi::Env env, const Layout& layout) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("params", entries_to_js(env, layout.params));
  out.Set("paramCount", (double)layout.param_count);
  out.Set("state", entries_to_js(env, layout.state));
  out.Set("stateCount", (double)layout.state_count);
  out.Set("outputShape", int_vector_to_js(env, layout.output_shape));
  out.Set("inputSize", (double)layout.input_size);
  out.Set("outputSize", (double)layout.output_size);
  Napi::Array shapes = Napi::Array::New(env, layout.layer_output_shapes.size());
  for (size_t i = 0; i < layout.layer_output_shapes.size(); ++i)
    shapes.Set((uint32_t)i, int_vector_to_js(env, layout.layer_output_shapes[i]));
  out.Set("layerOutputShapes", shapes);
  return out;
}

}  // namespace bigstep::binding
