/**
 * Resuming interrupted runs: a store of *units* under a run directory's `checkpoints/`.
 *
 * An experiment is written as a sequence of units (E3: one arm × seed training run; E2: each
 * phase; E1: each grid cell). `store.unit(key, fn)` runs `fn` unless an earlier life of the same
 * run directory finished unit `key`; then it returns the stored value instead and re-emits the
 * metrics records the unit logged. A long unit also saves *partial* checkpoints
 * (`u.save(trainers, state)`: every trainer's complete state via `saveCheckpoint`, plus a JSON
 * side state and the records logged so far), at most once per `intervalSeconds`, and continues
 * from the newest one (`u.restore(trainers)`) after a restart. Because a chunked run equals the
 * same steps run in one go bit for bit, the resumed unit ends with the same parameters, the same
 * value and the same records as an uninterrupted one.
 *
 * Files (all written atomically: temp file + fsync + rename + fsync of the directory):
 *
 *   checkpoints/pin-<key>.json              a value the units depend on (e.g. a data fingerprint; `pin`)
 *   checkpoints/unit-<key>.json             a finished unit: header line + body line
 *   checkpoints/partial-<key>.json          the newest partial checkpoint of a running unit
 *   checkpoints/partial-<key>.g<G>.t<i>.ckpt  trainer i of partial generation G (src/train/checkpoint.ts)
 *
 * The header line of a JSON file is `{"format":"bigstep-unit","version":1,"kind":"done"|"partial",
 * "key","configHash","generation","trainers","bytes","sha256"}`; `sha256` and `bytes` cover the
 * body line. The body is JSON in which typed arrays, non-finite numbers and −0 are tagged
 * (`{"$t":"Float32Array","b64":…}`, `{"$n":"NaN"}`), so values round-trip bit for bit. A partial
 * is written after its trainer files and names their generation, so a kill at any instant leaves
 * the previous partial or the new one, each with complete trainer files. A file that fails its
 * checks (bad checksum, wrong run) is reported as corrupt on stderr and ignored: the unit is
 * recomputed (or continued from no partial), which gives the same result, only later.
 *
 * Data parallel (`world`, one store per rank of an MPI job, every rank calling the same methods in
 * the same order): rank 0 alone writes and removes files; every rank reads them (one shared file
 * system) and the ranks check that they read the same unit and partial (SHA-256, else
 * ERR_BIGSTEP_RANKS_DIFFER); rank 0's clock decides when a partial is due. Every header records the
 * number of ranks (`ranks`, absent = 1): a store opened on another number refuses the directory
 * with a CheckpointError, since the split over the ranks sets the arithmetic of every step.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { CheckpointError, loadCheckpoint, readCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { checkSameOnEveryRank, everyRankOk } from '../train/data-parallel.js';
import type { Trainer } from '../train/trainer.js';
import { writeFileAtomicSync } from '../util/atomic.js';
import { formatValue } from '../util/format.js';
import { finiteAtLeast, instanceOf, parseNamed } from '../util/schema.js';
import { readRegularFileSync } from '../util/safe-fs.js';
import { isTempName } from './schema.js';

/** Default seconds between two partial checkpoints of one unit (`BIGSTEP_CHECKPOINT_SECONDS` overrides). */
export const DEFAULT_CHECKPOINT_SECONDS = 30;

const FORMAT = 'bigstep-unit';
const VERSION = 1;
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

type LogRecord = Record<string, unknown>;

/** What a store did in this life of the run. */
export interface ResumeStats {
  /** Finished units loaded from an earlier life instead of being computed. */
  unitsLoaded: number;
  /** Units continued from a partial checkpoint of an earlier life. */
  partialsResumed: number;
  /** Units finished (and stored) in this life. */
  unitsSaved: number;
  /** Partial checkpoints written in this life. */
  partialsSaved: number;
  /** Files that failed their checks (path: reason); they were ignored. */
  corrupt: string[];
}

