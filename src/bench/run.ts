/**
 * `bigstep bench`: every selected case × thread count measured in its own child process
 * (src/bench/child.ts), one after another, with this node's own limits measured on the spot: the
 * FMA peak at each thread count (native/fma_peak.h) and, per training case, the sgemm ceiling at
 * the case's shapes (inside the child). Optionally the PyTorch peer on the same case, right after.
 * Nothing is written until every measurement is done (the caller writes the report atomically).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { native } from '../native/binding.js';
import { findCase, type BenchCase } from './cases.js';
import { childEnv, machineFacts, type MachineFacts } from './machine.js';
import type { Measurement } from './measure.js';
import { findTorch, torchArgs } from './pytorch.js';

export const BENCH_SCHEMA = 'bigstep/bench@1';
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.js');

export interface BenchOptions {
  cases: string[];
  threads: number[];
  /** Seconds of timed work per measurement (training and HVP). */
  seconds: number;
  /** Seconds per FMA peak measurement. */
  peakSeconds: number;
  comparePytorch: boolean;
  /** Label of the node type (cluster sweeps; default: the host name). */
  label?: string;
  signal?: AbortSignal;
  /** Called before each measurement (index from 0) and once more with index = total at the end. */
  onProgress?: (index: number, total: number, what: string) => void;
  /** Called with each warning as it arises (they are also in the report). */
  onWarning?: (warning: string) => void;
}

export interface PeerRow {
  samplesPerSec?: number;
  stepSeconds?: number;
  /** HVP rows: one product from scratch (forward, gradient graph, product). */
  hvpSeconds?: number;
  hvpCpuSeconds?: number;
  /** HVP rows: a further product on the kept gradient graph (retain_graph=True). */
  hvpWarmSeconds?: number;
  hvpWarmCpuSeconds?: number;
  /** HVP rows: λ_max by the same restarted Lanczos, on the kept graph. */
  lambdaSeconds?: number;
  lambdaIterations?: number;
  peakRssMiB?: number;
  blas?: string;
}

export interface BenchRow extends Measurement {
  /** FMA peak at this row's thread count on the ISA path in use, GFLOP/s. */
  fmaPeakGflops: number;
  /** 100 · gflops / FMA peak (null where flops are not counted). */
  pctOfFmaPeak: number | null;
  /** The PyTorch peer on the same case and threads (with --compare-pytorch and torch installed). */
  torch?: PeerRow | null;
  /** bigstep samples/s ÷ PyTorch samples/s. */
  ratioToTorch?: number;
}

export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  label: string;
  machine: MachineFacts;
  settings: { cases: string[]; threads: number[]; seconds: number; peakSeconds: number; comparePytorch: boolean };
  peaks: Array<{ threads: number; isa: string; gflops: number; rounds: number; seconds: number }>;
  rows: BenchRow[];
  pytorch: { version: string; python: string } | { note: string } | null;
  warnings: string[];
  loadAverage: { start: number[]; end: number[] };
  startedAt: string;
  endedAt: string;
  wallSeconds: number;
}

/** Threads for a case: E1's sweep runs on one native worker thread, so only threads = 1 is measured. */
export function threadsFor(c: BenchCase, threads: number[]): number[] {
  return c.kind === 'landscape' ? [1] : threads;
}

function runChild(
  cmd: string,
  args: string[],
  threads: number,
  signal?: AbortSignal,
): Promise<{ row?: Record<string, unknown>; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: childEnv(threads), stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => resolve({ error: e.message }));
    child.on('close', (code, sig) => {
      if (code !== 0)
        return resolve({
          error: `${sig ? `killed by ${sig}` : `exit ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
        });
      try {
        resolve({ row: JSON.parse(out.trim().split('\n').pop() as string) });
      } catch {
        resolve({ error: `printed no JSON line: ${out.slice(0, 200)}` });
      }
    });
  });
}

