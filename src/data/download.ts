/**
 * Verified downloads into the cache: stream to a temporary file while hashing, compare with the
 * published checksum, and only then fsync + rename into place. A failed or mismatching download
 * leaves no file behind.
 */
import { createHash } from 'node:crypto';
import { AtomicFile } from '../util/atomic.js';
import { createProgress } from '../util/progress.js';
import { ChecksumError } from './errors.js';

/** Published checksum(s) of a file, lowercase hex. At least one must be given. */
export interface Checksum {
  md5?: string;
  sha256?: string;
}

/** Every URL failed for a network / HTTP reason (checksum failures raise {@link ChecksumError}). */
export class DownloadError extends Error {
  override name = 'DownloadError';
  readonly code = 'ERR_DATA_DOWNLOAD';
  constructor(
    readonly file: string,
    /** One "url: reason" line per attempt. */
    readonly attempts: string[],
  ) {
    super(`${file}: download failed:\n  ${attempts.join('\n  ')}`);
  }
}

export interface DownloadOptions {
  /** Show progress (bar on a TTY, periodic lines otherwise) on stderr. Default true. */
  progress?: boolean;
  /** Abort when no bytes arrive for this long (ms). Default 60000. */
  idleTimeoutMs?: number;
  /** Label for progress output. */
  label?: string;
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return 'timed out (no data received)';
  const cause = e?.cause;
  if (cause && (cause.code || cause.message))
    return `${e.message} (${cause.code ?? ''}${cause.code && cause.message ? ' ' : ''}${cause.message ?? ''})`;
  return e?.message ?? String(err);
}

/** Downloads one URL to `dest` atomically, verifying `checksum`. Throws on any failure. */
async function downloadOne(url: string, dest: string, checksum: Checksum, opts: DownloadOptions): Promise<void> {
  const idle = opts.idleTimeoutMs ?? 60000;
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(), idle);
  const kick = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(), idle);
  };
  let file: AtomicFile | undefined;
  try {
    const res = await fetch(url, { signal: ac.signal, redirect: 'follow' });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    const len = Number(res.headers.get('content-length') ?? 0);
    const md5 = checksum.md5 ? createHash('md5') : undefined;
    const sha = checksum.sha256 ? createHash('sha256') : undefined;
    file = await AtomicFile.open(dest, { mkdir: true });
    const bar = createProgress({
      label: opts.label ?? `downloading ${url}`,
      total: len,
      unit: 'bytes',
      quiet: opts.progress === false,
    });
    let received = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        kick();
        md5?.update(value);
        sha?.update(value);
        await file.write(value);
        received += value.byteLength;
        bar.update(received);
      }
    } finally {
      bar.done();
    }
    if (len > 0 && received !== len) throw new Error(`connection closed after ${received} of ${len} bytes`);
    const checks: [alg: 'md5' | 'sha256', expected: string | undefined, actual: string | undefined][] = [
      ['sha256', checksum.sha256, sha?.digest('hex')],
      ['md5', checksum.md5, md5?.digest('hex')],
    ];
    for (const [alg, expected, actual] of checks) {
      if (expected !== undefined && actual !== expected.toLowerCase()) {
        throw new ChecksumError(dest, url, alg, expected.toLowerCase(), actual ?? '');
      }
    }
    await file.commit();
    file = undefined;
  } finally {
    clearTimeout(timer);
    await file?.abort();
  }
}

/**
 * Downloads `dest` from the first of `urls` that works, verifying `checksum`. Tries the URLs in
 * order. If every attempt fails: throws the {@link ChecksumError} if any URL served wrong bytes,
 * else a {@link DownloadError} listing each attempt. Never leaves a partial or unverified file.
 */
export async function downloadVerified(
  urls: readonly string[],
  dest: string,
  checksum: Checksum,
  opts: DownloadOptions = {},
): Promise<void> {
  if (!checksum.md5 && !checksum.sha256) throw new TypeError(`checksum for ${dest} must give md5 or sha256`);
  const attempts: string[] = [];
  let checksumError: ChecksumError | undefined;
  for (const url of urls) {
    try {
      await downloadOne(url, dest, checksum, opts);
      return;
    } catch (err) {
      if (err instanceof ChecksumError) {
        checksumError ??= err;
        attempts.push(`${url}: ${err.algorithm} mismatch`);
      } else {
        attempts.push(`${url}: ${describeFetchError(err)}`);
      }
    }
  }
  if (checksumError) throw checksumError;
  throw new DownloadError(dest, attempts);
}
