/**
 * The report: `writeReport(dir)` collects the run directories under `dir` (those with a
 * summary.json) and writes `dir/report.html`, one self-contained page (inline SVG figures and CSS,
 * no scripts, no network), plus PNG copies of every figure under `dir/report-figures/<run>/`.
 *
 * Per run: the experiment's title, the paper claim it tests (PROTOCOL.md), scale / data set /
 * model / seeds, status and environment, the headline numbers, the experiment's tables (E3: the
 * arms with mean ± std over seeds) and the figures with their captions.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import type { Headline } from '../run/schema.js';
import { packageVersion, type RunEnvironment } from '../run/env.js';
import {
  COMPLETE_STATUSES,
  validateSummary,
  type ReportTable,
  type RunSummary,
  type TableCell,
} from '../run/schema.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatValue } from '../util/format.js';
import { boolean, parseNamed } from '../util/schema.js';
import { insideDir } from '../util/safe-fs.js';

/** {@link WriteReportOptions} as a zod schema (messages name the option). */
const writeReportOptionsSchema = z.strictObject(
  {
    runs: z
      .array(z.string({ error: 'must be a run directory path' }), {
        error: (i) => `must be an array of run directory paths (got ${formatValue(i.input)})`,
      })
      .optional(),
    fileName: z.string({ error: (i) => `must be a file name (got ${formatValue(i.input)})` }).optional(),
    title: z.string({ error: (i) => `must be a string (got ${formatValue(i.input)})` }).optional(),
    skipIfEmpty: boolean().optional(),
  },
  { error: (i) => `must be an object (got ${formatValue(i.input)})` },
);

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Only these run directories (paths); default: every run directory found under `dir`. */
  runs?: string[];
  /** Report file name inside `dir` (default "report.html"). */
  fileName?: string;
  /** Title of the page. */
  title?: string;
  /** Write nothing (and return `written: false`) when no run can be included. */
  skipIfEmpty?: boolean;
}

/** What {@link writeReport} wrote and which runs it included or skipped. */
export interface ReportOutcome {
  /** Path of report.html. */
  file: string;
  /** Directory holding the PNG copies. */
  figuresDir: string;
  /** Runs included, in page order. */
  runs: Array<{ dir: string; experiment: string; scale: string; status: string }>;
  /** Directories skipped because their summary.json is invalid, with the first problem. */
  skipped: Array<{ dir: string; problem: string }>;
  figures: number;
  /** False when `skipIfEmpty` found no run and nothing was written. */
  written: boolean;
}

interface LoadedRun {
  dir: string;
  summary: RunSummary;
  env: RunEnvironment | null;
}

/** Directories under `dir` (itself, children and grandchildren) that contain a summary.json. */
export async function findRunDirs(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (d: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && e.name === 'summary.json')) {
      found.push(d);
      return;
    }
    if (depth === 0) return;
    for (const e of entries)
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'report-figures' && e.name !== 'node_modules')
        await visit(path.join(d, e.name), depth - 1);
  };
  await visit(dir, 2);
  return found.sort();
}

// ---- formatting -----------------------------------------------------------------------------------

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]);
}

/** A number for a table: integers as they are, others with 4 significant digits. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(4)));
}

function formatCell(c: TableCell | undefined): string {
  if (c === null || c === undefined) return '—';
  if (typeof c === 'number') return formatNumber(c);
  if (typeof c === 'boolean') return c ? 'yes' : 'no';
  if (typeof c === 'string') return escapeHtml(c);
  const mean = c.mean === null ? '—' : formatNumber(c.mean);
  const std = c.std === null ? '' : ` ± ${formatNumber(c.std)}`;
  return `${mean}${std} <span class="n">(n=${c.n})</span>`;
}

function isNumericCell(c: TableCell | undefined): boolean {
  return typeof c === 'number' || (typeof c === 'object' && c !== null);
}

function tableHtml(columns: string[], rows: TableCell[][], cls = ''): string {
  const head = columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${columns.map((_, i) => `<td${isNumericCell(r[i]) ? ' class="num"' : ''}>${formatCell(r[i])}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-wrap"><table${cls ? ` class="${cls}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/**
 * The headline as tables: keys without a dot go into a key/value table; keys "a.b" (split at the
 * last dot, so "amp-0.5k.testAcc" is arm "amp-0.5k", column "testAcc") into a grid with one axis
 * for the a's and one for the b's (the more numerous names down the side), in order of appearance.
 */
