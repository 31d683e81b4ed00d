/**
 * A sweep directory on disk and running one of its tasks:
 *
 *   DIR/tasks.json          the task list (`planSweep`), written once; re-planning the same spec is a no-op
 *   DIR/runs/<run>/         one run directory per task (src/run/: config, env, metrics, result, summary)
 *   DIR/logs/task-<i>.log   output of each task under the local executor
 *   DIR/slurm/, DIR/k8s/    job scripts / manifests (src/sweep/slurm.ts, k8s.ts)
 *   DIR/results.csv, DIR/results.jsonl   merged results (`collectSweep`)
 *
 * `runTask(dir, i)` runs task i with `runExperiment` into DIR/runs/. It is idempotent: a task whose
 * run directory holds a complete summary (finished / diverged) returns at once; an interrupted one
 * (killed, aborted, failed) resumes in the same directory from its checkpoints (src/run/resume.ts).
 * Two processes never run the same task at once (runExperiment's lock file; a lock of a dead
 * process is taken over).
 */
import * as path from 'node:path';

import { findExperiment, type RegisteredExperiment } from '../experiments/registry.js';
import { packageVersion } from '../run/env.js';
import { toJson } from '../run/json.js';
import { planRun, readSummary, runExperiment, type ProgressSink, type RunOutcome } from '../run/run.js';
import { COMPLETE_STATUSES } from '../run/schema.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatValue } from '../util/format.js';
import { PathError, makeDir, readTextFile } from '../util/safe-fs.js';
import { SweepSpecError, TASKS_SCHEMA, expandSweep, readSweepSpec, type SweepTask, type SweepTasks } from './spec.js';

export const TASKS_FILE = 'tasks.json';
export const RUNS_DIR = 'runs';

export interface PlanOptions {
  /** Replace an existing, different tasks.json (the run directories of the old plan stay). */
  force?: boolean;
}

export interface PlanOutcome {
  tasks: SweepTasks;
  file: string;
  /** 'written' (new), 'unchanged' (same plan already there) or 'replaced' (--force). */
  action: 'written' | 'unchanged' | 'replaced';
}

/** Expands the spec file into DIR/tasks.json (see the module comment). */
export async function planSweep(specFile: string, dir: string, options: PlanOptions = {}): Promise<PlanOutcome> {
  const spec = await readSweepSpec(specFile);
  const tasks = expandSweep(spec, { file: specFile });
  if (tasks.count === 0) throw new SweepSpecError(`${specFile}: the sweep has no tasks`);
  const file = path.join(dir, TASKS_FILE);
  const existing = await loadTasks(dir).catch(() => undefined);
  let action: PlanOutcome['action'] = 'written';
  if (existing) {
    if (existing.sweepId === tasks.sweepId) return { tasks: existing, file, action: 'unchanged' };
    if (!options.force)
      throw new SweepSpecError(
        `${file} already holds a different sweep (${existing.name}, ${existing.count} tasks, id ${existing.sweepId}; this spec gives ` +
          `${tasks.count} tasks, id ${tasks.sweepId}). Plan into another directory, or pass --force to replace the task list ` +
          '(finished runs of tasks that stay the same are kept and skipped)',
      );
    action = 'replaced';
  }
  await makeDir(path.join(dir, RUNS_DIR), 'sweep runs directory');
  await writeFileAtomic(file, `${toJson(tasks, 1)}\n`);
  return { tasks, file, action };
}

