/**
 * Data parallelism over MPI: one training run across N processes (ranks), started by
 * `mpirun -n N` or `srun -n N`. Every rank builds the same model, data set and Trainer with
 * `dataParallel: true`; each step, every rank computes the gradient of its shard of the batch
 * (examples in rank order, ⌈b/N⌉ per rank) and the pieces are added in rank order, in double
 * (native/data_parallel.h). An N-rank run is bitwise the single-process run with
 * `batch.shards` = N (every batch, an epoch's shorter last one included; `microBatch` = ⌈b/N⌉ gives
 * the same for every batch of b examples), and repeated runs are bitwise identical. See
 * docs/cluster.md.
 *
 * ```ts
 * const world = initMpi();           // once per process, before the first data-parallel Trainer
 * const trainer = new Trainer(model, { data, optimizer: sgd({ lr: 0.1 }), dataParallel: true });
 * await trainer.run({ steps: 100 }); // identical θ on every rank
 * if (world.rank === 0) saveCheckpoint(trainer, file);
 * ```
 */
import { mpiOrThrow, type MpiWorld } from '../native/mpi.js';

export {
  allGatherFloat64,
  checkSameOnEveryRank,
  chunkShare,
  everyRankOk,
  mpiBuilt,
  mpiWorld,
  requireMpiWorld,
  type ChunkShare,
  type MpiWorld,
  type RankCheckPart,
} from '../native/mpi.js';

/**
 * True when this process was started by an MPI launcher (Open MPI's mpirun, or a PMI/PMIx launcher
 * such as srun with `--mpi=pmix`), judged from the environment the launcher sets.
 */
export function launchedByMpi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OMPI_COMM_WORLD_SIZE !== undefined || env.PMIX_RANK !== undefined || env.PMI_SIZE !== undefined;
}

/** Initialises MPI once per process (MPI_Init_thread, SERIALIZED) and returns this rank's place. MPI is finalised at exit. */
export function initMpi(): MpiWorld {
  const info = mpiOrThrow().init();
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
