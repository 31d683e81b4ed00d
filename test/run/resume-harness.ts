/**
 * Kill/resume harness of the run-directory tests (test/run/resume.test.ts, test/sweep/resume.test.ts),
 * after test/train/resume-harness.ts: starts a command that runs an experiment, SIGKILLs it at a
 * random moment after it has written a new checkpoint in this life, checks every checkpoint file
 * left behind, and starts it again until it finishes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { verifyCheckpointDir } from '../../src/run/resume.js';
import { isTempName } from '../../src/run/schema.js';
import { Rng } from '../../src/util/random.js';

export interface KillReport {
  /** Lives killed with SIGKILL before their run was complete (in the attempt that finished). */
  kills: number;
  /** Attempts started over from an empty run directory because the run completed before all its kills landed. */
  retries: number;
  /** The largest kill delay of the attempt that finished (ms): maxDelayMs, halved at every retry. */
  maxDelayMs: number;
  /** Lives started (kills + the one that finished). */
  starts: number;
  /** Checkpoint files that failed verification after a kill, and corrupt files a restarted child reported. */
  corrupt: string[];
  /** Checkpoint files verified after kills (summed over kills). */
  filesChecked: number;
  /** Kills that left a partial (mid-unit) checkpoint for the next life to continue from. */
  killsWithPartial: number;
  /** The last kill left a partial checkpoint (so the finishing life must have continued one). */
  lastKillLeftPartial: boolean;
  /** stdout of the life that finished. */
  stdout: string;
  seconds: number;
}

export const CHILD_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  BIGSTEP_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  BIGSTEP_QUIET: '1',
  BIGSTEP_DEBUG: '',
};

/** The checkpoint file names (no temp files, no starts.json): a new one means a checkpoint was written. */
function checkpointNames(dir: string): Set<string> {
  try {
    return new Set(fs.readdirSync(dir).filter((n) => !isTempName(n) && n !== 'starts.json'));
  } catch {
    return new Set();
  }
}

/** A mid-unit checkpoint's file name, with the unit key in it. */
const PARTIAL = /^partial-(.+)\.json$/;

const CORRUPT_WARNING =
  /checkpoint .*(computing the unit again|starting the unit from its beginning|discarding the stored units)/g;

/**
 * The largest kill delay for a run whose uninterrupted work took `workMs`: each life runs until it
 * writes a new checkpoint (about one checkpoint interval, `checkpointMs`) and then a uniform
 * [0, delay) more, so `kills` lives use about kills · (checkpointMs + delay / 2) of the work; the
 * delay is chosen so that this is at most half of it, and never above `capMs`. Sized from what the
 * run was seen to take, not from which data set or BLAS the machine has.
 */
export function killDelayFor(workMs: number, kills: number, options: { capMs: number; checkpointMs: number }): number {
  const fit = 2 * (workMs / (2 * kills) - options.checkpointMs);
  return Math.max(1, Math.min(options.capMs, fit));
}

/**
 * Runs `node args…` (env: {@link CHILD_ENV} plus `env`) until it exits 0, killing it `kills` times:
 * each kill comes a uniformly random [0, maxDelayMs) after the child wrote a checkpoint file that
 * was not in `checkpointDir` when it started. If the run completes before all kills landed, the
 * attempt starts over in an empty run directory with half the delay (at most 5 times). Throws if a
 * life fails otherwise. `partialFirst`: the first kill waits for a new mid-unit checkpoint
 * (`partial-*.json`) and lands at once, so that resuming from one is exercised whatever the load
 * (at random moments alone, a loaded machine can place every kill between units).
 */
