// Errors raised by the native core. The binding maps them to JS error classes:
// ErrorKind::Type -> TypeError, ErrorKind::Range -> RangeError, ErrorKind::State -> Error.
// `param` names the offending parameter (e.g. "spec.layers[2].kernel") so messages can say
// exactly what to fix.
#pragma once
#include <stdexcept>
#include <string>

namespace bigstep {

enum class ErrorKind { Type, Range, State };

class NativeError : public std::runtime_error {
 public:
  NativeError(ErrorKind kind, std::string param, const std::string& message)
      : std::runtime_error(param.empty() ? message : param + ": " + message), kind_(kind), param_(std::move(param)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& param() const { return param_; }

 private:
  ErrorKind kind_;
  std::string param_;
};

[[noreturn]] inline void throw_range(const std::string& param, const std::string& message) {
  throw NativeError(ErrorKind::Range, param, message);
}
[[noreturn]] inline void throw_type(const std::string& param, const std::string& message) {
  throw NativeError(ErrorKind::Type, param, message);
}

}  // namespace bigstep
