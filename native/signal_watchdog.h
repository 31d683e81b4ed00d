// A backstop for SIGINT/SIGTERM: the process ends within a grace period of the first signal even
// when its main thread is busy in long synchronous work and never gets to run its JS handler.
#pragma once

namespace bigstep {

// Chains a handler in front of the current SIGINT and SIGTERM handlers (call it after the JS
// handlers are installed, i.e. after libuv's). On the first of these signals a watchdog thread
// waits `grace_ms`, says on stderr which signal stops the process, and calls _exit(exit_code); the
// previous handler still runs at once, so a graceful stop that finishes first ends the process
// normally. Calling it again re-chains only where the handler was replaced meanwhile. Returns
// false where unsupported (non-POSIX).
bool arm_signal_watchdog(int grace_ms, int exit_code);

}  // namespace bigstep