/** Runs the bench (see the module comment). Throws if the signal aborts it; returns the report otherwise. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const startedAt = new Date();
  const load0 = loadavg();
  const machine = machineFacts();
  const warnings: string[] = [];
  const warn = (w: string): void => {
    warnings.push(w);
    o.onWarning?.(w);
  };
  const over = o.threads.filter((t) => t > machine.availableParallelism);
  if (over.length)
    warn(
      `threads ${over.join(', ')} above the ${machine.availableParallelism} cores this process may use: those rows measure oversubscription`,
    );
  const cases = o.cases.map((n) => findCase(n) as BenchCase);
  const plan = cases.flatMap((c) => threadsFor(c, o.threads).map((t) => ({ c, t })));
  const total = plan.length + new Set(plan.map((p) => p.t)).size;
  let done = 0;
  const check = (): void => {
    if (o.signal?.aborted) throw o.signal.reason instanceof Error ? o.signal.reason : new Error('interrupted');
  };

  let pytorch: BenchReport['pytorch'] = null;
  let torch: { python: string; version: string } | undefined;
  if (o.comparePytorch) {
    const f = findTorch();
    if ('peer' in f) {
      torch = f.peer;
      pytorch = { version: f.peer.version, python: f.peer.python };
    } else {
      pytorch = { note: f.note };
      warn(f.note);
    }
  }

  // The FMA peak per thread count, before the cases (the same quiet-or-loaded moment as the cases, give or take).
  const peaks: BenchReport['peaks'] = [];
  for (const t of [...new Set(plan.map((p) => p.t))].sort((a, b) => a - b)) {
    check();
    o.onProgress?.(done++, total, `FMA peak, ${t} thread${t === 1 ? '' : 's'}`);
    const p = native.fmaPeak(t, o.peakSeconds);
    peaks.push({ threads: t, isa: p.isa, gflops: p.gflops, rounds: p.rounds, seconds: p.seconds });
  }
  const peakAt = (t: number): number => peaks.find((p) => p.threads === t)?.gflops ?? NaN;

  const rows: BenchRow[] = [];
  for (const { c, t } of plan) {
    check();
    o.onProgress?.(done++, total, `${c.name}, ${t} thread${t === 1 ? '' : 's'}`);
    const problem = c.kind === 'hvp' && torch ? join(tmpdir(), `bigstep-bench-hvp-${process.pid}.bin`) : undefined;
    try {
      const b = await runChild(
        process.execPath,
        [CHILD, c.name, String(t), String(o.seconds), ...(problem ? [problem] : [])],
        t,
        o.signal,
      );
      check();
      if (!b.row) {
        warn(`${c.name} at ${t} threads failed: ${b.error}`);
        continue;
      }
      const m = b.row as unknown as Measurement;
      const row: BenchRow = {
        ...m,
        fmaPeakGflops: peakAt(t),
        pctOfFmaPeak: m.gflops === null ? null : (100 * m.gflops) / peakAt(t),
      };
      if (torch && c.kind !== 'landscape') {
        const extra = c.kind === 'hvp' ? problem : String(c.repeats ?? 7);
        const p = await runChild(torch.python, torchArgs(c.name, t, o.seconds, extra), t, o.signal);
        check();
        if (p.row) {
          const r = p.row as PeerRow;
          row.torch = {
            samplesPerSec: c.kind === 'hvp' ? c.n / (r.hvpSeconds as number) : r.samplesPerSec,
            stepSeconds: r.stepSeconds,
            hvpSeconds: r.hvpSeconds,
            hvpCpuSeconds: r.hvpCpuSeconds,
            hvpWarmSeconds: r.hvpWarmSeconds,
            hvpWarmCpuSeconds: r.hvpWarmCpuSeconds,
            lambdaSeconds: r.lambdaSeconds,
            lambdaIterations: r.lambdaIterations,
            peakRssMiB: r.peakRssMiB,
            blas: r.blas,
          };
          if (row.torch.samplesPerSec) row.ratioToTorch = row.samplesPerSec / row.torch.samplesPerSec;
        } else {
          row.torch = null;
          warn(`PyTorch peer for ${c.name} at ${t} threads failed: ${p.error}`);
        }
      }
      rows.push(row);
    } finally {
      if (problem) rmSync(problem, { force: true });
    }
  }
  o.onProgress?.(total, total, 'done');
  const endedAt = new Date();
  return {
    schema: BENCH_SCHEMA,
    label: o.label ?? machine.hostname,
    machine,
    settings: {
      cases: o.cases,
      threads: o.threads,
      seconds: o.seconds,
      peakSeconds: o.peakSeconds,
      comparePytorch: o.comparePytorch,
    },
    peaks,
    rows,
    pytorch,
    warnings,
    loadAverage: { start: load0, end: loadavg() },
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    wallSeconds: (endedAt.getTime() - startedAt.getTime()) / 1000,
  };
}
