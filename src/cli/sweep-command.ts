/**
 * `bigstep sweep <plan|run|collect|local|slurm|status|k8s>`: sweeps as index-addressable task
 * lists (src/sweep/, docs/cluster.md). Exit codes as for the other commands: 0 ok, 1 a task failed
 * (or, for collect --check, a task is not complete), 2 misuse, 130 interrupted.
 */
import * as os from 'node:os';
import * as path from 'node:path';

import { showBlasNotice } from '../native/binding.js';
import { writeReport } from '../report/report.js';
import { RunFailedError } from '../run/run.js';
import {
  collectSweep,
  formatCounts,
  loadTasks,
  planSweep,
  runLocal,
  runTask,
  slurmStatus,
  submitSlurm,
  submittedJobs,
  taskDir,
  taskStates,
  writeK8sManifest,
  writeSlurmScript,
  SweepSpecError,
  type SweepTasks,
} from '../sweep/index.js';
import { collectBenchSweep, isBenchSweep, loadBenchSweep, taskResultFile } from '../bench/sweep.js';
import { createProgress } from '../util/progress.js';
import { benchCommand } from './bench-command.js';
import { dataParallelWorld } from './data-parallel.js';
import { UsageError, intOption, parseCommandArgs } from './args.js';
import { EXIT, INTERRUPT_GRACE_MS, failureLine, seconds, show, withInterrupts, type Command } from './common.js';

const SUBCOMMANDS: Record<string, { usage: string; summary: string }> = {
  plan: {
    usage: 'bigstep sweep plan SPEC --out DIR [--force]',
    summary: 'expand a sweep spec (YAML/JSON) into DIR/tasks.json',
  },
  run: {
    usage: 'bigstep sweep run DIR --task I [--data-parallel]',
    summary: 'run task I into DIR/runs/ (a finished task exits at once)',
  },
  collect: {
    usage: 'bigstep sweep collect DIR [--check] [--report]',
    summary: 'merge every task into DIR/results.csv + results.jsonl (--report: also DIR/report.html)',
  },
  local: {
    usage: 'bigstep sweep local DIR [--concurrency N] [--tasks LIST|unfinished]',
    summary: 'run the tasks here, N processes at once (default: cores), one BLAS thread each',
  },
  slurm: {
    usage:
      'bigstep sweep slurm DIR [--max-parallel K] [--cpus 1] [--threads 1] [--mem 2G] [--time 00:30:00] [--partition P] [--account A] ' +
      '[--ntasks N [--srun-mpi pmix]] [--submit] [--tasks LIST|unfinished]',
    summary: 'write DIR/slurm/array.sbatch (a job array); --submit runs sbatch and records the job id',
  },
  status: {
    usage: 'bigstep sweep status DIR',
    summary: 'task counts from the run directories, plus squeue/sacct state of submitted jobs',
  },
  k8s: {
    usage:
      'bigstep sweep k8s DIR [--image IMG] [--pvc CLAIM] [--mount PATH] [--sub-path P] [--parallelism N] [--cpu 1] [--memory 2Gi]',
    summary: 'write DIR/k8s/job.yaml, a Kubernetes Indexed Job (JOB_COMPLETION_INDEX = task)',
  },
};

/** "0-3,7,9" or "unfinished" → indices (checked against the sweep). */
async function parseTaskList(value: string, dir: string, t: SweepTasks, cmd: string): Promise<number[]> {
  if (value === 'unfinished') {
    const { states } = await taskStates(dir, t);
    return t.tasks.filter((_, i) => states[i] !== 'finished' && states[i] !== 'diverged').map((x) => x.index);
  }
  const out: number[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m)
      throw new UsageError(`bigstep sweep ${cmd}: --tasks must be "unfinished" or a list like 0-3,7 (got "${value}")`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b >= t.count)
      throw new UsageError(`bigstep sweep ${cmd}: --tasks ${part.trim()} is outside 0-${t.count - 1}`);
    for (let i = a; i <= b; i++) if (!out.includes(i)) out.push(i);
  }
  return out;
}

function oneDir(cmd: string, args: string[], options: Parameters<typeof parseCommandArgs>[2]) {
  return parseCommandArgs(`sweep ${cmd}`, args, options, { min: 1, max: 1, names: 'the sweep directory' });
}

