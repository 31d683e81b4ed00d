/**
 * The contract every experiment (E1 landscape, E2 escape, E3 noise) implements, so the run
 * directory machinery (this folder), the CLI and the report treat them alike. The experiments
 * themselves live in src/experiments/ and import this; nothing here imports them.
 */
import type { ResumeStore } from './resume.js';
import type { Headline, ReportTable } from './schema.js';

export type { Headline } from './schema.js';
import type { Verdict } from './verdict.js';

/** A figure of an experiment: rendered SVG text and PNG image, with an id, title and caption. */
export interface Figure {
  id: string;
  title: string;
  caption: string;
  svg: string;
  png: Buffer;
}

/**
 * Preset sizes: `tiny` (seconds, for tests), `quick` (minutes, `npm start`), `study` (the convincing
 * size that still runs on two cores within about two hours, or as a sweep), `paper` (the paper's
 * scale, for a cluster).
 */
export const SCALES = ['tiny', 'quick', 'study', 'paper'] as const;
/** A preset size, one of {@link SCALES}. */
export type Scale = (typeof SCALES)[number];

/** What an experiment gets from the run directory machinery: where to write, a metrics log, progress, abort. */
export interface RunContext {
  /** The run directory (exists; the experiment may write extra files into it, atomically). */
  dir: string;
  /** Appends one JSON line to metrics.jsonl (e.g. `{ arm: 'large', step: 10, loss: 0.3 }`). */
  log(record: Record<string, unknown>): void;
  /** Reports progress of the whole experiment: `done` of `total` units, with a short label. */
  progress(done: number, total: number, label?: string): void;
  /** Aborted on Ctrl-C: stop at the next safe point (results so far are not written as finished). */
  signal?: AbortSignal;
  /**
   * Units and checkpoints of this run directory (set by `runExperiment`): an experiment that runs
   * its work as `resume.unit(key, fn)` continues after a kill instead of starting over. Absent:
   * nothing is kept (use `resumeStoreOf(ctx)` from src/run/resume.ts to handle both).
   */
  resume?: ResumeStore;
  /**
   * This process is one rank of an MPI job (`bigstep run --data-parallel`, after initMpi()): every
   * rank runs the experiment; training and full-data measurements are split over the ranks
   * (Trainer, Model#evaluate and the Hessian operator with `dataParallel: true`), so every
   * collective call must happen in the same order on every rank (no concurrent trainers). Only
   * rank 0 writes files; `log` and `progress` do nothing on the others; `resume` is collective
   * (rank 0 writes the checkpoints, every rank reads them).
   */
  dataParallel?: boolean;
}

/** The contract of an experiment: presets, config validation, the run, its headline numbers and figures. */
export interface ExperimentDefinition<Config, Result> {
  name: 'landscape' | 'escape' | 'noise';
  /** One-line description for the CLI and the report. */
  title: string;
  /** One config per scale; `study` may be absent (asking for it is then a RangeError naming the experiment). */
  presets: Record<Exclude<Scale, 'study'>, Config> & { study?: Config };
  /** Throws TypeError/RangeError naming the field (e.g. `config.steps`). Returns the resolved config. */
  validate(config: unknown): Config;
  /** Runs the experiment with a validated config. */
  run(config: Config, context: RunContext): Promise<Result>;
  /** The scalar headline numbers of a result (summary.json `headline`). */
  headline(result: Result): Headline;
  /**
   * The verdicts on the paper's claims (summary.json `verdicts`), each decided by a rule fixed in
   * the config and docs before the run. A run on fallback data has them replaced by "uninformative".
   */
  verdicts?(result: Result, config: Config): Verdict[];
  /** The figures of a result, rendered to SVG and PNG. */
  figures(result: Result, config: Config): Promise<Figure[]>;
}

/** What summary.json records about a config: its data set, model and seeds (null when not applicable). */
export interface RunDescription {
  dataset: string | null;
  model: string | null;
  seeds: unknown;
}

/** An experiment as the CLI, run directories and report see it: its definition plus the paper claim it tests. */
export interface RegisteredExperiment {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  definition: ExperimentDefinition<any, any>;
  /** PROTOCOL.md experiment id. */
  protocolId: 'E1' | 'E2' | 'E3';
  /** The paper claim the experiment tests, quoted from PROTOCOL.md ("What it claims"). */
  claim: string;
  /** What the experiment measures, in one sentence (PROTOCOL.md section heading and first lines). */
  question: string;
  /** Called with the config (before the run) and again with the result (after it, e.g. to name a data-set fallback). */
  describe(config: unknown, result?: unknown): RunDescription;
  /** Tables for the report (stored in summary.json under `tables`). */
  tables?(result: unknown, config: unknown): ReportTable[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function nameOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (!isObject(v)) return null;
  for (const k of ['name', 'preset', 'kind', 'type', 'id']) if (typeof v[k] === 'string') return v[k] as string;
  return null;
}

/** Best-effort description of a config that has `dataset`/`data`, `model` and `seeds`/`seed` fields. */
export function describeGeneric(config: unknown): RunDescription {
  const c = isObject(config) ? config : {};
  return {
    dataset: nameOf(c.dataset ?? c.data),
    model: nameOf(c.model),
    seeds: c.seeds ?? c.seed ?? null,
  };
}
