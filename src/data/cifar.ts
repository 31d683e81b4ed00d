/**
 * CIFAR-10 / CIFAR-100 binary batches: https://www.cs.toronto.edu/~kriz/cifar.html
 *
 * A file is a sequence of fixed-size records, no header:
 *   CIFAR-10:  <1 label byte>                         <3072 pixel bytes>   (3073 bytes)
 *   CIFAR-100: <1 coarse label byte><1 fine label byte><3072 pixel bytes>  (3074 bytes)
 * The 3072 pixel bytes are the red, green and blue 32×32 planes, each row-major: already CHW.
 * Pixels become float32 in [0, 1] (byte / 255), shape [3, 32, 32].
 */
import { promises as fsp } from 'node:fs';
import { DatasetFileError } from './errors.js';
import { checkRegularFile, isGzip, readDataFile } from './files.js';
import { BYTE_TO_UNIT } from './idx.js';
import type { Dataset } from './types.js';

export const CIFAR_PIXELS = 3 * 32 * 32;

export interface CifarFormat {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Which label byte to use (0-based, < labelBytes). CIFAR-100: 0 = coarse, 1 = fine. */
  labelIndex: number;
  /** Labels must be < numClasses: 10 (CIFAR-10), 100 (fine) or 20 (coarse). */
  numClasses: number;
}

export const CIFAR10_FORMAT: CifarFormat = { labelBytes: 1, labelIndex: 0, numClasses: 10 };
export const CIFAR100_FINE_FORMAT: CifarFormat = { labelBytes: 2, labelIndex: 1, numClasses: 100 };
export const CIFAR100_COARSE_FORMAT: CifarFormat = { labelBytes: 2, labelIndex: 0, numClasses: 20 };

/**
 * Decodes the records of one batch into `x`/`labels` starting at example `offset`.
 * Returns the number of records.
 */
function decodeInto(
  buf: Buffer,
  file: string,
  fmt: CifarFormat,
  x: Float32Array,
  labels: Int32Array,
  offset: number,
): number {
  const rec = fmt.labelBytes + CIFAR_PIXELS;
  const n = buf.length / rec;
  for (let i = 0; i < n; i++) {
    const base = i * rec;
    const label = buf[base + fmt.labelIndex]!;
    if (label >= fmt.numClasses) {
      const which = fmt.labelBytes === 2 ? (fmt.labelIndex === 0 ? 'coarse label' : 'fine label') : 'label';
      throw new DatasetFileError(
        file,
        'ERR_DATA_LABEL_RANGE',
        `${which} ${label} in record ${i} (byte offset ${base + fmt.labelIndex}) is out of range: expected 0..${fmt.numClasses - 1}`,
      );
    }
    labels[offset + i] = label;
    const px = base + fmt.labelBytes;
    const out = (offset + i) * CIFAR_PIXELS;
    for (let j = 0; j < CIFAR_PIXELS; j++) x[out + j] = BYTE_TO_UNIT[buf[px + j]!]!;
  }
  return n;
}

function checkRecordSize(size: number, file: string, fmt: CifarFormat): void {
  const rec = fmt.labelBytes + CIFAR_PIXELS;
  if (size === 0) throw new DatasetFileError(file, 'ERR_DATA_EMPTY', 'file is empty (0 bytes)');
  if (size % rec !== 0) {
    throw new DatasetFileError(
      file,
      size < rec ? 'ERR_DATA_TRUNCATED' : 'ERR_DATA_RECORD_SIZE',
      `file size ${size} bytes is not a multiple of the ${rec}-byte CIFAR record ` +
        `(${fmt.labelBytes} label byte${fmt.labelBytes > 1 ? 's' : ''} + 3072 pixels): ` +
        `${Math.floor(size / rec)} whole records and ${size % rec} extra bytes (truncated or wrong format)`,
    );
  }
}

/** Parses one CIFAR batch held in memory (already decompressed). */
export function parseCifarBatch(
  buf: Buffer,
  file: string,
  fmt: CifarFormat,
): { n: number; x: Float32Array; labels: Int32Array } {
  checkRecordSize(buf.length, file, fmt);
  const n = buf.length / (fmt.labelBytes + CIFAR_PIXELS);
  const x = new Float32Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  decodeInto(buf, file, fmt, x, labels, 0);
  return { n, x, labels };
}

/**
 * Loads and concatenates CIFAR batch files into one {@link Dataset} with a single contiguous
 * `x` ([n, 3, 32, 32]) and `labels`. Files may be gzipped (detected by magic bytes). Sizes of
 * uncompressed files are checked before anything is decoded, so a bad file fails fast.
 */
export async function loadCifarBatches(files: readonly string[], fmt: CifarFormat, name: string): Promise<Dataset> {
  if (files.length === 0) throw new RangeError('files must name at least one CIFAR batch file');
  const rec = fmt.labelBytes + CIFAR_PIXELS;
  // Pass 1: sizes (uncompressed files: from stat; gzipped: decompress now and keep the buffer).
  const sizes: number[] = [];
  const preloaded: (Buffer | undefined)[] = [];
  for (const file of files) {
    const st = await checkRegularFile(file);
    let size = st.size;
    let pre: Buffer | undefined;
    if (size >= 2) {
      const fh = await fsp.open(file, 'r');
      const head = Buffer.alloc(2);
      try {
        await fh.read(head, 0, 2, 0);
      } finally {
        await fh.close();
      }
      if (isGzip(head)) {
        pre = await readDataFile(file);
        size = pre.length;
      }
    }
    checkRecordSize(size, file, fmt);
    sizes.push(size / rec);
    preloaded.push(pre);
  }
  const n = sizes.reduce((a, b) => a + b, 0);
  const x = new Float32Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  let offset = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const buf = preloaded[i] ?? (await readDataFile(file));
    checkRecordSize(buf.length, file, fmt); // the file may have changed since pass 1
    if (buf.length / rec !== sizes[i]) {
      throw new DatasetFileError(file, 'ERR_DATA_READ', 'file changed size while being read');
    }
    offset += decodeInto(buf, file, fmt, x, labels, offset);
  }
  return { name, n, shape: [3, 32, 32], x, labels, numClasses: fmt.numClasses };
}
