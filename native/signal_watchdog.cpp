// See signal_watchdog.h. The signal handler only does async-signal-safe things: an atomic flag,
// sem_post, and a call of the previous handler.
#include "signal_watchdog.h"

#if defined(__unix__) || defined(__APPLE__)
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

namespace bigstep {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM};
struct sigaction g_prev[2];
sem_t g_sem;
std::atomic<int> g_grace_ms{1500};
std::atomic<int> g_exit_code{130};
std::atomic<bool> g_fired{false};
std::atomic<int> g_signal{0};  // the first signal, for the watchdog's message
std::once_flag g_thread_once;

int slot(int sig) { return sig == SIGINT ? 0 : 1; }

void on_signal(int sig, siginfo_t* info, void* ctx) {
  if (!g_fired.exchange(true)) {
    g_signal = sig;
    sem_post(&g_sem);
  }
  const struct sigaction& prev = g_prev[slot(sig)];
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction) prev.sa_sigaction(sig, info, ctx);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler) {
    prev.sa_handler(sig);
  }
}

void watchdog() {
  while (sem_wait(&g_sem) != 0 && errno == EINTR) {
  }
  const int ms = g_grace_ms.load();
  struct timespec ts {
    ms / 1000, (long)(ms % 1000) * 1000000L
  };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  // The JS handler may never have run (its thread busy), so this is the user's only word on why
  // the process ends. A plain thread, not a signal handler: write(2) of a fixed string is fine.
  const char* msg =
      g_signal.load() == SIGINT
          ? "\nbigstep: SIGINT: the main thread is busy and reached no safe point in time; stopping now\n"
          : "\nbigstep: SIGTERM: the main thread is busy and reached no safe point in time; stopping now\n";
  size_t len = 0;
  while (msg[len]) ++len;
  if (write(STDERR_FILENO, msg, len) < 0) {
    // nothing more to do: the process ends either way
  }
  _exit(g_exit_code.load());
}

}  // namespace

bool arm_signal_watchdog(int grace_ms, int exit_code) {
  g_grace_ms = grace_ms;
  g_exit_code = exit_code;
  std::call_once(g_thread_once, [] {
    sem_init(&g_sem, 0, 0);
    std::thread(watchdog).detach();
  });
  for (int sig : kSignals) {
    struct sigaction cur {};
    sigaction(sig, nullptr, &cur);
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal) continue;  // already chained
    struct sigaction mine {};
    mine.sa_sigaction = on_signal;
    mine.sa_flags = SA_SIGINFO | (cur.sa_flags & (SA_RESTART | SA_ONSTACK));
    sigfillset(&mine.sa_mask);
    g_prev[slot(sig)] = cur;
    sigaction(sig, &mine, nullptr);
  }
  return true;
}

}  // namespace bigstep

#else
namespace bigstep {
bool arm_signal_watchdog(int, int) { return false; }
}  // namespace bigstep
#endif
