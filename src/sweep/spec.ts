/**
 * Sweep specs and their expansion into an ordered, index-addressable task list.
 *
 * A spec (JSON or YAML) names an experiment and a preset, overrides config fields by dotted path,
 * and lists values to sweep:
 *
 * ```yaml
 * experiment: landscape        # a registered experiment (bigstep run --help lists them)
 * preset: tiny                 # tiny | quick | paper (default quick): the config the overrides apply to
 * name: e1-noise-grid          # optional; default: the spec file's base name
 * base:                        # dotted path → value, applied in order (a value replaces the field)
 *   trajectories.count: 0
 *   noise.anneal: [none]
 * grid:                        # dotted path → list of values; the task list is the product,
 *   noise.etaFactors: [[0.25], [0.9]]   #   first key slowest, seeds fastest
 *   noise.stdIndices: [[0], [1], [2]]
 * seeds: [1, 2]                # optional base seeds (as `bigstep run --seed N`), innermost loop
 * figures: false               # optional; false: tasks write no figures (default true)
 * columns:                     # optional extra CSV columns: name → dotted path(s) into result.json
 *   success: [instances.0.noise.0.success, instances.0.sweep.0.success]   # first path that exists
 * ```
 *
 * `grid` may also be a list of such objects: the task list is then the concatenation of their
 * products (e.g. the noise-free step-size row followed by the step-size × noise heatmap).
 *
 * Task i is a pure function of the spec (and the package version, which is part of every run
 * id): the resolved, validated config, its run id (`planRun`, src/run/run.ts) and the directory
 * `runs/<experiment>-<scale>-<id>` it runs in. Two tasks with the same resolved config are an error.
 */
import * as path from 'node:path';

import YAML from 'yaml';

import { experimentNames, findExperiment, type RegisteredExperiment } from '../experiments/registry.js';
import { SCALES, type Scale } from '../run/experiment.js';
import { packageVersion } from '../run/env.js';
import { canonicalJson, sha256Hex, toPlain } from '../run/json.js';
import { planRun } from '../run/run.js';
import { nearestKey } from '../util/options.js';
import { FORBIDDEN_KEYS, plainCopy } from '../util/plain-data.js';
import { PathError, readTextFile } from '../util/safe-fs.js';
import { SWEEP_SPEC_KEYS } from './spec-schema.js';

export const TASKS_SCHEMA = 'bigstep/sweep-tasks@1';
const SPEC_KEYS: readonly string[] = SWEEP_SPEC_KEYS; // one definition: ./spec-schema.ts
/** A sweep with more tasks than this is refused before any task is built (tasks.json alone would be GBs). */
export const MAX_SWEEP_TASKS = 1_000_000;
/** Spec files above this size are refused before reading. */
const MAX_SPEC_BYTES = 16 * 2 ** 20;

/** A sweep spec as written (after YAML/JSON parsing). */
export interface SweepSpec {
  experiment: string;
  preset?: Scale;
  name?: string;
  base?: Record<string, unknown>;
  grid?: Record<string, unknown[]> | Array<Record<string, unknown[]>>;
  seeds?: number[];
  figures?: boolean;
  columns?: Record<string, string | string[]>;
}

/** One task: everything `sweep run --task i` needs, and what `sweep collect` reports. */
export interface SweepTask {
  index: number;
  /** The run id (12 hex digits; see `planRun`). */
  id: string;
  /** Run directory name, under `<sweep dir>/runs/`. */
  run: string;
  /** Which grid of the spec (0-based; 0 when `grid` is a single object). */
  grid: number;
  /** The grid values of this task, by dotted path. */
  params: Record<string, unknown>;
  /** The base seed applied (null: the preset's seeds). */
  seed: number | null;
  /** The resolved, validated config that runs. */
  config: unknown;
}

/** DIR/tasks.json. */
export interface SweepTasks {
  schema: typeof TASKS_SCHEMA;
  name: string;
  /** 12 hex digits of SHA-256 over the task list (experiment, runs, configs). */
  sweepId: string;
  experiment: string;
  preset: Scale;
  scale: string;
  packageVersion: string;
  /** Absolute path of the spec file it was planned from (informational). */
  specFile: string | null;
  /** The spec itself, as parsed. */
  spec: SweepSpec;
  /** Dotted paths swept (union over grids, in first-seen order): the CSV's parameter columns. */
  params: string[];
  figures: boolean;
  columns: Record<string, string[]>;
  count: number;
  tasks: SweepTask[];
  /** Fields the spec sets that the preset config does not have (a typo shows up here). */
  newFields?: string[];
}

