// Argument conversion and validation for the N-API boundary. Every check names the parameter
// and says what was expected, and throws a JS TypeError / RangeError (never silently coerces).
// Only binding/ includes napi.h.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "errors.h"

namespace bigstep::binding {

// Error values (class, message "param ...", `code`), built without throwing so async workers can
// reject a promise with them; the throw_* helpers below throw the same values.
inline Napi::Error make_type_error(Napi::Env env, const std::string& param, const std::string& expected) {
  Napi::TypeError error = Napi::TypeError::New(env, param + " must be " + expected);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  return error;
}

inline Napi::Error make_range_error(Napi::Env env, const std::string& param, const std::string& message) {
  Napi::RangeError error = Napi::RangeError::New(env, param + " " + message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  return error;
}

inline Napi::Error make_state_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// A native-core error as the matching JS class (message "param: ...").
inline Napi::Error make_native_error(Napi::Env env, const NativeError& e) {
  switch (e.kind()) {
    case ErrorKind::Type: {
      Napi::TypeError error = Napi::TypeError::New(env, e.what());
      error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
      return error;
    }
    case ErrorKind::Range: {
      Napi::RangeError error = Napi::RangeError::New(env, e.what());
      error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
      return error;
    }
    default: return make_state_error(env, "ERR_BIGSTEP_STATE", e.what());
  }
}

// The same error with its parameter path prefixed (the core says "perm[3]", JS callers "job.perm[3]").
inline NativeError with_param_prefix(const NativeError& e, const std::string& prefix) {
  if (e.param().empty()) return e;
  const std::string what = e.what();
  const std::string message = what.size() >= e.param().size() + 2 ? what.substr(e.param().size() + 2) : what;
  return NativeError(e.kind(), prefix + e.param(), message);
}

[[noreturn]] inline void throw_type_error(Napi::Env env, const std::string& param, const std::string& expected) {
  throw make_type_error(env, param, expected);
}

[[noreturn]] inline void throw_range_error(Napi::Env env, const std::string& param, const std::string& message) {
  throw make_range_error(env, param, message);
}

[[noreturn]] inline void throw_state_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw make_state_error(env, code, message);
}

// Re-throws a native-core error as the matching JS class.
[[noreturn]] inline void rethrow_native(Napi::Env env, const NativeError& e) { throw make_native_error(env, e); }

// Runs the promise-settling part of an AsyncWorker's OnOK / OnError. If the environment is
// shutting down (a worker_thread terminated while the work ran), JS cannot run: napi calls fail
// and the Napi::Error they throw would escape the libuv callback and abort the whole process.
// Nobody can observe the promise any more, so the failure is dropped.
template <typename F>
void settle_unless_terminating(F&& settle) {
  try {
    settle();
  } catch (const Napi::Error&) {
  }
}

inline Napi::Object as_object(Napi::Value v, const std::string& param) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) throw_type_error(v.Env(), param, "an object");
  return v.As<Napi::Object>();
}

