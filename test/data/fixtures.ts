// Test fixtures for the dataset layer, written in the exact binary formats, in temp dirs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** A fresh temp directory; remove with `rmTemp`. */
export function makeTemp(prefix = 'bigstep-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmTemp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Every regular file under `dir` (relative paths), recursively; [] if `dir` does not exist. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Deterministic pixel value for (example i, position j). */
export function pixel(i: number, j: number): number {
  return (i * 31 + j * 7) % 256;
}

/** IDX image file bytes: magic 0x00000803, dims n, rows, cols, then pixel(i, j). */
export function idxImages(n: number, rows = 28, cols = 28, magic = 0x00000803): Buffer {
  const b = Buffer.alloc(16 + n * rows * cols);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 0; i < n; i++) for (let j = 0; j < rows * cols; j++) b[16 + i * rows * cols + j] = pixel(i, j);
  return b;
}

/** IDX label file bytes: magic 0x00000801, dim n, then the labels. */
export function idxLabels(labels: number[], magic = 0x00000801): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (b[8 + i] = l));
  return b;
}

export function labelsFor(n: number, k = 10): number[] {
  return Array.from({ length: n }, (_, i) => (i * 3) % k);
}

export const IDX_NAMES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
] as const;

/** The four MNIST-style files for nTrain / nTest 28×28 examples: name → bytes (uncompressed). */
export function idxSet(nTrain = 12, nTest = 7): Record<(typeof IDX_NAMES)[number], Buffer> {
  return {
    'train-images-idx3-ubyte': idxImages(nTrain),
    'train-labels-idx1-ubyte': idxLabels(labelsFor(nTrain)),
    't10k-images-idx3-ubyte': idxImages(nTest),
    't10k-labels-idx1-ubyte': idxLabels(labelsFor(nTest)),
  };
}

/** Writes the four IDX files into `dir`, gzipped (".gz" names) or raw. */
export function writeIdxSet(dir: string, gz: boolean, nTrain = 12, nTest = 7): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, buf] of Object.entries(idxSet(nTrain, nTest))) {
    if (gz) fs.writeFileSync(path.join(dir, `${name}.gz`), zlib.gzipSync(buf));
    else fs.writeFileSync(path.join(dir, name), buf);
  }
}

/** CIFAR records: labelBytes label bytes (given by labelFn(i) per byte index) + 3072 pixels. */
export function cifarBatch(n: number, labelBytes: 1 | 2, labelFn: (i: number, b: number) => number, seed = 0): Buffer {
  const rec = labelBytes + 3072;
  const b = Buffer.alloc(n * rec);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < labelBytes; k++) b[i * rec + k] = labelFn(i, k);
    for (let j = 0; j < 3072; j++) b[i * rec + labelBytes + j] = pixel(i + seed, j);
  }
  return b;
}

/** One ustar header + data + padding. `typeflag` '0' file, '5' directory, 'x' pax. */
export function tarEntry(name: string, data: Buffer, typeflag = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

/** A pax extended header record set {path}. */
export function paxPath(p: string): Buffer {
  const rec = ` path=${p}\n`;
  let len = rec.length + 2;
  while (`${len}${rec}`.length !== len) len = `${len}${rec}`.length;
  return tarEntry('PaxHeader', Buffer.from(`${len}${rec}`), 'x');
}

/** A complete tar archive (entries + two zero blocks). */
export function tarArchive(entries: Buffer[]): Buffer {
  return Buffer.concat([...entries, Buffer.alloc(1024)]);
}

export function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A local HTTP server on 127.0.0.1 (port 0) serving `files` by basename; counts requests. */
export interface FixtureServer {
  url: string;
  requests: string[];
  files: Map<string, Buffer>;
  /** Respond to this path by sending headers and a few bytes, then stalling. */
  stall: Set<string>;
  close(): Promise<void>;
}

export async function startServer(files: Record<string, Buffer>): Promise<FixtureServer> {
  const map = new Map(Object.entries(files));
  const requests: string[] = [];
  const stall = new Set<string>();
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').replace(/^\/+/, ''));
    requests.push(name);
    const body = map.get(name);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (stall.has(name)) {
      res.write(body.subarray(0, Math.min(10, body.length)));
      return; // never ends; the client's idle timeout must fire
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    files: map,
    stall,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a server is started, its port noted, then closed). */
export async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}

/** Runs `fn`, expecting it to reject; returns the error (fails the test if it resolves). */
export async function rejects(fn: () => Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await fn();
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, but the call succeeded');
}