/** A spec or tasks file problem; the message names the file and the field. */
export class SweepSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepSpecError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Reads a spec file: `.json` as JSON, anything else as YAML (a superset of JSON). */
export async function readSweepSpec(file: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await readTextFile(file, 'sweep spec', MAX_SPEC_BYTES);
  } catch (e) {
    if (e instanceof PathError) throw new SweepSpecError(`${file}: cannot read the sweep spec: it ${e.reason}`);
    throw e;
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    throw new SweepSpecError(
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  return validateSweepSpec(raw, file);
}

const PATH_RE = /^[A-Za-z_$][\w$]*(\.([A-Za-z_$][\w$-]*|\d+))*$/;

/** Checks the shape of a spec (not the configs: those are checked per task by the experiment). */
export function validateSweepSpec(raw: unknown, file = 'sweep spec'): SweepSpec {
  const bad = (field: string, what: string): never => {
    throw new SweepSpecError(`${file}: ${field} ${what}`);
  };
  if (!isObject(raw)) bad('the spec', `must be an object with "experiment" (got ${typeName(raw)})`);
  let s: Record<string, unknown>;
  try {
    // Plain data only, bounded depth, no prototype keys, before anything else reads it.
    s = plainCopy(raw as Record<string, unknown>, 'spec');
  } catch (e) {
    return bad('the spec', `is not plain data: ${(e as Error).message}`);
  }
  for (const k of Object.keys(s)) {
    if (SPEC_KEYS.includes(k)) continue;
    const near = nearestKey(k, SPEC_KEYS);
    bad(k, `is not a spec field (${near ? `did you mean "${near}"? ` : ''}fields: ${SPEC_KEYS.join(', ')})`);
  }
  if (typeof s.experiment !== 'string') bad('experiment', `must be one of ${experimentNames().join(', ')}`);
  if (!findExperiment(s.experiment as string))
    bad('experiment', `must be one of ${experimentNames().join(', ')} (got "${s.experiment}")`);
  if (s.preset !== undefined && !SCALES.includes(s.preset as Scale))
    bad('preset', `must be one of ${SCALES.join(', ')} (got ${JSON.stringify(s.preset)})`);
  if (s.name !== undefined && (typeof s.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s.name)))
    bad('name', `must be letters, digits, ".", "-" or "_" (got ${JSON.stringify(s.name)})`);
  const checkPath = (p: string, field: string): void => {
    if (!PATH_RE.test(p)) bad(field, `is not a dotted path like "noise.etaFactors" or "instances.0.dim" (got "${p}")`);
    const seg = p.split('.').find((x) => FORBIDDEN_KEYS.includes(x));
    if (seg !== undefined) bad(field, `must not contain the segment "${seg}" (it would reach the config's prototype)`);
  };
  if (s.base !== undefined) {
    if (!isObject(s.base)) bad('base', `must be an object of dotted path → value (got ${typeName(s.base)})`);
    for (const k of Object.keys(s.base as object)) checkPath(k, `base."${k}"`);
  }
  if (s.grid !== undefined) {
    const grids = Array.isArray(s.grid) ? s.grid : [s.grid];
    if (grids.length === 0) bad('grid', 'must not be an empty list');
    grids.forEach((g, gi) => {
      const at = Array.isArray(s.grid) ? `grid[${gi}]` : 'grid';
      if (!isObject(g)) bad(at, `must be an object of dotted path → list of values (got ${typeName(g)})`);
      for (const [k, v] of Object.entries(g as object)) {
        checkPath(k, `${at}."${k}"`);
        if (!Array.isArray(v))
          bad(
            `${at}."${k}"`,
            `must be a list of values (got ${typeName(v)}; write [${JSON.stringify(v)}] for one value)`,
          );
        if ((v as unknown[]).length === 0) bad(`${at}."${k}"`, 'must not be an empty list');
      }
    });
  }
  if (s.seeds !== undefined) {
    if (!Array.isArray(s.seeds) || s.seeds.length === 0)
      bad('seeds', 'must be a non-empty list of non-negative integers');
    (s.seeds as unknown[]).forEach((x, i) => {
      if (!Number.isSafeInteger(x) || (x as number) < 0)
        bad(`seeds[${i}]`, `must be a non-negative integer (got ${JSON.stringify(x)})`);
    });
    if (new Set(s.seeds as number[]).size !== (s.seeds as number[]).length) bad('seeds', 'must not repeat a seed');
  }
  if (s.figures !== undefined && typeof s.figures !== 'boolean')
    bad('figures', `must be true or false (got ${JSON.stringify(s.figures)})`);
  if (s.columns !== undefined) {
    if (!isObject(s.columns))
      bad('columns', `must be an object of column name → dotted path(s) into result.json (got ${typeName(s.columns)})`);
    for (const [k, v] of Object.entries(s.columns as object)) {
      const paths = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string'))
        bad(`columns."${k}"`, 'must be a dotted path or a non-empty list of dotted paths');
      (paths as string[]).forEach((p) => checkPath(p, `columns."${k}"`));
    }
  }
  const count = taskCount(s as unknown as SweepSpec);
  if (count > MAX_SWEEP_TASKS)
    bad(
      'grid',
      `expands to ${count.toExponential(2)} tasks, above the limit of ${MAX_SWEEP_TASKS} (split the sweep into several specs)`,
    );
  return s as unknown as SweepSpec;
}

