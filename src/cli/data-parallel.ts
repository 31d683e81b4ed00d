/**
 * `--data-parallel` of `bigstep run` and `bigstep sweep run`: one experiment run split over the
 * ranks of an MPI job (mpirun -n N, srun -n N). The flag is explicit, and both ways round misuse
 * is refused before anything runs: the flag without MPI ranks (no MPI in the build, no launcher,
 * or a world of one), and MPI ranks without the flag (every rank would run the whole experiment
 * into the same run directory).
 */
import { initMpi, launchedByMpi, mpiBuilt, type MpiWorld } from '../train/data-parallel.js';
import { UsageError } from './args.js';

/** The experiments whose training and full-data measurements are split (E2, E3). */
export const DATA_PARALLEL_EXPERIMENTS = ['escape', 'noise'] as const;

/** The world size the MPI launcher announced in the environment, or null when it says none. */
function launcherSize(env: NodeJS.ProcessEnv): number | null {
  const v = env.OMPI_COMM_WORLD_SIZE ?? env.PMI_SIZE;
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Checks `--data-parallel` for `command` running `experiment`: the MPI world this process is a
 * rank of (MPI initialised), or null when the flag is off. UsageError (exit 2) on misuse.
 */
export function dataParallelWorld(
  command: string,
  asked: boolean,
  experiment: string,
  env: NodeJS.ProcessEnv = process.env,
): MpiWorld | null {
  if (!asked) {
    const n = launcherSize(env);
    if (n !== null && n > 1)
      throw new UsageError(
        `${command}: this process is one of ${n} MPI ranks but --data-parallel is not set, so every rank would run the ` +
          'whole experiment into the same run directory: add --data-parallel (E2 escape, E3 noise) or start one process',
      );
    return null;
  }
  if (!(DATA_PARALLEL_EXPERIMENTS as readonly string[]).includes(experiment))
    throw new UsageError(
      `${command}: --data-parallel splits the full-batch training of ${DATA_PARALLEL_EXPERIMENTS.join(' and ')}; ` +
        `"${experiment}" has none to split (run it without --data-parallel, or as a sweep)`,
    );
  if (!mpiBuilt())
    throw new UsageError(
      `${command}: --data-parallel needs a build with MPI support (apt-get install openmpi-bin libopenmpi-dev, then npm run build)`,
    );
  if (!launchedByMpi(env))
    throw new UsageError(
      `${command}: --data-parallel needs MPI ranks: start the command with mpirun -n N or srun -n N (N >= 2)`,
    );
  const world = initMpi();
  if (world.size < 2)
    throw new UsageError(
      `${command}: --data-parallel needs at least 2 MPI ranks (this job has 1): start it with mpirun -n N or srun -n N (N >= 2)`,
    );
  return world;
}
