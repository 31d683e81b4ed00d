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
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadCifarBatches } from './cifar.js';
import { type Checksum, DownloadError, downloadVerified } from './download.js';
import { DatasetNotFoundError } from './errors.js';
import { loadIdxPair } from './idx.js';
import { dataRoot, exists, type LocateOptions, probe, requiredFiles, search } from './locate.js';
import { type CifarSource, DATASET_NAMES, type DatasetName, type DatasetSource, SOURCES } from './sources.js';
import { extractTarMembers } from './tar.js';
import type { DatasetSplits } from './types.js';

/** Where {@link loadDataset} looks for files, whether and from where it downloads, and how it reports. */
export interface LoadDatasetOptions extends LocateOptions {
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
  /** Environment to read BIGSTEP_DATA, BIGSTEP_DATA_MIRROR, XDG_CACHE_HOME, HOME from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Abort a download when no data arrives for this long (ms, default 60000). */
  idleTimeoutMs?: number;
}

async function loadFrom(
  src: DatasetSource,
  files: Map<string, string>,
  opts: LoadDatasetOptions,
): Promise<DatasetSplits> {
  if (src.kind === 'idx') {
    const f = (b: string): string => files.get(b)!;
    const [train, test] = await Promise.all([
      loadIdxPair({
        images: f(src.trainImages),
        labels: f(src.trainLabels),
        name: `${src.name}/train`,
        expectImageSize: [28, 28],
      }),
      loadIdxPair({
        images: f(src.testImages),
        labels: f(src.testLabels),
        name: `${src.name}/test`,
        expectImageSize: [28, 28],
      }),
    ]);
    return { train, test };
  }
  const fmt = src.format(opts.label);
  const train = await loadCifarBatches(
    src.train.map((b) => files.get(b)!),
    fmt,
    `${src.name}/train`,
  );
  const test = await loadCifarBatches(
    src.test.map((b) => files.get(b)!),
    fmt,
    `${src.name}/test`,
  );
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
    for (const f of [...cifar.train, ...cifar.test])
      members.set(`${cifar.subdir}/${f}`, path.join(dest, cifar.subdir, f));
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
  const { hit, searched } = search(src, opts);
  if (hit) return loadFrom(src, hit.files, opts);

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
    throw new DatasetNotFoundError(
      name,
      p.missing,
      searched,
      [`after download, ${dest} still lacks ${p.missing.join(', ')}`],
      howTo,
    );
  }
  return loadFrom(src, p.found, opts);
}
