/**
 * Run directories: `runExperiment(experiment, config, { out })` resolves and validates the config,
 * hashes it to a stable id, and runs it in `<out>/<name>-<scale>-<id>/`, writing the files listed
 * in ./schema.ts. Every file but the append-only metrics.jsonl is written atomically (temp file +
 * fsync + rename), and summary.json is written last, so a summary.json with status 'finished'
 * (or 'diverged') means the directory is complete.
 *
 * - A complete run is not run again: `runExperiment` returns it with `skipped: true` (unless `force`).
 * - An interrupted run (killed: no summary; or status aborted/failed) resumes in the same
 *   directory: its result files are removed, `checkpoints/` is kept, and the experiment gets a
 *   `ResumeStore` on it (`context.resume`, src/run/resume.ts) that hands back the units finished
 *   in earlier lives (re-emitting their metrics records, so metrics.jsonl is rewritten with the
 *   same lines) and lets a half-done unit continue from its last partial checkpoint. The result is
 *   bitwise the same as an uninterrupted run's; summary.json adds `restarts` and `resumed`.
 *   `checkpoints/` is removed once the run is complete, and by `force`.
 * - Aborting `signal` (Ctrl-C in the CLI) stops the experiment at its next safe point and writes
 *   status 'aborted'; no result.json or figures are written.
 * - An exception inside the experiment (or its figures) writes status 'failed' with the message and
 *   is rethrown as a `RunFailedError`.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import {
  describeGeneric,
  type ExperimentDefinition,
  type RegisteredExperiment,
  type RunContext,
  type RunDescription,
  type Scale,
} from './experiment.js';
import { fsyncDir, writeFileAtomic } from '../util/atomic.js';
import { formatValue } from '../util/format.js';
import { plainCopy } from '../util/plain-data.js';
import { boolean, instanceOf, parseNamed } from '../util/schema.js';
import { makeDir, readTextFile } from '../util/safe-fs.js';
import { everyRankOk, mpiWorld, requireMpiWorld } from '../train/data-parallel.js';
import { collectEnvironment, packageVersion } from './env.js';
import { ResumeStore } from './resume.js';
import { fallbackVerdicts, type Verdict } from './verdict.js';
import { canonicalJson, sha256Hex, toJson, toPlain } from './json.js';
import {
  COMPLETE_STATUSES,
  SUMMARY_SCHEMA,
  isTempName,
  type FigureEntry,
  type Headline,
  type ReportTable,
  type RunStatus,
  type RunSummary,
} from './schema.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDefinition = ExperimentDefinition<any, any>;

/** Receives progress: `done` of `total` units, with an optional short label. */
export type ProgressSink = (done: number, total: number, label?: string) => void;

/** Options of {@link runExperiment} (and, in part, {@link planRun}). */
export interface RunExperimentOptions {
  /** Parent directory of run directories (created if missing). */
  out: string;
  /** Base seed: replaces the config's seeds (see {@link applySeed}). */
  seed?: number;
  /** Run again even if a complete run exists (its files, checkpoints included, are replaced). */
  force?: boolean;
  /** Abort (e.g. on Ctrl-C): the run stops at its next safe point with status 'aborted'. */
  signal?: AbortSignal;
  /** Progress of the experiment, passed through from `context.progress`. */
  progress?: ProgressSink;
  /** Called once the run directory is known, before anything runs (not called for skipped runs). */
  onStart?: (plan: RunPlan) => void;
  /** Scale label for a config object without a `scale` field (default 'custom'). */
  scale?: string;
  /**
   * This process is one rank of an MPI job (initMpi() has run) and the experiment's full-batch
   * training and full-data measurements are split over the ranks (RunContext.dataParallel). Every
   * rank calls runExperiment with the same arguments. Rank 0 decides whether the run is skipped (a
   * complete run exists) and writes the run directory; the other ranks run the experiment and write
   * nothing (their outcome's summary is not stored anywhere). Checkpoints are kept as in one process
   * (rank 0 writes them, every rank reads them: the run directory must be on a file system all ranks
   * see), so a killed data-parallel run resumes — on the same number of ranks, else the run fails
   * with a CheckpointError saying so. env.json records the number of ranks.
   */
  dataParallel?: boolean;
}

