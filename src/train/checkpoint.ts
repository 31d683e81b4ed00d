/**
 * Checkpoints: the complete persistent state of a {@link Trainer} (parameters, last gradient,
 * batch-norm state, optimizer buffers, data, noise and augmentation RNG states, epoch order, counters) in one
 * self-checking binary file, written atomically. Loading a checkpoint into a trainer built from
 * the same configuration continues the run bit for bit.
 *
 * File layout (all integers little-endian):
 *
 * | offset      | size | content                                                    |
 * |-------------|------|------------------------------------------------------------|
 * | 0           | 8    | magic `BSTPCKPT`                                           |
 * | 8           | 4    | format version (u32) = 2 (2 added the augmentation RNG)    |
 * | 12          | 4    | header length H (u32)                                      |
 * | 16          | 8    | payload length P (u64)                                     |
 * | 24          | H    | header, UTF-8 JSON (see {@link CheckpointHeader})          |
 * | 24 + H      | P    | payload: the sections listed in the header, back to back   |
 * | 24 + H + P  | 32   | SHA-256 of bytes [0, 24 + H + P)                           |
 *
 * The checksum covers everything before it, so a flipped byte anywhere, a truncation or trailing
 * garbage is detected before any state is touched.
 *
 * Format version 3 was the checkpoint of the retired MultiTrainer (K models on one batch stream).
 * Such a file is recognised by its version and rejected with an error that says so; nothing else
 * of it is read.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { endianness } from 'node:os';
import * as path from 'node:path';

import { writeFileAtomicSync } from '../util/atomic.js';
import { PathError, readRegularFileSync } from '../util/safe-fs.js';
import { checkSameOnEveryRank, everyRankOk } from './data-parallel.js';
import type { Trainer, TrainerState } from './trainer.js';

/** The 8 magic bytes that open every checkpoint. */
export const CHECKPOINT_MAGIC = 'BSTPCKPT';
/** The format version of {@link Trainer} checkpoints written (and read) by this build. */
export const CHECKPOINT_VERSION = 2;
/** The format version of the retired MultiTrainer's checkpoints: recognised only to be rejected by name. */
const RETIRED_MULTI_CHECKPOINT_VERSION = 3;

const PREFIX_BYTES = 24;
const DIGEST_BYTES = 32;

type SectionType = 'f32' | 'f64' | 'i32' | 'u64';
const SECTION_ORDER = [
  'params',
  'grads',
  'modelState',
  'optState',
  'dataRng',
  'noiseRng',
  'augmentRng',
  'perm',
  'counters',
] as const;
const SECTION_TYPES: Record<(typeof SECTION_ORDER)[number], SectionType> = {
  params: 'f32',
  grads: 'f32',
  modelState: 'f32',
  optState: 'f32',
  dataRng: 'u64',
  noiseRng: 'u64',
  augmentRng: 'u64',
  perm: 'i32',
  counters: 'f64',
};
const TYPE_BYTES: Record<SectionType, number> = { f32: 4, f64: 8, i32: 4, u64: 8 };

/** The JSON header of a checkpoint file. */
export interface CheckpointHeader {
  format: 'bigstep-checkpoint';
  /** Hash of the run configuration the checkpoint belongs to (checked on load). */
  configHash: string;
  /** Updates applied when the checkpoint was written. */
  step: number;
  epoch: number;
  paramCount: number;
  stateCount: number;
  optStateCount: number;
  /** Training examples (length of the epoch order). */
  n: number;
  /** Data-parallel ranks of the run that wrote it (absent: 1, one process); a run resumes on the same number. */
  ranks?: number;
  /** Payload sections, in order: name, element type (float32, float64, int32, uint64), element count. */
  sections: Array<{ name: string; type: 'f32' | 'f64' | 'i32' | 'u64'; length: number }>;
}

