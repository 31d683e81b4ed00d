/**
 * Kill/resume harness shared by test/train/resume.test.ts and bench/checkpoint-soak.ts: runs the
 * resume child, SIGKILLs it at random moments after it (re)starts, restarts it until it finishes,
 * checks the checkpoint after every kill, and compares the final θ with an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { readCheckpoint } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/random.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'resume-child.js');

export interface KillResult {
  /** Children killed with SIGKILL. */
  kills: number;
  /** Checkpoints that failed verification after a kill, plus restarts that found a corrupt checkpoint. */
  corrupt: number;
  /** Kills that happened before the first checkpoint existed / after at least one. */
  killsWithCheckpoint: number;
  /** Kills that interrupted a checkpoint write (a temporary file was left behind). */
  killsDuringWrite: number;
  /** Distinct checkpoint steps seen after kills (resume points). */
  resumeSteps: number[];
  /** Child starts (kills + the final, completed one). */
  starts: number;
  /** Final θ of the interrupted run equals the uninterrupted run's bit for bit. */
  identical: boolean;
  /** Temporary files left in the directory at the end. */
  leftoverTemps: number;
  seconds: number;
}

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  readyStep: number | null;
}

/**
 * Runs one child. `kill`: null = let it finish; `{ afterMs }` = SIGKILL afterMs after it is ready;
 * `{ afterMs, atSave: true, saveDelayMs }` = after afterMs, SIGKILL saveDelayMs after it announces
 * a checkpoint write.
 */
function runChild(
  dir: string,
  total: number,
  every: number,
  kill: { afterMs: number; atSave?: boolean; saveDelayMs?: number } | null,
): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(total), String(every)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', BIGSTEP_QUIET: '1' },
    });
    let stdout = '';
    let stderr = '';
    let readyStep: number | null = null;
    let timer: NodeJS.Timeout | null = null;
    let armed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stdout += text;
      if (armed && text.includes('save')) {
        armed = false;
        // Encoding takes ~0.5 ms before the temporary file exists: aim into the write itself.
        timer = setTimeout(() => child.kill('SIGKILL'), kill?.saveDelayMs ?? 0);
      }
      const m = /ready (\d+)/.exec(stdout);
      if (m && readyStep === null) {
        readyStep = Number(m[1]);
        if (kill) {
          timer = setTimeout(() => {
            if (kill.atSave) armed = true;
            else child.kill('SIGKILL');
          }, kill.afterMs);
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stderr, readyStep });
    });
  });
}

/**
 * Runs the training to `total` steps (checkpoint every `every`) while killing it `targetKills`
 * times at uniformly random delays in [0, maxDelayMs) after each (re)start — every other kill at
 * the first checkpoint write after that delay — then lets it finish.
 */
export async function killResumeRun(options: {
  targetKills: number;
  total: number;
  every: number;
  maxDelayMs: number;
  seed?: number;
}): Promise<KillResult> {
  const start = Date.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-resume-'));
  try {
    const refDir = path.join(root, 'reference');
    const runDir = path.join(root, 'killed');
    fs.mkdirSync(refDir);
    fs.mkdirSync(runDir);
    const rng = Rng.fromSeed(options.seed ?? 1, 5);
    const ckpt = path.join(runDir, 'ckpt.bin');
    const result: KillResult = {
      kills: 0,
      corrupt: 0,
      killsWithCheckpoint: 0,
      killsDuringWrite: 0,
      resumeSteps: [],
      starts: 0,
      identical: false,
      leftoverTemps: 0,
      seconds: 0,
    };
    for (;;) {
      // Every other kill is aimed at a checkpoint write (the moment atomicity matters).
      const kill =
        result.kills < options.targetKills
          ? {
              afterMs: rng.uniform() * options.maxDelayMs,
              atSave: result.starts % 2 === 1,
              saveDelayMs: rng.uniform() * 3,
            }
          : null;
      const out = await runChild(runDir, options.total, options.every, kill);
      result.starts++;
      if (out.code === 3) {
        result.corrupt++;
        throw new Error(`resume child found a corrupt checkpoint: ${out.stderr.trim()}`);
      }
      if (out.signal === 'SIGKILL') {
        result.kills++;
        if (fs.readdirSync(runDir).some((n) => n.includes('.tmp-'))) result.killsDuringWrite++;
        if (fs.existsSync(ckpt)) {
          result.killsWithCheckpoint++;
          try {
            const { header } = readCheckpoint(ckpt);
            if (!result.resumeSteps.includes(header.step)) result.resumeSteps.push(header.step);
          } catch {
            result.corrupt++;
          }
        }
        continue;
      }
      if (out.code !== 0)
        throw new Error(`resume child exited with code ${out.code} signal ${out.signal}: ${out.stderr.trim()}`);
      break;
    }
    const ref = await runChild(refDir, options.total, options.every, null);
    if (ref.code !== 0) throw new Error(`reference child exited with code ${ref.code}: ${ref.stderr.trim()}`);
    const a = fs.readFileSync(path.join(runDir, 'final.bin'));
    const b = fs.readFileSync(path.join(refDir, 'final.bin'));
    result.identical = a.length > 0 && a.equals(b);
    result.leftoverTemps = fs.readdirSync(runDir).filter((n) => n.includes('.tmp-')).length;
    result.seconds = (Date.now() - start) / 1000;
    return result;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