/** {@link RunExperimentOptions} as a zod schema (messages name the option). */
const runExperimentOptionsSchema = z.strictObject(
  {
    // An empty out would write into the working directory.
    out: z
      .string({ error: (i) => `must be a non-empty directory path (got ${formatValue(i.input)})` })
      .refine((s) => s.length > 0, {
        error: 'must be a non-empty directory path (got "")',
        params: { typeError: true },
      }),
    // Its range is applySeed's (which the CLI's --seed reaches too).
    seed: z
      .number({
        error: (i) =>
          typeof i.input === 'number'
            ? `must be a non-negative integer (got ${i.input})`
            : `must be a number (got ${formatValue(i.input)})`,
      })
      .optional(),
    force: boolean().optional(),
    signal: instanceOf(AbortSignal, 'an AbortSignal').optional(),
    progress: instanceOf(Function, 'a function (done, total, label)').optional(),
    onStart: instanceOf(Function, 'a function (plan)').optional(),
    scale: z.string({ error: (i) => `must be a string (got ${formatValue(i.input)})` }).optional(),
    dataParallel: boolean().optional(),
  },
  { error: (i) => `must be an object { out, ... } (got ${formatValue(i.input)})` },
);

/** Where and with what config a run will happen: the result of {@link planRun}. */
export interface RunPlan {
  /** The resolved, validated config (seed applied). */
  config: unknown;
  scale: string;
  /** 12 hex digits of SHA-256 over the canonical JSON of {experiment, config, packageVersion}. */
  id: string;
  /** Directory name `<name>-<scale>-<id>`. */
  run: string;
  /** Full path of the run directory. */
  dir: string;
}

/** The result of {@link runExperiment}: the plan, the final status and summary.json. */
export interface RunOutcome extends RunPlan {
  status: RunStatus;
  /** True when a complete run already existed and nothing was run. */
  skipped: boolean;
  summary: RunSummary;
}

/** Thrown when the experiment fails; summary.json (status 'failed') has been written. */
export class RunFailedError extends Error {
  constructor(
    message: string,
    readonly dir: string,
    readonly summary: RunSummary,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RunFailedError';
  }
}

/** The run context handed to experiments: the contract's RunContext plus where checkpoints go. */
export interface RunContextWithCheckpoints extends RunContext {
  /**
   * `<run dir>/checkpoints` (created on the first write): the files of `resume` live here. It
   * survives a restart of an interrupted run; it is removed when the run completes and by `force`.
   */
  checkpointDir: string;
  resume: ResumeStore;
  /** True when this directory held an interrupted run (no complete summary) before this start. */
  restarted: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Replaces the seeds of a config by a base seed N (returns a copy):
 * a numeric `seed` field becomes N; a `seeds` array of numbers becomes N, N+1, …; a `seeds` object
 * gets N, N+1, … for its numeric fields in key order. With N = 1 the shipped presets are unchanged
 * when their seeds are 1, 2, 3, … in that order. Throws RangeError if the config has no seeds.
 */
export function applySeed<C>(config: C, seed: number, experiment = 'experiment'): C {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`seed must be a non-negative integer (got ${seed})`);
  if (!isObject(config)) throw new TypeError('config must be an object');
  const c = structuredClone(config) as Record<string, unknown>;
  let applied = false;
  if (typeof c.seed === 'number') {
    c.seed = seed;
    applied = true;
  }
  if (Array.isArray(c.seeds) && c.seeds.every((s) => typeof s === 'number')) {
    c.seeds = c.seeds.map((_, i) => seed + i);
    applied = true;
  } else if (isObject(c.seeds)) {
    let i = 0;
    for (const k of Object.keys(c.seeds)) if (typeof c.seeds[k] === 'number') c.seeds[k] = seed + i++;
    applied ||= i > 0;
  }
  if (!applied) throw new RangeError(`seed: the ${experiment} config has no "seed" or "seeds" field to set`);
  return c as C;
}