export async function runWithKills(
  args: string[],
  checkpointDir: string,
  options: {
    kills: number;
    maxDelayMs: number;
    seed: number;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    partialFirst?: boolean;
  },
): Promise<KillReport> {
  const t0 = Date.now();
  const rng = Rng.fromSeed(options.seed, 9);
  const report: KillReport = {
    kills: 0,
    retries: 0,
    maxDelayMs: options.maxDelayMs,
    starts: 0,
    corrupt: [],
    filesChecked: 0,
    killsWithPartial: 0,
    lastKillLeftPartial: false,
    stdout: '',
    seconds: 0,
  };
  for (;;) {
    const killThis = report.kills < options.kills;
    const onPartial = killThis && options.partialFirst === true && report.kills === 0;
    const draw = rng.uniform() * report.maxDelayMs; // drawn every life, so later delays keep the seed's sequence
    const delay = onPartial ? 0 : draw;
    const before = checkpointNames(checkpointDir);
    const life = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...CHILD_ENV, ...options.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let killTimer: NodeJS.Timeout | null = null;
      const poll = killThis
        ? setInterval(() => {
            for (const n of checkpointNames(checkpointDir)) {
              if (before.has(n) || (onPartial && !PARTIAL.test(n))) continue;
              clearInterval(poll!);
              killTimer = setTimeout(() => child.kill('SIGKILL'), delay);
              return;
            }
          }, 3)
        : null;
      const guard = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60000);
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (poll) clearInterval(poll);
        if (killTimer) clearTimeout(killTimer);
        clearTimeout(guard);
        resolve({ code, signal, stdout, stderr });
      });
    });
    report.starts++;
    for (const m of life.stderr.matchAll(CORRUPT_WARNING)) report.corrupt.push(`life ${report.starts}: ${m[0]}`);
    // The run completed before all its kills landed (a life finished within its kill delay, or the
    // kill came after the final summary.json): start the whole attempt over in an empty directory.
    const runDir = path.dirname(checkpointDir);
    if (killThis && (life.code === 0 || (life.signal === 'SIGKILL' && runComplete(runDir)))) {
      if (++report.retries > 5) {
        throw new Error(
          onPartial
            ? 'the run completed in 5 attempts without writing a mid-unit checkpoint (partial-*.json) to kill at; make its units longer'
            : `the run completed before ${options.kills} kills landed in 5 attempts (last kill delays < ${report.maxDelayMs.toFixed(1)} ms); make it longer`,
        );
      }
      fs.rmSync(runDir, { recursive: true, force: true });
      report.maxDelayMs /= 2; // the lives got further than the run was long: kill sooner
      report.kills = 0;
      report.killsWithPartial = 0;
      continue;
    }
    if (life.signal === 'SIGKILL' && killThis) {
      report.kills++;
      const v = verifyCheckpointDir(checkpointDir);
      report.filesChecked += v.files;
      report.corrupt.push(...v.problems.map((p) => `after kill ${report.kills}: ${p}`));
      // A partial counts when its unit is unfinished: a kill between writing unit-<key>.json and
      // removing partial-<key>.json leaves a stale one, which the next life drops unused.
      const names = checkpointNames(checkpointDir);
      report.lastKillLeftPartial = [...names].some((n) => {
        const key = PARTIAL.exec(n)?.[1];
        return key !== undefined && !names.has(`unit-${key}.json`);
      });
      if (report.lastKillLeftPartial) report.killsWithPartial++;
      continue;
    }
    if (life.code !== 0)
      throw new Error(`child exited with code ${life.code} signal ${life.signal}: ${life.stderr.trim().slice(-2000)}`);
    report.stdout = life.stdout;
    break;
  }
  report.seconds = (Date.now() - t0) / 1000;
  return report;
}

/** Whether the run directory holds a complete summary.json (status finished or diverged). */
function runComplete(dir: string): boolean {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status?: string };
    return s.status === 'finished' || s.status === 'diverged';
  } catch {
    return false;
  }
}

/** result.json without its wall-clock `timing` field, as canonical text. */
export function resultWithoutTiming(file: string): string {
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete r.timing;
  return JSON.stringify(r);
}
