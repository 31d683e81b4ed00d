import { blasCoreSource, blasNotice, native, type BlasCoreSource, type NativeInfo } from './binding.js';

/** What {@link info} returns: the addon's build and runtime facts, and who chose the OpenBLAS kernels. */
export interface BigstepInfo extends NativeInfo {
  /** Who chose the OpenBLAS kernels: the user (OPENBLAS_CORETYPE), bigstep (from CPU flags), or OpenBLAS. */
  blasCoreSource: BlasCoreSource;
  /** Without a system BLAS: how to get full speed; null with OpenBLAS. */
  blasNotice: string | null;
  /** Whether the addon was built with MPI (data-parallel training, docs/cluster.md) and the library's version line. */
  mpi: { built: boolean; library: string };
}

/** What the addon was built with and runs: BLAS vendor, kernel family, thread count. */
export function info(): BigstepInfo {
  const mpi = native.mpi?.info();
  return {
    ...native.info(),
    blasCoreSource,
    blasNotice,
    mpi: { built: mpi?.built ?? false, library: mpi?.library ?? '' },
  };
}

/** Sets the BLAS thread count for this process (results are bitwise reproducible per thread count). */
export function setThreads(threads: number): number {
  if (typeof threads !== 'number') throw new TypeError('threads must be a number');
  return native.setThreads(threads);
}
