/**
 * Slurm: a sweep is one job array. `writeSlurmScript` writes DIR/slurm/array.sbatch, in which
 * array element `$SLURM_ARRAY_TASK_ID` runs `<node> <bigstep main.js> sweep run DIR --task <id>`
 * (absolute paths of this install), one BLAS thread per task, log DIR/slurm/logs/%A_%a.out.
 * `submitSlurm` calls `sbatch --parsable` and appends the job id to DIR/slurm/jobs.jsonl;
 * `slurmStatus` asks squeue (and sacct, when accounting is configured) about those jobs.
 *
 * `ntasks` N > 1 (E2 and E3 only) gives every task N MPI ranks: the script asks for
 * `#SBATCH --ntasks=N` and starts the task with `srun --mpi=<plugin> … sweep run DIR --task <id>
 * --data-parallel`, one run split over the ranks (docs/cluster.md).
 *
 * Arrays larger than the cluster's MaxArraySize (default 1001) are submitted in chunks: element
 * `$SLURM_ARRAY_TASK_ID` of a chunk runs task `BIGSTEP_TASK_OFFSET + $SLURM_ARRAY_TASK_ID`.
 * Slurm schedules; bigstep only writes the script and reads the state (no home-made scheduler).
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { toJson } from '../run/json.js';
import { writeFileAtomic } from '../util/atomic.js';
import { makeDir } from '../util/safe-fs.js';
import { cliMainPath } from './local.js';
import type { SweepTasks } from './spec.js';

export interface SlurmOptions {
  /** At most K array elements at once (`%K`); default: no limit. */
  maxParallel?: number;
  /** `--cpus-per-task` (default 1). */
  cpus?: number;
  /** BLAS threads per task (default 1; keep 1 for results that match other executors bit for bit). */
  threads?: number;
  /** `--mem` (default 2G). */
  mem?: string;
  /** `--time` (default 00:30:00). */
  time?: string;
  partition?: string;
  /** `--account`. */
  account?: string;
  /** Job name (default `bigstep-<sweep name>`). */
  jobName?: string;
  /** Node binary (default: this process's). */
  node?: string;
  /** bigstep's main.js (default: this install's). */
  main?: string;
  /** MPI ranks per task (default 1): N > 1 runs each task data-parallel with `srun` (E2, E3). */
  ntasks?: number;
  /** Slurm's MPI plugin for `srun --mpi=…` when ntasks > 1 (default pmix: Open MPI 4 and 5 start under it). */
  srunMpi?: string;
}

/** The experiments a task of several ranks can run (their full-batch training is split). */
const DATA_PARALLEL_EXPERIMENTS = ['escape', 'noise'];

export const SLURM_DIR = 'slurm';
export const SCRIPT_NAME = 'array.sbatch';

