/**
 * `bigstep bench`: CPU benchmark of this node (src/bench/), or with --sweep, a cluster sweep of it
 * (one task per node type, src/bench/sweep.ts). Misuse is a UsageError (exit 2); an interrupted
 * run exits 130 and writes no JSON (the report is written atomically, once, at the end).
 */
import * as os from 'node:os';

import { allCases, DEFAULT_CASES, QUICK_CASES } from '../bench/cases.js';
import { runBench, threadsFor } from '../bench/run.js';
import { benchTargets, planBenchSweep, submitBenchSweep } from '../bench/sweep.js';
import { benchTable } from '../bench/table.js';
import { toJson } from '../run/json.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createProgress } from '../util/progress.js';
import { UsageError, parseCommandArgs } from './args.js';
import { EXIT, seconds as showSeconds, show, withInterrupts, type Command } from './common.js';

const DEFAULT_OUT = 'bigstep-bench.json';

const options = {
  quick: { type: 'boolean', default: false },
  cases: { type: 'string' },
  threads: { type: 'string' },
  seconds: { type: 'string' },
  out: { type: 'string' },
  label: { type: 'string' },
  'compare-pytorch': { type: 'boolean', default: false },
  list: { type: 'boolean', default: false },
  sweep: { type: 'string' },
  partition: { type: 'string' },
  nodelist: { type: 'string' },
  constraint: { type: 'string' },
  time: { type: 'string' },
  mem: { type: 'string' },
  account: { type: 'string' },
  submit: { type: 'boolean', default: false },
} as const;

const USAGE =
  'bigstep bench [--quick] [--cases A,B,...] [--threads 1,2,...] [--seconds S] [--out FILE] [--label NAME] [--compare-pytorch] [--list]\n' +
  '       bigstep bench --sweep DIR [--partition P1,P2] [--nodelist N1,N2] [--constraint C1,C2] [--time T] [--mem M] [--account A] [--submit] [bench options]\n' +
  '  --quick: 4 cases, about a minute; default: every case but the paper-width ResNet and the largest HVP (a few minutes)\n' +
  '  --threads: thread counts to measure (default 1 and every core); --seconds: timed work per measurement (default 5, --quick 1.5)\n' +
  `  --out: the JSON report (default ${DEFAULT_OUT}); --compare-pytorch: also time PyTorch on each case when it is installed\n` +
  '  --sweep DIR: plan one Slurm task per --partition / --nodelist / --constraint value (each on a whole node), then\n' +
  '               bigstep sweep collect DIR gathers them into one table and plot (docs/cluster.md)';

function list(name: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new UsageError(
      `bigstep bench: --${name} must be a comma-separated list without empty items (got "${value}")`,
    );
  return items;
}

function caseList(value: string | undefined, quick: boolean): string[] {
  if (value === undefined) return quick ? QUICK_CASES : DEFAULT_CASES;
  if (value === 'all') return allCases.map((c) => c.name);
  const names = list('cases', value);
  const unknown = names.filter((n) => !allCases.some((c) => c.name === n));
  if (unknown.length)
    throw new UsageError(
      `bigstep bench: unknown case${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} (cases: ${allCases.map((c) => c.name).join(', ')}, or all)`,
    );
  return [...new Set(names)];
}

function threadList(value: string | undefined): number[] {
  const cores = os.availableParallelism();
  if (value === undefined) return [...new Set([1, cores])];
  return [
    ...new Set(
      list('threads', value).map((t) => {
        if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 256)
          throw new UsageError(`bigstep bench: --threads must be integers in [1, 256] (got "${t}")`);
        return Number(t);
      }),
    ),
  ].sort((a, b) => a - b);
}

