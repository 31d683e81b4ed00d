/**
 * `loadDataset(name, opts)`: find a dataset's files, download them if needed, load both splits.
 *
 * Lookup order (the first directory holding every required file wins):
 *   1. `opts.dir` (the files directly in it, or in `<dir>/<name>/`);
 *   2. the data root `<root>/<name>/`, where root = `opts.cacheDir` ?? `$BIGSTEP_DATA`
 *      ?? `$XDG_CACHE_HOME/bigstep` ?? `~/.cache/bigstep`;
 *   3. system locations: Debian's `/usr/share/datasets/fashion-mnist` for Fashion-MNIST;
 *   4. download from the official addresses (or `opts.mirror` / `$BIGSTEP_DATA_MIRROR`) into
 *      `<root>/<name>/`, verified against the published checksums, written atomically.
 * CIFAR files may also sit one level down in the archive's own directory
 * (`cifar-10-batches-bin/`, `cifar-100-binary/`).
 *
 * A file that is found but bad raises {@link DatasetFileError} (no fallback, no download). Files
 * found nowhere and not downloadable raise {@link DatasetNotFoundError}, which lists the missing
 * files, every directory looked in and how to get the files.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCifarBatches } from './cifar.js';
import { type Checksum, DownloadError, downloadVerified } from './download.js';
import { DatasetNotFoundError, type SearchedLocation } from './errors.js';
import { loadIdxPair } from './idx.js';
import { type CifarSource, DATASET_NAMES, type DatasetName, type DatasetSource, SOURCES } from './sources.js';
import { extractTarMembers } from './tar.js';
import type { DatasetSplits } from './types.js';

/** Where {@link loadDataset} looks for files, whether and from where it downloads, and how it reports. */
export interface LoadDatasetOptions {
  /** Directory holding the dataset's files; searched first. */
  dir?: string;
  /** Data root / download cache; overrides `$BIGSTEP_DATA` and the XDG cache directory. */
  cacheDir?: string;
  /** Download missing files (default true). */
  download?: boolean;
  /** Base URL to download from instead of the official addresses (overrides `$BIGSTEP_DATA_MIRROR`). */
  mirror?: string;
  /** Expected checksums by file name, overriding the published ones (for private mirrors serving other bytes). */
  checksums?: Record<string, Checksum>;
  /** CIFAR-100 only: which label to use (default 'fine', 100 classes; 'coarse' has 20). */
  label?: 'fine' | 'coarse';
  /** Download progress on stderr (default true). */
  progress?: boolean;
  /** System directories to search instead of the defaults (e.g. [] to skip Debian's location). */
  systemDirs?: string[];
  /** Environment to read BIGSTEP_DATA, BIGSTEP_DATA_MIRROR, XDG_CACHE_HOME, HOME from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Abort a download when no data arrives for this long (ms, default 60000). */
  idleTimeoutMs?: number;
}

interface Location {
  dir: string;
  source: string;
}

