/** Text tables of bench results: one node's rows (the terminal), and node type × case (a cluster sweep). */
import type { BenchReport, BenchRow } from './run.js';

/** A number for a table: thousands separators for large integers, '-' for absent or non-finite. */
export function fmt(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return digits === 0 && Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en') : v.toFixed(digits);
}

/** Columns padded to their widest cell; columns of numbers right-aligned, text left-aligned. */
export function alignTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const numeric = header.map((_, j) => rows.length > 0 && rows.every((r) => /^[-+\d.,×%e]+$/.test(r[j])));
  const line = (cells: string[]) =>
    cells
      .map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** What each kind's samples/s counts. */
export function unitOf(r: BenchRow): string {
  return r.kind === 'landscape' ? 'particle-steps/s' : r.kind === 'hvp' ? 'examples/s (one HVP)' : 'examples/s';
}

export function benchTable(report: BenchReport): string {
  const torch = report.rows.some((r) => r.torch !== undefined);
  const header = [
    'case',
    'threads',
    'samples/s',
    'GFLOP/s',
    '% FMA peak',
    '% sgemm ceiling',
    'peak RSS MiB',
    ...(torch ? ['PyTorch samples/s', 'ratio'] : []),
  ];
  const rows = report.rows.map((r) => [
    r.case,
    String(r.threads),
    fmt(r.samplesPerSec),
    fmt(r.gflops, 1),
    fmt(r.pctOfFmaPeak, 1),
    fmt(r.pctOfCeiling, 0),
    fmt(r.peakRssMiB),
    ...(torch
      ? [fmt(r.torch?.samplesPerSec), r.ratioToTorch === undefined ? '-' : `${r.ratioToTorch.toFixed(2)}×`]
      : []),
  ]);
  const hvp = hvpTable(report.rows);
  const m = report.machine;
  const peaks = report.peaks
    .map((p) => `${fmt(p.gflops, 1)} GFLOP/s at ${p.threads} thread${p.threads === 1 ? '' : 's'}`)
    .join(', ');
  return [
    `bigstep ${m.bigstep} bench on ${report.label}: ${m.cpuModel}, ${m.availableParallelism} of ${m.cores} cores, ` +
      `BLAS ${m.blasVendor}/${m.blasCore}, ISA path ${m.isa}, Node ${m.node}`,
    `FMA peak (${report.peaks[0]?.isa ?? m.isa}, measured now): ${peaks}; load average ${report.loadAverage.start.map((v) => v.toFixed(1)).join(' ')} at the start, ` +
      `${report.loadAverage.end.map((v) => v.toFixed(1)).join(' ')} at the end`,
    '',
    alignTable(header, rows),
    '',
    'samples/s: training examples/s; hvp-*: examples/s of one Hessian-vector product; e1-*: particle-steps/s (one native thread, flops not counted).',
    "% sgemm ceiling: the step's GEMMs (im2col shapes for convolutions) timed alone ÷ the median step; both at the same threads.",
    ...(hvp ? ['', hvp] : []),
  ].join('\n');
}

const secs = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toPrecision(3));
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !(a > 0) || !(b > 0) ? '-' : `${(b / a).toFixed(2)}×`;

/**
 * The HVP rows' products and λ_max side by side with PyTorch (null without HVP rows): a product
 * from scratch ("cold": bigstep at a θ not seen; PyTorch forward + create_graph + product), a
 * further one at the same θ ("warm": bigstep's kept primal pass; PyTorch's kept graph), and λ_max.
 */
export function hvpTable(rows: BenchRow[]): string | null {
  const hv = rows.filter((r) => r.kind === 'hvp');
  if (hv.length === 0) return null;
  const torch = hv.some((r) => r.torch);
  const header = [
    'HVP case',
    'threads',
    'cold s',
    'warm s',
    'λ_max s (steps)',
    ...(torch ? ['PyTorch cold s', 'warm s', 'λ_max s (steps)', 'cold ratio', 'warm ratio', 'λ_max ratio'] : []),
  ];
  const lam = (s: number | undefined, steps: number | undefined) =>
    s === undefined ? '-' : `${secs(s)} (${steps ?? '-'})`;
  const body = hv.map((r) => [
    r.case,
    String(r.threads),
    secs(r.hvpSeconds),
    secs(r.hvpWarmSeconds),
    lam(r.lambdaSeconds, r.lambdaIterations),
    ...(torch
      ? [
          secs(r.torch?.hvpSeconds),
          secs(r.torch?.hvpWarmSeconds),
          lam(r.torch?.lambdaSeconds, r.torch?.lambdaIterations),
          ratio(r.hvpSeconds, r.torch?.hvpSeconds),
          ratio(r.hvpWarmSeconds, r.torch?.hvpWarmSeconds),
          ratio(r.lambdaSeconds, r.torch?.lambdaSeconds),
        ]
      : []),
  ]);
  return [
    alignTable(header, body),
    'cold: one product at a θ not seen (bigstep: the whole forward-over-reverse pass; PyTorch: forward, create_graph, product); ' +
      'warm: a further product at the same θ and data (bigstep reuses its primal pass; PyTorch its kept graph, retain_graph=True); ' +
      'λ_max to 1e-4 by the same restarted Lanczos (steps = products; bigstep adds one for the residual). Ratios: PyTorch time ÷ bigstep time.',
  ].join('\n');
}
