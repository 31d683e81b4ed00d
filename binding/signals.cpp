// armSignalWatchdog(graceMs, exitCode): the native backstop for SIGINT/SIGTERM (native/signal_watchdog.h).
#include <napi.h>

#include "args.h"
#include "register.h"
#include "signal_watchdog.h"

namespace bigstep::binding {
namespace {

Napi::Value ArmSignalWatchdog(const Napi::CallbackInfo& info) {
  const int64_t grace = as_integer(info[0], "graceMs", 1, 600000);
  const int64_t code = as_integer(info[1], "exitCode", 0, 255);
  return Napi::Boolean::New(info.Env(), arm_signal_watchdog((int)grace, (int)code));
}

}  // namespace

void RegisterSignals(Napi::Env env, Napi::Object exports) {
  exports.Set("armSignalWatchdog", Napi::Function::New(env, ArmSignalWatchdog, "armSignalWatchdog"));
}

}  // namespace bigstep::binding