/** The data root (download cache) and a description of where it came from. */
export function dataRoot(opts: Pick<LoadDatasetOptions, 'cacheDir' | 'env'> = {}): Location {
  const env = opts.env ?? process.env;
  if (opts.cacheDir) return { dir: path.resolve(opts.cacheDir), source: 'option cacheDir' };
  if (env.BIGSTEP_DATA) return { dir: path.resolve(env.BIGSTEP_DATA), source: 'BIGSTEP_DATA' };
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return { dir: path.join(xdg, 'bigstep'), source: 'cache, $XDG_CACHE_HOME/bigstep; set BIGSTEP_DATA to change' };
  const home = env.HOME || os.homedir();
  return { dir: path.join(home, '.cache', 'bigstep'), source: 'cache, ~/.cache/bigstep; set BIGSTEP_DATA to change' };
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Ordered, de-duplicated directories to search for `src`. */
function searchDirs(src: DatasetSource, opts: LoadDatasetOptions): Location[] {
  const out: Location[] = [];
  const add = (dir: string, source: string): void => {
    const d = path.resolve(dir);
    if (!out.some((l) => l.dir === d)) out.push({ dir: d, source });
  };
  const withSub = (dir: string, source: string): void => {
    add(dir, source);
    if (src.kind === 'cifar') add(path.join(dir, src.subdir), source);
  };
  if (opts.dir) {
    withSub(opts.dir, 'option dir');
    withSub(path.join(opts.dir, src.name), 'option dir');
  }
  const root = dataRoot(opts);
  withSub(path.join(root.dir, src.name), root.source);
  const sys = opts.systemDirs ? opts.systemDirs.map((dir) => ({ dir, source: 'option systemDirs' })) : src.systemDirs;
  for (const s of sys) withSub(s.dir, s.source);
  return out;
}

/** Required files of `src`: display name → candidates (relative names) in order of preference. */
function requiredFiles(src: DatasetSource): { display: string; candidates: string[] }[] {
  if (src.kind === 'idx') {
    return [src.trainImages, src.trainLabels, src.testImages, src.testLabels].map((b) => ({
      display: `${b}[.gz]`,
      candidates: [b, `${b}.gz`],
    }));
  }
  return [...src.train, ...src.test].map((f) => ({ display: f, candidates: [f] }));
}

/** Resolves every required file in `dir`; returns the paths (by base name) or the missing ones. */
function probe(src: DatasetSource, dir: string): { found: Map<string, string>; missing: string[]; exists: boolean } {
  const found = new Map<string, string>();
  const missing: string[] = [];
  const dirExists = exists(dir);
  for (const req of requiredFiles(src)) {
    const hit = dirExists ? req.candidates.map((c) => path.join(dir, c)).find(exists) : undefined;
    if (hit) found.set(req.candidates[0]!, hit);
    else missing.push(req.display);
  }
  return { found, missing, exists: dirExists };
}

async function loadFrom(src: DatasetSource, files: Map<string, string>, opts: LoadDatasetOptions): Promise<DatasetSplits> {
  if (src.kind === 'idx') {
    const f = (b: string): string => files.get(b)!;
    const [train, test] = await Promise.all([
      loadIdxPair({ images: f(src.trainImages), labels: f(src.trainLabels), name: `${src.name}/train`, expectImageSize: [28, 28] }),
      loadIdxPair({ images: f(src.testImages), labels: f(src.testLabels), name: `${src.name}/test`, expectImageSize: [28, 28] }),
    ]);
    return { train, test };
  }
  const fmt = src.format(opts.label);
  const train = await loadCifarBatches(src.train.map((b) => files.get(b)!), fmt, `${src.name}/train`);
  const test = await loadCifarBatches(src.test.map((b) => files.get(b)!), fmt, `${src.name}/test`);
  return { train, test };
}

function urlsFor(baseUrls: readonly string[], file: string, mirror: string | undefined): string[] {
  const bases = mirror ? [mirror] : baseUrls;
  return bases.map((b) => `${b.endsWith('/') ? b : `${b}/`}${file}`);
}

/** Removes `dir` and its parents up to and including `top` while they are empty. */
async function removeEmptyDirs(dir: string, top: string | undefined): Promise<void> {
  if (!top) return;
  let d = dir;
  for (;;) {
    try {
      await fsp.rmdir(d);
    } catch {
      return; // not empty, or gone
    }
    if (d === top || path.dirname(d) === d) return;
    d = path.dirname(d);
  }
}

async function downloadInto(src: DatasetSource, dest: string, opts: LoadDatasetOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const mirror = opts.mirror ?? (env.BIGSTEP_DATA_MIRROR || undefined);
  const dl = { progress: opts.progress, idleTimeoutMs: opts.idleTimeoutMs };
  if (src.kind === 'idx') {
    for (const b of [src.trainImages, src.trainLabels, src.testImages, src.testLabels]) {
      if (exists(path.join(dest, b)) || exists(path.join(dest, `${b}.gz`))) continue;
      const file = `${b}.gz`;
      const sum = opts.checksums?.[file] ?? src.checksums[file]!;
      await downloadVerified(urlsFor(src.baseUrls, file, mirror), path.join(dest, file), sum, {
        ...dl,
        label: `${src.name}: ${file}`,
      });
    }
    return;
  }
  const cifar: CifarSource = src;
  const archive = path.join(dest, cifar.archive);
  const sum = opts.checksums?.[cifar.archive] ?? cifar.checksum;
  try {
    await downloadVerified(urlsFor(cifar.baseUrls, cifar.archive, mirror), archive, sum, {
      ...dl,
      label: `${src.name}: ${cifar.archive}`,
    });
    const members = new Map<string, string>();
    for (const f of [...cifar.train, ...cifar.test]) members.set(`${cifar.subdir}/${f}`, path.join(dest, cifar.subdir, f));
    await extractTarMembers(archive, members);
  } finally {
    await fsp.rm(archive, { force: true });
  }
}

/**
 * Loads a named dataset's train and test splits. See the module comment for where files are
 * looked for; `docs/data.md` describes formats, layout and errors.
 *
 * MNIST / Fashion-MNIST: shape [1, 28, 28], 10 classes. CIFAR-10: [3, 32, 32], 10 classes.
 * CIFAR-100: [3, 32, 32], 100 fine classes (or 20 coarse with `label: 'coarse'`).
 * Pixels are float32 in [0, 1]; use {@link normalize} for per-channel standardisation.
 */
export async function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): Promise<DatasetSplits> {
  if (!DATASET_NAMES.includes(name)) {
    throw new RangeError(`name must be one of ${DATASET_NAMES.join(', ')}; got ${JSON.stringify(name)}`);
  }
  if (opts.label !== undefined && opts.label !== 'fine' && opts.label !== 'coarse') {
    throw new RangeError(`opts.label must be 'fine' or 'coarse'; got ${JSON.stringify(opts.label)}`);
  }
  const src = SOURCES[name];
  const dirs = searchDirs(src, opts);
  const searched: SearchedLocation[] = [];
  for (const loc of dirs) {
    const p = probe(src, loc.dir);
    searched.push({ dir: loc.dir, source: loc.source, missing: p.missing, exists: p.exists });
    if (p.missing.length === 0) return loadFrom(src, p.found, opts);
  }

  const root = dataRoot(opts);
  const dest = path.join(root.dir, src.name);
  const missingEverywhere = requiredFiles(src)
    .filter((r) => searched.every((s) => s.missing.includes(r.display)))
    .map((r) => r.display);
  const missing = missingEverywhere.length ? missingEverywhere : requiredFiles(src).map((r) => r.display);
  const howTo = [
    ...src.howTo,
    `or set BIGSTEP_DATA=/path/to/data with the files in /path/to/data/${src.name}/, or pass { dir: '/path/to/files' }`,
    'or, with network access, let bigstep download them (set BIGSTEP_DATA_MIRROR=<base URL> to use a mirror)',
  ];
  if (opts.download === false) throw new DatasetNotFoundError(name, missing, searched, [], howTo);

  const created = await fsp.mkdir(dest, { recursive: true });
  try {
    await downloadInto(src, dest, opts);
  } catch (err) {
    await removeEmptyDirs(dest, created);
    if (err instanceof DownloadError) {
      throw new DatasetNotFoundError(name, missing, searched, err.attempts, howTo, { cause: err });
    }
    throw err;
  }
  const p = probe(src, src.kind === 'cifar' ? path.join(dest, src.subdir) : dest);
  if (p.missing.length) {
    // Should not happen: every file was just downloaded and verified.
    throw new DatasetNotFoundError(name, p.missing, searched, [`after download, ${dest} still lacks ${p.missing.join(', ')}`], howTo);
  }
  return loadFrom(src, p.found, opts);
}
