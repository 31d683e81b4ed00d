/**
 * Checkpoint soak: SIGKILLs a small training run (shuffled batches, noise amplification, Gaussian
 * noise, momentum; checkpoint every 5 steps) at random moments ≥ 100 times, restarting it from its
 * checkpoint each time, then compares the final parameters with an uninterrupted run.
 *
 *   node dist/bench/checkpoint-soak.js [kills=100] [seed=1]
 *
 * Prints one JSON line: kills, corrupt checkpoints found, whether the result is bitwise identical,
 * distinct resume points, leftover temporary files, seconds. Exits 1 unless corrupt = 0 and identical.
 */
import { killResumeRun } from '../test/train/resume-harness.js';

const kills = Number(process.argv[2] ?? 100);
const seed = Number(process.argv[3] ?? 1);
if (!Number.isInteger(kills) || kills < 1)
  throw new RangeError(`kills must be a positive integer (got ${process.argv[2]})`);

// ~20 steps per life (kill 0–60 ms after each restart): size the run so the kills fit in it.
const total = Math.max(1000, 40 * kills);
const r = await killResumeRun({ targetKills: kills, total, every: 5, maxDelayMs: 60, seed });
console.log(
  JSON.stringify({
    kills: r.kills,
    corrupt: r.corrupt,
    killsDuringWrite: r.killsDuringWrite,
    identical: r.identical,
    resumePoints: r.resumeSteps.length,
    starts: r.starts,
    leftoverTemps: r.leftoverTemps,
    totalSteps: total,
    seconds: r.seconds,
  }),
);
process.exit(r.corrupt === 0 && r.identical ? 0 : 1);