/** Reads and checks DIR/tasks.json. */
export async function loadTasks(dir: string): Promise<SweepTasks> {
  const file = path.join(dir, TASKS_FILE);
  let text: string;
  try {
    text = await readTextFile(file, 'tasks file');
  } catch (e) {
    if (
      e instanceof PathError &&
      e.code === 'ERR_BIGSTEP_READ' &&
      (e.cause as NodeJS.ErrnoException)?.code === 'ENOENT'
    )
      throw new SweepSpecError(`${file} not found: plan the sweep first (bigstep sweep plan SPEC --out ${dir})`);
    if (e instanceof PathError) throw new SweepSpecError(`${file}: cannot read the task list: it ${e.reason}`);
    throw e;
  }
  let t: SweepTasks;
  try {
    t = JSON.parse(text) as SweepTasks;
  } catch (e) {
    throw new SweepSpecError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (t?.schema !== TASKS_SCHEMA)
    throw new SweepSpecError(`${file}: schema must be "${TASKS_SCHEMA}" (got ${JSON.stringify(t?.schema)})`);
  if (!Array.isArray(t.tasks) || t.tasks.length !== t.count)
    throw new SweepSpecError(`${file}: tasks must be a list of count = ${t.count} tasks`);
  t.tasks.forEach((task, i) => {
    const ok =
      typeof task === 'object' &&
      task !== null &&
      task.index === i &&
      typeof task.run === 'string' &&
      /^[A-Za-z0-9_.-]+$/.test(task.run) &&
      !task.run.startsWith('.');
    if (!ok)
      throw new SweepSpecError(
        `${file}: tasks[${i}] must be a task object with index ${i} and a run directory name (got ${formatValue(task)})`,
      );
  });
  return t;
}

/** The registered experiment of a sweep; with `figures: false`, a copy whose figures() returns none. */
export function sweepExperiment(t: SweepTasks): RegisteredExperiment {
  const entry = findExperiment(t.experiment);
  if (!entry)
    throw new SweepSpecError(`tasks.json: experiment "${t.experiment}" is not registered in this build of bigstep`);
  if (t.figures) return entry;
  return { ...entry, definition: { ...entry.definition, figures: async () => [] } };
}

export function taskDir(dir: string, task: SweepTask): string {
  return path.join(dir, RUNS_DIR, task.run);
}

/** Task `index` of a loaded sweep, or a RangeError naming the valid range. */
export function taskAt(t: SweepTasks, index: number): SweepTask {
  if (!Number.isSafeInteger(index) || index < 0 || index >= t.count)
    throw new RangeError(
      `task must be an integer in [0, ${t.count - 1}] (the sweep "${t.name}" has ${t.count} tasks; got ${index})`,
    );
  return t.tasks[index];
}

/** Whether task i's run directory holds a complete run (finished or diverged). */
export async function taskComplete(dir: string, task: SweepTask): Promise<boolean> {
  const s = await readSummary(taskDir(dir, task));
  return Boolean(s && COMPLETE_STATUSES.includes(s.status) && s.id === task.id);
}

export interface RunTaskOptions {
  signal?: AbortSignal;
  progress?: ProgressSink;
  onStart?: (dir: string) => void;
  /** This process is one rank of an MPI job running the task data-parallel (runExperiment's `dataParallel`). */
  dataParallel?: boolean;
}

/**
 * Runs task `index` of the sweep in `dir` (see the module comment). Rejects with RunFailedError if
 * the experiment fails (summary status 'failed' is written), with RangeError for a bad index, and
 * with SweepSpecError if tasks.json was planned by another bigstep version (run ids would differ).
 */
export async function runTask(
  dir: string,
  index: number,
  options: RunTaskOptions = {},
): Promise<RunOutcome & { task: SweepTask }> {
  const t = await loadTasks(dir);
  const task = taskAt(t, index);
  const entry = sweepExperiment(t);
  const out = path.join(dir, RUNS_DIR);
  const plan = planRun(entry, task.config, { out, scale: t.preset });
  if (plan.run !== task.run)
    throw new SweepSpecError(
      `${path.join(dir, TASKS_FILE)}: task ${index} was planned as ${task.run} (bigstep ${t.packageVersion}) but this bigstep ` +
        `(${packageVersion()}) resolves it to ${plan.run}; re-plan the sweep with this version (bigstep sweep plan SPEC --out ${dir} --force)`,
    );
  const outcome = await runExperiment(entry, task.config, {
    out,
    scale: t.preset,
    signal: options.signal,
    progress: options.progress,
    onStart: (p) => options.onStart?.(p.dir),
    ...(options.dataParallel ? { dataParallel: true } : {}),
  });
  return { ...outcome, task };
}