function definitionOf(e: AnyDefinition | RegisteredExperiment): AnyDefinition {
  return 'definition' in e ? e.definition : e;
}

/** Resolves (preset name or config object, then seed), validates and hashes a config; touches no files. */
export function planRun(
  experiment: AnyDefinition | RegisteredExperiment,
  config: unknown,
  options: Pick<RunExperimentOptions, 'out' | 'seed' | 'scale'>,
): RunPlan {
  const def = definitionOf(experiment);
  parseNamed(runExperimentOptionsSchema, options, 'options');
  let raw: unknown = config;
  let scale = options.scale;
  if (typeof config === 'string') {
    if (!(config in def.presets))
      throw new RangeError(`preset must be one of ${Object.keys(def.presets).join(', ')} (got "${config}")`);
    raw = def.presets[config as Scale];
    scale ??= config;
  }
  // Plain data, bounded depth, no prototype keys (structuredClone fails on a Proxy, overflows the stack at 10⁴ levels).
  raw = plainCopy(raw, 'config');
  if (options.seed !== undefined) raw = applySeed(raw, options.seed, def.name);
  const resolved: unknown = def.validate(raw);
  const plain = toPlain(resolved);
  if (isObject(plain) && typeof plain.scale === 'string') scale = plain.scale;
  scale ??= 'custom';
  if (!/^[A-Za-z0-9_-]+$/.test(scale))
    throw new RangeError(`scale must be letters, digits, "-" or "_" (got "${scale}")`);
  const id = sha256Hex(canonicalJson({ experiment: def.name, config: plain, packageVersion: packageVersion() })).slice(
    0,
    12,
  );
  const run = `${def.name}-${scale}-${id}`;
  return { config: resolved, scale, id, run, dir: path.join(options.out, run) };
}

/** Reads `<dir>/summary.json`, or undefined if it is missing or unreadable. */
export async function readSummary(dir: string): Promise<RunSummary | undefined> {
  try {
    return JSON.parse(await readTextFile(path.join(dir, 'summary.json'), 'summary')) as RunSummary;
  } catch {
    return undefined;
  }
}

/** Files and directories a run writes; only these (and temp files) are removed on a restart. */
const RUN_FILES = ['summary.json', 'result.json', 'config.json', 'env.json', 'metrics.jsonl', 'figures'];

/**
 * Removes the files of an earlier, incomplete life of the run (and temp files). `checkpoints/` is
 * kept (unless `force`): the experiment resumes from it and re-emits the metrics records of the
 * work it loads, so metrics.jsonl is started afresh.
 */
async function clearRunDir(dir: string, force: boolean): Promise<void> {
  for (const e of await fsp.readdir(dir)) {
    if (RUN_FILES.includes(e) || isTempName(e) || (force && e === CHECKPOINTS))
      await fsp.rm(path.join(dir, e), { recursive: true, force: true });
  }
}

const CHECKPOINTS = 'checkpoints';
const STARTS_FILE = 'starts.json';

/** Counts the starts of a run directory in `checkpoints/starts.json`; returns the starts before this one. */
async function countStart(checkpointDir: string): Promise<number> {
  const file = path.join(checkpointDir, STARTS_FILE);
  let before = 0;
  try {
    const v = (JSON.parse(await fsp.readFile(file, 'utf8')) as { starts?: unknown }).starts;
    if (Number.isSafeInteger(v) && (v as number) >= 0) before = v as number;
  } catch {
    // none yet (or unreadable: count from zero)
  }
  await writeFileAtomic(file, `${JSON.stringify({ starts: before + 1 })}\n`, { mkdir: true });
  return before;
}

/** A lock file so that two processes never run in the same directory at once. */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  const lock = path.join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => fsp.rm(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await fsp.readFile(lock, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive)
        throw new Error(
          `run directory ${dir} is in use by process ${pid} (delete ${lock} if that process is not bigstep)`,
          { cause: e },
        );
      await fsp.rm(lock, { force: true }); // stale lock of a process that is gone
    }
  }
  throw new Error(`could not lock run directory ${dir}`);
}

