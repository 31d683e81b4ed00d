/**
 * IDX files (MNIST, Fashion-MNIST): http://yann.lecun.com/exdb/mnist/ (format section).
 *
 * Layout, big-endian: magic = 0x00 0x00 <type> <ndims>, then ndims uint32 dimensions, then the
 * data row-major. bigstep reads unsigned-byte files only (type 0x08):
 *   images: magic 0x00000803, dims [n, rows, cols], n·rows·cols pixel bytes (0 = background);
 *   labels: magic 0x00000801, dims [n], n label bytes.
 * Images become float32 in [0, 1] (byte / 255) with CHW shape [1, rows, cols].
 */
import { DatasetFileError } from './errors.js';
import { readDataFile } from './files.js';
import type { Dataset } from './types.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** byte → float32 in [0, 1]. */
export const BYTE_TO_UNIT = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

function hex(m: number): string {
  return `0x${m.toString(16).padStart(8, '0')}`;
}

function describeMagic(m: number): string {
  if (m === IDX_IMAGES_MAGIC) return ' (that is an IDX image file)';
  if (m === IDX_LABELS_MAGIC) return ' (that is an IDX label file)';
  if (m >>> 16 === 0 && ((m >>> 8) & 0xff) !== 0x08)
    return ` (IDX data type 0x${((m >>> 8) & 0xff).toString(16)} is not unsigned byte)`;
  return '';
}

/** Parses an IDX header, checks magic and that the byte count matches the dims exactly. */
function parseHeader(buf: Buffer, file: string, magic: number, ndims: number, kind: string): number[] {
  const headerLen = 4 + 4 * ndims;
  if (buf.length < 4) {
    throw new DatasetFileError(
      file,
      'ERR_DATA_TRUNCATED',
      `file is truncated: ${buf.length} bytes, shorter than the 4-byte IDX magic number`,
    );
  }
  const m = buf.readUInt32BE(0);
  if (m !== magic) {
    throw new DatasetFileError(
      file,
      'ERR_DATA_MAGIC',
      `bad magic number ${hex(m)}${describeMagic(m)}, expected ${hex(magic)} for an IDX ${kind} file`,
    );
  }
  if (buf.length < headerLen) {
    throw new DatasetFileError(
      file,
      'ERR_DATA_TRUNCATED',
      `file is truncated: ${buf.length} bytes, shorter than the ${headerLen}-byte IDX ${kind} header`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  let count = 1;
  for (const d of dims) count *= d;
  const expected = headerLen + count;
  if (buf.length < expected) {
    throw new DatasetFileError(
      file,
      'ERR_DATA_TRUNCATED',
      `file is truncated: header announces dims [${dims.join(', ')}] = ${expected} bytes, file has ${buf.length}`,
    );
  }
  if (buf.length > expected) {
    throw new DatasetFileError(
      file,
      'ERR_DATA_TOO_LONG',
      `file is too long: header announces dims [${dims.join(', ')}] = ${expected} bytes, file has ${buf.length} (${buf.length - expected} trailing bytes)`,
    );
  }
  return dims;
}

export interface IdxImages {
  n: number;
  rows: number;
  cols: number;
  /** [n, 1, rows, cols] float32 in [0, 1]. */
  x: Float32Array;
}

/** Parses IDX image bytes (already decompressed). `file` is used in error messages. */
export function parseIdxImages(buf: Buffer, file: string): IdxImages {
  const [n, rows, cols] = parseHeader(buf, file, IDX_IMAGES_MAGIC, 3, 'image') as [number, number, number];
  if (n === 0) throw new DatasetFileError(file, 'ERR_DATA_DIMS', 'IDX image file holds 0 images');
  if (rows === 0 || cols === 0) {
    throw new DatasetFileError(file, 'ERR_DATA_DIMS', `bad image dimensions ${rows}x${cols}`);
  }
  const total = n * rows * cols;
  const x = new Float32Array(total);
  const src = buf.subarray(16);
  for (let i = 0; i < total; i++) x[i] = BYTE_TO_UNIT[src[i]!]!;
  return { n, rows, cols, x };
}

/** Parses IDX label bytes; every label must be < numClasses. */
export function parseIdxLabels(buf: Buffer, file: string, numClasses = 10): Int32Array {
  const [n] = parseHeader(buf, file, IDX_LABELS_MAGIC, 1, 'label') as [number];
  if (n === 0) throw new DatasetFileError(file, 'ERR_DATA_DIMS', 'IDX label file holds 0 labels');
  const labels = new Int32Array(n);
  const src = buf.subarray(8);
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    if (v >= numClasses) {
      throw new DatasetFileError(
        file,
        'ERR_DATA_LABEL_RANGE',
        `label ${v} at index ${i} is out of range: expected 0..${numClasses - 1} (${numClasses} classes)`,
      );
    }
    labels[i] = v;
  }
  return labels;
}

/** Reads an IDX image file (gzipped or not). */
export async function readIdxImages(file: string): Promise<IdxImages> {
  return parseIdxImages(await readDataFile(file), file);
}

/** Reads an IDX label file (gzipped or not). */
export async function readIdxLabels(file: string, numClasses = 10): Promise<Int32Array> {
  return parseIdxLabels(await readDataFile(file), file, numClasses);
}

export interface IdxPairOptions {
  images: string;
  labels: string;
  /** Dataset name, e.g. "fashion-mnist/train". */
  name: string;
  numClasses?: number;
  /** If given, images must be exactly rows × cols (e.g. [28, 28]). */
  expectImageSize?: [number, number];
}

/** Loads an images + labels pair into one {@link Dataset} ([1, rows, cols] images). */
export async function loadIdxPair(opts: IdxPairOptions): Promise<Dataset> {
  const numClasses = opts.numClasses ?? 10;
  const [img, labels] = await Promise.all([readIdxImages(opts.images), readIdxLabels(opts.labels, numClasses)]);
  if (opts.expectImageSize) {
    const [r, c] = opts.expectImageSize;
    if (img.rows !== r || img.cols !== c) {
      throw new DatasetFileError(
        opts.images,
        'ERR_DATA_DIMS',
        `images are ${img.rows}x${img.cols}, expected ${r}x${c} for ${opts.name}`,
      );
    }
  }
  if (img.n !== labels.length) {
    throw new DatasetFileError(
      opts.images,
      'ERR_DATA_COUNT_MISMATCH',
      `holds ${img.n} images but the label file ${opts.labels} holds ${labels.length} labels`,
    );
  }
  return { name: opts.name, n: img.n, shape: [1, img.rows, img.cols], x: img.x, labels, numClasses };
}