/** The number of tasks a validated spec expands to (sum over grids of the product of list lengths, times seeds), without expanding it. */
export function taskCount(spec: SweepSpec): number {
  const grids = spec.grid === undefined ? [{}] : Array.isArray(spec.grid) ? spec.grid : [spec.grid];
  let total = 0;
  for (const g of grids) total += Object.values(g).reduce((acc, v) => acc * (v as unknown[]).length, 1);
  return total * (spec.seeds?.length ?? 1);
}

// ---- dotted paths ---------------------------------------------------------------------------------

function segments(p: string): string[] {
  return p.split('.');
}

/** The value at a dotted path (array segments are indices), or undefined. */
export function getPath(obj: unknown, p: string): unknown {
  let cur: unknown = obj;
  for (const seg of segments(p)) {
    if (Array.isArray(cur) && /^\d+$/.test(seg)) cur = cur[Number(seg)];
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

/**
 * Sets a dotted path in `obj` (mutates). Every parent must exist (an object, or an array for a
 * numeric segment); a missing leaf is created and reported through `onNew`. Throws naming `field`.
 */
export function setPath(
  obj: Record<string, unknown>,
  p: string,
  value: unknown,
  field: string,
  onNew?: (p: string) => void,
): void {
  const segs = segments(p);
  const bad = segs.find((x) => FORBIDDEN_KEYS.includes(x));
  if (bad !== undefined)
    throw new SweepSpecError(
      `${field}: the path must not contain the segment "${bad}" (it would reach the config's prototype)`,
    );
  let cur: unknown = obj;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i];
    const here = segs.slice(0, i + 1).join('.');
    let next: unknown;
    if (Array.isArray(cur) && /^\d+$/.test(seg)) next = cur[Number(seg)];
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) next = cur[seg];
    if (!isObject(next) && !Array.isArray(next)) {
      const keys = isObject(cur) ? Object.keys(cur) : [];
      throw new SweepSpecError(
        `${field}: the config has no object at "${here}"` + (keys.length ? ` (fields there: ${keys.join(', ')})` : ''),
      );
    }
    cur = next;
  }
  const leaf = segs[segs.length - 1];
  if (Array.isArray(cur)) {
    if (!/^\d+$/.test(leaf) || Number(leaf) >= cur.length)
      throw new SweepSpecError(`${field}: "${p}" indexes past the end of an array of ${cur.length}`);
    cur[Number(leaf)] = plainCopy(value, field);
    return;
  }
  const o = cur as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(o, leaf)) onNew?.(p);
  o[leaf] = plainCopy(value, field);
}

// ---- expansion ------------------------------------------------------------------------------------

function product(grid: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let out: Array<Record<string, unknown>> = [{}];
  for (const [k, values] of Object.entries(grid))
    out = out.flatMap((combo) => values.map((v) => ({ ...combo, [k]: v })));
  return out;
}

function describeTask(params: Record<string, unknown>, seed: number | null): string {
  const parts = Object.entries(params).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  if (seed !== null) parts.push(`seed=${seed}`);
  return parts.join(', ') || 'the base config';
}

export interface ExpandOptions {
  /** Name of the spec file, for messages and the default sweep name. */
  file?: string;
}

