import { DATASET_NAMES } from './data/sources.js';
import { locateDataset, type DatasetLocation } from './data/locate.js';
import { blasCoreSource, blasNotice, native, type BlasCoreSource, type NativeInfo } from './native/binding.js';

/** One data set in {@link BigstepInfo}: where its files are, or how to get them. */
export interface DatasetInfo {
  name: DatasetLocation['name'];
  /** Whether every file loadDataset needs is in one searched directory. */
  found: boolean;
  /** That directory (null when not found). */
  dir: string | null;
  /** Where the directory comes from, e.g. "Debian package dataset-fashion-mnist" (null when not found). */
  source: string | null;
  /** When not found: every directory looked in, in order (where the files may go). */
  searched: string[];
  /** When not found: how to get the files (the install command first, where a package exists). */
  howTo: string | null;
}

/** What {@link info} returns: the addon's build and runtime facts, who chose the OpenBLAS kernels, and the data sets found. */
export interface BigstepInfo extends NativeInfo {
  /** Who chose the OpenBLAS kernels: the user (OPENBLAS_CORETYPE), bigstep (from CPU flags), or OpenBLAS. */
  blasCoreSource: BlasCoreSource;
  /** Without a system BLAS: how to get full speed; null with OpenBLAS. */
  blasNotice: string | null;
  /** Every named data set loadDataset knows, looked up as it would (nothing read or downloaded). */
  datasets: DatasetInfo[];
}

/** What the addon was built with and runs (BLAS vendor, kernel family, threads) and which data sets are on this machine. */
export function info(): BigstepInfo {
  const datasets = DATASET_NAMES.map((name) => {
    const l = locateDataset(name);
    return { name, found: l.dir !== null, dir: l.dir, source: l.source, searched: l.dir ? [] : l.searched.map((s) => s.dir), howTo: l.howTo };
  });
  return { ...native.info(), blasCoreSource, blasNotice, datasets };
}

/** Sets the BLAS thread count for this process (results are bitwise reproducible per thread count). */
export function setThreads(threads: number): number {
  if (typeof threads !== 'number') throw new TypeError('threads must be a number');
  return native.setThreads(threads);
}
