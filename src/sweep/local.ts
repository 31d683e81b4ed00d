/**
 * The local executor: a pool of child processes, each running `bigstep sweep run DIR --task i`
 * with one BLAS thread (BIGSTEP_THREADS=1, OPENBLAS_NUM_THREADS=1), `concurrency` at a time
 * (default: the number of cores). Tasks already complete are not started. Each child's output
 * goes to DIR/logs/task-<i>.log.
 *
 * Stopping: aborting `signal` (Ctrl-C) starts no new task and sends SIGTERM to the running ones,
 * which stop at their next safe point (summary status 'aborted'); `kill()` (a second Ctrl-C)
 * sends SIGKILL. Either way a rerun continues: complete tasks are skipped, the others resume from
 * their checkpoints.
 * Children run in their own process group, so a terminal's Ctrl-C reaches only this process,
 * which decides what the children get.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { makeDirSync } from '../util/safe-fs.js';
import type { SweepTasks } from './spec.js';
import { loadTasks, taskComplete } from './tasks.js';

/** Absolute path of this install's CLI entry point (dist/src/cli/main.js). */
export function cliMainPath(): string {
  return fileURLToPath(new URL('../cli/main.js', import.meta.url));
}

/** Environment for one task process: one BLAS thread unless `threads` says otherwise. */
export function taskEnv(base: NodeJS.ProcessEnv, threads = 1): NodeJS.ProcessEnv {
  const t = String(threads);
  return { ...base, BIGSTEP_THREADS: t, OPENBLAS_NUM_THREADS: t, OMP_NUM_THREADS: t };
}

export type LocalEvent =
  | { type: 'skip'; index: number }
  | { type: 'start'; index: number; pid: number }
  | { type: 'exit'; index: number; code: number | null; signal: NodeJS.Signals | null; log: string; seconds: number };

export interface LocalOptions {
  /** Processes at once (default: os.availableParallelism()). */
  concurrency?: number;
  /** Only these task indices (default: all), in this order. */
  tasks?: number[];
  /** BLAS threads per task (default 1). */
  threads?: number;
  signal?: AbortSignal;
  onEvent?: (e: LocalEvent) => void;
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
}

export interface LocalOutcome {
  tasks: SweepTasks;
  /** Exit code per index that ran (0 ok, 1 failed, 130 aborted, null: killed by a signal). */
  exits: Map<number, number | null>;
  skipped: number[];
  interrupted: boolean;
}

export interface LocalPool {
  /** Resolves when every started child has exited. */
  done: Promise<LocalOutcome>;
  /** SIGKILL every running child (their tasks resume from their checkpoints next time). */
  kill(): void;
  /** pids of the running children, by task index. */
  running(): Map<number, number>;
}

/** Starts the pool; see the module comment. */
export function runLocal(dir: string, options: LocalOptions = {}): LocalPool {
  const children = new Map<number, ChildProcess>();
  const signalChild = (c: ChildProcess, sig: NodeJS.Signals): void => {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    try {
      process.kill(-c.pid, sig); // the child's process group
    } catch {
      try {
        c.kill(sig);
      } catch {
        // already gone
      }
    }
  };
  // If this process exits for any reason, do not leave children behind.
  const onExit = (): void => {
    for (const c of children.values()) signalChild(c, 'SIGKILL');
  };
  process.on('exit', onExit);

  const done = (async (): Promise<LocalOutcome> => {
    const t = await loadTasks(dir);
    const order = options.tasks ?? t.tasks.map((x) => x.index);
    const concurrency = Math.max(1, options.concurrency ?? os.availableParallelism());
    const logs = path.join(dir, 'logs');
    makeDirSync(logs, 'sweep logs directory');
    const exits = new Map<number, number | null>();
    const skipped: number[] = [];
    const signal = options.signal;
    const main = cliMainPath();
    const env = taskEnv({ ...process.env, ...options.env }, options.threads ?? 1);
    const onAbort = (): void => {
      for (const c of children.values()) signalChild(c, 'SIGTERM');
    };
    signal?.addEventListener('abort', onAbort);

    const runOne = (index: number): Promise<void> =>
      new Promise((resolve) => {
        const log = path.join(logs, `task-${index}.log`);
        const fd = fs.openSync(log, 'a');
        const t0 = performance.now();
        const child = spawn(process.execPath, [main, 'sweep', 'run', dir, '--task', String(index)], {
          env,
          stdio: ['ignore', fd, fd],
          detached: true,
        });
        fs.closeSync(fd);
        children.set(index, child);
        options.onEvent?.({ type: 'start', index, pid: child.pid ?? -1 });
        const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
          if (!children.has(index)) return;
          children.delete(index);
          exits.set(index, code);
          options.onEvent?.({ type: 'exit', index, code, signal: sig, log, seconds: (performance.now() - t0) / 1000 });
          resolve();
        };
        child.on('exit', finish);
        child.on('error', () => finish(1, null));
      });

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < order.length && !signal?.aborted) {
        const index = order[next++];
        if (await taskComplete(dir, t.tasks[index])) {
          skipped.push(index);
          options.onEvent?.({ type: 'skip', index });
          continue;
        }
        if (signal?.aborted) break;
        await runOne(index);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, order.length)) }, worker));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      process.off('exit', onExit);
    }
    return { tasks: t, exits, skipped, interrupted: Boolean(signal?.aborted) };
  })();

  return {
    done,
    kill() {
      for (const c of children.values()) signalChild(c, 'SIGKILL');
    },
    running() {
      const m = new Map<number, number>();
      for (const [i, c] of children) if (c.pid !== undefined) m.set(i, c.pid);
      return m;
    },
  };
}
