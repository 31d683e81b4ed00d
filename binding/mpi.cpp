// mpi: initialise MPI, say who this rank is, and gather bytes from every rank (the start-up check
// that all ranks train the same thing). Training itself reaches MPI through job.batch.dataParallel
// (binding/job.cpp → native/mpi_collective.h). Without MPI in the build, info says so and init
// throws an Error that says how to get it.
#include <napi.h>

#ifdef BIGSTEP_HAVE_MPI
#include <dlfcn.h>
#include <mpi.h>
#endif

#include "args.h"
#include "job.h"
#include "mpi_collective.h"
#include "register.h"

namespace bigstep::binding {
namespace {

Napi::Object world_info(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("built", mpi_built());
  out.Set("initialized", mpi_initialized());
  out.Set("library", mpi_library_version());
  if (mpi_initialized()) {
    out.Set("rank", mpi_world().rank());
    out.Set("size", mpi_world().size());
  }
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) { return world_info(info.Env()); }

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef BIGSTEP_HAVE_MPI
  // Node loads this addon with RTLD_LOCAL, so libmpi's symbols are not visible to the Open MPI
  // components it dlopen()s during MPI_Init; promote the already-loaded library to global first.
  // The library is found from one of its symbols, so this works for any MPI implementation.
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &where) && where.dli_fname)
    dlopen(where.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
#endif
  try {
    const bool first = !mpi_initialized();
    mpi_init();
    // Every rank must finalise before it exits, or mpirun reports the job as failed.
    if (first) env.AddCleanupHook([] { mpi_finalize(); });
  } catch (const NativeError& e) {
    throw make_state_error(env, "ERR_BIGSTEP_MPI", e.what());
  }
  return world_info(env);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  mpi_finalize();
  return info.Env().Undefined();
}

// allGather(bytes: Uint8Array) → Uint8Array [size · bytes.length], rank r's at r · length. Every
// rank must pass the same length (checked first, with a gather of the lengths).
Napi::Value AllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArrayView<uint8_t> mine = as_array<uint8_t>(info[0], "bytes");
  refuse_while_collective_chunk_runs(env, "mpi.allGather");
  try {
    Collective& world = mpi_world();
    const int n = world.size();
    std::vector<double> lengths((size_t)n);
    const double length = (double)mine.length;
    world.all_gather(&length, lengths.data(), sizeof(double));
    for (int r = 0; r < n; ++r)
      if (lengths[(size_t)r] != length)
        throw_range_error(env, "bytes",
                          "must have the same length on every rank (rank " + std::to_string(world.rank()) + ": " +
                              std::to_string(mine.length) + ", rank " + std::to_string(r) + ": " +
                              std::to_string((size_t)lengths[(size_t)r]) + ")");
    Napi::Uint8Array all = Napi::Uint8Array::New(env, mine.length * (size_t)n);
    world.all_gather(mine.data, all.Data(), mine.length);
    return all;
  } catch (const NativeError& e) {
    throw make_state_error(env, "ERR_BIGSTEP_MPI", e.what());
  }
}

}  // namespace

void RegisterMpi(Napi::Env env, Napi::Object exports) {
  Napi::Object mpi = Napi::Object::New(env);
  mpi.Set("info", Napi::Function::New(env, Info, "info"));
  mpi.Set("init", Napi::Function::New(env, Init, "init"));
  mpi.Set("finalize", Napi::Function::New(env, Finalize, "finalize"));
  mpi.Set("allGather", Napi::Function::New(env, AllGather, "allGather"));
  exports.Set("mpi", mpi);
}

}  // namespace bigstep::binding
