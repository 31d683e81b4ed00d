/**
 * A minimal streaming tar reader (POSIX ustar, plus the pax `path`/`size` and GNU `L` long-name
 * extensions), enough to unpack the CIFAR archives without an external tool.
 *
 * Each 512-byte header holds: name[0,100) mode[100,8) uid gid size[124,12) mtime chksum[148,8)
 * typeflag[156] linkname[157,100) magic[257,6) ("ustar") version uname gname devmajor devminor
 * prefix[345,155); file data follows, padded to a multiple of 512; two zero blocks end the archive.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { AtomicFile } from '../util/atomic.js';
import { DatasetFileError } from './errors.js';

export interface TarEntry {
  /** Member path as stored, without a leading "./". */
  name: string;
  size: number;
  type: 'file' | 'directory' | 'link' | 'other';
  mode: number;
}

/** Receives the data of one member. */
export interface TarSink {
  write(chunk: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
}

function cstr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function octal(b: Buffer, off: number, len: number, archive: string, field: string, at: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256 big-endian for large values.
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = cstr(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) {
    throw new DatasetFileError(
      archive,
      'ERR_DATA_ARCHIVE',
      `malformed tar header at byte ${at}: ${field} field "${s}" is not octal (not a tar archive, or corrupt)`,
    );
  }
  return parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) break;
    const len = parseInt(data.toString('utf8', pos, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, pos + len - 1); // strip trailing \n
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

/**
 * Reads a tar stream, calling `visit` for each member; if it returns a sink, the member's bytes
 * are written to it. Throws {@link DatasetFileError} (naming `archive`) on malformed headers
 * or a truncated archive.
 */
export async function walkTar(
  source: AsyncIterable<Uint8Array>,
  archive: string,
  visit: (entry: TarEntry) => TarSink | undefined | Promise<TarSink | undefined>,
): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  type State = 'header' | 'data' | 'pad' | 'end';
  let state = 'header' as State;
  const cur = (): State => state; // read through a call: `state` is changed inside closures
  let remaining = 0; // bytes of data (state data) or padding (state pad) left
  let sink: TarSink | undefined;
  let meta: Buffer[] | undefined; // collecting a pax/GNU long-name body
  let metaKind: 'x' | 'L' | 'g' | undefined;
  let nextName: string | undefined;
  let nextSize: number | undefined;
  let offset = 0; // archive offset of pending[0], for messages
  let entryName = '';

  const startEntry = async (h: Buffer): Promise<void> => {
    // checksum: sum of all header bytes with the checksum field read as spaces
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    const stored = octal(h, 148, 8, archive, 'checksum', offset);
    if (stored !== sum) {
      throw new DatasetFileError(
        archive,
        'ERR_DATA_ARCHIVE',
        `malformed tar header at byte ${offset}: checksum ${stored} does not match computed ${sum} (not a tar archive, or corrupt)`,
      );
    }
    const flag = String.fromCharCode(h[156]!);
    let name = cstr(h, 0, 100);
    const magic = h.toString('latin1', 257, 262);
    if (magic === 'ustar') {
      const prefix = cstr(h, 345, 155);
      if (prefix && h.toString('latin1', 257, 263) === 'ustar\0') name = `${prefix}/${name}`;
    }
    let size = octal(h, 124, 12, archive, 'size', offset);
    const mode = octal(h, 100, 8, archive, 'mode', offset);
    if (flag === 'x' || flag === 'g' || flag === 'L') {
      metaKind = flag;
      meta = [];
      remaining = size;
      state = size > 0 ? 'data' : 'header';
      return;
    }
    if (nextName !== undefined) name = nextName;
    if (nextSize !== undefined) size = nextSize;
    nextName = undefined;
    nextSize = undefined;
    name = name.replace(/^(\.\/)+/, '');
    entryName = name;
    const type: TarEntry['type'] =
      flag === '0' || flag === '\0' || flag === '7'
        ? 'file'
        : flag === '5'
          ? 'directory'
          : flag === '1' || flag === '2'
            ? 'link'
            : 'other';
    if (type === 'directory' || type === 'link') size = 0;
    sink = await visit({ name, size, type, mode });
    remaining = size;
    state = size > 0 ? 'data' : 'header';
    if (size === 0 && sink) {
      await sink.end();
      sink = undefined;
    }
  };

  const finishData = async (): Promise<void> => {
    if (meta !== undefined) {
      const body = Buffer.concat(meta);
      if (metaKind === 'x') {
        const rec = parsePax(body);
        if (rec.path !== undefined) nextName = rec.path;
        if (rec.size !== undefined) nextSize = parseInt(rec.size, 10);
      } else if (metaKind === 'L') {
        nextName = cstr(body, 0, body.length);
      }
      meta = undefined;
      metaKind = undefined;
    } else if (sink) {
      await sink.end();
      sink = undefined;
    }
  };

  let dataSize = 0;
  for await (const chunk0 of source) {
    let chunk = Buffer.from(chunk0.buffer, chunk0.byteOffset, chunk0.byteLength);
    while (chunk.length > 0 && cur() !== 'end') {
      if (cur() === 'header') {
        const need = 512 - pending.length;
        const take = chunk.subarray(0, need);
        pending = pending.length ? Buffer.concat([pending, take]) : Buffer.from(take);
        chunk = chunk.subarray(take.length);
        if (pending.length < 512) break;
        const h = pending;
        pending = Buffer.alloc(0);
        if (h.every((b) => b === 0)) {
          state = 'end';
          break;
        }
        await startEntry(h);
        offset += 512;
        dataSize = remaining;
      } else if (cur() === 'data') {
        const take = chunk.subarray(0, Math.min(remaining, chunk.length));
        chunk = chunk.subarray(take.length);
        remaining -= take.length;
        offset += take.length;
        if (meta !== undefined) meta.push(Buffer.from(take));
        else if (sink) await sink.write(take);
        if (remaining === 0) {
          await finishData();
          remaining = (512 - (dataSize % 512)) % 512;
          state = remaining > 0 ? 'pad' : 'header';
        }
      } else {
        const take = Math.min(remaining, chunk.length);
        chunk = chunk.subarray(take);
        remaining -= take;
        offset += take;
        if (remaining === 0) state = 'header';
      }
    }
  }
  if (cur() === 'data' || (cur() === 'header' && pending.length > 0)) {
    throw new DatasetFileError(
      archive,
      'ERR_DATA_ARCHIVE',
      `tar archive is truncated${entryName ? ` inside member ${entryName}` : ''} (${offset} bytes read)`,
    );
  }
}

/** Streams a file through gunzip if it starts with the gzip magic, else as is. */
export async function* openMaybeGzip(file: string): AsyncGenerator<Uint8Array> {
  const fh = await fs.promises.open(file, 'r');
  const head = Buffer.alloc(2);
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const rs = fs.createReadStream(file);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gz = zlib.createGunzip();
    rs.on('error', (e) => gz.destroy(e));
    rs.pipe(gz);
    try {
      for await (const c of gz) yield c as Buffer;
    } catch (err) {
      throw new DatasetFileError(file, 'ERR_DATA_GZIP', `corrupt or truncated gzip data (${(err as Error).message})`, {
        cause: err,
      });
    } finally {
      rs.destroy();
      gz.destroy();
    }
  } else {
    try {
      for await (const c of rs) yield c as Buffer;
    } finally {
      rs.destroy();
    }
  }
}