/** Append-only metrics.jsonl: one whole line per write(2), fsynced when closed. */
class MetricsLog {
  lines = 0;
  private fd: number | null;
  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }
  log(record: Record<string, unknown>): void {
    if (this.fd === null) throw new Error('context.log() called after the run ended');
    if (!isObject(record)) throw new TypeError('context.log(record): record must be an object');
    const buf = Buffer.from(`${toJson(record)}\n`, 'utf8');
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    this.lines++;
  }
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Why a result ran on a synthetic stand-in set (its `data.fallback`, as E2/E3 results report it),
 * or null when it used the configured data.
 */
function fallbackOf(result: unknown): string | null {
  const data = typeof result === 'object' && result !== null ? (result as { data?: unknown }).data : undefined;
  const fb = typeof data === 'object' && data !== null ? (data as { fallback?: unknown }).fallback : undefined;
  return typeof fb === 'string' && fb.length > 0 ? fb : null;
}

function flatHeadline(h: Headline): Headline {
  const out: Headline = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'number') out[k] = Number.isFinite(v) ? v : null;
    else throw new TypeError(`headline.${k} must be a number, string, boolean or null (got ${typeof v})`);
  }
  return out;
}

/** Whether an experiment's result says the run diverged (`result.diverged === true` or `result.status === 'diverged'`). */
function resultDiverged(result: unknown): boolean {
  return isObject(result) && (result.diverged === true || result.status === 'diverged');
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/**
 * Runs `experiment` with `config` (a preset name or a config object) in its run directory under
 * `options.out`; see the module comment. Resolves with the outcome (status finished, diverged or
 * aborted); rejects with `RunFailedError` if the experiment failed, and with TypeError/RangeError
 * (before touching any file) if the config is invalid.
 */
export async function runExperiment(
  experiment: AnyDefinition | RegisteredExperiment,
  config: unknown,
  options: RunExperimentOptions,
): Promise<RunOutcome> {
  const def = definitionOf(experiment);
  const entry = 'definition' in experiment ? experiment : undefined;
  const plan = planRun(experiment, config, options);
  const { dir } = plan;
  const world = options.dataParallel ? requireMpiWorld('options.dataParallel') : null;
  if (world && world.rank > 0) return followRankZero(def, entry, plan, options);

  const previous = await readSummary(dir);
  const skip = previous !== undefined && COMPLETE_STATUSES.includes(previous.status) && !options.force;
  if (world) everyRankOk(!skip); // tells the other ranks whether to run (rank 0's word decides)
  if (skip && previous) return { ...plan, status: previous.status, skipped: true, summary: previous };

  await makeDir(dir, 'run directory'); // not fs.mkdir({ recursive }): it spins forever on /proc/x
  const release = await acquireLock(dir);
  try {
    const restarted = (await fsp.readdir(dir)).some((e) => RUN_FILES.includes(e));
    await clearRunDir(dir, Boolean(options.force));
    const checkpointDir = path.join(dir, CHECKPOINTS);
    const restarts = await countStart(checkpointDir);
    options.onStart?.(plan);

    const started = new Date();
    const t0 = performance.now();
    const version = packageVersion();
    let description = describeRun(entry, plan);
    await writeFileAtomic(path.join(dir, 'config.json'), `${toJson(plan.config, 2)}\n`);
    await writeFileAtomic(
      path.join(dir, 'env.json'),
      `${toJson({ ...collectEnvironment(started), ...(world ? { dataParallel: { ranks: world.size, mpi: world.library } } : {}) }, 2)}\n`,
    );
    const metrics = new MetricsLog(path.join(dir, 'metrics.jsonl'));

    const summary = (status: RunStatus, extra: Partial<RunSummary> = {}): RunSummary => ({
      ...summaryFields(def, entry, plan, description, status, started, t0, version),
      metricsLines: metrics.lines,
      error: null,
      restarts,
      resumed:
        resume.stats.unitsLoaded + resume.stats.partialsResumed > 0
          ? { units: resume.stats.unitsLoaded, partial: resume.stats.partialsResumed }
          : null,
      ...extra,
    });
    const finish = async (s: RunSummary): Promise<RunSummary> => {
      metrics.close();
      await fsyncDir(dir);
      await writeFileAtomic(path.join(dir, 'summary.json'), `${toJson(s, 2)}\n`);
      return s;
    };
    const signal = options.signal;
    // Data parallel: every rank opens the store (collectively); rank 0 writes it (src/run/resume.ts).
    let resume = ResumeStore.passThrough((record) => metrics.log(record));
    const context: RunContextWithCheckpoints = {
      dir,
      log: (record) => metrics.log(record),
      progress: (done, total, label) => {
        try {
          options.progress?.(done, total, label);
        } catch {
          // a broken progress display must not fail the run
        }
      },
      signal,
      checkpointDir,
      resume,
      restarted,
      ...(world ? { dataParallel: true } : {}),
    };

    try {
      resume = new ResumeStore({
        dir: checkpointDir,
        configHash: plan.id,
        log: (record) => metrics.log(record),
        world,
      });
      context.resume = resume;
      const result: unknown = await def.run(plan.config, context);
      if (signal?.aborted)
        return { ...plan, status: 'aborted', skipped: false, summary: await finish(summary('aborted')) };
      if (entry) {
        try {
          description = entry.describe(plan.config, result); // the result may know more (e.g. a data-set fallback)
        } catch {
          // keep the description from the config
        }
      }
      const headline = flatHeadline(def.headline(result));
      const fallback = fallbackOf(result);
      const ownVerdicts: Verdict[] = def.verdicts ? def.verdicts(result, plan.config) : [];
      const verdicts = fallback ? fallbackVerdicts(ownVerdicts, fallback) : ownVerdicts;
      const tables: ReportTable[] = entry?.tables ? entry.tables(result, plan.config) : [];
      const figures = await def.figures(result, plan.config);
      if (signal?.aborted)
        return { ...plan, status: 'aborted', skipped: false, summary: await finish(summary('aborted')) };
      await writeFileAtomic(path.join(dir, 'result.json'), `${toJson(result)}\n`);
      const entries: FigureEntry[] = [];
      if (figures.length > 0) await makeDir(path.join(dir, 'figures'), 'figures directory');
      for (const f of figures) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.id))
          throw new RangeError(`figure id "${f.id}" is not a safe file name`);
        if (entries.some((e) => e.id === f.id)) throw new RangeError(`figure id "${f.id}" is used twice`);
        await writeFileAtomic(path.join(dir, 'figures', `${f.id}.svg`), f.svg);
        await writeFileAtomic(path.join(dir, 'figures', `${f.id}.png`), f.png);
        entries.push({
          id: f.id,
          title: f.title,
          caption: f.caption,
          svg: `figures/${f.id}.svg`,
          png: `figures/${f.id}.png`,
        });
      }
      const status: RunStatus = resultDiverged(result) ? 'diverged' : 'finished';
      const s = await finish(
        summary(status, { headline, verdicts: toPlain(verdicts), fallback, tables: toPlain(tables), figures: entries }),
      );
      // Complete: everything is in result.json; the units and checkpoints are not needed any more.
      await fsp.rm(checkpointDir, { recursive: true, force: true });
      return { ...plan, status, skipped: false, summary: s };
    } catch (e) {
      // result.json and figures may be partly written when a late step fails: remove them so a
      // non-complete run never looks like it has results.
      await fsp.rm(path.join(dir, 'result.json'), { force: true });
      await fsp.rm(path.join(dir, 'figures'), { recursive: true, force: true });
      if (signal?.aborted)
        return { ...plan, status: 'aborted', skipped: false, summary: await finish(summary('aborted')) };
      const message = errorMessage(e);
      const s = await finish(summary('failed', { error: message }));
      throw new RunFailedError(`${def.name} failed: ${message} (run directory ${dir})`, dir, s, { cause: e });
    } finally {
      metrics.close();
    }
  } finally {
    await release();
  }
}