/** Expands a (validated) spec into its task list. Pure: the same spec gives the same tasks. */
export function expandSweep(spec: SweepSpec, options: ExpandOptions = {}): SweepTasks {
  const file = options.file ?? 'sweep spec';
  const entry = findExperiment(spec.experiment) as RegisteredExperiment;
  const preset: Scale = spec.preset ?? 'quick';
  const presetConfig = entry.definition.presets[preset];
  if (presetConfig === undefined)
    throw new RangeError(
      `${file}: preset: experiment "${spec.experiment}" has no preset "${preset}" (it has ${Object.keys(entry.definition.presets).join(', ')})`,
    );
  const base = structuredClone(presetConfig) as Record<string, unknown>;
  const newFields = new Set<string>();
  for (const [k, v] of Object.entries(spec.base ?? {})) {
    try {
      setPath(base, k, v, `base."${k}"`, (p) => newFields.add(p));
    } catch (e) {
      throw new SweepSpecError(`${file}: ${(e as Error).message}`);
    }
  }
  const grids = spec.grid === undefined ? [{}] : Array.isArray(spec.grid) ? spec.grid : [spec.grid];
  const seeds: Array<number | null> = spec.seeds ?? [null];
  const params: string[] = [];
  for (const g of grids) for (const k of Object.keys(g)) if (!params.includes(k)) params.push(k);

  const tasks: SweepTask[] = [];
  let scale: string = preset;
  const byRun = new Map<string, number>();
  grids.forEach((g, gi) => {
    const at = Array.isArray(spec.grid) ? `grid[${gi}]` : 'grid';
    for (const combo of product(g)) {
      for (const seed of seeds) {
        const index = tasks.length;
        const raw = structuredClone(base);
        for (const [k, v] of Object.entries(combo)) {
          try {
            setPath(raw, k, v, `${at}."${k}"`, (p) => newFields.add(p));
          } catch (e) {
            throw new SweepSpecError(`${file}: ${(e as Error).message}`);
          }
        }
        let plan;
        try {
          plan = planRun(entry, raw, { out: 'runs', seed: seed ?? undefined, scale: preset });
        } catch (e) {
          const msg = (e as Error).message;
          throw new SweepSpecError(`${file}: task ${index} (${describeTask(combo, seed)}): ${msg}`);
        }
        const plain = toPlain(plan.config);
        // A swept field the experiment's validator drops would make different tasks run the same thing.
        for (const k of Object.keys(combo)) {
          if (getPath(plain, k) === undefined)
            throw new SweepSpecError(
              `${file}: ${at}."${k}": the validated ${spec.experiment} config has no field "${k}" (the experiment ignores it)`,
            );
        }
        // Likewise a base field: a typo there would otherwise run the preset value without a word.
        if (index === 0) {
          for (const k of Object.keys(spec.base ?? {})) {
            if (getPath(plain, k) === undefined)
              throw new SweepSpecError(
                `${file}: base."${k}": the validated ${spec.experiment} config has no field "${k}" (the experiment ignores it)`,
              );
          }
        }
        const previous = byRun.get(plan.run);
        if (previous !== undefined)
          throw new SweepSpecError(
            `${file}: task ${index} (${describeTask(combo, seed)}) resolves to the same config as task ${previous} (${describeTask(tasks[previous].params, tasks[previous].seed)}); ` +
              'every task must differ',
          );
        byRun.set(plan.run, index);
        scale = plan.scale;
        tasks.push({
          index,
          id: plan.id,
          run: plan.run,
          grid: gi,
          params: structuredClone(combo),
          seed,
          config: plain,
        });
      }
    }
  });

  const columns: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(spec.columns ?? {})) columns[k] = typeof v === 'string' ? [v] : [...v];
  const name =
    spec.name ??
    path
      .basename(file)
      .replace(/\.(ya?ml|json)$/i, '')
      .replace(/[^A-Za-z0-9._-]/g, '-');
  const sweepId = sha256Hex(
    canonicalJson({ experiment: spec.experiment, tasks: tasks.map((t) => [t.run, t.config]) }),
  ).slice(0, 12);
  return {
    schema: TASKS_SCHEMA,
    name: name || 'sweep',
    sweepId,
    experiment: spec.experiment,
    preset,
    scale,
    packageVersion: packageVersion(),
    specFile: options.file ? path.resolve(options.file) : null,
    spec: toPlain(spec),
    params,
    figures: spec.figures ?? true,
    columns,
    count: tasks.length,
    tasks,
    ...(newFields.size > 0 ? { newFields: [...newFields] } : {}),
  };
}