/** Options of a {@link ResumeStore}. */
export interface ResumeStoreOptions {
  /** Directory of the store (created on the first write); null: nothing is stored and every unit runs. */
  dir: string | null;
  /** Identifies the run (its id): written into every file and checked on load. */
  configHash: string;
  /** Where records go (the run's metrics.jsonl). */
  log: (record: LogRecord) => void;
  /** Minimum seconds between two partial checkpoints of a unit (default: {@link checkpointSecondsFromEnv}). */
  intervalSeconds?: number;
  /** Receives warnings (corrupt files); default: one line on stderr. */
  warn?: (message: string) => void;
  /**
   * This process's place in a data-parallel MPI job (null or absent: one process). Every rank opens
   * the store on the same directory; see the module comment.
   */
  world?: { rank: number; size: number } | null;
}

/**
 * Seconds between partial checkpoints: `BIGSTEP_CHECKPOINT_SECONDS` (a number ≥ 0; 0 = at every
 * opportunity) or {@link DEFAULT_CHECKPOINT_SECONDS}. Throws RangeError naming the variable.
 */
export function checkpointSecondsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BIGSTEP_CHECKPOINT_SECONDS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_CHECKPOINT_SECONDS;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0)
    throw new RangeError(`BIGSTEP_CHECKPOINT_SECONDS must be a number >= 0 (got "${raw}")`);
  return v;
}

// ---- bit-exact JSON ----------------------------------------------------------------------------

type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | BigUint64Array
  | BigInt64Array;
const TYPED: Record<string, new (buffer: ArrayBuffer) => TypedArray> = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  BigUint64Array,
  BigInt64Array,
};

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { $n: 'NaN' };
    if (value === Infinity) return { $n: 'Infinity' };
    if (value === -Infinity) return { $n: '-Infinity' };
    if (Object.is(value, -0)) return { $n: '-0' };
    return value;
  }
  if (typeof value === 'bigint') return { $n: 'bigint', v: value.toString() };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name;
    if (!(name in TYPED)) throw new TypeError(`cannot store a ${name}`);
    return { $t: name, b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const o = value as Record<string, unknown>;
  if (typeof o.$n === 'string' && Object.keys(o).length <= 2) {
    if (o.$n === 'NaN') return NaN;
    if (o.$n === 'Infinity') return Infinity;
    if (o.$n === '-Infinity') return -Infinity;
    if (o.$n === '-0') return -0;
    if (o.$n === 'bigint' && typeof o.v === 'string') return BigInt(o.v);
  }
  if (typeof o.$t === 'string' && typeof o.b64 === 'string' && Object.keys(o).length === 2 && o.$t in TYPED) {
    const bytes = Buffer.from(o.b64, 'base64');
    const copy = new Uint8Array(bytes.byteLength); // fresh, aligned buffer
    copy.set(bytes);
    return new TYPED[o.$t](copy.buffer);
  }
  return value;
}

/** JSON text of `value` in which typed arrays, NaN, ±Infinity and −0 survive {@link decodeValue}. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(value, replacer);
}

/** Inverse of {@link encodeValue}. */
export function decodeValue<T = unknown>(text: string): T {
  return JSON.parse(text, reviver) as T;
}

// ---- files -------------------------------------------------------------------------------------