/** What a run's summary says about its data, model and seeds (the generic one if describe throws). */
function describeRun(entry: RegisteredExperiment | undefined, plan: RunPlan): RunDescription {
  try {
    return entry ? entry.describe(plan.config) : describeGeneric(plan.config);
  } catch {
    return describeGeneric(plan.config);
  }
}

/** The fields every summary of this run has at `status`; the caller adds its counters. */
function summaryFields(
  def: AnyDefinition,
  entry: RegisteredExperiment | undefined,
  plan: RunPlan,
  description: RunDescription,
  status: RunStatus,
  started: Date,
  t0: number,
  version: string,
): Omit<RunSummary, 'metricsLines' | 'error' | 'restarts' | 'resumed'> {
  return {
    schema: SUMMARY_SCHEMA,
    experiment: def.name,
    title: def.title,
    protocolId: entry?.protocolId ?? null,
    claim: entry?.claim ?? null,
    question: entry?.question ?? null,
    run: plan.run,
    id: plan.id,
    status,
    scale: plan.scale,
    dataset: description.dataset,
    model: description.model,
    seeds: toPlain(description.seeds ?? null),
    headline: null,
    verdicts: [],
    fallback: null,
    tables: [],
    figures: [],
    packageVersion: version,
    startedAt: started.toISOString(),
    endedAt: new Date().toISOString(),
    wallSeconds: Math.round((performance.now() - t0) / 10) / 100,
  };
}