/** A checkpoint that cannot be read or does not fit the trainer. `file` names it; `code` is ERR_BIGSTEP_CHECKPOINT. */
export class CheckpointError extends Error {
  readonly code = 'ERR_BIGSTEP_CHECKPOINT';
  constructor(
    /** The checkpoint path. */
    readonly file: string,
    /** What is wrong, without the file name. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`checkpoint ${file}: ${reason}`, options);
    this.name = 'CheckpointError';
  }
}

function checkLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('bigstep checkpoints are little-endian; this platform is big-endian');
}

function checkArgs(file: unknown, trainer: unknown, meta: unknown): string {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError('path must be a non-empty string');
  if (!trainer || typeof trainer !== 'object' || typeof (trainer as Trainer).exportState !== 'function') {
    throw new TypeError('trainer must be a Trainer');
  }
  if (!meta || typeof meta !== 'object') throw new TypeError('meta must be an object { configHash }');
  const hash = (meta as { configHash?: unknown }).configHash;
  if (typeof hash !== 'string' || hash.length === 0) throw new TypeError('meta.configHash must be a non-empty string');
  return hash;
}

function bytesOf(a: Float32Array | Float64Array | Int32Array | BigUint64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Serialises a trainer state to checkpoint bytes (deterministic: the same state gives the same bytes). */
export function encodeCheckpoint(state: TrainerState, configHash: string, ranks = 1): Buffer {
  checkLittleEndian();
  if (!Number.isSafeInteger(ranks) || ranks < 1)
    throw new RangeError(`ranks must be a positive integer (got ${ranks})`);
  const header: CheckpointHeader = {
    format: 'bigstep-checkpoint',
    configHash,
    step: state.counters[0],
    epoch: state.counters[2],
    paramCount: state.params.length,
    stateCount: state.modelState.length,
    optStateCount: state.optState.length,
    n: state.perm.length,
    ...(ranks > 1 ? { ranks } : {}),
    sections: SECTION_ORDER.map((name) => ({ name, type: SECTION_TYPES[name], length: state[name].length })),
  };
  return container(
    CHECKPOINT_VERSION,
    header,
    SECTION_ORDER.map((name) => bytesOf(state[name])),
  );
}

/** Prefix, header JSON, payload and SHA-256: the bytes of a checkpoint file. */
function container(version: number, header: object, payload: Buffer[]): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const payloadLength = payload.reduce((s, b) => s + b.byteLength, 0);
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.write(CHECKPOINT_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(version, 8);
  prefix.writeUInt32LE(headerBytes.byteLength, 12);
  prefix.writeBigUInt64LE(BigInt(payloadLength), 16);
  const body = Buffer.concat([prefix, headerBytes, ...payload]);
  const digest = createHash('sha256').update(body).digest();
  return Buffer.concat([body, digest]);
}

type Section = Float32Array | Float64Array | Int32Array | BigUint64Array;

/** Verifies the container (magic, known version, declared lengths, SHA-256) and parses its header. */
function openContainer(
  bytes: Uint8Array,
  file: string,
): { version: number; header: Record<string, unknown>; buf: Buffer; payloadStart: number; bodyEnd: number } {
  checkLittleEndian();
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = Buffer.from(CHECKPOINT_MAGIC, 'latin1');
  if (buf.byteLength < magic.byteLength) {
    if (buf.byteLength > 0 && buf.equals(magic.subarray(0, buf.byteLength))) {
      throw new CheckpointError(
        file,
        `is truncated (${buf.byteLength} bytes, shorter than the ${PREFIX_BYTES}-byte prefix)`,
      );
    }
    throw new CheckpointError(
      file,
      `is not a bigstep checkpoint (${buf.byteLength === 0 ? 'empty file' : 'bad magic bytes'})`,
    );
  }
  if (!buf.subarray(0, magic.byteLength).equals(magic)) {
    throw new CheckpointError(file, `is not a bigstep checkpoint (bad magic bytes; expected "${CHECKPOINT_MAGIC}")`);
  }
  if (buf.byteLength < PREFIX_BYTES) {
    throw new CheckpointError(
      file,
      `is truncated (${buf.byteLength} bytes, shorter than the ${PREFIX_BYTES}-byte prefix)`,
    );
  }
  const version = buf.readUInt32LE(8);
  if (version === RETIRED_MULTI_CHECKPOINT_VERSION) {
    throw new CheckpointError(
      file,
      `is a MultiTrainer checkpoint (format version ${version}), which bigstep no longer reads: MultiTrainer was removed; re-run from the start with one Trainer per model`,
    );
  }
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      file,
      `has unsupported format version ${version} (this bigstep reads version ${CHECKPOINT_VERSION}; the file may be corrupt)`,
    );
  }
  const headerLength = buf.readUInt32LE(12);
  const payloadLength = Number(buf.readBigUInt64LE(16));
  const expected = PREFIX_BYTES + headerLength + payloadLength + DIGEST_BYTES;
  if (buf.byteLength !== expected) {
    throw new CheckpointError(
      file,
      buf.byteLength < expected
        ? `is truncated or corrupt: its prefix declares ${expected} bytes but the file has ${buf.byteLength}`
        : `is corrupt: its prefix declares ${expected} bytes but the file has ${buf.byteLength}`,
    );
  }
  const bodyEnd = expected - DIGEST_BYTES;
  const digest = createHash('sha256').update(buf.subarray(0, bodyEnd)).digest();
  if (!digest.equals(buf.subarray(bodyEnd))) {
    throw new CheckpointError(file, 'is corrupt: SHA-256 checksum mismatch');
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch (err) {
    throw new CheckpointError(file, 'has an unreadable header (invalid JSON despite a valid checksum)', { cause: err });
  }
  if (header?.format !== 'bigstep-checkpoint' || !Array.isArray(header.sections)) {
    throw new CheckpointError(file, 'has an invalid header (format is not "bigstep-checkpoint")');
  }
  return { version, header, buf, payloadStart: PREFIX_BYTES + headerLength, bodyEnd };
}

/** The payload sections in `order`, each copied into a fresh, aligned typed array. */
function readSections<N extends string>(
  c: ReturnType<typeof openContainer>,
  file: string,
  order: readonly N[],
  types: Record<N, SectionType>,
): Record<N, Section> {
  const sections = c.header.sections as Array<{ name?: unknown; type?: unknown; length?: unknown } | undefined>;
  const parts = {} as Record<N, Section>;
  let offset = c.payloadStart;
  for (let i = 0; i < order.length; i++) {
    const name = order[i];
    const sec = sections[i];
    const type = types[name];
    if (!sec || sec.name !== name || sec.type !== type || !Number.isInteger(sec.length) || (sec.length as number) < 0) {
      throw new CheckpointError(file, `has an invalid header: section ${i} must be ${name} (${type})`);
    }
    const nbytes = (sec.length as number) * TYPE_BYTES[type];
    if (offset + nbytes > c.bodyEnd)
      throw new CheckpointError(file, `has an invalid header: section ${name} runs past the payload`);
    const copy = new Uint8Array(nbytes);
    copy.set(c.buf.subarray(offset, offset + nbytes));
    offset += nbytes;
    parts[name] =
      type === 'f32'
        ? new Float32Array(copy.buffer)
        : type === 'f64'
          ? new Float64Array(copy.buffer)
          : type === 'i32'
            ? new Int32Array(copy.buffer)
            : new BigUint64Array(copy.buffer);
  }
  if (offset !== c.bodyEnd) throw new CheckpointError(file, 'has an invalid header: sections do not fill the payload');
  return parts;
}

/**
 * What the checksum cannot vouch for (a file re-signed after editing): `perm` must be a
 * permutation of [0, n), `counters` [step, cursor, epoch] non-negative integers with cursor <= n,
 * and no RNG stream all zero (xoshiro never leaves the zero state).
 */
function checkMeaning(
  file: string,
  parts: { perm: Int32Array; counters: Float64Array },
  rngs: Array<[string, BigUint64Array]>,
): void {
  const { perm, counters } = parts;
  const n = perm.length;
  const [step, cursor, epoch] = counters;
  for (const [name, v] of [
    ['step', step],
    ['cursor', cursor],
    ['epoch', epoch],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new CheckpointError(file, `section counters: ${name} must be a non-negative integer (got ${v})`);
  }
  if (cursor > n)
    throw new CheckpointError(file, `section counters: cursor ${cursor} is past the ${n} examples of perm`);
  // Mid-epoch (cursor > 0) the rest of the epoch is read from perm; at cursor 0 it is rebuilt first.
  if (cursor > 0) {
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = perm[i];
      if (v < 0 || v >= n || seen[v])
        throw new CheckpointError(
          file,
          `section perm is not a permutation of 0..${n - 1} (perm[${i}] = ${v}${v >= 0 && v < n ? ', a repeat' : ''})`,
        );
      seen[v] = 1;
    }
  }
  for (const [name, words] of rngs) {
    for (let k = 0; k + 4 <= words.length; k += 4) {
      if (words[k] === 0n && words[k + 1] === 0n && words[k + 2] === 0n && words[k + 3] === 0n)
        throw new CheckpointError(
          file,
          `section ${name} holds an all-zero RNG state${words.length > 4 ? ` (stream ${k / 4})` : ''}`,
        );
    }
  }
}

/**
 * Parses and verifies checkpoint bytes (magic, version, declared lengths, SHA-256, header and
 * section lengths) without touching any trainer. Throws {@link CheckpointError} naming `file`.
 */
export function decodeCheckpoint(bytes: Uint8Array, file: string): { header: CheckpointHeader; state: TrainerState } {
  const c = openContainer(bytes, file);
  const state = readSections(c, file, SECTION_ORDER, SECTION_TYPES) as unknown as TrainerState;
  checkMeaning(file, state, [
    ['dataRng', state.dataRng],
    ['noiseRng', state.noiseRng],
    ['augmentRng', state.augmentRng],
  ]);
  return { header: c.header as unknown as CheckpointHeader, state };
}

/**
 * Reads and verifies a checkpoint file (magic, version, lengths, SHA-256) without a trainer.
 * Throws {@link CheckpointError} naming the file.
 */
export function readCheckpoint(file: string): { header: CheckpointHeader; state: TrainerState } {
  return decodeCheckpoint(readBytes(file), file);
}

/** Checkpoints above this size are refused before reading (ResNet-18 with momentum is ~0.1 GB). */
export const MAX_CHECKPOINT_BYTES = 2 ** 32 - 1;

function readBytes(file: string): Buffer {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError('path must be a non-empty string');
  try {
    // A regular file of bounded size only: /dev/zero or a FIFO is refused before any read.
    return readRegularFileSync(file, 'checkpoint', MAX_CHECKPOINT_BYTES);
  } catch (err) {
    if (err instanceof PathError) throw new CheckpointError(file, err.reason, { cause: err });
    throw err;
  }
}

/** Removes temporary files of interrupted writes of `file` (`.<base>.tmp-<pid>-<hex>` of dead processes). */
function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Writes the trainer's complete state to `path` atomically (temporary file in the same directory,
 * fsync, rename, fsync of the directory): a reader — or a process restarted after a crash at any
 * instant — sees the previous checkpoint or the new one, never a partial file. Temporary files
 * left by killed writers of the same path are removed. The trainer must be idle (no `run()` in
 * progress). `meta.configHash` identifies the run configuration and is checked by {@link loadCheckpoint}.
 */