async function planSweep(values: Record<string, unknown>, args: string[]): Promise<number> {
  const dir = values.sweep as string;
  if (dir.length === 0) throw new UsageError('bigstep bench: --sweep must name a directory');
  if (values.out !== undefined || values.label !== undefined)
    throw new UsageError(
      'bigstep bench: --out and --label are set per task in a sweep (DIR/results/task-<i>.json, the node type)',
    );
  // What every task runs: the bench options as given, without the sweep's own.
  const sweepOnly = new Set(['sweep', 'partition', 'nodelist', 'constraint', 'time', 'mem', 'account', 'submit']);
  const benchArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.replace(/^--/, '').split('=')[0];
    const takesValue = (options as Record<string, { type: string }>)[name]?.type === 'string' && !a.includes('=');
    if (!sweepOnly.has(name)) benchArgs.push(a, ...(takesValue ? [args[i + 1]] : []));
    if (takesValue) i++;
  }
  let targets;
  try {
    targets = benchTargets({
      partition: values.partition === undefined ? undefined : list('partition', values.partition as string),
      nodelist: values.nodelist === undefined ? undefined : list('nodelist', values.nodelist as string),
      constraint: values.constraint === undefined ? undefined : list('constraint', values.constraint as string),
    });
    const { script } = await planBenchSweep(dir, targets, benchArgs, {
      time: values.time as string | undefined,
      mem: values.mem as string | undefined,
      account: values.account as string | undefined,
    });
    console.log(
      `bench sweep: ${targets.length} task${targets.length === 1 ? '' : 's'} (${targets.map((t) => t.label).join(', ')}) → ${show(script)}`,
    );
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`bigstep bench --sweep: --${e.message.replace(/^--/, '')}`);
    throw e;
  }
  if (!values.submit) {
    console.log(
      `  submit: sh ${show(`${dir}/slurm/submit.sh`)}   (or add --submit); then: bigstep sweep collect ${show(dir)}`,
    );
    return EXIT.ok;
  }
  for (const j of await submitBenchSweep(dir))
    console.log(`  task ${j.task} (${targets[j.task].label}): submitted job ${j.jobId}`);
  console.log(`  when they are done: bigstep sweep collect ${show(dir)}`);
  return EXIT.ok;
}

export const benchCommand: Command = {
  name: 'bench',
  summary:
    'benchmark this CPU (samples/s, GFLOP/s, share of the FMA peak and sgemm ceiling, peak RSS); --sweep: one task per node type on Slurm',
  usage: USAGE,
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      console.log(`usage: ${USAGE}\n\n${this.summary}`);
      return EXIT.ok;
    }
    const { values } = parseCommandArgs('bench', args, options, { min: 0, max: 0, names: '' });
    if (values.list) {
      for (const c of allCases)
        console.log(
          `${c.name.padEnd(36)} ${c.kind}${QUICK_CASES.includes(c.name) ? ' (quick)' : DEFAULT_CASES.includes(c.name) ? ' (default)' : ''}`,
        );
      return EXIT.ok;
    }
    const quick = Boolean(values.quick);
    const cases = caseList(values.cases, quick);
    const threads = threadList(values.threads);
    const secs = values.seconds === undefined ? (quick ? 1.5 : 5) : Number(values.seconds);
    if (!(secs > 0 && secs <= 600))
      throw new UsageError(`bigstep bench: --seconds must be a number in (0, 600] (got "${values.seconds}")`);
    if (values.sweep !== undefined) return planSweep(values, args);
    for (const k of ['partition', 'nodelist', 'constraint', 'time', 'mem', 'account', 'submit'] as const)
      if (values[k] !== undefined && values[k] !== false)
        throw new UsageError(`bigstep bench: --${k} only applies with --sweep DIR`);
    const out = values.out ?? DEFAULT_OUT;
    if (out.length === 0) throw new UsageError('bigstep bench: --out must not be empty');

    const total = cases.reduce(
      (n, name) =>
        n +
        threadsFor(
          allCases.find((c) => c.name === name)!,
          threads,
        ).length,
      0,
    );
    console.error(
      `bigstep bench: ${total} measurement${total === 1 ? '' : 's'} of ${showSeconds(secs)} each (${cases.length} cases × threads ${threads.join(', ')}); report → ${show(out)}`,
    );
    const t0 = performance.now();
    // A bar with ETA on a terminal (the project's progress display); one line per measurement in logs.
    let bar: ReturnType<typeof createProgress> | undefined;
    const report = await withInterrupts(async (signal) => {
      try {
        return await runBench({
          cases,
          threads,
          seconds: secs,
          peakSeconds: quick ? 0.3 : 1,
          comparePytorch: Boolean(values['compare-pytorch']),
          label: values.label,
          signal,
          onProgress: (i, n, what) => {
            if (process.stderr.isTTY)
              (bar ??= createProgress({ label: 'bigstep bench', total: n, unit: 'items' })).update(i);
            else if (i < n)
              console.error(`bench [${i + 1}/${n}] ${what} (${showSeconds((performance.now() - t0) / 1000)} so far)`);
          },
          onWarning: (w) => console.error(`${bar ? '\n' : ''}bigstep bench: warning: ${w}`),
        });
      } catch (e) {
        if (signal.aborted) return undefined;
        throw e;
      } finally {
        bar?.done();
      }
    });
    if (!report) {
      console.error(`bigstep: bench interrupted; nothing written (${show(out)} is unchanged)`);
      return EXIT.aborted;
    }
    await writeFileAtomic(out, `${toJson(report, 1)}\n`, { mkdir: true });
    console.log(benchTable(report));
    console.log(`\nreport: ${show(out)} (${report.rows.length} rows, ${showSeconds(report.wallSeconds)})`);
    return report.rows.length === total ? EXIT.ok : EXIT.failed;
  },
};