export function headlineTables(h: Headline): Array<{ columns: string[]; rows: TableCell[][] }> {
  const keys = Object.keys(h);
  const split = (k: string): [string, string] | null => {
    const i = k.lastIndexOf('.');
    return i > 0 && i < k.length - 1 ? [k.slice(0, i), k.slice(i + 1)] : null;
  };
  const scalar = keys.filter((k) => !split(k));
  const grouped = keys.filter((k) => split(k));
  const tables: Array<{ columns: string[]; rows: TableCell[][] }> = [];
  if (scalar.length > 0) tables.push({ columns: ['headline', 'value'], rows: scalar.map((k) => [k, h[k]]) });
  if (grouped.length > 0) {
    const rowNames: string[] = [];
    const colNames: string[] = [];
    for (const k of grouped) {
      const [r, c] = split(k)!;
      if (!rowNames.includes(r)) rowNames.push(r);
      if (!colNames.includes(c)) colNames.push(c);
    }
    const cell = (r: string, c: string): TableCell => (`${r}.${c}` in h ? h[`${r}.${c}`] : null);
    // Fewer columns than rows reads better: put the more numerous names down the side.
    if (colNames.length > rowNames.length)
      tables.push({ columns: ['', ...rowNames], rows: colNames.map((c) => [c, ...rowNames.map((r) => cell(r, c))]) });
    else
      tables.push({ columns: ['', ...colNames], rows: rowNames.map((r) => [r, ...colNames.map((c) => cell(r, c))]) });
  }
  return tables;
}

/**
 * Makes a standalone SVG document safe to inline next to others: drops the XML prolog/doctype,
 * prefixes every id (and its url(#…)/href="#…" references) so ids from different figures never
 * collide, removes scripts and foreignObject, and lets the figure shrink to the page width.
 */
export function inlineSvg(svg: string, prefix: string): string {
  let s = svg.replace(/^\s*<\?xml[^>]*\?>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/i, '');
  s = s.replace(/<script[\s\S]*?<\/script\s*>/gi, '').replace(/<foreignObject[\s\S]*?<\/foreignObject\s*>/gi, '');
  s = s.replace(/\sid="([^"]+)"/g, (_m, id: string) => ` id="${prefix}${id}"`);
  s = s.replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}${id})`);
  s = s.replace(/(\s(?:xlink:)?href=")#([^"]+)"/g, (_m, a: string, id: string) => `${a}#${prefix}${id}"`);
  s = s.replace(/^<svg\b/, '<svg role="img" class="figure-svg"');
  return s;
}

// ---- page -----------------------------------------------------------------------------------------

const CSS = `
:root { color-scheme: light; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d1d1f; background: #fff;
  max-width: 1180px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.7rem; margin: 0 0 .25rem; }
h2 { font-size: 1.35rem; margin: 2.5rem 0 .5rem; padding-top: 1rem; border-top: 2px solid #e3e3e8; }
h3 { font-size: 1.08rem; margin: 1.5rem 0 .5rem; }
p, li { max-width: 75ch; }
.muted, .meta dt { color: #555; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0 1rem; font-size: .94rem; }
.meta dt { font-weight: 600; }
.meta dd { margin: 0; }
blockquote.claim { margin: .75rem 0; padding: .6rem 1rem; background: #f5f7fb; border-left: 4px solid #4a6fa5; max-width: 80ch; }
.status { display: inline-block; padding: 0 .5em; border-radius: 3px; font-size: .85rem; font-weight: 600; }
.status-finished { background: #e3f4e6; color: #1f6b30; }
.status-diverged { background: #fff3d6; color: #7a5400; }
.status-aborted, .status-failed { background: #fde4e4; color: #8b1d1d; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d5d5dc; padding: .25rem .55rem; text-align: left; vertical-align: top; }
thead th { background: #f2f2f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .n { color: #666; font-size: .8em; }
figure { margin: 1.25rem 0 2rem; }
.svg-wrap { overflow-x: auto; max-width: 100%; }
svg.figure-svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .9rem; color: #333; max-width: 95ch; margin-top: .4rem; }
.fallback { background: #fff3d6; border: 2px solid #c98a00; padding: .6rem 1rem; border-radius: 4px; max-width: 95ch; }
.verdict { display: inline-block; padding: 0 .45em; border-radius: 3px; font-weight: 600; white-space: nowrap; }
.verdict-supported { background: #e3f4e6; color: #1f6b30; }
.verdict-not-reproduced { background: #fde4e4; color: #8b1d1d; }
.verdict-inconclusive { background: #fff3d6; color: #7a5400; }
.verdict-uninformative, .verdict-none { background: #ececf0; color: #444; }
table.verdicts td { font-size: .88rem; }
.error { white-space: pre-wrap; background: #fde4e4; padding: .5rem .75rem; border-radius: 3px; }
nav ol { padding-left: 1.25rem; }
code { font-size: .9em; background: #f2f2f5; padding: 0 .25em; border-radius: 3px; }
`;