/**
 * Extracts selected members of a (gzipped) tar archive. `members` maps a member path (as in the
 * archive, e.g. "cifar-10-batches-bin/data_batch_1.bin") to a destination file. Only listed
 * members are written, so hostile paths in the archive cannot escape. All outputs are written
 * atomically and committed only once every listed member was read completely; on any error none
 * of them is left behind.
 */
export async function extractTarMembers(archive: string, members: ReadonlyMap<string, string>): Promise<void> {
  const open: AtomicFile[] = [];
  const done = new Set<string>();
  try {
    await walkTar(openMaybeGzip(archive), archive, async (entry) => {
      const dest = members.get(entry.name);
      if (dest === undefined || entry.type !== 'file') return undefined;
      const f = await AtomicFile.open(dest, { mkdir: true });
      open.push(f);
      return {
        write: (c) => f.write(c),
        end: () => {
          done.add(entry.name);
        },
      };
    });
    const missing = [...members.keys()].filter((m) => !done.has(m));
    if (missing.length) {
      throw new DatasetFileError(archive, 'ERR_DATA_ARCHIVE', `archive does not contain ${missing.join(', ')}`);
    }
    for (const f of open) await f.commit();
  } catch (err) {
    for (const f of open) await f.abort();
    throw err;
  }
}
