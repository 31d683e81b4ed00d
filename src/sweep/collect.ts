/**
 * Collecting a sweep: every task's summary (and, for the spec's `columns`, its result.json) merged
 * into DIR/results.jsonl (one object per task, in task order) and DIR/results.csv.
 *
 * results.csv holds only what the runs computed (task, id, run, status, seed, the swept parameters,
 * the spec's columns, the headline numbers): no timings, hosts or dates. Two executions of the same
 * sweep (local pool, Slurm array, Kubernetes) at the same BLAS thread count therefore give
 * byte-identical results.csv files. results.jsonl adds wallSeconds and endedAt per task.
 *
 * Task states: finished, diverged (both complete), failed (summary says failed), incomplete (a run
 * directory without a complete summary: running, killed or aborted), missing (never started).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import type { Headline } from '../run/schema.js';
import { toJson } from '../run/json.js';
import { readSummary } from '../run/run.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readTextFile } from '../util/safe-fs.js';
import { getPath, type SweepTask, type SweepTasks } from './spec.js';
import { loadTasks, taskDir } from './tasks.js';

export type TaskState = 'finished' | 'diverged' | 'failed' | 'incomplete' | 'missing';
export const TASK_STATES: readonly TaskState[] = ['finished', 'diverged', 'failed', 'incomplete', 'missing'];

export type StateCounts = Record<TaskState, number> & { total: number };

export interface CollectedTask {
  task: number;
  id: string;
  run: string;
  status: TaskState;
  seed: number | null;
  params: Record<string, unknown>;
  columns: Record<string, unknown>;
  headline: Headline | null;
  error: string | null;
  wallSeconds: number | null;
  endedAt: string | null;
}

export interface CollectOutcome {
  tasks: SweepTasks;
  rows: CollectedTask[];
  counts: StateCounts;
  csv: string;
  jsonl: string;
}

async function stateOf(
  dir: string,
  task: SweepTask,
): Promise<{ state: TaskState; summary?: Awaited<ReturnType<typeof readSummary>> }> {
  const d = taskDir(dir, task);
  const summary = await readSummary(d);
  if (summary && summary.id === task.id) {
    if (summary.status === 'finished' || summary.status === 'diverged' || summary.status === 'failed')
      return { state: summary.status, summary };
    return { state: 'incomplete', summary };
  }
  const exists = await fsp.stat(d).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return { state: exists ? 'incomplete' : 'missing' };
}

export function emptyCounts(total = 0): StateCounts {
  return { total, finished: 0, diverged: 0, failed: 0, incomplete: 0, missing: 0 };
}

/** The state of every task, without writing anything. */
export async function taskStates(
  dir: string,
  tasks?: SweepTasks,
): Promise<{ tasks: SweepTasks; states: TaskState[]; counts: StateCounts }> {
  const t = tasks ?? (await loadTasks(dir));
  const states = await Promise.all(t.tasks.map(async (task) => (await stateOf(dir, task)).state));
  const counts = emptyCounts(t.count);
  for (const s of states) counts[s]++;
  return { tasks: t, states, counts };
}

/** "16 tasks: 14 finished, 1 diverged, 1 missing" (zero counts left out). */
export function formatCounts(c: StateCounts): string {
  const parts = TASK_STATES.filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`);
  return `${c.total} task${c.total === 1 ? '' : 's'}: ${parts.join(', ') || 'none'}`;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Reads every task's state, summary and requested result fields; writes nothing. */
export async function readResults(dir: string): Promise<CollectOutcome> {
  const t = await loadTasks(dir);
  const rows: CollectedTask[] = [];
  const counts = emptyCounts(t.count);
  const wantColumns = Object.keys(t.columns);
  for (const task of t.tasks) {
    const { state, summary } = await stateOf(dir, task);
    counts[state]++;
    const complete = state === 'finished' || state === 'diverged';
    const columns: Record<string, unknown> = {};
    if (complete && wantColumns.length > 0) {
      let result: unknown;
      try {
        result = JSON.parse(await readTextFile(path.join(taskDir(dir, task), 'result.json'), 'result file'));
      } catch {
        result = undefined;
      }
      for (const [name, paths] of Object.entries(t.columns)) {
        let v: unknown;
        for (const p of paths) {
          v = getPath(result, p);
          if (v !== undefined) break;
        }
        columns[name] = v ?? null;
      }
    } else for (const name of wantColumns) columns[name] = null;
    rows.push({
      task: task.index,
      id: task.id,
      run: task.run,
      status: state,
      seed: task.seed,
      params: task.params,
      columns,
      headline: complete ? (summary?.headline ?? null) : null,
      error: state === 'failed' ? (summary?.error ?? null) : null,
      wallSeconds: summary && state !== 'incomplete' ? summary.wallSeconds : null,
      endedAt: summary && state !== 'incomplete' ? summary.endedAt : null,
    });
  }
  // CSV: fixed columns, swept parameters, the spec's columns, then every headline key in first-seen order.
  const headlineKeys: string[] = [];
  for (const r of rows)
    for (const k of Object.keys(r.headline ?? {})) if (!headlineKeys.includes(k)) headlineKeys.push(k);
  const header = [
    'task',
    'id',
    'run',
    'status',
    'seed',
    ...t.params,
    ...wantColumns,
    ...headlineKeys.map((k) => `headline.${k}`),
    'error',
  ];
  const lines = [header.map(csvCell).join(',')];
  for (const r of rows) {
    const cells = [
      r.task,
      r.id,
      r.run,
      r.status,
      r.seed,
      ...t.params.map((p) => (p in r.params ? r.params[p] : null)),
      ...wantColumns.map((c) => r.columns[c]),
      ...headlineKeys.map((k) => r.headline?.[k] ?? null),
      r.error,
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  const csv = `${lines.join('\n')}\n`;
  const jsonl = rows.map((r) => toJson(r)).join('\n') + (rows.length ? '\n' : '');
  return { tasks: t, rows, counts, csv, jsonl };
}

/** Writes DIR/results.csv and DIR/results.jsonl (atomically) and returns what was collected. */
export async function collectSweep(dir: string): Promise<CollectOutcome & { files: { csv: string; jsonl: string } }> {
  const r = await readResults(dir);
  const files = { csv: path.join(dir, 'results.csv'), jsonl: path.join(dir, 'results.jsonl') };
  await writeFileAtomic(files.csv, r.csv);
  await writeFileAtomic(files.jsonl, r.jsonl);
  return { ...r, files };
}