/**
 * runExperiment on a rank other than 0 of a data-parallel job: follows rank 0's decision to run or
 * skip, runs the experiment with a context that writes nothing, and returns the outcome (its
 * summary is computed here, not stored: rank 0's summary.json is the run's).
 */
async function followRankZero(
  def: AnyDefinition,
  entry: RegisteredExperiment | undefined,
  plan: RunPlan,
  options: RunExperimentOptions,
): Promise<RunOutcome> {
  const run = everyRankOk(false)[0];
  if (!run) {
    const previous = await readSummary(plan.dir);
    if (previous) return { ...plan, status: previous.status, skipped: true, summary: previous };
  }
  const started = new Date();
  const t0 = performance.now();
  const nothing = (): void => {};
  const checkpointDir = path.join(plan.dir, CHECKPOINTS);
  const context: RunContextWithCheckpoints = {
    dir: plan.dir,
    log: nothing,
    progress: nothing,
    signal: options.signal,
    checkpointDir,
    resume: ResumeStore.passThrough(nothing),
    restarted: false,
    dataParallel: true,
  };
  const description = describeRun(entry, plan);
  const version = packageVersion();
  const summary = (status: RunStatus, extra: Partial<RunSummary> = {}): RunSummary => ({
    ...summaryFields(def, entry, plan, description, status, started, t0, version),
    metricsLines: 0,
    error: null,
    restarts: 0,
    resumed: null,
    ...extra,
  });
  let result: unknown;
  try {
    // Reads rank 0's units and partials (one shared file system) and takes part in its collectives.
    context.resume = new ResumeStore({ dir: checkpointDir, configHash: plan.id, log: nothing, world: mpiWorld() });
    result = await def.run(plan.config, context);
  } catch (e) {
    if (options.signal?.aborted) return { ...plan, status: 'aborted', skipped: false, summary: summary('aborted') };
    const message = errorMessage(e);
    throw new RunFailedError(
      `${def.name} failed: ${message} (rank of run directory ${plan.dir})`,
      plan.dir,
      summary('failed', { error: message }),
      { cause: e },
    );
  }
  if (options.signal?.aborted) return { ...plan, status: 'aborted', skipped: false, summary: summary('aborted') };
  const status: RunStatus = resultDiverged(result) ? 'diverged' : 'finished';
  return {
    ...plan,
    status,
    skipped: false,
    summary: summary(status, { headline: flatHeadline(def.headline(result)) }),
  };
}