function envLine(env: RunEnvironment | null): string {
  if (!env) return 'not recorded';
  const b = env.blas;
  return (
    `bigstep ${env.packageVersion}, Node ${env.node}, ${b.vendor === 'openblas' ? `OpenBLAS (${b.core} kernels, chosen by ${b.coreSource})` : 'portable GEMM (no BLAS)'}, ` +
    `${b.threads} BLAS thread${b.threads === 1 ? '' : 's'}, ${env.cpu.model} (${env.cpu.cores} cores), ${env.os.type} ${env.os.arch}`
  );
}

function seedsText(seeds: unknown): string {
  if (seeds === null || seeds === undefined) return '—';
  if (typeof seeds === 'number' || typeof seeds === 'string') return String(seeds);
  if (Array.isArray(seeds)) return seeds.join(', ');
  if (typeof seeds === 'object')
    return Object.entries(seeds as Record<string, unknown>)
      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
      .join(', ');
  return JSON.stringify(seeds);
}

function anchor(s: RunSummary): string {
  return `run-${s.run}`.replace(/[^A-Za-z0-9_-]/g, '-');
}

async function runSection(
  r: LoadedRun,
  index: number,
  figuresDir: string,
  reportDir: string,
): Promise<{ html: string; figures: number }> {
  const s = r.summary;
  const parts: string[] = [];
  const heading = s.protocolId && !s.title.startsWith(s.protocolId) ? `${s.protocolId} — ${s.title}` : s.title;
  parts.push(`<section id="${anchor(s)}">`);
  parts.push(
    `<h2>${escapeHtml(heading)} <span class="status status-${escapeHtml(s.status)}">${escapeHtml(s.status)}</span></h2>`,
  );
  if (s.claim)
    parts.push(
      `<blockquote class="claim"><strong>Paper claim tested</strong> (PROTOCOL.md): ${escapeHtml(s.claim)}</blockquote>`,
    );
  if (s.question) parts.push(`<p>${escapeHtml(s.question)}</p>`);
  const meta: Array<[string, string]> = [
    ['Scale', s.scale],
    ['Data set', s.dataset ?? '—'],
    ['Model', s.model ?? '—'],
    ['Seeds', seedsText(s.seeds)],
    ['Run', `${s.run} (wall time ${formatNumber(s.wallSeconds)} s, started ${s.startedAt})`],
    ['Environment', envLine(r.env)],
  ];
  parts.push(
    `<dl class="meta">${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`,
  );
  if (s.fallback)
    parts.push(
      `<p class="fallback"><strong>Fallback data.</strong> ${escapeHtml(s.fallback)}. This run tests nothing about the paper; its verdicts are "uninformative".</p>`,
    );
  if (s.status === 'failed')
    parts.push(`<p class="error">This run failed: ${escapeHtml(s.error ?? 'unknown error')}</p>`);
  if (s.status === 'aborted')
    parts.push('<p class="error">This run was aborted before it finished; it has no results.</p>');

  let figures = 0;
  if (COMPLETE_STATUSES.includes(s.status)) {
    if (s.headline) {
      parts.push('<h3>Headline numbers</h3>');
      for (const t of headlineTables(s.headline)) parts.push(tableHtml(t.columns, t.rows, 'headline'));
      parts.push(
        '<p class="muted">Keys as in summary.json <code>headline</code> (documented in docs/experiments.md).</p>',
      );
    }
    for (const t of s.tables as ReportTable[]) {
      parts.push(`<h3>${escapeHtml(t.title)}</h3>`);
      parts.push(tableHtml(t.columns, t.rows, 'data'));
      if (t.caption) parts.push(`<p class="muted">${escapeHtml(t.caption)}</p>`);
    }
    if (s.figures.length > 0) parts.push('<h3>Figures</h3>');
    for (const f of s.figures) {
      const svg = await fsp.readFile(path.join(r.dir, f.svg), 'utf8').catch(() => null);
      const png = await fsp.readFile(path.join(r.dir, f.png)).catch(() => null);
      let pngLink = '';
      if (png) {
        const dest = path.join(figuresDir, s.run, `${f.id}.png`);
        await writeFileAtomic(dest, png, { mkdir: true });
        pngLink = ` <a href="${escapeHtml(path.relative(reportDir, dest).split(path.sep).join('/'))}">PNG</a>`;
      }
      const body = svg
        ? `<div class="svg-wrap">${inlineSvg(svg, `r${index}-f${figures}-`)}</div>`
        : `<p class="error">Figure file ${escapeHtml(f.svg)} is missing.</p>`;
      parts.push(
        `<figure id="${anchor(s)}-${escapeHtml(f.id)}">${body}<figcaption><strong>${escapeHtml(f.title)}.</strong> ${escapeHtml(f.caption)}${pngLink}</figcaption></figure>`,
      );
      figures++;
    }
  }
  parts.push('</section>');
  return { html: parts.join('\n'), figures };
}

