/**
 * Shared by the commands (./commands.ts) and `bigstep sweep` (./sweep-command.ts): the command
 * shape, exit codes, path and duration formatting, failure lines and Ctrl-C handling.
 */
import * as path from 'node:path';

import type { RunFailedError } from '../run/run.js';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2, aborted: 130 } as const;

/** A path for messages: relative to the working directory when inside it. */
export function show(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(p);
}

export function seconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

/** One line: `bigstep: <what> failed: <first line of the error> (run directory runs/...)`. */
export function failureLine(what: string, e: RunFailedError): string {
  const first = (e.summary.error ?? e.message).split('\n')[0];
  return `bigstep: ${what} failed: ${first} (run directory ${show(e.dir)})`;
}

/** SIGINT/SIGTERM → abort `fn`'s signal; a second one calls `force` (default: exit 130 at once). */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>, force?: () => void): Promise<T> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      process.stderr.write(`\nbigstep: ${sig} again, stopping now\n`);
      if (force) force();
      else process.exit(EXIT.aborted);
      return;
    }
    process.stderr.write(`\nbigstep: ${sig}: stopping at the next safe point (press Ctrl-C again to stop at once)\n`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