export function saveCheckpoint(path: string, trainer: Trainer, meta: { configHash: string }): void {
  const configHash = checkArgs(path, trainer, meta);
  const world = trainer.world;
  if (!world) {
    writeFileAtomicSync(path, encodeCheckpoint(trainer.exportState(), configHash));
    removeStaleTemps(path);
    return;
  }
  // Data parallel: every rank holds the same state; rank 0 writes it, and no rank returns before
  // the file is in place (or before learning that rank 0 could not write it).
  let failure: unknown = null;
  if (world.rank === 0) {
    try {
      writeFileAtomicSync(path, encodeCheckpoint(trainer.exportState(), configHash, world.size));
      removeStaleTemps(path);
    } catch (err) {
      failure = err;
    }
  }
  const written = everyRankOk(failure === null)[0];
  if (failure !== null) throw failure;
  if (!written) throw new CheckpointError(path, 'was not written: rank 0 failed to write it (its error says why)');
}

/**
 * Restores a trainer from a checkpoint written by {@link saveCheckpoint}. Verifies, before touching
 * the trainer: magic bytes, format version, declared lengths (truncation), the SHA-256 checksum,
 * the config hash, and that every section fits this trainer (parameter count, model state,
 * optimizer state, data size). Any failure throws a {@link CheckpointError} naming the file and
 * leaves the trainer unchanged.
 */