/**
 * The first screen: a banner when any run used fallback data (what is missing, how to install it),
 * then one verdict table over all runs, before any figure.
 */
function verdictSection(runs: LoadedRun[]): string {
  const parts: string[] = [];
  const fallbacks = runs.filter((r) => r.summary.fallback);
  if (fallbacks.length > 0) {
    parts.push(
      '<div class="fallback" id="fallback-banner"><strong>These results ran on fallback data and test nothing about the paper.</strong><ul>',
    );
    for (const r of fallbacks)
      parts.push(
        `<li><a href="#${anchor(r.summary)}">${escapeHtml(r.summary.experiment)}</a>: ${escapeHtml(r.summary.fallback ?? '')}</li>`,
      );
    parts.push(
      '</ul>Their numbers are shown below, marked as fallback; every verdict they make is "uninformative".</div>',
    );
  }
  const rows: string[] = [];
  for (const r of runs) {
    const s = r.summary;
    const id = s.protocolId ?? '';
    const where = `<a href="#${anchor(s)}">${escapeHtml(`${id ? `${id} ` : ''}${s.experiment}`)}</a> <span class="muted">(${escapeHtml(s.scale)})</span>`;
    const verdicts = s.verdicts ?? [];
    if (!COMPLETE_STATUSES.includes(s.status)) {
      rows.push(
        `<tr><td>${where}</td><td colspan="4"><span class="verdict verdict-none">no verdict</span> the run is ${escapeHtml(s.status)}</td></tr>`,
      );
      continue;
    }
    if (verdicts.length === 0) {
      rows.push(
        `<tr><td>${where}</td><td colspan="4"><span class="verdict verdict-none">no verdict</span> this run records no pre-registered verdict</td></tr>`,
      );
      continue;
    }
    for (const v of verdicts)
      rows.push(
        `<tr><td>${where}</td><td>${escapeHtml(v.claim)}</td><td><span class="verdict verdict-${escapeHtml(v.verdict)}">${escapeHtml(v.verdict)}</span></td>` +
          `<td>${escapeHtml(v.rule)}</td><td>${escapeHtml(v.evidence)}</td></tr>`,
      );
  }
  parts.push('<h2 id="verdicts">Verdicts</h2>');
  parts.push(
    '<p class="muted">Each verdict applies a rule fixed before the run (in the config and docs/experiments.md): ' +
      '"supported", "not-reproduced", "inconclusive" or "uninformative".</p>',
  );
  parts.push(
    `<div class="table-wrap"><table class="verdicts"><thead><tr><th>run</th><th>claim</th><th>verdict</th><th>rule</th><th>evidence</th></tr></thead>` +
      `<tbody>${rows.join('')}</tbody></table></div>`,
  );
  return parts.join('\n');
}

/** PROTOCOL order (E1, E2, E3; unregistered last), then experiment name, scale, newest first. */
function sortRuns(runs: LoadedRun[]): LoadedRun[] {
  const scaleOrder = ['tiny', 'quick', 'study', 'paper'];
  const rank = (xs: string[], x: string): number => (xs.includes(x) ? xs.indexOf(x) : xs.length);
  const protocol = (s: RunSummary): string => s.protocolId ?? '\uffff';
  const byProtocol = (a: RunSummary, b: RunSummary): number =>
    protocol(a) < protocol(b) ? -1 : protocol(a) > protocol(b) ? 1 : 0;
  return [...runs].sort(
    (a, b) =>
      byProtocol(a.summary, b.summary) ||
      a.summary.experiment.localeCompare(b.summary.experiment) ||
      rank(scaleOrder, a.summary.scale) - rank(scaleOrder, b.summary.scale) ||
      b.summary.startedAt.localeCompare(a.summary.startedAt),
  );
}

