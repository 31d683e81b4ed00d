/**
 * `bigstep bench` across a cluster: one bench task per node type, run as Slurm job arrays, then
 * gathered into one comparison (node type × case: samples/s and share of the FMA peak).
 *
 *   DIR/bench-sweep.json        the targets (one per --partition / --nodelist / --constraint value)
 *                               and the bench options every task runs with
 *   DIR/slurm/array.sbatch      the array script: element i runs `bigstep sweep run DIR --task i`,
 *                               the whole node (--exclusive), log DIR/slurm/logs/%A_%a.out
 *   DIR/slurm/jobs.jsonl        one line per submission (as for experiment sweeps)
 *   DIR/results/task-<i>.json   task i's bench report (written atomically when the task ends)
 *   DIR/bench-comparison.{csv,md,svg,png}   `bigstep sweep collect DIR`
 *
 * Slurm takes one placement per submission, so task i is submitted as the one-element array
 * `sbatch --array=i --partition=… --nodelist=… --constraint=… array.sbatch`: the flags pass
 * through unchanged, and every element runs the same script.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';

import type { TopLevelSpec } from 'vega-lite';

import { renderChart } from '../report/plot.js';
import { packageVersion } from '../run/env.js';
import { toJson } from '../run/json.js';
import { cliMainPath } from '../sweep/local.js';
import { writeFileAtomic } from '../util/atomic.js';
import { makeDir } from '../util/safe-fs.js';
import { BENCH_SCHEMA, type BenchReport } from './run.js';
import { alignTable, fmt } from './table.js';

export const BENCH_SWEEP_FILE = 'bench-sweep.json';
export const BENCH_SWEEP_SCHEMA = 'bigstep/bench-sweep@1';

/** Where one task runs: any of the three Slurm placement flags (absent: anywhere). */
export interface BenchTarget {
  label: string;
  partition?: string;
  nodelist?: string;
  constraint?: string;
}

export interface BenchSweep {
  schema: typeof BENCH_SWEEP_SCHEMA;
  packageVersion: string;
  count: number;
  targets: BenchTarget[];
  /** `bigstep bench` options every task runs with (cases, threads, seconds, --compare-pytorch). */
  benchArgs: string[];
}

const NAME_RE = /^[A-Za-z0-9_.,:=[\]-]+$/;

/**
 * One target per value of each placement list; several lists combine as their product
 * (e.g. two partitions × one constraint = two targets). No list: one target, anywhere.
 */
export function benchTargets(p: { partition?: string[]; nodelist?: string[]; constraint?: string[] }): BenchTarget[] {
  let out: BenchTarget[] = [{ label: '' }];
  for (const key of ['partition', 'nodelist', 'constraint'] as const) {
    const values = p[key];
    if (!values?.length) continue;
    for (const v of values)
      if (!NAME_RE.test(v))
        throw new RangeError(`--${key}: "${v}" is not a Slurm ${key} value (letters, digits, . _ - [ ] , : =)`);
    out = out.flatMap((t) => values.map((v) => ({ ...t, [key]: v, label: t.label ? `${t.label}+${v}` : v })));
  }
  return out.map((t) => ({ ...t, label: t.label || 'any-node' }));
}

export function isBenchSweep(dir: string): boolean {
  return existsSync(path.join(dir, BENCH_SWEEP_FILE));
}

export async function loadBenchSweep(dir: string): Promise<BenchSweep> {
  const file = path.join(dir, BENCH_SWEEP_FILE);
  const s = JSON.parse(await fsp.readFile(file, 'utf8')) as BenchSweep;
  if (s?.schema !== BENCH_SWEEP_SCHEMA || !Array.isArray(s.targets) || s.targets.length !== s.count)
    throw new RangeError(`${file}: not a bench sweep (schema must be "${BENCH_SWEEP_SCHEMA}" with count targets)`);
  return s;
}

export interface BenchSlurmOptions {
  /** `--time` (default 00:30:00). */
  time?: string;
  /** `--mem` (default: 0, all of the node's memory, as --exclusive implies). */
  mem?: string;
  account?: string;
}