export function loadCheckpoint(path: string, trainer: Trainer, meta: { configHash: string }): void {
  const configHash = checkArgs(path, trainer, meta);
  const { header, state } = readCheckpoint(path);
  // Data parallel: each rank reads the file; all must have read the same state (one shared file system).
  if (trainer.world)
    checkSameOnEveryRank(
      [{ name: 'checkpoint state', bytes: SECTION_ORDER.map((name) => state[name]) }],
      `checkpoint ${path}`,
    );
  const job = trainer.job;
  restoreVerified(path, 'trainer', trainer, state, header.configHash, configHash, [
    [state.params.length, job.params.length, 'parameters', 'a different model size'],
    [state.modelState.length, job.modelState?.length ?? 0, 'model state values', 'different batch-norm layers'],
    [state.optState.length, job.optState.length, 'optimizer state values', 'a different optimizer chain'],
    [state.perm.length, job.perm.length, 'examples in its epoch order', 'a different data set'],
    [state.grads.length, job.grads.length, 'gradient values', 'a different model size'],
    [state.dataRng.length, 4, 'data RNG words', 'corrupt header'],
    [state.noiseRng.length, 4, 'noise RNG words', 'corrupt header'],
    [state.augmentRng.length, 4, 'augmentation RNG words', 'corrupt header'],
    [state.counters.length, 3, 'counters', 'corrupt header'],
    [
      header.ranks ?? 1,
      trainer.world?.size ?? 1,
      'data-parallel rank(s)',
      'a run resumes on the same number of ranks, which sets how each step is split',
    ],
  ]);
}

/**
 * The checks the loader ends with, then the restore: the config hash, every section's size
 * against the target (`[got, want, what, hint]`), that the target is idle; import errors become
 * CheckpointErrors naming the file. Nothing is written unless all pass.
 */
function restoreVerified<S>(
  path: string,
  who: 'trainer',
  target: { busy: boolean; importState(state: S): void },
  state: S,
  writtenHash: string,
  configHash: string,
  sizes: Array<[number, number, string, string]>,
): void {
  if (writtenHash !== configHash) {
    throw new CheckpointError(
      path,
      `was written for config hash "${writtenHash}" but this run's config hash is "${configHash}" (a different configuration; delete the checkpoint or use the matching config)`,
    );
  }
  for (const [got, want, what, hint] of sizes) {
    if (got !== want) throw new CheckpointError(path, `holds ${got} ${what} but the ${who} has ${want} (${hint})`);
  }
  if (target.busy) {
    const error = new Error(`${who} is busy: a run() is in progress; await it first`) as Error & { code: string };
    error.code = 'ERR_BIGSTEP_BUSY';
    throw error;
  }
  try {
    target.importState(state);
  } catch (err) {
    throw new CheckpointError(path, `cannot be restored: ${(err as Error).message}`, { cause: err });
  }
}