/** Writes `dir/report.html` (+ `dir/report-figures/`) from the run directories under `dir`. */
export async function writeReport(dir: string, options: WriteReportOptions = {}): Promise<ReportOutcome> {
  parseNamed(writeReportOptionsSchema, options, 'options');
  // The report file must stay inside dir: fileName '../../x.html' is refused before anything is read.
  const file = insideDir(dir, options.fileName ?? 'report.html', 'options.fileName');
  const st = await fsp.stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new RangeError(`report: ${dir} is not a directory`);
  const dirs = options.runs ?? (await findRunDirs(dir));
  const loaded: LoadedRun[] = [];
  const skipped: ReportOutcome['skipped'] = [];
  for (const d of dirs) {
    let summary: unknown;
    try {
      summary = JSON.parse(await fsp.readFile(path.join(d, 'summary.json'), 'utf8'));
    } catch (e) {
      skipped.push({ dir: d, problem: `summary.json: ${(e as Error).message}` });
      continue;
    }
    const problems = validateSummary(summary);
    if (problems.length > 0) {
      skipped.push({ dir: d, problem: problems[0] });
      continue;
    }
    const env = await fsp
      .readFile(path.join(d, 'env.json'), 'utf8')
      .then((t) => JSON.parse(t) as RunEnvironment)
      .catch(() => null);
    loaded.push({ dir: d, summary: summary as RunSummary, env });
  }
  const runs = sortRuns(loaded);
  const figuresDir = path.join(dir, 'report-figures');
  if (runs.length === 0 && options.skipIfEmpty)
    return { file, figuresDir, runs: [], skipped, figures: 0, written: false };
  await fsp.rm(figuresDir, { recursive: true, force: true });

  const sections: string[] = [];
  let figures = 0;
  for (let i = 0; i < runs.length; i++) {
    const s = await runSection(runs[i], i, figuresDir, path.dirname(file));
    sections.push(s.html);
    figures += s.figures;
  }
  const title = options.title ?? 'bigstep — reproduction report';
  const toc = runs
    .map((r) => {
      const s = r.summary;
      const id = s.protocolId;
      return `<li><a href="#${anchor(s)}">${escapeHtml(`${id ? `${id} ` : ''}${s.experiment}`)}</a> — ${escapeHtml(s.scale)}, <span class="status status-${escapeHtml(s.status)}">${escapeHtml(s.status)}</span></li>`;
    })
    .join('\n');
  const skippedHtml = skipped.length
    ? `<h2>Skipped directories</h2><ul>${skipped.map((s) => `<li><code>${escapeHtml(path.relative(dir, s.dir) || '.')}</code>: ${escapeHtml(s.problem)}</li>`).join('')}</ul>`
    : '';
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p>Experiments testing the claims of A. Mohtashami, M. Jaggi, S. U. Stich, <em>Special Properties of Gradient Descent with Large Learning
Rates</em> (arXiv 2205.15142; ICML 2023), run with bigstep ${escapeHtml(packageVersion())}. The experiments are bigstep's own designs
(PROTOCOL.md), not the paper's exact setups; every figure states its scale, data, model and seeds. A run that does not reproduce a
claim is reported as it came out.</p>
<p class="muted">Generated ${escapeHtml(new Date().toISOString())} from ${runs.length} run director${runs.length === 1 ? 'y' : 'ies'}. Self-contained page: figures are inline SVG; PNG copies are in <code>report-figures/</code>.</p>
</header>
${verdictSection(runs)}
<nav><h2>Runs</h2><ol>
${toc}
</ol></nav>
${sections.join('\n')}
${skippedHtml}
</body>
</html>
`;
  await writeFileAtomic(file, html);
  return {
    file,
    figuresDir,
    runs: runs.map((r) => ({
      dir: r.dir,
      experiment: r.summary.experiment,
      scale: r.summary.scale,
      status: r.summary.status,
    })),
    skipped,
    figures,
    written: true,
  };
}
