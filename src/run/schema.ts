/**
 * The run-directory schema, as types and as a small hand-written validator (no dependencies).
 *
 *   <out>/<name>-<scale>-<id>/
 *     config.json      the resolved config (what was run)
 *     env.json         RunEnvironment: package/Node version, BLAS vendor/core/threads, CPU, OS, start time
 *     metrics.jsonl    one JSON object per line, one line per context.log() call
 *     result.json      the experiment's full result (finished/diverged runs only)
 *     figures/<id>.svg + figures/<id>.png   (finished/diverged runs only)
 *     summary.json     RunSummary, written last: status 'finished' here means the run is complete
 *     checkpoints/     only while incomplete: units and partial checkpoints to resume from (./resume.ts)
 *
 * `validateRunDir(dir)` checks a directory against this layout and returns a list of problems
 * (empty = valid). docs/experiments.md documents the same schema for readers.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { VERDICT_VALUES, type Verdict } from './verdict.js';

export const SUMMARY_SCHEMA = 'bigstep/run-summary@1';
export const ENV_SCHEMA = 'bigstep/run-env@1';

/** Scalar headline numbers written to summary.json under `headline` (documented in docs/experiments.md). */
export type Headline = Record<string, number | string | boolean | null>;

/** Status of a run in summary.json; `finished` and `diverged` mean complete. */
export type RunStatus = 'finished' | 'diverged' | 'aborted' | 'failed';
export const RUN_STATUSES: readonly RunStatus[] = ['finished', 'diverged', 'aborted', 'failed'];
/** Statuses of a complete run (rerunning it is a no-op). */
export const COMPLETE_STATUSES: readonly RunStatus[] = ['finished', 'diverged'];

/** A cell of a report table: a number, text, empty, or mean ± std over n seeds. */
export type TableCell = number | string | boolean | null | { mean: number | null; std: number | null; n: number };

/** A table of a run, shown in the report (summary.json `tables`). */
export interface ReportTable {
  id: string;
  title: string;
  caption: string;
  columns: string[];
  rows: TableCell[][];
}

/** A figure of a run, as summary.json lists it. */
export interface FigureEntry {
  id: string;
  title: string;
  caption: string;
  /** paths relative to the run directory */
  svg: string;
  png: string;
}

/** summary.json: what ran, its status, headline numbers, tables, figures and timing (written last). */
export interface RunSummary {
  schema: typeof SUMMARY_SCHEMA;
  experiment: string;
  title: string;
  /** PROTOCOL.md experiment id (E1, E2, E3), the paper claim it tests and its question; null for an unregistered experiment */
  protocolId?: string | null;
  claim?: string | null;
  question?: string | null;
  /** directory name, `<experiment>-<scale>-<id>` */
  run: string;
  id: string;
  status: RunStatus;
  scale: string;
  dataset: string | null;
  model: string | null;
  /** the seeds of the config, as written there */
  seeds: unknown;
  /** scalar headline numbers (null unless finished/diverged) */
  headline: Headline | null;
  /**
   * The verdicts on the paper's claims, by rules fixed before the run ([] until the run is
   * complete, or for an experiment that makes none). Absent in summaries written before verdicts existed.
   */
  verdicts?: Verdict[];
  /**
   * What was missing when the run fell back to a synthetic stand-in data set, and how to install
   * it; null when the real data was used. A fallback run makes no verdict about the paper.
   */
  fallback?: string | null;
  tables: ReportTable[];
  figures: FigureEntry[];
  packageVersion: string;
  startedAt: string;
  endedAt: string;
  wallSeconds: number;
  metricsLines: number;
  /** the error message of a failed run, else null */
  error: string | null;
  /**
   * Earlier starts of this run directory that did not complete (killed, aborted, failed) since its
   * checkpoints were last cleared. Absent in summaries written before resuming existed.
   */
  restarts?: number;
  /**
   * null when this life computed everything itself; else what it took over from earlier lives:
   * `units` finished units loaded, `partial` units continued from a partial checkpoint.
   * `wallSeconds` covers this life only.
   */
  resumed?: { units: number; partial: number } | null;
}

