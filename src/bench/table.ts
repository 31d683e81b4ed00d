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
  ].join('\n');
}