async function planCmd(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'sweep plan',
    args,
    { out: { type: 'string' }, force: { type: 'boolean', default: false } },
    {
      min: 1,
      max: 1,
      names: 'the sweep spec (a .yaml or .json file)',
    },
  );
  if (!values.out) throw new UsageError('bigstep sweep plan: --out DIR is required (the sweep directory)');
  const r = await planSweep(positionals[0], values.out, { force: values.force });
  const t = r.tasks;
  const what =
    r.action === 'unchanged'
      ? 'already planned (same tasks); nothing to do'
      : r.action === 'replaced'
        ? 'replaced the task list'
        : 'planned';
  console.log(
    `sweep ${t.name}: ${what}: ${t.count} tasks of ${t.experiment} (${t.preset}), sweep id ${t.sweepId} → ${show(r.file)}`,
  );
  if (t.params.length)
    console.log(`  swept: ${t.params.join(', ')}${t.spec.seeds ? `; seeds ${t.spec.seeds.join(', ')}` : ''}`);
  if (t.newFields?.length)
    console.log(
      `  note: fields the ${t.preset} preset does not set (optional fields, or a typo): ${t.newFields.join(', ')}`,
    );
  console.log(
    `  next: bigstep sweep local ${show(values.out)}   or   bigstep sweep slurm ${show(values.out)} --submit`,
  );
  return EXIT.ok;
}

async function runCmd(args: string[]): Promise<number> {
  const { values, positionals } = oneDir('run', args, {
    task: { type: 'string' },
    'data-parallel': { type: 'boolean', default: false },
  });
  if (values.task === undefined) throw new UsageError('bigstep sweep run: --task I is required (0-based task index)');
  const index = intOption('sweep run', 'task', values.task) as number;
  const dir = positionals[0];
  if (isBenchSweep(dir)) {
    // A bench sweep's task: `bigstep bench` with the sweep's options, labelled with its node type.
    const s = await loadBenchSweep(dir);
    if (index >= s.count)
      throw new UsageError(
        `bigstep sweep run: --task must be in [0, ${s.count - 1}] (the bench sweep has ${s.count} tasks; got ${index})`,
      );
    return benchCommand.run([...s.benchArgs, '--label', s.targets[index].label, '--out', taskResultFile(dir, index)]);
  }
  // One task split over the ranks of an MPI job (srun -n N from the array script of --ntasks N).
  const asked = (values['data-parallel'] as unknown) === true; // oneDir's values are typed as strings
  const experiment = asked ? (await loadTasks(dir)).experiment : '';
  const world = dataParallelWorld('bigstep sweep run', asked, experiment);
  const quiet = world !== null && world.rank > 0; // rank 0 speaks for the task
  // Progress of a long task: a line at most every 30 s (task logs stay short; no bar, no final line).
  let last = performance.now();
  const progress = (done: number, total: number, label?: string): void => {
    const now = performance.now();
    if (quiet || now - last < 30000) return;
    last = now;
    console.log(`task ${index}: ${done} / ${total}${label ? ` (${label})` : ''}`);
  };
  try {
    const outcome = await withInterrupts((signal) =>
      runTask(dir, index, {
        signal,
        progress,
        onStart: (d) => {
          showBlasNotice();
          console.log(
            `task ${index}: running in ${show(d)}${world ? ` (data parallel over ${world.size} MPI ranks)` : ''}`,
          );
        },
        dataParallel: world !== null,
      }),
    );
    if (quiet) return outcome.status === 'aborted' ? EXIT.aborted : EXIT.ok;
    if (outcome.skipped) {
      console.log(`task ${index}: already ${outcome.status} in ${show(outcome.dir)}; nothing to do`);
      return EXIT.ok;
    }
    if (outcome.status === 'aborted') {
      console.error(`bigstep: task ${index} aborted; rerun it to resume (${show(outcome.dir)})`);
      return EXIT.aborted;
    }
    console.log(`task ${index}: ${outcome.status} in ${seconds(outcome.summary.wallSeconds)} → ${show(outcome.dir)}`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof RunFailedError) {
      console.error(`${quiet ? `rank ${world?.rank}: ` : ''}${failureLine(`task ${index}`, e)}`);
      return EXIT.failed;
    }
    throw e;
  }
}

