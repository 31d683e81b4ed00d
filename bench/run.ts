/**
 * `npm run bench`: times each bench case with bigstep and, when Debian's python3-torch is
 * installed, with PyTorch in the same invocation; prints a table of medians and ratios.
 * Each measurement runs in its own child process so peak RSS is per case: for bigstep the child of
 * `bigstep bench` (src/bench/child.ts, the same cases and measurement code), for PyTorch
 * bench/torch_bench.py.
 * Both peers get the same OpenBLAS kernel choice (OPENBLAS_CORETYPE) and OMP_WAIT_POLICY=PASSIVE.
 *
 * On a shared machine the load changes within seconds, so each (case, threads) is measured in
 * BENCH_ROUNDS rounds (default 3), each a bigstep child and a PyTorch child back to back (the
 * order alternates between rounds), with BENCH_SECONDS / BENCH_ROUNDS per child. The ratio is
 * the median of the per-round ratios; samples/s are the medians over rounds. The CPU-time ratio
 * compares process CPU time per step, which time-slicing by other processes barely changes at
 * 1 thread (at 2 threads it also counts time spent waiting for the other core).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { hvpCases, trainCases } from '../src/bench/cases.js';
import { childEnv } from '../src/bench/machine.js';
import { concurrentBench } from './concurrent.js';

const here = dirname(fileURLToPath(import.meta.url));
const budget = Number(process.env.BENCH_SECONDS ?? '6');
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? '3'));
const systemPython = '/usr/bin/python3'; // Debian's python3-torch is built for the system interpreter
const torchScript = join(here, '..', '..', 'bench', 'torch_bench.py');

interface Row {
  impl: string;
  case: string;
  threads: number;
  samplesPerSec: number;
  cpuSecondsPerStep?: number;
  gflops: number;
  peakRssMiB: number;
  rssGrowthMiB?: number;
  pctOfCeiling?: number;
  pctOfCeilingBest?: number;
  blas: string;
  isa?: string;
}

// Both peers get exactly `threads` BLAS / OpenMP threads and passive OpenMP waiting (childEnv).
const env = childEnv;
const child = join(here, '..', 'src', 'bench', 'child.js');

function measure(cmd: string, args: string[], threads: number): Row | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env(threads), timeout: 300_000 });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${cmd} ${args.join(' ')} failed: ${r.stderr}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Row;
}

const torchAvailable =
  existsSync(systemPython) && spawnSync(systemPython, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!torchAvailable)
  process.stderr.write('bench: PyTorch not found (apt-get install python3-torch) — bigstep figures only\n');

const median = (v: number[]): number | undefined => {
  if (v.length === 0) return undefined;
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Measured {
  bigstep: Row[];
  torch: Row[];
  ratios: number[]; // per round, samples/s bigstep ÷ PyTorch
  cpuRatios: number[]; // per round, CPU s/step PyTorch ÷ bigstep
}
const rows: Measured[] = [];
const selected = process.argv.slice(2);
for (const c of trainCases.filter((b) => selected.length === 0 || selected.some((s) => b.name.includes(s)))) {
  for (const threads of [1, 2]) {
    process.stderr.write(`bench: ${c.name} threads=${threads}\n`);
    const m: Measured = { bigstep: [], torch: [], ratios: [], cpuRatios: [] };
    const each = String(budget / rounds);
    for (let r = 0; r < rounds; r++) {
      const reps = String(c.repeats ?? 7);
      const runBigstep = () => measure(process.execPath, [child, c.name, String(threads), each], threads);
      const runTorch = () =>
        torchAvailable ? measure(systemPython, [torchScript, c.name, String(threads), each, reps], threads) : null;
      let b: Row | null, t: Row | null;
      if (r % 2 === 0) {
        b = runBigstep();
        t = runTorch();
      } else {
        t = runTorch();
        b = runBigstep();
      }
      if (b) m.bigstep.push(b);
      if (t) m.torch.push(t);
      if (b && t) {
        m.ratios.push(b.samplesPerSec / t.samplesPerSec);
        if (b.cpuSecondsPerStep && t.cpuSecondsPerStep) m.cpuRatios.push(t.cpuSecondsPerStep / b.cpuSecondsPerStep);
      }
    }
    rows.push(m);
  }
}

const fmt = (v: number | undefined, d = 0) => (v === undefined ? '-' : v.toFixed(d));
const med = (rs: Row[], f: (r: Row) => number | undefined) =>
  median(rs.map(f).filter((v): v is number => v !== undefined));
const max = (rs: Row[], f: (r: Row) => number | undefined) => {
  const v = rs.map(f).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
};
const lines = [
  '| case | threads | bigstep samples/s | PyTorch samples/s | ratio | ratio, CPU time per step | % of sgemm ceiling (median / fastest repeat) | bigstep GFLOP/s | peak RSS bigstep / torch (MiB) | RSS growth in timed steps (MiB) |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
const summary: object[] = [];
for (const m of rows) {
  const ref = m.bigstep[0] ?? m.torch[0];
  if (!ref) continue;
  const ratio = median(m.ratios),
    cpuRatio = median(m.cpuRatios);
  const ceiling = med(m.bigstep, (r) => r.pctOfCeiling);
  const ceilingBest = max(m.bigstep, (r) => r.pctOfCeilingBest);
  lines.push(
    `| ${ref.case} | ${ref.threads} | ${fmt(med(m.bigstep, (r) => r.samplesPerSec))} | ${fmt(med(m.torch, (r) => r.samplesPerSec))} | ${ratio === undefined ? '-' : ratio.toFixed(2) + '×'} | ${cpuRatio === undefined ? '-' : cpuRatio.toFixed(2) + '×'} | ${ceiling === undefined ? '-' : `${fmt(ceiling)} / ${fmt(ceilingBest)} %`} | ${fmt(
      med(m.bigstep, (r) => r.gflops),
      1,
    )} | ${fmt(max(m.bigstep, (r) => r.peakRssMiB))} / ${fmt(max(m.torch, (r) => r.peakRssMiB))} | ${fmt(
      max(m.bigstep, (r) => r.rssGrowthMiB),
      1,
    )} |`,
  );
  summary.push({
    case: ref.case,
    threads: ref.threads,
    ratios: m.ratios,
    cpuRatios: m.cpuRatios,
    bigstep: m.bigstep,
    torch: m.torch,
  });
}
// The header's BLAS / ISA / PyTorch strings come from the first row of either table that ran.
const peerRows: Array<{ bigstep: Row | null; torch: Row | null }> = rows.map((r) => ({
  bigstep: r.bigstep[0] ?? null,
  torch: r.torch[0] ?? null,
}));
// The concurrent-runs bench (bench/concurrent.ts) unless a case filter excludes it.
let multiTable = '';
if (selected.length === 0 || selected.some((s) => 'concurrent'.includes(s))) {
  process.stderr.write('bench: 8 solo runs, sequential and concurrent\n');
  multiTable = '\n' + (await concurrentBench(Number(budget)));
}
// Exact Hessian-vector products (issue 15) against PyTorch float32 double backward: one round per
// row (bigstep child, then PyTorch child), each the median of repeated products plus one λ_max run.
let hvpTable = '';
const hvpSelected = hvpCases.filter((c) => selected.length === 0 || selected.some((s) => c.name.includes(s)));
if (hvpSelected.length) {
  const hl = [
    '| HVP case | params | threads | bigstep one HVP, cold (s) | PyTorch one HVP, cold (s) | ratio | ratio, CPU time per HVP | bigstep warm (s) | PyTorch kept graph (s) | ratio, warm | bigstep λ_max (value; s, Lanczos steps, residual) | PyTorch λ_max (value; s, steps) | ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of hvpSelected) {
    for (const threads of [1, 2]) {
      process.stderr.write(`bench: ${c.name} threads=${threads}\n`);
      type HvpRow = Row & {
        params: number;
        hvpSeconds: number;
        hvpCpuSeconds: number;
        hvpWarmSeconds?: number;
        lambda: number;
        lambdaSeconds: number;
        lambdaIterations: number;
        lambdaResidual?: number;
      };
      // Both peers solve the same problem: the bigstep child writes θ, x, y, v for the PyTorch child.
      const problem = join(tmpdir(), `bigstep-hvp-bench-${process.pid}.bin`);
      const b = measure(
        process.execPath,
        [child, c.name, String(threads), String(budget), problem],
        threads,
      ) as HvpRow | null;
      const t =
        torchAvailable && b
          ? (measure(
              systemPython,
              [torchScript, c.name, String(threads), String(budget), problem],
              threads,
            ) as HvpRow | null)
          : null;
      rmSync(problem, { force: true });
      const ratio = (x?: number, y?: number) => (x && y ? `${(y / x).toFixed(2)}×` : '-');
      hl.push(
        `| ${c.name} | ${b?.params ?? t?.params ?? '-'} | ${threads} | ${fmt(b?.hvpSeconds, 4)} | ${fmt(t?.hvpSeconds, 4)} | ${ratio(b?.hvpSeconds, t?.hvpSeconds)} | ${ratio(b?.hvpCpuSeconds, t?.hvpCpuSeconds)} | ` +
          `${fmt(b?.hvpWarmSeconds, 4)} | ${fmt(t?.hvpWarmSeconds, 4)} | ${ratio(b?.hvpWarmSeconds, t?.hvpWarmSeconds)} | ` +
          `${b ? `${b.lambda.toPrecision(6)}; ${b.lambdaSeconds.toFixed(3)}, ${b.lambdaIterations}, ${b.lambdaResidual?.toExponential(1)}` : '-'} | ${t ? `${t.lambda.toPrecision(6)}; ${t.lambdaSeconds.toFixed(3)}, ${t.lambdaIterations}` : '-'} | ${ratio(b?.lambdaSeconds, t?.lambdaSeconds)} |`,
      );
      summary.push({ case: c.name, threads, bigstep: b, torch: t });
      peerRows.push({ bigstep: b, torch: t });
    }
  }
  hvpTable = '\n' + hl.join('\n') + '\n';
}
const blas = peerRows.find((r) => r.bigstep)?.bigstep?.blas ?? '?';
const isa = peerRows.find((r) => r.bigstep)?.bigstep?.isa ?? '?';
const torchBlas = peerRows.find((r) => r.torch)?.torch?.blas ?? (torchAvailable ? '?' : 'not installed');
const trainTable = rows.length ? `\n\n${lines.join('\n')}\n` : '\n';
const table = `bigstep BLAS: ${blas}, ISA path ${isa}; PyTorch: ${torchBlas}; ${rounds} interleaved rounds per row, each child the median of 7 repeats (3 for the width-64 ResNet); load average at the end ${loadavg()
  .map((v) => v.toFixed(1))
  .join(' ')}${trainTable}${multiTable}${hvpTable}`;
console.log(table);
const outDir = join(here, '..', '..', 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.md'), table);
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(summary, null, 2));
