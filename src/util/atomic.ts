/**
 * Atomic file writes: data goes to a temporary file in the destination's directory, is fsynced,
 * and is renamed over the destination. Readers see either the old file or the complete new one,
 * never a partial file; on any failure the temporary file is removed and the destination is
 * untouched.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { makeDir, makeDirSync } from './safe-fs.js';

/** Temporary file name next to `file`: `.<base>.tmp-<pid>-<random>` (hidden, same directory). */
export function tempPathFor(file: string): string {
  const dir = path.dirname(file);
  const base = path.basename(file);
  return path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Best-effort fsync of a directory so that a rename in it is durable (a no-op where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms (Windows) and file systems do not allow fsync on directories.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * A file being written atomically. Write chunks, then `commit()` (fsync + rename into place) or
 * `abort()` (remove the temporary file). Exactly one of the two must be called.
 */
export class AtomicFile {
  private done = false;
  private constructor(
    /** The destination path. */
    readonly path: string,
    /** The temporary path being written. */
    readonly tempPath: string,
    private readonly fh: fsp.FileHandle,
  ) {}

  /** Opens a temporary file next to `file` (the directory must exist unless `mkdir` is true). */
  static async open(file: string, opts: { mkdir?: boolean; mode?: number } = {}): Promise<AtomicFile> {
    if (opts.mkdir) await makeDir(path.dirname(file));
    const tmp = tempPathFor(file);
    const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
    return new AtomicFile(file, tmp, fh);
  }

  /** Appends bytes. */
  async write(data: Uint8Array | string): Promise<void> {
    if (this.done) throw new Error(`AtomicFile(${this.path}): write after commit/abort`);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.byteLength) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.byteLength - off);
      off += bytesWritten;
    }
  }

  /** fsyncs, closes and renames the temporary file over the destination. */
  async commit(): Promise<void> {
    if (this.done) throw new Error(`AtomicFile(${this.path}): already committed or aborted`);
    this.done = true;
    try {
      await this.fh.sync();
      await this.fh.close();
      await fsp.rename(this.tempPath, this.path);
    } catch (err) {
      await this.fh.close().catch(() => undefined);
      await fsp.rm(this.tempPath, { force: true }).catch(() => undefined);
      throw err;
    }
    await fsyncDir(path.dirname(this.path));
  }

  /** Closes and removes the temporary file; the destination is untouched. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}

/**
 * Writes `data` to `file` atomically (temp file in the same directory + fsync + rename + fsync of
 * the directory). On failure nothing is left behind and an existing `file` is unchanged.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  opts: { mkdir?: boolean; mode?: number } = {},
): Promise<void> {
  const f = await AtomicFile.open(file, opts);
  try {
    await f.write(data);
  } catch (err) {
    await f.abort();
    throw err;
  }
  await f.commit();
}

/** Synchronous twin of {@link writeFileAtomic}. */
export function writeFileAtomicSync(
  file: string,
  data: Uint8Array | string,
  opts: { mkdir?: boolean; mode?: number } = {},
): void {
  if (opts.mkdir) makeDirSync(path.dirname(file));
  const tmp = tempPathFor(file);
  const fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.byteLength) off += fs.writeSync(fd, buf, off, buf.byteLength - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // directory fsync unsupported here
  }
}
