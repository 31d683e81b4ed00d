/**
 * Data parallelism over MPI: one training run across N processes (ranks), started by
 * `mpirun -n N` or `srun -n N`. Every rank builds the same model, data set and Trainer with
 * `dataParallel: true`; each step, every rank computes the gradient of its shard of the batch
 * (examples in rank order, ⌈b/N⌉ per rank) and the pieces are added in rank order, in double
 * (native/data_parallel.h). An N-rank run is bitwise the single-process run with
 * `microBatch` = ⌈b/N⌉, and repeated runs are bitwise identical. See docs/cluster.md.
 *
 * ```ts
 * const world = initMpi();           // once per process, before the first data-parallel Trainer
 * const trainer = new Trainer(model, { data, optimizer: sgd({ lr: 0.1 }), dataParallel: true });
 * await trainer.run({ steps: 100 }); // identical θ on every rank
 * if (world.rank === 0) saveCheckpoint(trainer, file);
 * ```
 */
import { createHash } from 'node:crypto';

import { native, type NativeMpi } from '../native/binding.js';

/** This process's place among the ranks of an MPI job. */
export interface MpiWorld {
  rank: number;
  size: number;
  /** The MPI library's version line. */
  library: string;
}

/** True when this build of the addon has MPI support (CMake found an MPI library). */
export function mpiBuilt(): boolean {
  return native.mpi?.info().built ?? false;
}

/**
 * True when this process was started by an MPI launcher (Open MPI's mpirun, or a PMI/PMIx launcher
 * such as srun with `--mpi=pmix`), judged from the environment the launcher sets.
 */
export function launchedByMpi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OMPI_COMM_WORLD_SIZE !== undefined || env.PMIX_RANK !== undefined || env.PMI_SIZE !== undefined;
}

function mpiOrThrow(): NativeMpi {
  if (!native.mpi || !native.mpi.info().built) {
    const error = new Error(
      'bigstep: this build has no MPI support. Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) ' +
        'and build again (npm run build, or npx bigstep build).',
    ) as Error & { code: string };
    error.code = 'ERR_BIGSTEP_MPI';
    throw error;
  }
  return native.mpi;
}

/** Initialises MPI once per process (MPI_Init_thread, SERIALIZED) and returns this rank's place. MPI is finalised at exit. */
export function initMpi(): MpiWorld {
  const info = mpiOrThrow().init();
  return { rank: info.rank ?? 0, size: info.size ?? 1, library: info.library };
}

/** This rank's place once {@link initMpi} ran, else null. */
export function mpiWorld(): MpiWorld | null {
  const info = native.mpi?.info();
  if (!info || !info.initialized) return null;
  return { rank: info.rank ?? 0, size: info.size ?? 1, library: info.library };
}

/**
 * Throws a RangeError naming `param` when b examples do not give each of `ranks` ranks at least
 * one example under the ⌈b/N⌉ split (the rule of native/data_parallel.h, checked there again).
 */
export function checkShardable(b: number, ranks: number, param: string): void {
  const s = Math.ceil(b / ranks);
  if (b < ranks || (ranks - 1) * s >= b)
    throw new RangeError(
      `${param}: ${b} examples do not split over ${ranks} ranks: in rank order each rank takes ceil(b/N) = ${s}, ` +
        'which leaves the last rank none (use at least N examples, e.g. a multiple of N)',
    );
}

/** A named part of what every rank must agree on, as the byte arrays it is made of. */
export interface RankCheckPart {
  name: string;
  bytes: ArrayBufferView[];
}

/** SHA-256 of the parts' bytes, in order. */
function digest(bytes: ArrayBufferView[]): Buffer {
  const hash = createHash('sha256');
  for (const b of bytes) hash.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  return hash.digest();
}

/**
 * Compares, across all ranks, the SHA-256 of each part (e.g. config, data, initial parameters).
 * A collective call: every rank must call it with the same parts in the same order. When a part
 * differs, every rank throws the same Error (code ERR_BIGSTEP_RANKS_DIFFER) naming the parts that
 * differ and which ranks disagree with rank 0.
 */
export function checkSameOnEveryRank(parts: RankCheckPart[], param: string): void {
  const mpi = mpiOrThrow();
  const size = mpi.info().size ?? 1;
  const mine = new Uint8Array(32 * parts.length);
  parts.forEach((p, i) => mine.set(digest(p.bytes), 32 * i));
  const all = mpi.allGather(mine);
  const stride = mine.length;
  const differing: string[] = [];
  parts.forEach((p, i) => {
    const at = (r: number) => Buffer.from(all.subarray(r * stride + 32 * i, r * stride + 32 * (i + 1))).toString('hex');
    const ranks: number[] = [];
    for (let r = 1; r < size; ++r) if (at(r) !== at(0)) ranks.push(r);
    if (ranks.length > 0)
      differing.push(
        `${p.name} (rank ${ranks.join(', ')} differ${ranks.length === 1 ? 's' : ''} from rank 0: sha256 ${at(ranks[0]).slice(0, 12)}… vs ${at(0).slice(0, 12)}…)`,
      );
  });
  if (differing.length > 0) {
    const error = new Error(
      `${param}: the ranks do not train the same run: ${differing.join('; ')}. Every rank must build the same model, ` +
        'data set and trainer options (same files, seeds and configuration).',
    ) as Error & { code: string };
    error.code = 'ERR_BIGSTEP_RANKS_DIFFER';
    throw error;
  }
}

/** Collective: every rank's `ok`, in rank order (also a barrier: no rank returns before all called it). */
export function everyRankOk(ok: boolean): boolean[] {
  const all = mpiOrThrow().allGather(Uint8Array.of(ok ? 1 : 0));
  return Array.from(all, (b) => b === 1);
}