// ---- a tiny validator -----------------------------------------------------------------------------

type Check = (v: unknown, at: string, out: string[]) => void;

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, at, out) => {
  if (typeof v !== 'string') out.push(`${at}: expected a string, got ${typeName(v)}`);
};
const nonEmptyStr: Check = (v, at, out) => {
  if (typeof v !== 'string' || v.length === 0) out.push(`${at}: expected a non-empty string, got ${JSON.stringify(v)}`);
};
const num: Check = (v, at, out) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) out.push(`${at}: expected a finite number, got ${typeName(v)}`);
};
const nonNegNum: Check = (v, at, out) => {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
    out.push(`${at}: expected a number >= 0, got ${JSON.stringify(v)}`);
};
const nonNegInt: Check = (v, at, out) => {
  if (!Number.isInteger(v) || (v as number) < 0) out.push(`${at}: expected an integer >= 0, got ${JSON.stringify(v)}`);
};
const posInt: Check = (v, at, out) => {
  if (!Number.isInteger(v) || (v as number) < 1) out.push(`${at}: expected an integer >= 1, got ${JSON.stringify(v)}`);
};
const any: Check = () => undefined;
const literal =
  (...values: unknown[]): Check =>
  (v, at, out) => {
    if (!values.includes(v))
      out.push(`${at}: expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`);
  };
const nullable =
  (c: Check): Check =>
  (v, at, out) => {
    if (v !== null) c(v, at, out);
  };
const isoDate: Check = (v, at, out) => {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v)) || !/^\d{4}-\d\d-\d\dT/.test(v))
    out.push(`${at}: expected an ISO date string, got ${JSON.stringify(v)}`);
};
const arrayOf =
  (c: Check): Check =>
  (v, at, out) => {
    if (!Array.isArray(v)) return void out.push(`${at}: expected an array, got ${typeName(v)}`);
    v.forEach((x, i) => c(x, `${at}[${i}]`, out));
  };
const object =
  (fields: Record<string, Check>, opts: { extra?: boolean; optional?: string[] } = {}): Check =>
  (v, at, out) => {
    if (!isObject(v)) return void out.push(`${at}: expected an object, got ${typeName(v)}`);
    for (const [k, c] of Object.entries(fields)) {
      if (!(k in v)) {
        if (!opts.optional?.includes(k)) out.push(`${at}.${k}: missing`);
      } else c(v[k], `${at}.${k}`, out);
    }
    if (!opts.extra) for (const k of Object.keys(v)) if (!(k in fields)) out.push(`${at}.${k}: unexpected field`);
  };
const safeName: Check = (v, at, out) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v))
    out.push(`${at}: expected a file-name-safe id, got ${JSON.stringify(v)}`);
};

const headlineCheck: Check = (v, at, out) => {
  if (!isObject(v)) return void out.push(`${at}: expected an object, got ${typeName(v)}`);
  for (const [k, x] of Object.entries(v)) {
    const ok =
      x === null || typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));
    if (!ok) out.push(`${at}.${k}: expected a number, string, boolean or null, got ${typeName(x)}`);
  }
};

const cellCheck: Check = (v, at, out) => {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
    return;
  object({ mean: nullable(num), std: nullable(nonNegNum), n: nonNegInt })(v, at, out);
};

const tableCheck: Check = (v, at, out) => {
  object({
    id: safeName,
    title: nonEmptyStr,
    caption: str,
    columns: arrayOf(nonEmptyStr),
    rows: arrayOf(arrayOf(cellCheck)),
  })(v, at, out);
  if (isObject(v) && Array.isArray(v.columns) && Array.isArray(v.rows))
    v.rows.forEach((r, i) => {
      if (Array.isArray(r) && r.length !== (v.columns as unknown[]).length)
        out.push(`${at}.rows[${i}]: ${r.length} cells for ${(v.columns as unknown[]).length} columns`);
    });
};

const figureCheck: Check = object({
  id: safeName,
  title: nonEmptyStr,
  caption: nonEmptyStr,
  svg: nonEmptyStr,
  png: nonEmptyStr,
});

