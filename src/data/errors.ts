/**
 * Errors raised by the dataset layer. Every message names the file (or dataset) and the problem,
 * and where possible says how to fix it. `code` is a stable string for programs to test.
 */

/** Stable error codes of {@link DatasetFileError}. */
export type DatasetFileErrorCode =
  | 'ERR_DATA_NOT_A_FILE' // a directory (or other non-regular file) where a file was expected
  | 'ERR_DATA_READ' // the file could not be read (permissions, I/O)
  | 'ERR_DATA_EMPTY' // zero bytes (or zero bytes after gunzip)
  | 'ERR_DATA_GZIP' // corrupt or truncated gzip stream
  | 'ERR_DATA_MAGIC' // wrong IDX magic number
  | 'ERR_DATA_DIMS' // bad IDX dimensions / unexpected image size
  | 'ERR_DATA_TRUNCATED' // fewer bytes than the header announces
  | 'ERR_DATA_TOO_LONG' // more bytes than the header announces
  | 'ERR_DATA_RECORD_SIZE' // CIFAR file size not a multiple of the record size
  | 'ERR_DATA_COUNT_MISMATCH' // images and labels disagree on the number of examples
  | 'ERR_DATA_LABEL_RANGE' // a label >= number of classes
  | 'ERR_DATA_CHECKSUM' // a downloaded file does not match its published checksum
  | 'ERR_DATA_ARCHIVE'; // a malformed tar archive, or a member missing from it

/** A dataset file exists but cannot be used. `file` is the offending path. */
export class DatasetFileError extends Error {
  override name = 'DatasetFileError';
  constructor(
    readonly file: string,
    readonly code: DatasetFileErrorCode,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

/** A downloaded file failed checksum verification (it was deleted, nothing was cached). */
export class ChecksumError extends DatasetFileError {
  override name = 'ChecksumError';
  constructor(
    file: string,
    readonly url: string,
    readonly algorithm: 'md5' | 'sha256',
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      file,
      'ERR_DATA_CHECKSUM',
      `checksum mismatch for download from ${url}: ${algorithm} is ${actual}, expected ${expected}; ` +
        'the download was discarded and nothing was written to the cache',
    );
  }
}

/** One directory that was searched, and what was missing there. */
export interface SearchedLocation {
  dir: string;
  /** Where this directory came from, e.g. "option dir", "BIGSTEP_DATA", "cache", "Debian package". */
  source: string;
  /** Files that were not found there (all of them if the directory does not exist). */
  missing: string[];
  exists: boolean;
}

/** The dataset's files were not found anywhere, and downloading them failed or was disabled. */
export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
  readonly code = 'ERR_DATA_NOT_FOUND';
  constructor(
    readonly dataset: string,
    /** Files needed and not found in any single searched location. */
    readonly missing: string[],
    readonly searched: SearchedLocation[],
    /** Download attempts that failed, as "url: reason". Empty if downloading was disabled. */
    readonly downloadErrors: string[],
    /** Ways to get the files, one sentence each (e.g. the apt-get command). */
    readonly howToFix: string[],
    options?: { cause?: unknown },
  ) {
    const lines: string[] = [];
    lines.push(`${dataset}: dataset files not found${downloadErrors.length ? ' and the download failed' : ''}.`);
    lines.push(`Missing files: ${missing.join(', ')}`);
    lines.push('Looked in:');
    for (const s of searched) {
      const what = !s.exists
        ? 'directory does not exist'
        : s.missing.length === 0
          ? 'complete'
          : `missing ${s.missing.join(', ')}`;
      lines.push(`  ${s.dir}  (${s.source}): ${what}`);
    }
    if (downloadErrors.length) {
      lines.push('Download attempts:');
      for (const e of downloadErrors) lines.push(`  ${e}`);
    } else {
      lines.push('Download: disabled (option download: false).');
    }
    lines.push('How to get them:');
    for (const h of howToFix) lines.push(`  - ${h}`);
    super(lines.join('\n'), options);
  }
}