/** "0-3,5,7-9" for [0,1,2,3,5,7,8,9] (sorted, distinct). */
export function arrayRanges(indices: number[]): string {
  const xs = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const shq = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function checkOpt(name: string, v: string | undefined, re: RegExp, example: string): void {
  if (v !== undefined && !re.test(v)) throw new RangeError(`${name} must look like ${example} (got "${v}")`);
}

/** The sbatch script for a sweep planned in `dir` (an absolute path is used inside the script). */
export function slurmScript(dir: string, t: SweepTasks, options: SlurmOptions = {}): string {
  const abs = path.resolve(dir);
  const cpus = options.cpus ?? 1;
  const threads = options.threads ?? 1;
  const mem = options.mem ?? '2G';
  const time = options.time ?? '00:30:00';
  if (!Number.isInteger(cpus) || cpus < 1) throw new RangeError(`cpus must be a positive integer (got ${cpus})`);
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`threads must be a positive integer (got ${threads})`);
  if (options.maxParallel !== undefined && (!Number.isInteger(options.maxParallel) || options.maxParallel < 1))
    throw new RangeError(`max-parallel must be a positive integer (got ${options.maxParallel})`);
  const ntasks = options.ntasks ?? 1;
  if (!Number.isInteger(ntasks) || ntasks < 1 || ntasks > 100000)
    throw new RangeError(`ntasks must be an integer in [1, 100000] (got ${ntasks})`);
  if (ntasks > 1 && !DATA_PARALLEL_EXPERIMENTS.includes(t.experiment))
    throw new RangeError(
      `ntasks ${ntasks}: a task of several MPI ranks splits the full-batch training of ${DATA_PARALLEL_EXPERIMENTS.join(' and ')}; ` +
        `this sweep runs ${t.experiment} (use --ntasks 1, or --cpus for more threads)`,
    );
  if (options.srunMpi !== undefined && ntasks === 1)
    throw new RangeError(`srun-mpi ${options.srunMpi} only applies to tasks of several ranks (--ntasks N > 1)`);
  const srunMpi = options.srunMpi ?? 'pmix';
  checkOpt('srun-mpi', srunMpi, /^[A-Za-z0-9_]+$/, 'pmix or pmi2');
  checkOpt('mem', mem, /^\d+[KMGT]?$/i, '2G or 500M');
  checkOpt('time', time, /^(\d+-)?\d+(:\d\d){0,2}$/, '00:30:00 or 1-00:00:00');
  checkOpt('partition', options.partition, /^[A-Za-z0-9_.,-]+$/, 'a partition name');
  checkOpt('account', options.account, /^[A-Za-z0-9_.-]+$/, 'an account name');
  const jobName = options.jobName ?? `bigstep-${t.name}`;
  checkOpt('job name', jobName, /^[A-Za-z0-9_.-]+$/, 'bigstep-e1');
  const node = options.node ?? process.execPath;
  const main = options.main ?? cliMainPath();
  const logs = path.join(abs, SLURM_DIR, 'logs');
  const last = Math.min(t.count, 1000) - 1;
  const array = `0-${last}${options.maxParallel ? `%${options.maxParallel}` : ''}`;
  const lines = [
    '#!/bin/bash',
    `# bigstep sweep "${t.name}" (${t.experiment}, ${t.count} tasks, sweep id ${t.sweepId}), written by \`bigstep sweep slurm\`.`,
    `# Submit: sbatch ${shq(path.join(abs, SLURM_DIR, SCRIPT_NAME))}   (or: bigstep sweep slurm ${shq(abs)} --submit)`,
    '# Rerun some tasks: sbatch --array=3,7 <this file>   (finished tasks exit at once; unfinished ones resume from their checkpoints)',
    `#SBATCH --job-name=${jobName}`,
    `#SBATCH --array=${array}`,
    `#SBATCH --ntasks=${ntasks}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --mem=${mem}`,
    `#SBATCH --time=${time}`,
    `#SBATCH --output=${logs}/%A_%a.out`,
    `#SBATCH --error=${logs}/%A_%a.out`,
    ...(options.partition ? [`#SBATCH --partition=${options.partition}`] : []),
    ...(options.account ? [`#SBATCH --account=${options.account}`] : []),
    // Let Slurm send SIGTERM 60 s before the time limit, so the task records "aborted" itself.
    '#SBATCH --signal=B:TERM@60',
    'set -euo pipefail',
    '',
    '# One BLAS thread per task: results are bitwise reproducible for a fixed thread count, and',
    '# several single-threaded tasks per node beat one multi-threaded task for small models.',
    `export BIGSTEP_THREADS=${threads} OPENBLAS_NUM_THREADS=${threads} OMP_NUM_THREADS=${threads}`,
    'TASK=$(( ${BIGSTEP_TASK_OFFSET:-0} + SLURM_ARRAY_TASK_ID ))',
    'echo "bigstep sweep task $TASK on $(hostname) (job ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID}), $(date -Is)"',
    ...(ntasks > 1
      ? [
          `# ${ntasks} MPI ranks per task, started by srun through Slurm's ${srunMpi} plugin; one run split over them.`,
          `exec srun --mpi=${srunMpi} --ntasks=${ntasks} ${shq(node)} ${shq(main)} sweep run ${shq(abs)} --task "$TASK" --data-parallel`,
        ]
      : [`exec ${shq(node)} ${shq(main)} sweep run ${shq(abs)} --task "$TASK"`]),
    '',
  ];
  return lines.join('\n');
}

/** Writes DIR/slurm/array.sbatch (+ the logs directory); returns the script path. */
export async function writeSlurmScript(dir: string, t: SweepTasks, options: SlurmOptions = {}): Promise<string> {
  const sdir = path.join(dir, SLURM_DIR);
  const text = slurmScript(dir, t, options); // checks the options before anything is written
  await makeDir(path.join(sdir, 'logs'), 'slurm logs directory');
  const file = path.join(sdir, SCRIPT_NAME);
  await writeFileAtomic(file, text);
  await fsp.chmod(file, 0o755);
  return file;
}

export interface SubmittedJob {
  jobId: string;
  /** The --array value given to sbatch. */
  array: string;
  offset: number;
  submittedAt: string;
  command: string[];
}

/**
 * Submits `indices` (default: all tasks) as job arrays of at most `chunk` elements (default 1000),
 * each `sbatch --parsable --array=<ranges>[%K] [--export=ALL,BIGSTEP_TASK_OFFSET=o] script`.
 * Records every job in DIR/slurm/jobs.jsonl. Throws with sbatch's message if it fails.
 */
