// fmaPeak(): the FMA peak of this CPU on an ISA path (native/fma_peak.h), the compute roof of the
// bench's "share of FMA peak".
#include <napi.h>

#include <stdexcept>
#include <string>

#include "args.h"
#include "fma_peak.h"
#include "isa.h"
#include "register.h"

namespace bigstep::binding {
namespace {

// fmaPeak(threads: integer in [1, 256], seconds: number in (0, 60], isa?: 'baseline'|'avx2'|'avx512')
//   -> { gflops, seconds, rounds, iterations, lanes, chains, isa }; isa defaults to the active path.
Napi::Value FmaPeakJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int threads = (int)as_integer(info[0], "threads", 1, 256);
  const double seconds = as_finite(info[1], "seconds");
  if (!(seconds > 0 && seconds <= 60)) throw_range_error(env, "seconds", "must be in (0, 60]");
  Isa isa = active_isa();
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    const std::string name = as_string(info[2], "isa");
    try {
      isa = select_isa(name.c_str());
    } catch (const std::invalid_argument& e) {
      throw_range_error(env, "isa", std::string("must be a path this CPU and build can run (") + e.what() + ")");
    }
  }
  const FmaPeak p = measure_fma_peak(isa, threads, seconds);
  Napi::Object out = Napi::Object::New(env);
  out.Set("gflops", p.gflops);
  out.Set("seconds", p.seconds);
  out.Set("rounds", p.rounds);
  out.Set("iterations", (double)p.iterations);
  out.Set("lanes", fma_lanes(isa));
  out.Set("chains", kFmaChains);
  out.Set("isa", isa_name(isa));
  out.Set("threads", threads);
  return out;
}

// isaPaths() -> the ISA paths this CPU and build can run, widest first (e.g. ['avx512', 'avx2', 'baseline']).
Napi::Value IsaPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::baseline})
    if (isa_available(isa)) out.Set(k++, isa_name(isa));
  return out;
}

}  // namespace

void RegisterFmaPeak(Napi::Env env, Napi::Object exports) {
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeakJs, "fmaPeak"));
  exports.Set("isaPaths", Napi::Function::New(env, IsaPaths, "isaPaths"));
}

}  // namespace bigstep::binding
