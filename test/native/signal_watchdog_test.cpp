// Tests for native/signal_watchdog: a child whose own SIGTERM handler ignores the signal and whose
// main thread stays busy still exits with the watchdog's code within the grace period and says on
// stderr which signal stopped it; without a signal the watchdog never fires.
#include "signal_watchdog.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

#include "check.h"

namespace {

volatile sig_atomic_t g_seen = 0;
void ignore_but_note(int) { g_seen = 1; }

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Runs a child that installs a no-op SIGTERM handler, arms the watchdog (grace 200 ms, code 77),
// optionally raises SIGTERM, then busy-waits up to 3 s. Returns its exit status, wall time and
// what it wrote on stderr.
int run_child(bool raise_it, double* secs, std::string* err) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  const double t0 = now_s();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    struct sigaction sa {};
    sa.sa_handler = ignore_but_note;
    sigaction(SIGTERM, &sa, nullptr);
    bigstep::arm_signal_watchdog(200, 77);
    if (raise_it) kill(getpid(), SIGTERM);
    const double start = now_s();
    while (now_s() - start < 3.0) {
    }
    _exit(g_seen ? 5 : 0);  // reached only if the watchdog did not fire
  }
  close(fds[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  *secs = now_s() - t0;
  char buf[512];
  err->clear();
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) err->append(buf, (size_t)n);
  close(fds[0]);
  return status;
}

}  // namespace

int main() {
  double secs = 0;
  std::string err;
  int status = run_child(true, &secs, &err);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 77);
  CHECK(secs > 0.15 && secs < 2.0);
  CHECK(err.find("bigstep: SIGTERM:") != std::string::npos);
  std::fprintf(stderr, "signal_watchdog: fired after %.2f s, said: %s", secs, err.c_str() + (err[0] == '\n'));

  status = run_child(false, &secs, &err);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(secs >= 3.0);
  CHECK(err.empty());
  return check::finish("signal_watchdog");
}
