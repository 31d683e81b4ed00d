/**
 * One rank of the MPI tests (started by data-parallel.test.ts under `mpirun -n N`). argv[2] is a
 * RunConfig as JSON, plus test switches:
 *   killRank: this rank SIGKILLs itself after its first chunk (the others must not hang);
 *   dataSeedOnRank1: rank 1 generates a different data set (every rank must name the mismatch);
 *   threadsOnRank1: rank 1 uses this many BLAS threads (a numerics mismatch);
 *   checkpoint + saveAt: save a checkpoint after saveAt steps, then go on to `steps`;
 *   checkpoint + resume: load the checkpoint, then run the steps left to `steps`;
 *   shards: passed to the data-parallel trainer's batch (anything but N must be refused).
 * Or, with `measure` (a MeasureConfig), the full-data measurements split over the ranks instead
 * of training (paramSeedOnRank1: rank 1 starts from another θ; overlap: split calls made while a
 * split evaluateAsync is in flight, which must all be refused).
 * Prints one line `RESULT {json}` (RunOutcome or MeasureOutcome, and rank) or `ERROR {json}`
 * (name, code, message).
 */
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { setThreads } from '../../src/native/info.js';
import { initMpi } from '../../src/train/data-parallel.js';
import { buildTrainer, measure, overlapSplitPasses, runToEnd, type MeasureConfig, type RunConfig } from './run.js';

interface RankArgs extends RunConfig {
  killRank?: number;
  dataSeedOnRank1?: number;
  threadsOnRank1?: number;
  checkpoint?: string;
  saveAt?: number;
  resume?: boolean;
  measure?: MeasureConfig;
  paramSeedOnRank1?: number;
  /** With `measure`: start split passes while one is in flight (overlapSplitPasses). */
  overlap?: boolean;
  shards?: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as RankArgs;
  const world = initMpi();
  const config: RunConfig = {
    ...args,
    ...(world.rank === 1 && args.dataSeedOnRank1 !== undefined ? { dataSeed: args.dataSeedOnRank1 } : {}),
  };
  if (world.rank === 1 && args.threadsOnRank1 !== undefined) setThreads(args.threadsOnRank1);
  try {
    if (args.measure) {
      const m = {
        ...args.measure,
        ...(world.rank === 1 && args.paramSeedOnRank1 ? { paramSeed: args.paramSeedOnRank1 } : {}),
      };
      const outcome = args.overlap ? await overlapSplitPasses(m) : await measure(m, true);
      process.stdout.write(`RESULT ${JSON.stringify({ rank: world.rank, size: world.size, ...outcome })}\n`);
      return;
    }
    const trainer = buildTrainer(config, { dataParallel: true, shards: args.shards });
    const meta = { configHash: 'mpi-test' };
    if (args.checkpoint && args.resume) loadCheckpoint(args.checkpoint, trainer, meta);
    if (args.checkpoint && args.saveAt !== undefined) {
      await trainer.run({ steps: args.saveAt });
      saveCheckpoint(args.checkpoint, trainer, meta);
    }
    const outcome = await runToEnd(trainer, config.steps - trainer.stepCount, () => {
      if (args.killRank === world.rank) process.kill(process.pid, 'SIGKILL');
    });
    process.stdout.write(`RESULT ${JSON.stringify({ rank: world.rank, size: world.size, ...outcome })}\n`);
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stdout.write(
      `ERROR ${JSON.stringify({ rank: world.rank, name: err.name, code: err.code, message: err.message })}\n`,
    );
    process.exitCode = 3;
  }
}

void main();
