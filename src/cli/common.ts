/**
 * Shared by the commands (./commands.ts) and `bigstep sweep` (./sweep-command.ts): the command
 * shape, exit codes, path and duration formatting, failure lines and Ctrl-C handling.
 */
import * as path from 'node:path';

import { native } from '../native/binding.js';
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

/**
 * How long a command may take to reach its next safe point after SIGINT/SIGTERM before it is
 * stopped anyway (exit 130): a command must stop within 2 s even when stuck in a system call.
 * What was not saved yet is redone by the next run (run directories resume from checkpoints).
 */
export const INTERRUPT_GRACE_MS = 1500;

/**
 * SIGINT/SIGTERM → abort `fn`'s signal; a second signal, or `graceMs` without `fn` settling,
 * calls `force` and exits 130.
 */
export async function withInterrupts<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  force?: () => void,
  graceMs = INTERRUPT_GRACE_MS,
): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const stopNow = (): void => {
    try {
      force?.();
    } finally {
      process.exit(EXIT.aborted);
    }
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      process.stderr.write(`\nbigstep: ${sig} again, stopping now\n`);
      stopNow();
      return;
    }
    process.stderr.write(`\nbigstep: ${sig}: stopping at the next safe point (press Ctrl-C again to stop at once)\n`);
    timer = setTimeout(() => {
      process.stderr.write(`bigstep: no safe point within ${graceMs / 1000} s of ${sig}, stopping now\n`);
      stopNow();
    }, graceMs);
    timer.unref();
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The JS timer above needs a free main thread; a long synchronous call (figure rendering, a
  // landscape sweep) can hold it for seconds. The native watchdog ends the process regardless.
  native.armSignalWatchdog?.(graceMs + 100, EXIT.aborted);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
