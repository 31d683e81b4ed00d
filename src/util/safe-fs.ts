/**
 * File-system calls that cannot hang or exhaust memory on a bad path: reading only regular files
 * of a bounded size (a FIFO, /dev/zero or a directory is refused before any byte is read), and
 * making a directory tree one component at a time (`fs.mkdir({ recursive: true })` spins forever
 * on paths like /proc/x, where mkdir says ENOENT although the parent exists).
 */
import { constants, promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A path that cannot be read or made. Message: `<what> <file> <reason>`. */
export class PathError extends Error {
  constructor(
    /** The path (absolute for directories). */
    readonly file: string,
    readonly code: 'ERR_BIGSTEP_NOT_A_FILE' | 'ERR_BIGSTEP_FILE_TOO_LARGE' | 'ERR_BIGSTEP_READ' | 'ERR_BIGSTEP_MKDIR',
    /** The file's role, e.g. "checkpoint" or "sweep spec". */
    readonly what: string,
    /** What is wrong, without the role and path. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${what} ${file} ${reason}`, options);
    this.name = 'PathError';
  }
}

/** Default ceiling for files read whole (configs, JSON, checkpoints): 4 GiB, below Buffer's limit. */
export const MAX_READ_BYTES = 2 ** 32 - 1;

/** O_NONBLOCK so that opening a FIFO without a writer returns at once instead of blocking. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkStats(file: string, what: string, st: fs.Stats, maxBytes: number): void {
  if (!st.isFile())
    throw new PathError(file, 'ERR_BIGSTEP_NOT_A_FILE', what, `is ${kindOf(st)}, expected a regular file`);
  if (st.size > maxBytes)
    throw new PathError(
      file,
      'ERR_BIGSTEP_FILE_TOO_LARGE',
      what,
      `is ${st.size} bytes, above the limit of ${maxBytes} bytes`,
    );
}

function openError(file: string, what: string, err: unknown): PathError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'does not exist'
      : code === 'EISDIR'
        ? 'is a directory, expected a regular file'
        : `cannot be read (${code ?? String(err)})`;
  return new PathError(file, code === 'EISDIR' ? 'ERR_BIGSTEP_NOT_A_FILE' : 'ERR_BIGSTEP_READ', what, reason, {
    cause: err,
  });
}

function checkPathArg(file: unknown, what: string): asserts file is string {
  if (typeof file !== 'string' || file.length === 0)
    throw new TypeError(
      `${what} must be a non-empty path string (got ${typeof file === 'string' ? '""' : typeof file})`,
    );
  if (file.includes('\0')) throw new TypeError(`${what} must not contain a NUL byte`);
}

/**
 * Reads the whole of `file` after checking that it is a regular file of at most `maxBytes` bytes.
 * Throws {@link PathError} (message `<what> <file> ...`); `what` names the file's role.
 */
export function readRegularFileSync(file: string, what: string, maxBytes = MAX_READ_BYTES): Buffer {
  checkPathArg(file, what);
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (err) {
    throw openError(file, what, err);
  }
  try {
    const st = fs.fstatSync(fd);
    checkStats(file, what, st, maxBytes);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = fs.readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break; // the file shrank while being read
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } catch (err) {
    if (err instanceof PathError) throw err;
    throw openError(file, what, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Async twin of {@link readRegularFileSync}. */
export async function readRegularFile(file: string, what: string, maxBytes = MAX_READ_BYTES): Promise<Buffer> {
  checkPathArg(file, what);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, READ_FLAGS);
  } catch (err) {
    throw openError(file, what, err);
  }
  try {
    const st = await fh.stat();
    checkStats(file, what, st, maxBytes);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } catch (err) {
    if (err instanceof PathError) throw err;
    throw openError(file, what, err);
  } finally {
    await fh.close();
  }
}

/** {@link readRegularFile} as UTF-8 text. */
export async function readTextFile(file: string, what: string, maxBytes = MAX_READ_BYTES): Promise<string> {
  return (await readRegularFile(file, what, maxBytes)).toString('utf8');
}

/** The components from the first missing ancestor of `dir` down to `dir` (absolute paths). */
function missingChain(abs: string, exists: (p: string) => fs.Stats | undefined, what: string): string[] {
  const chain: string[] = [];
  let p = abs;
  for (;;) {
    const st = exists(p);
    if (st) {
      if (!st.isDirectory())
        throw new PathError(abs, 'ERR_BIGSTEP_MKDIR', what, `cannot be created: ${p} exists and is not a directory`);
      return chain.reverse();
    }
    chain.push(p);
    const parent = path.dirname(p);
    if (parent === p) return chain.reverse(); // a missing root: mkdir will say why
    p = parent;
  }
}

function mkdirError(abs: string, p: string, what: string, err: unknown): PathError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new PathError(abs, 'ERR_BIGSTEP_MKDIR', what, `cannot be created (mkdir ${p}: ${code})`, { cause: err });
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes `dir` and its missing parents, one `mkdir` per component (each tried once), so a path
 * that cannot be made fails at once with a {@link PathError} naming it, instead of the endless
 * retry loop of `fs.mkdir({ recursive: true })` on /proc/x. Returns the absolute path.
 */
export function makeDirSync(dir: string, what = 'directory'): string {
  checkPathArg(dir, what);
  const abs = path.resolve(dir);
  let chain: string[];
  try {
    chain = missingChain(abs, statOrUndefined, what);
  } catch (err) {
    if (err instanceof PathError) throw err;
    throw mkdirError(abs, abs, what, err);
  }
  for (const p of chain) {
    try {
      fs.mkdirSync(p);
    } catch (err) {
      // Made concurrently by another process: fine if it is a directory now.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statOrUndefined(p)?.isDirectory()) continue;
      throw mkdirError(abs, p, what, err);
    }
  }
  return abs;
}

/** Async twin of {@link makeDirSync}. */
export async function makeDir(dir: string, what = 'directory'): Promise<string> {
  checkPathArg(dir, what);
  const abs = path.resolve(dir);
  const stat = async (p: string): Promise<fs.Stats | undefined> => {
    try {
      return await fsp.stat(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw mkdirError(abs, p, what, err);
    }
  };
  // Walk up to the first existing ancestor (at most one stat per component).
  const chain: string[] = [];
  let p = abs;
  for (;;) {
    const st = await stat(p);
    if (st) {
      if (!st.isDirectory())
        throw new PathError(abs, 'ERR_BIGSTEP_MKDIR', what, `cannot be created: ${p} exists and is not a directory`);
      break;
    }
    chain.push(p);
    const parent = path.dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const c of chain.reverse()) {
    try {
      await fsp.mkdir(c);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(c))?.isDirectory()) continue;
      throw mkdirError(abs, c, what, err);
    }
  }
  return abs;
}

/**
 * `name` resolved inside `dir`; a PathError if it is empty, absolute or escapes `dir` (`..`).
 * `what` names the parameter in the message.
 */
export function insideDir(dir: string, name: string, what: string): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError(`${what} must be a non-empty file name (got ${typeof name === 'string' ? '""' : typeof name})`);
  if (name.includes('\0')) throw new TypeError(`${what} must not contain a NUL byte`);
  const base = path.resolve(dir);
  const full = path.resolve(base, name);
  const rel = path.relative(base, full);
  if (path.isAbsolute(name) || rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    throw new RangeError(`${what} must be a relative path that stays inside ${dir} (got ${JSON.stringify(name)})`);
  return full;
}
