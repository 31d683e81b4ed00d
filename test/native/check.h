// Minimal test helpers (no external framework): CHECK(cond) and CHECK_CLOSE record failures and
// keep going; each test executable returns check::finish() from main.
#pragma once
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa.h"

namespace check {

inline int& failures() {
  static int n = 0;
  return n;
}
inline int& passes() {
  static int n = 0;
  return n;
}

inline void fail(const char* file, int line, const std::string& msg) {
  ++failures();
  std::fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, msg.c_str());
}

inline std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof(buf), f, ap);
  va_end(ap);
  return buf;
}

// Max relative error of `got` against `want`, scaled by max(|want_i|, floor * max|want|):
// small components are judged relative to the tensor's magnitude, not their own.
inline double max_rel_err(const float* got, const double* want, size_t n, double floor = 1e-3,
                          size_t* worst = nullptr) {
  double wmax = 0;
  for (size_t i = 0; i < n; ++i) wmax = std::fmax(wmax, std::fabs(want[i]));
  double err = 0;
  for (size_t i = 0; i < n; ++i) {
    const double scale = std::fmax(std::fabs(want[i]), std::fmax(floor * wmax, 1e-30));
    const double e = std::fabs((double)got[i] - want[i]) / scale;
    if (!(e <= err)) {  // also catches NaN
      err = std::isnan(e) ? INFINITY : e;
      if (worst) *worst = i;
    }
  }
  return err;
}

inline int finish(const char* name) {
  if (failures() == 0) {
    std::printf("%s: all %d checks passed\n", name, passes());
    return 0;
  }
  std::printf("%s: %d of %d checks FAILED\n", name, failures(), failures() + passes());
  return 1;
}

// Kernel tests run once per ISA path, forced by BIGSTEP_ISA (CMakeLists.txt adds one ctest entry
// per path). Prints the path taken and checks it is the one asked for. Returns 77 (ctest: skipped)
// when this CPU cannot run the requested path, 1 for an unknown value, and -1 to go on.
inline int isa_path_or_skip(const char* name) {
  const char* requested = std::getenv("BIGSTEP_ISA");
  bigstep::Isa isa;
  try {
    isa = bigstep::active_isa();
  } catch (const std::invalid_argument& e) {
    for (bigstep::Isa known : {bigstep::Isa::baseline, bigstep::Isa::avx2, bigstep::Isa::avx512})
      if (requested && std::strcmp(requested, bigstep::isa_name(known)) == 0) {
        std::printf("%s: skipped: %s\n", name, e.what());
        return 77;
      }
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
  std::printf("%s: ISA path %s\n", name, bigstep::isa_name(isa));
  if (requested && *requested && std::strcmp(requested, bigstep::isa_name(isa)) != 0) {
    fail(__FILE__, __LINE__, fmt("BIGSTEP_ISA=%s but the path taken is %s", requested, bigstep::isa_name(isa)));
    return finish(name);
  }
  return -1;
}

}  // namespace check

#define CHECK(cond)                                        \
  do {                                                     \
    if (cond) {                                            \
      ++check::passes();                                   \
    } else {                                               \
      check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
    }                                                      \
  } while (0)

#define CHECK_MSG(cond, msg)                  \
  do {                                        \
    if (cond) {                               \
      ++check::passes();                      \
    } else {                                  \
      check::fail(__FILE__, __LINE__, (msg)); \
    }                                         \
  } while (0)

// Runs `stmt` and checks that it throws bigstep::NativeError of `kind_` whose param() == param_.
#define CHECK_THROWS_PARAM(stmt, kind_, param_)                                                                 \
  do {                                                                                                          \
    bool thrown_ = false;                                                                                       \
    try {                                                                                                       \
      stmt;                                                                                                     \
    } catch (const bigstep::NativeError& e_) {                                                                  \
      thrown_ = true;                                                                                           \
      CHECK_MSG(e_.kind() == (kind_) && e_.param() == (param_),                                                 \
                check::fmt("%s threw '%s' (param '%s'), want param '%s'", #stmt, e_.what(), e_.param().c_str(), \
                           std::string(param_).c_str()));                                                       \
    }                                                                                                           \
    CHECK_MSG(thrown_, check::fmt("%s did not throw (want param '%s')", #stmt, std::string(param_).c_str()));   \
  } while (0)
