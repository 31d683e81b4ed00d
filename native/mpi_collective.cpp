#include "mpi_collective.h"

#include "errors.h"

#ifdef BIGSTEP_HAVE_MPI
#include <mpi.h>

#include <climits>
#endif

namespace bigstep {

#ifdef BIGSTEP_HAVE_MPI
namespace {

bool g_initialized = false;

[[noreturn]] void throw_mpi(const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw NativeError(ErrorKind::State, "mpi", std::string(call) + " failed: " + std::string(text, (size_t)len));
}

void check(const char* call, int code) {
  if (code != MPI_SUCCESS) throw_mpi(call, code);
}

class WorldCollective final : public Collective {
 public:
  int rank() const override {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
  int size() const override {
    int s = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }
  void all_to_all(const double* send, double* recv, size_t block) override {
    if (block > (size_t)INT_MAX) throw_range("dataParallel", "slices above 2^31 doubles are not supported");
    check("MPI_Alltoall", MPI_Alltoall(send, (int)block, MPI_DOUBLE, recv, (int)block, MPI_DOUBLE, MPI_COMM_WORLD));
  }
  void all_gather(const void* mine, void* all, size_t bytes) override {
    if (bytes > (size_t)INT_MAX) throw_range("dataParallel", "slices above 2 GiB are not supported");
    check("MPI_Allgather", MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD));
  }
};

WorldCollective g_world;

}  // namespace

bool mpi_built() { return true; }

void mpi_init() {
  if (g_initialized) return;
  int already = 0;
  MPI_Initialized(&already);
  int provided = MPI_THREAD_SINGLE;
  if (!already)
    check("MPI_Init_thread", MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
  else
    MPI_Query_thread(&provided);
  if (provided < MPI_THREAD_SERIALIZED)
    throw NativeError(
        ErrorKind::State, "mpi",
        "the MPI library grants less than MPI_THREAD_SERIALIZED; bigstep calls MPI from its worker thread");
  // Errors are returned (and thrown as NativeError) instead of aborting inside the library.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  g_initialized = true;
}

bool mpi_initialized() { return g_initialized; }

void mpi_finalize() {
  if (!g_initialized) return;
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
  g_initialized = false;
}

Collective& mpi_world() {
  if (!g_initialized) throw NativeError(ErrorKind::State, "dataParallel", "needs MPI initialised first (mpi.init())");
  return g_world;
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, (size_t)len);
  const size_t eol = s.find_first_of("\r\n,");
  return eol == std::string::npos ? s : s.substr(0, eol);
}

#else  // no MPI in this build

namespace {
[[noreturn]] void no_mpi() {
  throw NativeError(ErrorKind::State, "mpi",
                    "this build of bigstep has no MPI support: install Open MPI (apt-get install openmpi-bin "
                    "libopenmpi-dev) and run npm run build again");
}
}  // namespace

bool mpi_built() { return false; }
void mpi_init() { no_mpi(); }
bool mpi_initialized() { return false; }
void mpi_finalize() {}
Collective& mpi_world() { no_mpi(); }
std::string mpi_library_version() { return ""; }

#endif

}  // namespace bigstep