inline double as_number(Napi::Value v, const std::string& param) {
  if (!v.IsNumber()) throw_type_error(v.Env(), param, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline double as_finite(Napi::Value v, const std::string& param) {
  double d = as_number(v, param);
  if (!std::isfinite(d)) throw_range_error(v.Env(), param, "must be finite (got " + std::to_string(d) + ")");
  return d;
}

// An integer in [lo, hi]; rejects NaN, fractions, and out-of-range values (never truncates).
inline int64_t as_integer(Napi::Value v, const std::string& param, int64_t lo, int64_t hi) {
  double d = as_number(v, param);
  if (std::isnan(d) || std::floor(d) != d)
    throw_range_error(v.Env(), param,
                      "must be an integer (got " + Napi::Number(v.Env(), v).ToString().Utf8Value() + ")");
  if (d < (double)lo || d > (double)hi)
    throw_range_error(v.Env(), param,
                      "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " +
                          Napi::Number(v.Env(), v).ToString().Utf8Value() + ")");
  return (int64_t)d;
}

inline bool as_bool(Napi::Value v, const std::string& param) {
  if (!v.IsBoolean()) throw_type_error(v.Env(), param, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline std::string as_string(Napi::Value v, const std::string& param) {
  if (!v.IsString()) throw_type_error(v.Env(), param, "a string");
  return v.As<Napi::String>().Utf8Value();
}

// Optional field of an options object: returns true and the value if present and not undefined.
inline bool get_optional(Napi::Object obj, const char* key, Napi::Value* out) {
  if (!obj.Has(key)) return false;
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return false;
  *out = v;
  return true;
}

template <typename T>
struct TypedArrayTraits;
template <>
struct TypedArrayTraits<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "a Float32Array";
};
template <>
struct TypedArrayTraits<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* name = "a Float64Array";
};
template <>
struct TypedArrayTraits<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "an Int32Array";
};
template <>
struct TypedArrayTraits<uint64_t> {
  static constexpr napi_typedarray_type type = napi_biguint64_array;
  static constexpr const char* name = "a BigUint64Array";
};
template <>
struct TypedArrayTraits<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "a Uint8Array";
};

// A borrowed view of a JS typed array (respecting byteOffset of subarray views). Checks the
// element type, that the buffer is not detached, and optionally the exact length.
template <typename T>
struct ArrayView {
  T* data = nullptr;
  size_t length = 0;
};

inline bool is_detached(Napi::Env env, Napi::ArrayBuffer buffer) {
  bool detached = false;
  napi_status status = napi_is_detached_arraybuffer(env, buffer, &detached);
  return status == napi_ok && detached;
}

// SharedArrayBuffer-backed views are accepted (napi_get_typedarray_info returns their data
// pointer; Napi::ArrayBuffer::Data() would fail on a SharedArrayBuffer with a nameless error).
template <typename T>
ArrayView<T> as_array(Napi::Value v, const std::string& param) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray()) throw_type_error(env, param, TypedArrayTraits<T>::name);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  size_t byte_offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &byte_offset) != napi_ok ||
      type != TypedArrayTraits<T>::type)
    throw_type_error(env, param, TypedArrayTraits<T>::name);
  if (is_detached(env, Napi::ArrayBuffer(env, buffer)))
    throw_type_error(env, param, std::string(TypedArrayTraits<T>::name) + " with a live (not detached) buffer");
  ArrayView<T> view;
  view.length = length;
  view.data = static_cast<T*>(data);  // already adjusted by byte_offset
  return view;
}

// True if a typed array read earlier has since been detached (a getter or Proxy trap that ran
// during argument conversion can transfer a buffer whose data pointer was already taken).
inline bool typed_array_detached(Napi::Env env, Napi::Value v) {
  if (!v.IsTypedArray()) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  size_t byte_offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &byte_offset) != napi_ok) return true;
  return is_detached(env, Napi::ArrayBuffer(env, buffer));
}

template <typename T>
ArrayView<T> as_array(Napi::Value v, const std::string& param, size_t expected_length) {
  ArrayView<T> view = as_array<T>(v, param);
  if (view.length != expected_length)
    throw_range_error(
        v.Env(), param,
        "must have length " + std::to_string(expected_length) + " (got " + std::to_string(view.length) + ")");
  return view;
}

// Labels are indices into the outputs: labels[0, n) checked (on the memory the pass will read),
// an error naming param[i].
inline void check_class_indices(Napi::Env env, const int32_t* labels, int64_t n, size_t outputs,
                                const std::string& param) {
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || (size_t)labels[i] >= outputs)
      throw_range_error(
          env, param + "[" + std::to_string(i) + "]",
          "must be a class index in [0, " + std::to_string(outputs) + ") (got " + std::to_string(labels[i]) + ")");
}

}  // namespace bigstep::binding