export async function submitSlurm(
  dir: string,
  t: SweepTasks,
  options: { indices?: number[]; maxParallel?: number; chunk?: number; sbatch?: string } = {},
): Promise<SubmittedJob[]> {
  const script = path.join(dir, SLURM_DIR, SCRIPT_NAME);
  const indices = options.indices ?? t.tasks.map((x) => x.index);
  const chunk = options.chunk ?? 1000;
  const groups = new Map<number, number[]>();
  for (const i of indices) {
    const off = Math.floor(i / chunk) * chunk;
    if (!groups.has(off)) groups.set(off, []);
    groups.get(off)!.push(i - off);
  }
  const jobs: SubmittedJob[] = [];
  for (const [offset, local] of [...groups].sort((a, b) => a[0] - b[0])) {
    const array = `${arrayRanges(local)}${options.maxParallel ? `%${options.maxParallel}` : ''}`;
    const args = [
      '--parsable',
      `--array=${array}`,
      ...(offset > 0 ? [`--export=ALL,BIGSTEP_TASK_OFFSET=${offset}`] : []),
      script,
    ];
    const r = spawnSync(options.sbatch ?? 'sbatch', args, { encoding: 'utf8' });
    if (r.error)
      throw new Error(
        `sbatch could not be started (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): is Slurm installed and on PATH?`,
      );
    if (r.status !== 0)
      throw new Error(
        `sbatch ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`,
      );
    const jobId = r.stdout.trim().split(';')[0];
    if (!/^\d+$/.test(jobId)) throw new Error(`sbatch --parsable printed "${r.stdout.trim()}", not a job id`);
    const job: SubmittedJob = {
      jobId,
      array,
      offset,
      submittedAt: new Date().toISOString(),
      command: ['sbatch', ...args],
    };
    await fsp.appendFile(path.join(dir, SLURM_DIR, 'jobs.jsonl'), `${toJson(job)}\n`);
    jobs.push(job);
  }
  return jobs;
}

/** The jobs recorded in DIR/slurm/jobs.jsonl (oldest first). */
export async function submittedJobs(dir: string): Promise<SubmittedJob[]> {
  const text = await fsp.readFile(path.join(dir, SLURM_DIR, 'jobs.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SubmittedJob);
}

export interface SlurmJobState {
  /** `<job>_<element>` (or `<job>_[ranges]` for pending elements squeue groups). */
  jobId: string;
  state: string;
  source: 'squeue' | 'sacct';
  exitCode?: string;
  elapsed?: string;
  reason?: string;
}

export interface SlurmStatus {
  jobs: SubmittedJob[];
  states: SlurmJobState[];
  /** Count per state (array elements; a pending range counts as its number of elements). */
  counts: Record<string, number>;
  /** Problems talking to squeue/sacct (e.g. accounting not configured). */
  notes: string[];
}

function countRange(id: string): number {
  const m = /_\[([^\]]+)\]/.exec(id);
  if (!m) return 1;
  let n = 0;
  for (const part of m[1].split('%')[0].split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

/** squeue (running/pending) and sacct (finished, if accounting is on) for the recorded jobs. */
export function slurmStatus(jobs: SubmittedJob[], commands: { squeue?: string; sacct?: string } = {}): SlurmStatus {
  const notes: string[] = [];
  const states: SlurmJobState[] = [];
  if (jobs.length === 0)
    return { jobs, states, counts: {}, notes: ['no job submitted yet (bigstep sweep slurm DIR --submit)'] };
  const ids = jobs.map((j) => j.jobId).join(',');
  const q = spawnSync(commands.squeue ?? 'squeue', ['-h', '-t', 'all', '-j', ids, '-o', '%i|%T|%M|%R'], {
    encoding: 'utf8',
  });
  const seen = new Set<string>();
  if (q.error || q.status !== 0)
    notes.push(`squeue: ${q.error ? (q.error as Error).message : (q.stderr || '').trim().split('\n')[0]}`);
  else
    for (const line of q.stdout.split('\n').filter((l) => l.trim())) {
      const [jobId, state, elapsed, reason] = line.split('|');
      seen.add(jobId);
      states.push({ jobId, state, source: 'squeue', elapsed, reason });
    }
  const a = spawnSync(commands.sacct ?? 'sacct', ['-n', '-P', '-X', '-j', ids, '-o', 'JobID,State,ExitCode,Elapsed'], {
    encoding: 'utf8',
  });
  if (a.error || a.status !== 0)
    notes.push(
      `sacct: ${a.error ? (a.error as Error).message : (a.stderr || '').trim().split('\n')[0] || `exit ${a.status}`}`,
    );
  else
    for (const line of a.stdout.split('\n').filter((l) => l.trim())) {
      const [jobId, state, exitCode, elapsed] = line.split('|');
      if (seen.has(jobId)) continue;
      states.push({ jobId, state: state.split(' ')[0], source: 'sacct', exitCode, elapsed });
    }
  const counts: Record<string, number> = {};
  for (const s of states) counts[s.state] = (counts[s.state] ?? 0) + countRange(s.jobId);
  return { jobs, states, counts, notes };
}
