/** Reading dataset files: existence/type checks, gzip detection (by magic bytes), empty files. */
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { DatasetFileError } from './errors.js';

const gunzip = promisify(zlib.gunzip);

/** True if `buf` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Throws a {@link DatasetFileError} unless `file` is an existing regular file. */
export async function checkRegularFile(file: string): Promise<fs.Stats> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetFileError(
      file,
      'ERR_DATA_READ',
      code === 'ENOENT' ? 'file does not exist' : `cannot stat file (${code ?? String(err)})`,
      { cause: err },
    );
  }
  if (st.isDirectory()) {
    throw new DatasetFileError(file, 'ERR_DATA_NOT_A_FILE', 'is a directory, expected a data file');
  }
  if (!st.isFile()) throw new DatasetFileError(file, 'ERR_DATA_NOT_A_FILE', 'is not a regular file');
  return st;
}

/**
 * Reads a whole dataset file, gunzipping it if it starts with the gzip magic (whatever its name).
 * Errors (all {@link DatasetFileError}, naming `file`): not a regular file, unreadable, empty,
 * corrupt/truncated gzip, empty after decompression.
 */
export async function readDataFile(file: string): Promise<Buffer> {
  await checkRegularFile(file);
  let raw: Buffer;
  try {
    raw = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetFileError(
      file,
      code === 'EISDIR' ? 'ERR_DATA_NOT_A_FILE' : 'ERR_DATA_READ',
      `cannot read file (${code ?? String(err)})`,
      { cause: err },
    );
  }
  if (raw.length === 0) throw new DatasetFileError(file, 'ERR_DATA_EMPTY', 'file is empty (0 bytes)');
  if (!isGzip(raw)) return raw;
  let out: Buffer;
  try {
    out = await gunzip(raw);
  } catch (err) {
    const msg = (err as Error).message;
    throw new DatasetFileError(file, 'ERR_DATA_GZIP', `corrupt or truncated gzip data (${msg})`, { cause: err });
  }
  if (out.length === 0) {
    throw new DatasetFileError(file, 'ERR_DATA_EMPTY', 'file is empty after gzip decompression');
  }
  return out;
}