const verdictCheck: Check = object({
  claim: nonEmptyStr,
  verdict: literal(...VERDICT_VALUES),
  rule: nonEmptyStr,
  evidence: str,
});

const summaryCheck: Check = (v, at, out) => {
  object(
    {
      schema: literal(SUMMARY_SCHEMA),
      experiment: nonEmptyStr,
      title: nonEmptyStr,
      run: safeName,
      id: (x, a, o) => {
        if (typeof x !== 'string' || !/^[0-9a-f]{12}$/.test(x))
          o.push(`${a}: expected 12 hex digits, got ${JSON.stringify(x)}`);
      },
      status: literal(...RUN_STATUSES),
      scale: nonEmptyStr,
      dataset: nullable(str),
      model: nullable(str),
      seeds: any,
      headline: nullable(headlineCheck),
      protocolId: nullable(nonEmptyStr),
      claim: nullable(nonEmptyStr),
      question: nullable(nonEmptyStr),
      verdicts: arrayOf(verdictCheck),
      fallback: nullable(nonEmptyStr),
      tables: arrayOf(tableCheck),
      figures: arrayOf(figureCheck),
      packageVersion: nonEmptyStr,
      startedAt: isoDate,
      endedAt: isoDate,
      wallSeconds: nonNegNum,
      metricsLines: nonNegInt,
      error: nullable(str),
      restarts: nonNegInt,
      resumed: nullable(object({ units: nonNegInt, partial: nonNegInt })),
    },
    { optional: ['restarts', 'resumed', 'verdicts', 'fallback', 'protocolId', 'claim', 'question'] },
  )(v, at, out);
  if (!isObject(v)) return;
  if (typeof v.run === 'string' && typeof v.id === 'string' && !v.run.endsWith(`-${v.id}`))
    out.push(`${at}.run: must end with "-<id>"`);
  const complete = COMPLETE_STATUSES.includes(v.status as RunStatus);
  if (complete && v.headline === null) out.push(`${at}.headline: required when status is ${String(v.status)}`);
  if (!complete && v.headline !== null) out.push(`${at}.headline: must be null when status is ${String(v.status)}`);
  if (!complete && Array.isArray(v.figures) && v.figures.length > 0)
    out.push(`${at}.figures: must be empty when status is ${String(v.status)}`);
  if (v.status === 'failed' && (typeof v.error !== 'string' || v.error.length === 0))
    out.push(`${at}.error: a failed run must give its error message`);
  if (v.status !== 'failed' && v.error !== null) out.push(`${at}.error: must be null unless status is failed`);
};

const envCheck: Check = object({
  schema: literal(ENV_SCHEMA),
  packageVersion: nonEmptyStr,
  node: (v, at, out) => {
    if (typeof v !== 'string' || !/^v\d+\.\d+\.\d+/.test(v))
      out.push(`${at}: expected a Node version like v20.1.0, got ${JSON.stringify(v)}`);
  },
  napiVersion: posInt,
  blas: object({
    vendor: literal('openblas', 'portable'),
    core: nonEmptyStr,
    threads: posInt,
    coreSource: nonEmptyStr,
  }),
  simd: nonEmptyStr,
  cpu: object({ model: nonEmptyStr, cores: posInt, availableParallelism: posInt }),
  os: object({ platform: nonEmptyStr, type: nonEmptyStr, release: nonEmptyStr, arch: nonEmptyStr }),
  startedAt: isoDate,
});

function run(check: Check, v: unknown, at: string): string[] {
  const out: string[] = [];
  check(v, at, out);
  return out;
}

/** Problems with a parsed summary.json (empty array = valid). */
export function validateSummary(v: unknown): string[] {
  return run(summaryCheck, v, 'summary');
}

/** Problems with a parsed env.json (empty array = valid). */
export function validateEnvironment(v: unknown): string[] {
  return run(envCheck, v, 'env');
}

