/**
 * The CLI's closing lines for runs on fallback data: a run whose configured data set was missing
 * ran on a synthetic stand-in, and its numbers say nothing about the paper. The reader is told
 * what is missing and the command that installs it, after the run's own lines.
 */
import { locateDataset } from '../data/locate.js';
import { DATASET_NAMES, SOURCES, type DatasetName } from '../data/sources.js';
import type { RunOutcome } from '../run/run.js';

/** Why the run used fallback data (summary.json `fallback`; the E2/E3 headline's in summaries written before it existed), or null. */
export function fallbackOf(outcome: Pick<RunOutcome, 'summary'>): string | null {
  const s = outcome.summary;
  const reason = s.fallback ?? s.headline?.fallback;
  return typeof reason === 'string' && reason.length > 0 ? reason : null;
}

/** The data set the config asked for (`config.data.source`), when it is one loadDataset knows. */
function configuredDataset(config: unknown): DatasetName | null {
  const source = (config as { data?: { source?: unknown } } | null)?.data?.source;
  return DATASET_NAMES.includes(source as DatasetName) ? (source as DatasetName) : null;
}

/** The first how-to line of the data set the config asked for (the install command where a package exists). */
function installHint(config: unknown): string {
  const name = configuredDataset(config);
  return name ? SOURCES[name].howTo[0]! : 'see docs/data.md';
}

/** The directories loadDataset searched for that data set (where files may go), or null. */
function searchedDirs(config: unknown): string | null {
  const name = configuredDataset(config);
  return name
    ? locateDataset(name)
        .searched.map((s) => `${s.dir} (${s.source})`)
        .join(', ')
    : null;
}

/**
 * Closing lines for runs that used fallback data (none when no run did): one line per run naming
 * why, then what it means and how to get the data. `again` is the command that runs them again.
 */
export function fallbackLines(outcomes: Array<Pick<RunOutcome, 'summary' | 'config'>>, again: string): string[] {
  const hit = outcomes.map((o) => ({ o, reason: fallbackOf(o) })).filter((x) => x.reason !== null);
  if (hit.length === 0) return [];
  const names = hit.map((x) => x.o.summary.experiment);
  // The install command, unless every reason already says it (E2/E3 name it in theirs).
  const hints = [...new Set(hit.map((x) => installHint(x.o.config)))].filter(
    (h) => !hit.every((x) => x.reason!.includes(h)),
  );
  const dirs = [...new Set(hit.map((x) => searchedDirs(x.o.config)).filter((d): d is string => d !== null))];
  return [
    ...hit.map((x) => `bigstep: ${x.o.summary.experiment} ran on FALLBACK data: ${x.reason}`),
    `  so ${names.join(' and ')} tested nothing about the paper (verdict "uninformative").${hints.length ? ' To get the data:' : ''}`,
    ...hints.map((h) => `    ${h}`),
    ...dirs.map((d) => `  directories looked in: ${d}`),
    `  then: ${again}`,
  ];
}