const shq = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The array script (see the module comment); placement flags are given to sbatch per task. */
export function benchSlurmScript(
  dir: string,
  s: BenchSweep,
  o: BenchSlurmOptions = {},
  node = process.execPath,
  main = cliMainPath(),
): string {
  const abs = path.resolve(dir);
  const time = o.time ?? '00:30:00';
  const mem = o.mem ?? '0';
  if (!/^(\d+-)?\d+(:\d\d){0,2}$/.test(time))
    throw new RangeError(`time must look like 00:30:00 or 1-00:00:00 (got "${time}")`);
  if (!/^\d+[KMGT]?$/i.test(mem)) throw new RangeError(`mem must look like 8G or 0 (all of the node) (got "${mem}")`);
  if (o.account !== undefined && !/^[A-Za-z0-9_.-]+$/.test(o.account))
    throw new RangeError(`account must be an account name (got "${o.account}")`);
  const logs = path.join(abs, 'slurm', 'logs');
  return [
    '#!/bin/bash',
    `# bigstep bench sweep: ${s.count} task${s.count === 1 ? '' : 's'} (${s.targets.map((t) => t.label).join(', ')}), written by \`bigstep bench --sweep\`.`,
    '# Each task is submitted with its own placement: sbatch --array=I [--partition=P] [--nodelist=N] [--constraint=C] <this file>',
    `# (bigstep bench --sweep ${shq(abs)} ... --submit does that; the commands are in ${shq(path.join(abs, 'slurm', 'submit.sh'))}).`,
    '#SBATCH --job-name=bigstep-bench',
    `#SBATCH --array=0-${s.count - 1}`,
    '#SBATCH --nodes=1',
    '#SBATCH --ntasks=1',
    // The whole node: a benchmark shares its cores with nobody, and every core is available to it.
    '#SBATCH --exclusive',
    `#SBATCH --mem=${mem}`,
    `#SBATCH --time=${time}`,
    `#SBATCH --output=${logs}/%A_%a.out`,
    `#SBATCH --error=${logs}/%A_%a.out`,
    ...(o.account ? [`#SBATCH --account=${o.account}`] : []),
    'set -euo pipefail',
    'echo "bigstep bench task $SLURM_ARRAY_TASK_ID on $(hostname) (job ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID}), $(date -Is)"',
    `exec ${shq(node)} ${shq(main)} sweep run ${shq(abs)} --task "$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
}

/** The sbatch arguments that submit task i with its placement. */
export function submitArgs(dir: string, s: BenchSweep, i: number): string[] {
  const t = s.targets[i];
  return [
    '--parsable',
    `--array=${i}`,
    ...(t.partition ? [`--partition=${t.partition}`] : []),
    ...(t.nodelist ? [`--nodelist=${t.nodelist}`] : []),
    ...(t.constraint ? [`--constraint=${t.constraint}`] : []),
    path.join(path.resolve(dir), 'slurm', 'array.sbatch'),
  ];
}

/** Writes DIR/bench-sweep.json, DIR/slurm/array.sbatch and DIR/slurm/submit.sh (options are checked first). */
export async function planBenchSweep(
  dir: string,
  targets: BenchTarget[],
  benchArgs: string[],
  o: BenchSlurmOptions = {},
): Promise<{ sweep: BenchSweep; script: string }> {
  const sweep: BenchSweep = {
    schema: BENCH_SWEEP_SCHEMA,
    packageVersion: packageVersion(),
    count: targets.length,
    targets,
    benchArgs,
  };
  const text = benchSlurmScript(dir, sweep, o);
  await makeDir(path.join(dir, 'slurm', 'logs'), 'bench sweep slurm logs directory');
  await makeDir(path.join(dir, 'results'), 'bench sweep results directory');
  await writeFileAtomic(path.join(dir, BENCH_SWEEP_FILE), `${toJson(sweep, 1)}\n`);
  const script = path.join(dir, 'slurm', 'array.sbatch');
  await writeFileAtomic(script, text);
  await fsp.chmod(script, 0o755);
  const submit = [
    '#!/bin/sh',
    '# One submission per node type (see array.sbatch).',
    ...targets.map((_, i) => `sbatch ${submitArgs(dir, sweep, i).slice(1).map(shq).join(' ')}`),
    '',
  ];
  await writeFileAtomic(path.join(dir, 'slurm', 'submit.sh'), submit.join('\n'));
  return { sweep, script };
}

/** Submits every task (sbatch per task, see the module comment); records each job in DIR/slurm/jobs.jsonl. */
export async function submitBenchSweep(
  dir: string,
  sbatch = 'sbatch',
): Promise<Array<{ task: number; jobId: string }>> {
  const s = await loadBenchSweep(dir);
  const jobs: Array<{ task: number; jobId: string }> = [];
  for (let i = 0; i < s.count; i++) {
    const args = submitArgs(dir, s, i);
    const r = spawnSync(sbatch, args, { encoding: 'utf8' });
    if (r.error)
      throw new Error(
        `sbatch could not be started (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): is Slurm installed and on PATH?`,
      );
    if (r.status !== 0)
      throw new Error(
        `sbatch ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`,
      );
    const jobId = r.stdout.trim().split(';')[0];
    await fsp.appendFile(
      path.join(dir, 'slurm', 'jobs.jsonl'),
      `${toJson({ jobId, array: String(i), offset: 0, submittedAt: new Date().toISOString(), command: ['sbatch', ...args] })}\n`,
    );
    jobs.push({ task: i, jobId });
  }
  return jobs;
}

export function taskResultFile(dir: string, i: number): string {
  return path.join(dir, 'results', `task-${i}.json`);
}

export interface BenchComparison {
  /** One row per (task, case, threads). */
  rows: Array<{
    task: number;
    label: string;
    host: string;
    cpu: string;
    case: string;
    threads: number;
    samplesPerSec: number;
    gflops: number | null;
    pctOfFmaPeak: number | null;
    pctOfCeiling: number | null;
    fmaPeakGflops: number;
  }>;
  missing: number[];
  table: string;
  files: { csv: string; md: string; svg: string; png: string };
}

/** Reads every task's report and writes the comparison files (see the module comment). */
export async function collectBenchSweep(dir: string): Promise<BenchComparison> {
  const s = await loadBenchSweep(dir);
  const rows: BenchComparison['rows'] = [];
  const missing: number[] = [];
  for (let i = 0; i < s.count; i++) {
    let r: BenchReport;
    try {
      r = JSON.parse(await fsp.readFile(taskResultFile(dir, i), 'utf8')) as BenchReport;
    } catch {
      missing.push(i);
      continue;
    }
    if (r.schema !== BENCH_SCHEMA) {
      missing.push(i);
      continue;
    }
    for (const x of r.rows)
      rows.push({
        task: i,
        label: r.label,
        host: r.machine.hostname,
        cpu: r.machine.cpuModel,
        case: x.case,
        threads: x.threads,
        samplesPerSec: x.samplesPerSec,
        gflops: x.gflops,
        pctOfFmaPeak: x.pctOfFmaPeak,
        pctOfCeiling: x.pctOfCeiling ?? null,
        fmaPeakGflops: x.fmaPeakGflops,
      });
  }
  const header = [
    'node type',
    'host',
    'CPU',
    'case',
    'threads',
    'samples/s',
    'GFLOP/s',
    '% FMA peak',
    '% sgemm ceiling',
  ];
  const cells = rows.map((r) => [
    r.label,
    r.host,
    r.cpu,
    r.case,
    String(r.threads),
    fmt(r.samplesPerSec),
    fmt(r.gflops, 1),
    fmt(r.pctOfFmaPeak, 1),
    fmt(r.pctOfCeiling),
  ]);
  const table = `${alignTable(header, cells)}\n${missing.length ? `\nno result yet from task${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (${missing.map((i) => s.targets[i].label).join(', ')})\n` : ''}`;
  const csvCell = (v: unknown) => {
    const t = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const csvHeader = [
    'task',
    'label',
    'host',
    'cpu',
    'case',
    'threads',
    'samplesPerSec',
    'gflops',
    'pctOfFmaPeak',
    'pctOfCeiling',
    'fmaPeakGflops',
  ] as const;
  const csv =
    [csvHeader.join(','), ...rows.map((r) => csvHeader.map((k) => csvCell(r[k])).join(','))].join('\n') + '\n';
  const md =
    [
      '| ' + header.join(' | ') + ' |',
      '|' + header.map(() => '---').join('|') + '|',
      ...cells.map((c) => '| ' + c.join(' | ') + ' |'),
    ].join('\n') + '\n';
  const files = {
    csv: path.join(dir, 'bench-comparison.csv'),
    md: path.join(dir, 'bench-comparison.md'),
    svg: path.join(dir, 'bench-comparison.svg'),
    png: path.join(dir, 'bench-comparison.png'),
  };
  await writeFileAtomic(files.csv, csv);
  await writeFileAtomic(files.md, md);
  const chart = await renderChart(comparisonChart(rows));
  await writeFileAtomic(files.svg, chart.svg);
  await writeFileAtomic(files.png, chart.png);
  return { rows, missing, table, files };
}

/** Node type × case: samples/s (log scale) and share of the FMA peak, one bar per node type and thread count. */
export function comparisonChart(rows: BenchComparison['rows']): TopLevelSpec {
  const values = rows.map((r) => ({ ...r, node: `${r.label} (${r.threads} thr)`, pct: r.pctOfFmaPeak }));
  const panel = (field: string, title: string, log: boolean) => ({
    mark: { type: 'bar' as const },
    encoding: {
      y: { field: 'case', type: 'nominal' as const, title: null },
      yOffset: { field: 'node', type: 'nominal' as const },
      x: { field, type: 'quantitative' as const, title, ...(log ? { scale: { type: 'log' as const } } : {}) },
      color: { field: 'node', type: 'nominal' as const, title: 'node type (threads)' },
      tooltip: [
        { field: 'host' },
        { field: 'cpu' },
        { field: 'samplesPerSec', format: ',.0f' },
        { field: 'pctOfFmaPeak', format: '.1f' },
      ],
    },
    width: 320,
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'bigstep bench: node type × case',
      subtitle:
        "samples/s (training: examples; hvp-*: examples per HVP; e1-*: particle-steps) and share of the node's own FMA peak",
    },
    data: { values },
    hconcat: [
      panel('samplesPerSec', 'samples/s (log)', true),
      { ...panel('pct', '% of FMA peak', false), transform: [{ filter: 'datum.pct != null' }] },
    ],
  } as TopLevelSpec;
}
