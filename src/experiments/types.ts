/**
 * The contract every experiment (E1 landscape, E2 escape, E3 noise) implements, so the run
 * directory machinery (src/run/), the CLI and the report treat them alike.
 */
import type { Figure } from '../report/plot.js';
import type { ResumeStore } from '../run/resume.js';
import type { Headline } from '../run/schema.js';
import type { Verdict } from '../run/verdict.js';

export type { Headline } from '../run/schema.js';

/** Preset sizes: `tiny` (seconds, for tests), `quick` (minutes, `npm start`), `paper` (the paper's sizes). */
export type Scale = 'tiny' | 'quick' | 'paper';

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
}

/** The contract of an experiment: presets, config validation, the run, its headline numbers and figures. */
export interface ExperimentDefinition<Config, Result> {
  name: 'landscape' | 'escape' | 'noise';
  /** One-line description for the CLI and the report. */
  title: string;
  presets: Record<Scale, Config>;
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
