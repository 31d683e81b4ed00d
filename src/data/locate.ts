/**
 * Where a named data set's files are on this machine, without reading them: the directories
 * {@link loadDataset} searches, in its order, and which of them holds every required file.
 * `bigstep info` reports this for every data set (locateDatasets); loadDataset loads from the hit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SearchedLocation } from './errors.js';
import { DATASET_NAMES, type DatasetName, type DatasetSource, SOURCES } from './sources.js';

/** Where to look: the parts of {@link LoadDatasetOptions} that decide the search. */
export interface LocateOptions {
  /** Directory holding the dataset's files; searched first. */
  dir?: string;
  /** Data root / download cache; overrides `$BIGSTEP_DATA` and the XDG cache directory. */
  cacheDir?: string;
  /** System directories to search instead of the defaults (e.g. [] to skip Debian's location). */
  systemDirs?: string[];
  /** Environment to read BIGSTEP_DATA, XDG_CACHE_HOME, HOME from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface Location {
  dir: string;
  source: string;
}

/** The data root (download cache) and a description of where it came from. */
export function dataRoot(opts: Pick<LocateOptions, 'cacheDir' | 'env'> = {}): Location {
  const env = opts.env ?? process.env;
  if (opts.cacheDir) return { dir: path.resolve(opts.cacheDir), source: 'option cacheDir' };
  if (env.BIGSTEP_DATA) return { dir: path.resolve(env.BIGSTEP_DATA), source: 'BIGSTEP_DATA' };
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg))
    return { dir: path.join(xdg, 'bigstep'), source: 'cache, $XDG_CACHE_HOME/bigstep; set BIGSTEP_DATA to change' };
  const home = env.HOME || os.homedir();
  return { dir: path.join(home, '.cache', 'bigstep'), source: 'cache, ~/.cache/bigstep; set BIGSTEP_DATA to change' };
}

export function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Ordered, de-duplicated directories to search for `src`. */
function searchDirs(src: DatasetSource, opts: LocateOptions): Location[] {
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
export function requiredFiles(src: DatasetSource): { display: string; candidates: string[] }[] {
  if (src.kind === 'idx') {
    return [src.trainImages, src.trainLabels, src.testImages, src.testLabels].map((b) => ({
      display: `${b}[.gz]`,
      candidates: [b, `${b}.gz`],
    }));
  }
  return [...src.train, ...src.test].map((f) => ({ display: f, candidates: [f] }));
}

/** Resolves every required file in `dir`; returns the paths (by base name) or the missing ones. */
export function probe(
  src: DatasetSource,
  dir: string,
): { found: Map<string, string>; missing: string[]; exists: boolean } {
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

/** Searches every directory in order; the first that holds every required file is the hit. */
export function search(
  src: DatasetSource,
  opts: LocateOptions,
): { hit: (Location & { files: Map<string, string> }) | null; searched: SearchedLocation[] } {
  const searched: SearchedLocation[] = [];
  for (const loc of searchDirs(src, opts)) {
    const p = probe(src, loc.dir);
    searched.push({ dir: loc.dir, source: loc.source, missing: p.missing, exists: p.exists });
    if (p.missing.length === 0) return { hit: { ...loc, files: p.found }, searched };
  }
  return { hit: null, searched };
}

/** Where one data set was found, or everywhere it was looked for ({@link locateDataset}). */
export interface DatasetLocation {
  name: DatasetName;
  /** The directory holding every required file (the one loadDataset would read), or null. */
  dir: string | null;
  /** Where that directory comes from, e.g. "Debian package dataset-fashion-mnist"; null when not found. */
  source: string | null;
  /** Every directory looked in, in order, up to the hit, with the files missing there. */
  searched: SearchedLocation[];
  /** When not found: how to get the files (the install command first where a package exists); else null. */
  howTo: string | null;
}

/**
 * Looks for a named data set's files the way {@link loadDataset} does (same directories, same
 * order), without reading or downloading anything. Only names and existence are checked: a file
 * found here may still be corrupt, which loadDataset reports.
 */
export function locateDataset(name: DatasetName, opts: LocateOptions = {}): DatasetLocation {
  if (!DATASET_NAMES.includes(name)) {
    throw new RangeError(`name must be one of ${DATASET_NAMES.join(', ')}; got ${JSON.stringify(name)}`);
  }
  const src = SOURCES[name];
  const { hit, searched } = search(src, opts);
  return { name, dir: hit?.dir ?? null, source: hit?.source ?? null, searched, howTo: hit ? null : src.howTo[0]! };
}

/** One data set in {@link locateDatasets}: where its files are, or where they were looked for and how to get them. */
export interface DatasetInfo {
  name: DatasetName;
  /** Whether every file loadDataset needs is in one searched directory. */
  found: boolean;
  /** That directory (null when not found). */
  dir: string | null;
  /** Where the directory comes from, e.g. "Debian package dataset-fashion-mnist" (null when not found). */
  source: string | null;
  /** When not found: every directory looked in, in order (where the files may go). */
  searched: string[];
  /** When not found: how to get the files (the install command first, where a package exists). */
  howTo: string | null;
}

/** Every named data set, looked up as loadDataset would (nothing read or downloaded): what `bigstep info` prints. */
export function locateDatasets(opts: LocateOptions = {}): DatasetInfo[] {
  return DATASET_NAMES.map((name) => {
    const l = locateDataset(name, opts);
    return {
      name,
      found: l.dir !== null,
      dir: l.dir,
      source: l.source,
      searched: l.dir ? [] : l.searched.map((s) => s.dir),
      howTo: l.howTo,
    };
  });
}