interface Header {
  format: typeof FORMAT;
  version: number;
  kind: 'done' | 'partial' | 'pin';
  key: string;
  configHash: string;
  generation: number;
  trainers: number;
  /** Data-parallel ranks of the run that wrote the file (absent: 1). */
  ranks?: number;
  bytes: number;
  sha256: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

function writeJsonFile(
  file: string,
  header: Omit<Header, 'format' | 'version' | 'bytes' | 'sha256' | 'ranks'>,
  body: unknown,
  ranks = 1,
): void {
  const text = encodeValue(body);
  const h: Header = {
    format: FORMAT,
    version: VERSION,
    ...header,
    ...(ranks > 1 ? { ranks } : {}),
    bytes: Buffer.byteLength(text, 'utf8'),
    sha256: sha256(text),
  };
  writeFileAtomicSync(file, `${JSON.stringify(h)}\n${text}\n`, { mkdir: true });
}

/** Reads and verifies a unit/partial file: its header and body, or an error message. */
function readJsonFile(
  file: string,
  expect?: { kind: Header['kind']; key: string; configHash: string },
): { header: Header; body: unknown } | { error: string } {
  let text: string;
  try {
    text = readRegularFileSync(file, 'resume file').toString('utf8'); // never a FIFO or device
  } catch (e) {
    return { error: `cannot be read (${(e as Error).message})` };
  }
  const nl = text.indexOf('\n');
  if (nl < 0 || !text.endsWith('\n')) return { error: 'is truncated (no complete header and body line)' };
  let header: Header;
  try {
    header = JSON.parse(text.slice(0, nl)) as Header;
  } catch {
    return { error: 'has an unreadable header' };
  }
  if (header?.format !== FORMAT || header.version !== VERSION)
    return { error: `is not a ${FORMAT} file of version ${VERSION}` };
  const body = text.slice(nl + 1, -1);
  if (Buffer.byteLength(body, 'utf8') !== header.bytes)
    return {
      error: `is truncated or corrupt (body has ${Buffer.byteLength(body, 'utf8')} bytes, header says ${header.bytes})`,
    };
  if (sha256(body) !== header.sha256) return { error: 'is corrupt: SHA-256 checksum mismatch' };
  if (expect) {
    if (header.kind !== expect.kind || header.key !== expect.key)
      return { error: `holds ${header.kind} unit "${header.key}", expected ${expect.kind} unit "${expect.key}"` };
    if (header.configHash !== expect.configHash)
      return { error: `belongs to run ${header.configHash}, not ${expect.configHash}` };
  }
  try {
    return { header, body: decodeValue(body) };
  } catch (e) {
    return { error: `has an unreadable body (${(e as Error).message})` };
  }
}

/**
 * Checks every file of a checkpoint store (unit and partial JSON files, trainer checkpoints);
 * returns how many were checked and the problems found (empty = all intact). Temporary files of
 * interrupted writes are not checked (they are never read). For tests and diagnostics.
 */
export function verifyCheckpointDir(dir: string): { files: number; problems: string[] } {
  const problems: string[] = [];
  let files = 0;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { files, problems };
  }
  for (const name of names.sort()) {
    if (isTempName(name)) continue;
    const file = path.join(dir, name);
    if (name.endsWith('.ckpt')) {
      files++;
      try {
        readCheckpoint(file);
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}`);
      }
    } else if (/^(unit|partial|pin)-.*\.json$/.test(name)) {
      files++;
      const r = readJsonFile(file);
      if ('error' in r) problems.push(`${name}: ${r.error}`);
    }
  }
  return { files, problems };
}

/** SHA-256 (hex) over typed arrays and strings, e.g. of the examples a run trains on (for {@link ResumeStore.pin}). */
export function fingerprint(...parts: Array<ArrayBufferView | string>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    h.update(`${bytes.byteLength}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

// ---- the store ---------------------------------------------------------------------------------

/** {@link ResumeStoreOptions} as a zod schema (messages name the option). */
const resumeStoreOptionsSchema = z.strictObject(
  {
    dir: z
      .string({ error: (i) => `must be a non-empty directory path or null (got ${formatValue(i.input)})` })
      .refine((s) => s.length > 0, {
        error: 'must be a non-empty directory path or null (got "")',
        params: { typeError: true },
      })
      .nullable(),
    configHash: z.string({ error: (i) => `must be a string (got ${formatValue(i.input)})` }),
    log: instanceOf(Function, 'a function'),
    intervalSeconds: finiteAtLeast(0).optional(),
    warn: instanceOf(Function, 'a function').optional(),
    world: z
      .custom<{ rank: number; size: number }>(
        (w) => {
          const o = w as { rank?: unknown; size?: unknown } | null;
          return (
            typeof o === 'object' &&
            o !== null &&
            Number.isSafeInteger(o.size) &&
            (o.size as number) >= 1 &&
            Number.isSafeInteger(o.rank) &&
            (o.rank as number) >= 0 &&
            (o.rank as number) < (o.size as number)
          );
        },
        {
          error: (i) => `must be null or { rank, size } with 0 <= rank < size (got ${formatValue(i.input)})`,
          params: { typeError: true },
        },
      )
      .nullable()
      .optional(),
  },
  { error: (i) => `must be an object (got ${formatValue(i.input)})` },
);

/** Runs units once across the lives of a run directory; see the module comment. */
export class ResumeStore {
  readonly stats: ResumeStats = { unitsLoaded: 0, partialsResumed: 0, unitsSaved: 0, partialsSaved: 0, corrupt: [] };
  readonly dir: string | null;
  readonly configHash: string;
  readonly intervalMs: number;
  private readonly log: (record: LogRecord) => void;
  private readonly warn: (message: string) => void;
  private readonly keys = new Set<string>();
  // Names of partial-* files found when the store opened, and the keys that saved a partial in
  // this life: removePartial lists the directory only for those keys (a run of many small units,
  // E1's tens of thousands, would otherwise read the whole directory once per unit).
  private readonly partialsOnDisk: string[] = [];
  private readonly partialKeys = new Set<string>();
  private readonly world: { rank: number; size: number } | null;

  constructor(options: ResumeStoreOptions) {
    parseNamed(resumeStoreOptionsSchema, options, 'options');
    const w = options.world;
    this.dir = options.dir;
    this.configHash = options.configHash;
    this.log = options.log;
    this.intervalMs = 1000 * (options.intervalSeconds ?? checkpointSecondsFromEnv());
    this.warn = options.warn ?? ((m) => process.stderr.write(`bigstep: ${m}\n`));
    this.world = w && w.size > 1 ? { rank: w.rank, size: w.size } : null;
    if (this.dir) this.onRankZero('opening the checkpoints', () => this.open());
  }

  /** Data-parallel ranks that share this store (1: one process). */
  get ranks(): number {
    return this.world?.size ?? 1;
  }

  /** True on the process that writes the files: the only one, or rank 0. */
  get writer(): boolean {
    return this.world === null || this.world.rank === 0;
  }

  /** Rank 0's `flag` on every rank (a collective); the flag itself in one process. */
  agree(flag: boolean): boolean {
    return this.world ? everyRankOk(flag)[0] : flag;
  }

  /**
   * Runs `fn` on the writer; with ranks, also a barrier after which every rank knows that it
   * succeeded (or throws: rank 0 its own error, the others one saying so).
   */
  private onRankZero(what: string, fn: () => void): void {
    let failure: unknown = null;
    if (this.writer)
      try {
        fn();
      } catch (e) {
        failure = e;
      }
    if (!this.world) {
      if (failure !== null) throw failure;
      return;
    }
    const ok = everyRankOk(failure === null)[0];
    if (failure !== null) throw failure;
    if (!ok) throw new Error(`${what} failed on rank 0 (its error says why)`);
  }

  /** The writer's first look at the directory: leftovers of a killed writer, and the number of ranks. */
  private open(): void {
    if (!fs.existsSync(this.dir!)) return;
    let ranksOnDisk: number | null = null;
    const leftovers: string[] = [];
    for (const n of fs.readdirSync(this.dir!).sort()) {
      if (isTempName(n)) leftovers.push(n);
      else {
        if (n.startsWith('partial-')) this.partialsOnDisk.push(n);
        if (ranksOnDisk === null && /^(unit|partial|pin)-.*\.json$/.test(n)) ranksOnDisk = headerRanks(this.file(n));
      }
    }
    // Refused before anything is touched: the directory stays as the other run left it.
    if (ranksOnDisk !== null && ranksOnDisk !== this.ranks) {
      const who = (r: number): string => (r === 1 ? 'one process' : `${r} data-parallel ranks`);
      throw new CheckpointError(
        this.dir!,
        `holds the units of a run on ${who(ranksOnDisk)}, but this run is on ${who(this.ranks)}: a run resumes on the ` +
          `same number of ranks, which sets how every step is split (resume it on ${who(ranksOnDisk)}, or start it over with --force)`,
      );
    }
    // Temporary files in the store are leftovers of a killed writer (one process owns a run directory).
    for (const n of leftovers) fs.rmSync(this.file(n), { force: true });
  }

  /** With ranks: every rank must have read the same `what` (its digest, or 'none'); else ERR_BIGSTEP_RANKS_DIFFER. */
  private checkSameRead(what: string, digest: string): void {
    if (this.world) checkSameOnEveryRank([{ name: what, bytes: [Buffer.from(digest, 'utf8')] }], 'resume store');
  }

  /** A store that keeps nothing: every unit runs, records go to `log`. */
  static passThrough(log: (record: LogRecord) => void): ResumeStore {
    return new ResumeStore({ dir: null, configHash: '', log, intervalSeconds: 0 });
  }

  /** True when units and checkpoints are persisted. */
  get persistent(): boolean {
    return this.dir !== null;
  }

  private file(name: string): string {
    return path.join(this.dir!, name);
  }

  /** @internal */
  corrupt(file: string, reason: string, what: string): void {
    this.stats.corrupt.push(`${path.basename(file)}: ${reason}`);
    if (this.writer) this.warn(`checkpoint ${file} ${reason}; ${what}`); // one warning per job, not per rank
  }

  /** @internal */
  emit(record: LogRecord): void {
    this.log(record);
  }

  /**
   * Ties the stored units to `value` (JSON-able), e.g. a fingerprint of the data the experiment
   * loaded: the run id covers the config but not the files a data set was read from. If an earlier
   * life pinned a different value under `key`, every stored unit and partial checkpoint is
   * discarded (with a warning) and the run starts over. Call before the first unit.
   */
  pin(key: string, value: unknown): void {
    if (!KEY_RE.test(key)) throw new RangeError(`pin key must match ${KEY_RE} (got "${key}")`);
    if (!this.dir) return;
    // With ranks, rank 0 alone decides; the others read nothing before its decision is on disk.
    this.onRankZero(`pinning ${key}`, () => this.pinHere(key, value));
  }

  private pinHere(key: string, value: unknown): void {
    const dir = this.dir!;
    const file = this.file(`pin-${key}.json`);
    const text = encodeValue(value);
    if (fs.existsSync(file)) {
      const r = readJsonFile(file, { kind: 'pin', key, configHash: this.configHash });
      if (!('error' in r) && encodeValue(r.body) === text) return;
      const why =
        'error' in r ? r.error : `holds ${JSON.stringify(r.body).slice(0, 200)}, this run has ${text.slice(0, 200)}`;
      this.warn(
        `checkpoint ${file} ${why}; discarding the stored units of this run (they were computed from something else)`,
      );
      for (const n of fs.readdirSync(dir)) if (/^(unit|partial|pin)-/.test(n)) fs.rmSync(this.file(n), { force: true });
    }
    writeJsonFile(
      file,
      { kind: 'pin', key, configHash: this.configHash, generation: 0, trainers: 0 },
      value,
      this.ranks,
    );
  }

  /**
   * Unit `key`: returns its stored value (re-emitting its records) if an earlier life finished it,
   * else runs `fn` — which logs through `u.log` and may checkpoint with `u.save` / continue with
   * `u.restore` — stores the value and its records, and returns the value. Keys are unique per run.
   * `onLoaded` is called with a value that came from an earlier life (e.g. to count its progress).
   */
  async unit<T>(key: string, fn: (u: Unit) => Promise<T>, onLoaded?: (value: T) => void): Promise<T> {
    if (!KEY_RE.test(key)) throw new RangeError(`unit key must match ${KEY_RE} (got "${key}")`);
    if (this.keys.has(key)) throw new Error(`unit "${key}" is used twice in one run`);
    this.keys.add(key);
    if (this.dir) {
      const file = this.file(`unit-${key}.json`);
      let stored: { value: T; records: LogRecord[] } | undefined;
      let digest = 'none';
      if (fs.existsSync(file)) {
        const r = readJsonFile(file, { kind: 'done', key, configHash: this.configHash });
        if ('error' in r) this.corrupt(file, r.error, 'computing the unit again');
        else {
          stored = r.body as { value: T; records: LogRecord[] };
          digest = r.header.sha256;
        }
      }
      this.checkSameRead(`unit ${key} (${file})`, digest);
      if (stored) {
        for (const rec of stored.records) this.log(rec);
        this.stats.unitsLoaded++;
        this.removePartial(key, -1);
        onLoaded?.(stored.value);
        return stored.value;
      }
    }
    const u = new Unit(this, key);
    const value = await fn(u);
    if (this.dir) {
      this.onRankZero(`storing unit ${key}`, () => {
        writeJsonFile(
          this.file(`unit-${key}.json`),
          { kind: 'done', key, configHash: this.configHash, generation: 0, trainers: 0 },
          { value, records: u.records },
          this.ranks,
        );
        this.removePartial(key, -1);
      });
      this.stats.unitsSaved++;
    }
    return value;
  }

  /** @internal Path of trainer i of partial generation g. */
  ckptPath(key: string, g: number, i: number): string {
    return this.file(`partial-${key}.g${g}.t${i}.ckpt`);
  }

  /** @internal Removes the partial of `key` (keep < 0) or its trainer files of generations other than `keep`. */
  removePartial(key: string, keep: number): void {
    if (!this.dir || !this.writer || !fs.existsSync(this.dir)) return;
    if (!this.partialKeys.has(key) && !this.partialsOnDisk.some((n) => n.startsWith(`partial-${key}.`))) return;
    const prefix = `partial-${key}.g`;
    for (const n of fs.readdirSync(this.dir)) {
      if (!n.startsWith(prefix)) continue;
      const m = /^(\d+)\.t\d+\.ckpt$/.exec(n.slice(prefix.length));
      if (m && Number(m[1]) !== keep) fs.rmSync(this.file(n), { force: true });
    }
    if (keep < 0) fs.rmSync(this.file(`partial-${key}.json`), { force: true });
  }

  /** @internal */
  readPartial(key: string): { header: Header; body: unknown } | undefined {
    if (!this.dir) return undefined;
    const file = this.file(`partial-${key}.json`);
    let found: { header: Header; body: unknown } | undefined;
    if (fs.existsSync(file)) {
      const r = readJsonFile(file, { kind: 'partial', key, configHash: this.configHash });
      if ('error' in r) this.corrupt(file, r.error, 'starting the unit from its beginning');
      else found = r;
    }
    this.checkSameRead(
      `partial ${key} (${file})`,
      found ? `${found.header.generation}:${found.header.sha256}` : 'none',
    );
    return found;
  }

  /** @internal */
  writePartial(key: string, generation: number, trainers: Trainer[], body: unknown): void {
    this.partialKeys.add(key);
    trainers.forEach((t, i) => {
      const file = this.ckptPath(key, generation, i);
      const meta = { configHash: `${this.configHash}/${key}/${i}` };
      // A data-parallel trainer's save is collective (rank 0 writes); a trainer of one rank alone is written by rank 0.
      if (t.world || this.writer) saveCheckpoint(file, t, meta);
    });
    this.onRankZero(`writing the partial checkpoint of ${key}`, () => {
      writeJsonFile(
        this.file(`partial-${key}.json`),
        { kind: 'partial', key, configHash: this.configHash, generation, trainers: trainers.length },
        body,
        this.ranks,
      );
      this.removePartial(key, generation);
    });
    this.stats.partialsSaved++;
  }
}

/** One unit of work in progress (see {@link ResumeStore.unit}). */
export class Unit {
  /** Records logged by this unit (including those of earlier lives, after `restore`). */
  readonly records: LogRecord[] = [];
  private generation = 0;
  private lastSave = performance.now();

  constructor(
    private readonly store: ResumeStore,
    readonly key: string,
  ) {}

  /** Logs a record to the run's metrics and keeps it with the unit. */
  log(record: LogRecord): void {
    this.records.push(record);
    this.store.emit(record);
  }

  /**
   * Continues from the newest partial checkpoint of an earlier life, if there is one: restores
   * every trainer (which must be built exactly as when it was saved, in the same
   * order), re-emits the records logged
   * up to that point and returns the saved state. Returns undefined (and changes nothing) when
   * there is none or it cannot be used. Call at most once, before logging anything.
   */
  restore<S>(trainers: Trainer[]): S | undefined {
    const r = this.store.readPartial(this.key);
    if (!r) return undefined;
    const { header } = r;
    if (header.trainers !== trainers.length) {
      this.store.corrupt(
        this.store.ckptPath(this.key, header.generation, 0),
        `holds ${header.trainers} trainers, the unit has ${trainers.length}`,
        'starting the unit from its beginning',
      );
      return undefined;
    }
    const before = trainers.map((t) => t.exportState());
    try {
      trainers.forEach((t, i) => {
        const file = this.store.ckptPath(this.key, header.generation, i);
        const meta = { configHash: `${this.store.configHash}/${this.key}/${i}` };
        loadCheckpoint(file, t, meta);
      });
    } catch (e) {
      trainers.forEach((t, i) => t.importState(before[i]));
      this.store.corrupt(
        this.store.ckptPath(this.key, header.generation, 0),
        (e as Error).message,
        'starting the unit from its beginning',
      );
      return undefined;
    }
    const { state, records } = r.body as { state: S; records: LogRecord[] };
    for (const rec of records) this.log(rec);
    this.generation = header.generation;
    this.lastSave = performance.now();
    this.store.stats.partialsResumed++;
    return state;
  }

  /** True when a partial checkpoint is due (the store's interval has passed since the last one or the unit's start). */
  due(): boolean {
    if (!this.store.persistent) return false;
    // With ranks, rank 0's clock decides (a collective): the ranks save, collectively, at the same point.
    return this.store.agree(performance.now() - this.lastSave >= this.store.intervalMs);
  }

  /**
   * Saves a partial checkpoint: every trainer's complete state, `state`
   * (JSON-able; typed arrays allowed) and the records so far. The trainers must be idle. A no-op
   * without persistence.
   */
  save(trainers: Trainer[], state: unknown): void {
    if (!this.store.persistent) return;
    this.generation++;
    this.store.writePartial(this.key, this.generation, trainers, { state, records: this.records });
    this.lastSave = performance.now();
  }
}

/** The `ranks` of a unit/partial/pin file's header (1 when absent), or null when the header cannot be read. */
function headerRanks(file: string): number | null {
  try {
    const text = readRegularFileSync(file, 'resume file').toString('utf8');
    const header = JSON.parse(text.slice(0, text.indexOf('\n'))) as Partial<Header>;
    if (header?.format !== FORMAT) return null;
    return Number.isSafeInteger(header.ranks) && (header.ranks as number) > 1 ? (header.ranks as number) : 1;
  } catch {
    return null;
  }
}

/** The store of a run context (`context.resume`), or a pass-through store when the context has none. */
export function resumeStoreOf(ctx: { log(record: LogRecord): void; resume?: ResumeStore }): ResumeStore {
  return ctx.resume ?? ResumeStore.passThrough((r) => ctx.log(r));
}
