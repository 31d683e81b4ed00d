// The MPI transport of data parallelism (native/data_parallel.h), over MPI_COMM_WORLD. Built only
// when CMake finds MPI (BIGSTEP_HAVE_MPI); without it these functions report that MPI is missing.
#pragma once
#include <string>

#include "data_parallel.h"

namespace bigstep {

// True when this build has MPI support.
bool mpi_built();

// MPI_Init_thread asking for MPI_THREAD_SERIALIZED (collectives are called from the one worker
// thread that runs a chunk, never from two threads at once). Idempotent. Throws NativeError
// (State) when the build has no MPI or the library grants less than SERIALIZED.
void mpi_init();
bool mpi_initialized();
// MPI_Finalize if mpi_init ran and it was not finalized yet (every rank must call it before exit,
// or mpirun reports the job as failed).
void mpi_finalize();
// The world communicator as a Collective; mpi_init must have run (else throws NativeError State).
Collective& mpi_world();
// The library's version string (MPI_Get_library_version), "" without MPI.
std::string mpi_library_version();

}  // namespace bigstep
