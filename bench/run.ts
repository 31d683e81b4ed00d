/**
 * `npm run bench`: times each bench case with bigstep and, when Debian's python3-torch is
 * installed, with PyTorch in the same invocation; prints a table of medians and ratios.
 * Each measurement runs in its own child process so peak RSS is per case.
 * Both peers get the same OpenBLAS kernel choice (OPENBLAS_CORETYPE) and OMP_WAIT_POLICY=PASSIVE.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { openBlasCoreFor } from '../src/native/binding.js';
import { benchCases } from './models.js';
import { multiBench } from './multi.js';

const here = dirname(fileURLToPath(import.meta.url));
const budget = process.env.BENCH_SECONDS ?? '6';
const systemPython = '/usr/bin/python3'; // Debian's python3-torch is built for the system interpreter
const torchScript = join(here, '..', '..', 'bench', 'torch_bench.py');

interface Row {
  impl: string;
  case: string;
  threads: number;
  samplesPerSec: number;
  gflops: number;
  peakRssMiB: number;
  rssGrowthMiB?: number;
  pctOfCeiling?: number;
  blas: string;
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  if (!e.OPENBLAS_CORETYPE) {
    const flags = new Set<string>();
    try {
      const text = spawnSync('grep', ['-m1', '^flags', '/proc/cpuinfo'], { encoding: 'utf8' }).stdout;
      for (const f of text.split(':')[1]?.trim().split(/\s+/) ?? []) flags.add(f);
    } catch {
      /* not Linux: leave OpenBLAS to decide */
    }
    const core = openBlasCoreFor(flags);
    if (core) e.OPENBLAS_CORETYPE = core;
  }
  return e;
}

function measure(cmd: string, args: string[]): Row | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env(), timeout: 300_000 });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${cmd} ${args.join(' ')} failed: ${r.stderr}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Row;
}

const torchAvailable =
  existsSync(systemPython) && spawnSync(systemPython, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!torchAvailable) process.stderr.write('bench: PyTorch not found (apt-get install python3-torch) — bigstep figures only\n');

const rows: Array<{ bigstep: Row | null; torch: Row | null }> = [];
const selected = process.argv.slice(2);
for (const c of benchCases.filter((b) => selected.length === 0 || selected.some((s) => b.name.includes(s)))) {
  for (const threads of [1, 2]) {
    process.stderr.write(`bench: ${c.name} threads=${threads}\n`);
    const bigstep = measure(process.execPath, [join(here, 'one.js'), c.name, String(threads), budget]);
    const torch = torchAvailable ? measure(systemPython, [torchScript, c.name, String(threads), budget]) : null;
    rows.push({ bigstep, torch });
  }
}

const fmt = (v: number | undefined, d = 0) => (v === undefined ? '-' : v.toFixed(d));
const lines = [
  '| case | threads | bigstep samples/s | PyTorch samples/s | ratio | % of sgemm ceiling | bigstep GFLOP/s | peak RSS bigstep / torch (MiB) | RSS growth in timed steps (MiB) |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const { bigstep, torch } of rows) {
  const ref = bigstep ?? torch;
  if (!ref) continue;
  const ratio = bigstep && torch ? (bigstep.samplesPerSec / torch.samplesPerSec).toFixed(2) + '×' : '-';
  lines.push(
    `| ${ref.case} | ${ref.threads} | ${fmt(bigstep?.samplesPerSec)} | ${fmt(torch?.samplesPerSec)} | ${ratio} | ${bigstep?.pctOfCeiling === undefined ? '-' : fmt(bigstep.pctOfCeiling) + ' %'} | ${fmt(bigstep?.gflops, 1)} | ${fmt(bigstep?.peakRssMiB)} / ${fmt(torch?.peakRssMiB)} | ${fmt(bigstep?.rssGrowthMiB, 1)} |`,
  );
}
const blas = rows.find((r) => r.bigstep)?.bigstep?.blas ?? '?';
// The batched-sweep bench (bench/multi.ts) unless a case filter excludes it.
let multiTable = '';
if (selected.length === 0 || selected.some((s) => 'multi'.includes(s))) {
  process.stderr.write('bench: batched sweep (MultiTrainer)\n');
  multiTable = '\n' + (await multiBench(Number(budget)));
}
const table = `bigstep BLAS: ${blas}; PyTorch: ${rows.find((r) => r.torch)?.torch?.blas ?? 'not installed'}; medians of 7 repeats\n\n${lines.join('\n')}\n${multiTable}`;
console.log(table);
const outDir = join(here, '..', '..', 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.md'), table);
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(rows, null, 2));