async function collectCmd(args: string[]): Promise<number> {
  const { values, positionals } = oneDir('collect', args, {
    check: { type: 'boolean', default: false },
    report: { type: 'boolean', default: false },
  });
  const dir = positionals[0];
  if (isBenchSweep(dir)) {
    if (values.report)
      throw new UsageError(
        'bigstep sweep collect: --report is for experiment sweeps (a bench sweep writes bench-comparison.{csv,md,svg,png})',
      );
    const b = await collectBenchSweep(dir);
    console.log(b.table);
    console.log(`  → ${show(b.files.csv)}, ${show(b.files.md)}, ${show(b.files.png)}`);
    return values.check && b.missing.length > 0 ? EXIT.failed : EXIT.ok;
  }
  const r = await collectSweep(dir);
  console.log(`sweep ${r.tasks.name}: ${formatCounts(r.counts)}`);
  console.log(`  → ${show(r.files.csv)}, ${show(r.files.jsonl)}`);
  for (const row of r.rows.filter((x) => x.status === 'failed').slice(0, 5))
    console.error(
      `  task ${row.task} failed: ${(row.error ?? '').split('\n')[0]} (${show(taskDir(dir, r.tasks.tasks[row.task]))})`,
    );
  if (values.report) {
    const runs = r.rows
      .filter((x) => x.status === 'finished' || x.status === 'diverged')
      .map((x) => taskDir(dir, r.tasks.tasks[x.task]));
    if (runs.length === 0) console.error('bigstep sweep collect: no complete task yet; no report written');
    else {
      const rep = await writeReport(dir, { runs, title: `bigstep sweep ${r.tasks.name}` });
      console.log(`  report: ${show(rep.file)} (${rep.runs.length} runs, ${rep.figures} figures)`);
    }
  }
  const complete = r.counts.finished + r.counts.diverged;
  if (values.check && complete !== r.counts.total) {
    console.error(`bigstep sweep collect: ${r.counts.total - complete} of ${r.counts.total} tasks are not complete`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

async function localCmd(args: string[]): Promise<number> {
  const { values, positionals } = oneDir('local', args, { concurrency: { type: 'string' }, tasks: { type: 'string' } });
  const dir = positionals[0];
  const t = await loadTasks(dir);
  const concurrency = intOption('sweep local', 'concurrency', values.concurrency, 1) ?? os.availableParallelism();
  const indices = values.tasks ? await parseTaskList(values.tasks, dir, t, 'local') : undefined;
  const todo = indices?.length ?? t.count;
  const t0 = performance.now();
  const before = await taskStates(dir, t);
  let complete = indices ? 0 : before.counts.finished + before.counts.diverged;
  console.log(
    `sweep ${t.name}: ${todo} task${todo === 1 ? '' : 's'} on ${concurrency} process${concurrency === 1 ? '' : 'es'} (one BLAS thread each); logs in ${show(path.join(dir, 'logs'))}`,
  );
  const bar = createProgress({ label: `sweep ${t.name}`, total: todo, unit: 'items', intervalMs: 5000 });
  bar.update(complete);
  const failed: number[] = [];
  let pool: ReturnType<typeof runLocal> | undefined;
  let stopping: AbortSignal | undefined;
  const outcomeInterrupted = (): boolean => Boolean(stopping?.aborted);
  const outcome = await withInterrupts(
    async (signal) => {
      stopping = signal;
      pool = runLocal(dir, {
        concurrency,
        tasks: indices,
        signal,
        onEvent: (e) => {
          if (e.type === 'skip' && indices) bar.update(++complete);
          if (e.type === 'exit') {
            if (e.code === 0) bar.update(++complete);
            else if (!outcomeInterrupted()) {
              failed.push(e.index);
              const how = e.signal
                ? `was killed by ${e.signal}`
                : e.code === 1
                  ? 'failed'
                  : `exited with code ${e.code}`;
              process.stderr.write(`\nbigstep: task ${e.index} ${how} (log ${show(e.log)}); a rerun resumes it\n`);
            }
          }
        },
      });
      return pool.done;
    },
    () => pool?.kill(),
    // The tasks stop themselves within INTERRUPT_GRACE_MS (+0.1 s native backstop); wait for them.
    INTERRUPT_GRACE_MS + 300,
  );
  bar.done();
  const wall = (performance.now() - t0) / 1000;
  const r = await collectSweep(dir);
  console.log(`sweep ${t.name}: ${formatCounts(r.counts)} (${seconds(wall)}) → ${show(r.files.csv)}`);
  if (outcome.interrupted) {
    console.error('bigstep: sweep interrupted; run the same command again to continue (complete tasks are skipped)');
    return EXIT.aborted;
  }
  const selected = indices ?? t.tasks.map((x) => x.index);
  const notComplete = selected.filter((i) => r.rows[i].status !== 'finished' && r.rows[i].status !== 'diverged');
  if (notComplete.length > 0) {
    console.error(
      `bigstep: ${notComplete.length} task${notComplete.length === 1 ? ' is' : 's are'} not complete (${notComplete.slice(0, 10).join(', ')}${notComplete.length > 10 ? ', …' : ''}); rerun to retry them`,
    );
    return EXIT.failed;
  }
  return EXIT.ok;
}

async function slurmCmd(args: string[]): Promise<number> {
  const { values, positionals } = oneDir('slurm', args, {
    'max-parallel': { type: 'string' },
    cpus: { type: 'string' },
    threads: { type: 'string' },
    mem: { type: 'string' },
    time: { type: 'string' },
    partition: { type: 'string' },
    account: { type: 'string' },
    'job-name': { type: 'string' },
    ntasks: { type: 'string' },
    'srun-mpi': { type: 'string' },
    submit: { type: 'boolean', default: false },
    tasks: { type: 'string' },
  });
  const dir = positionals[0];
  const t = await loadTasks(dir);
  const maxParallel = intOption('sweep slurm', 'max-parallel', values['max-parallel'], 1);
  const opts = {
    maxParallel,
    cpus: intOption('sweep slurm', 'cpus', values.cpus, 1),
    threads: intOption('sweep slurm', 'threads', values.threads, 1),
    mem: values.mem,
    time: values.time,
    partition: values.partition,
    account: values.account,
    jobName: values['job-name'],
    ntasks: intOption('sweep slurm', 'ntasks', values.ntasks, 1),
    srunMpi: values['srun-mpi'],
  };
  // Every flag is checked before anything is written: a failing command leaves no new files.
  if (values.tasks && !values.submit)
    throw new UsageError('bigstep sweep slurm: --tasks only makes sense with --submit');
  const indices = values.tasks ? await parseTaskList(values.tasks, dir, t, 'slurm') : undefined;
  let file: string;
  try {
    file = await writeSlurmScript(dir, t, opts);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`bigstep sweep slurm: --${e.message}`);
    throw e;
  }
  console.log(`sweep ${t.name}: ${t.count} tasks → ${show(file)} (logs in ${show(path.join(dir, 'slurm', 'logs'))})`);
  if (!values.submit) {
    console.log(`  submit: sbatch ${show(file)}   (or add --submit)`);
    return EXIT.ok;
  }
  if (indices && indices.length === 0) {
    console.log('  nothing to submit: every selected task is complete');
    return EXIT.ok;
  }
  const jobs = await submitSlurm(dir, t, { indices, maxParallel });
  for (const j of jobs)
    console.log(`  submitted job ${j.jobId} (--array=${j.array}${j.offset ? `, tasks offset ${j.offset}` : ''})`);
  console.log(`  status: bigstep sweep status ${show(dir)}`);
  return EXIT.ok;
}

async function statusCmd(args: string[]): Promise<number> {
  const { positionals } = oneDir('status', args, {});
  const dir = positionals[0];
  const { tasks: t, counts } = await taskStates(dir);
  console.log(`sweep ${t.name} (${t.experiment}, sweep id ${t.sweepId}): ${formatCounts(counts)}`);
  const jobs = await submittedJobs(dir);
  if (jobs.length > 0) {
    const s = slurmStatus(jobs);
    console.log(`slurm jobs: ${jobs.map((j) => `${j.jobId} (--array=${j.array})`).join(', ')}`);
    const entries = Object.entries(s.counts);
    console.log(
      `  array elements known to Slurm: ${entries.length ? entries.map(([k, v]) => `${v} ${k}`).join(', ') : 'none (finished and no accounting)'}`,
    );
    for (const st of s.states.filter((x) => x.source === 'squeue' && x.state !== 'COMPLETED').slice(0, 20))
      console.log(`  ${st.jobId.padEnd(16)} ${st.state.padEnd(10)} ${st.elapsed ?? ''} ${st.reason ?? ''}`.trimEnd());
    for (const n of s.notes) console.log(`  (${n})`);
  }
  return EXIT.ok;
}

async function k8sCmd(args: string[]): Promise<number> {
  const { values, positionals } = oneDir('k8s', args, {
    image: { type: 'string' },
    pvc: { type: 'string' },
    mount: { type: 'string' },
    'sub-path': { type: 'string' },
    parallelism: { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    threads: { type: 'string' },
    namespace: { type: 'string' },
  });
  const dir = positionals[0];
  const t = await loadTasks(dir);
  let file: string;
  try {
    file = await writeK8sManifest(dir, t, {
      image: values.image,
      pvc: values.pvc,
      mountPath: values.mount,
      subPath: values['sub-path'],
      parallelism: intOption('sweep k8s', 'parallelism', values.parallelism, 1),
      cpu: values.cpu,
      memory: values.memory,
      threads: intOption('sweep k8s', 'threads', values.threads, 1),
      namespace: values.namespace,
    });
  } catch (e) {
    if (e instanceof RangeError)
      throw new UsageError(
        `bigstep sweep k8s: --${e.message.replace(/^mountPath/, 'mount').replace(/^subPath/, 'sub-path')}`,
      );
    throw e;
  }
  console.log(
    `sweep ${t.name}: ${t.count} tasks → ${show(file)} (Indexed Job; submit with kubectl apply -f ${show(file)})`,
  );
  return EXIT.ok;
}

const HANDLERS: Record<string, (args: string[]) => Promise<number>> = {
  plan: planCmd,
  run: runCmd,
  collect: collectCmd,
  local: localCmd,
  slurm: slurmCmd,
  status: statusCmd,
  k8s: k8sCmd,
};

function usage(): string {
  return [
    'usage: bigstep sweep <subcommand> ...   (docs/cluster.md)',
    '',
    ...Object.entries(SUBCOMMANDS).map(([, s]) => `  ${s.usage}\n      ${s.summary}`),
  ].join('\n');
}

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'sweeps as task lists: plan, run one task, collect; run them locally, on Slurm or Kubernetes',
  usage: 'bigstep sweep plan|run|collect|local|slurm|status|k8s ...',
  async run(args) {
    const [sub, ...rest] = args;
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
      (sub ? console.log : console.error)(usage());
      return sub ? EXIT.ok : EXIT.usage;
    }
    const handler = HANDLERS[sub];
    if (!handler)
      throw new UsageError(`bigstep sweep: unknown subcommand "${sub}" (${Object.keys(HANDLERS).join(', ')})`);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(`usage: ${SUBCOMMANDS[sub].usage}\n\n${SUBCOMMANDS[sub].summary}`);
      return EXIT.ok;
    }
    const dir = rest.find((a) => !a.startsWith('-'));
    if (dir && ['local', 'slurm', 'k8s', 'status'].includes(sub) && isBenchSweep(dir))
      throw new UsageError(
        `bigstep sweep ${sub}: ${dir} is a bench sweep: submit it with bigstep bench --sweep ${dir} ... --submit (or sh ${dir}/slurm/submit.sh); run one task with bigstep sweep run ${dir} --task I`,
      );
    try {
      return await handler(rest);
    } catch (e) {
      // A bad spec / tasks.json / task index is misuse: one line, exit code 2.
      if (e instanceof SweepSpecError || e instanceof RangeError)
        throw new UsageError(`bigstep sweep ${sub}: ${(e as Error).message}`);
      throw e;
    }
  },
};