/** Problems with the text of metrics.jsonl: every line must be a JSON object, the file must end with a newline. */
export function validateMetrics(text: string): string[] {
  if (text.length === 0) return [];
  const out: string[] = [];
  if (!text.endsWith('\n')) out.push('metrics.jsonl: last line is not terminated by a newline');
  text
    .split('\n')
    .slice(0, text.endsWith('\n') ? -1 : undefined)
    .forEach((line, i) => {
      try {
        const v: unknown = JSON.parse(line);
        if (!isObject(v)) out.push(`metrics.jsonl line ${i + 1}: expected a JSON object`);
      } catch {
        out.push(`metrics.jsonl line ${i + 1}: not valid JSON`);
      }
    });
  return out;
}

/** Temporary files left by an interrupted atomic write (`.<name>.tmp-<pid>-<hex>`). */
export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]+$/.test(name);
}

async function readJson(file: string, out: string[]): Promise<unknown> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as unknown;
  } catch (e) {
    out.push(
      `${path.basename(file)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `unreadable (${(e as Error).message})`}`,
    );
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  return fsp.stat(file).then(
    (s) => s.size >= 0,
    () => false,
  );
}

async function listTemp(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      if (isTempName(e.name)) found.push(path.relative(dir, path.join(d, e.name)));
      else if (e.isDirectory()) await walk(path.join(d, e.name));
    }
  };
  await walk(dir);
  return found;
}

/**
 * Checks a run directory against the layout above; returns the problems found (empty = valid).
 * A directory without summary.json is reported as "summary.json: missing" (a run in progress or
 * interrupted hard).
 */
export async function validateRunDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  const summary = await readJson(path.join(dir, 'summary.json'), out);
  if (summary !== undefined) out.push(...validateSummary(summary));
  const env = await readJson(path.join(dir, 'env.json'), out);
  if (env !== undefined) out.push(...validateEnvironment(env));
  const config = await readJson(path.join(dir, 'config.json'), out);
  if (config !== undefined && !isObject(config)) out.push('config.json: expected a JSON object');
  const metrics = await fsp.readFile(path.join(dir, 'metrics.jsonl'), 'utf8').catch(() => undefined);
  if (metrics === undefined) out.push('metrics.jsonl: missing');
  else out.push(...validateMetrics(metrics));
  for (const t of await listTemp(dir)) out.push(`${t}: temporary file left behind`);
  if (!isObject(summary)) return out;
  const s = summary as unknown as RunSummary;
  if (s.run !== path.basename(dir))
    out.push(`summary.run: "${s.run}" is not the directory name "${path.basename(dir)}"`);
  if (metrics !== undefined && typeof s.metricsLines === 'number') {
    const lines = metrics.length === 0 ? 0 : metrics.split('\n').length - 1;
    if (lines !== s.metricsLines)
      out.push(`summary.metricsLines: ${s.metricsLines}, but metrics.jsonl has ${lines} lines`);
  }
  if (isObject(env) && env.packageVersion !== s.packageVersion)
    out.push('env.packageVersion differs from summary.packageVersion');
  const complete = COMPLETE_STATUSES.includes(s.status);
  const hasResult = await exists(path.join(dir, 'result.json'));
  if (complete && !hasResult) out.push('result.json: missing for a complete run');
  if (!complete && hasResult) out.push(`result.json: present although status is ${s.status}`);
  if (complete && hasResult) {
    const result = await readJson(path.join(dir, 'result.json'), out);
    if (result === null || typeof result !== 'object') out.push('result.json: expected a JSON object or array');
  }
  for (const f of Array.isArray(s.figures) ? s.figures : []) {
    for (const [kind, rel] of [
      ['svg', f.svg],
      ['png', f.png],
    ] as const) {
      if (typeof rel !== 'string') continue;
      if (rel !== `figures/${f.id}.${kind}`)
        out.push(`summary.figures[${f.id}].${kind}: expected "figures/${f.id}.${kind}", got "${rel}"`);
      const buf = await fsp.readFile(path.join(dir, rel)).catch(() => undefined);
      if (!buf) out.push(`${rel}: missing`);
      else if (kind === 'svg' && !/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(buf.subarray(0, 512).toString('utf8')))
        out.push(`${rel}: not an SVG document`);
      else if (
        kind === 'png' &&
        !buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
      )
        out.push(`${rel}: not a PNG file`);
    }
  }
  return out;
}
