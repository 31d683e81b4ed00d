/**
 * Progress reporting for long operations (downloads, extraction, long runs).
 *
 * On a TTY a cli-progress bar is drawn; otherwise (CI logs, pipes, files) plain lines are printed
 * at most every `intervalMs` and once at the end, so logs stay short and readable.
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** What is progressing, e.g. "fashion-mnist: train-images-idx3-ubyte.gz". */
  label: string;
  /** Total units (e.g. bytes); 0 or undefined if unknown. */
  total?: number;
  /** Units: 'bytes' prints human-readable sizes; 'items' prints plain counts. Default 'items'. */
  unit?: 'bytes' | 'items';
  /** Output stream (default `process.stderr`). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force bar (true) or plain lines (false); default: bar iff the stream is a TTY. */
  tty?: boolean;
  /** Minimum time between plain lines, in ms (default 2000). */
  intervalMs?: number;
  /** Print nothing at all. */
  quiet?: boolean;
}

export interface Progress {
  /** Sets the absolute amount done. */
  update(done: number): void;
  /** Adds `delta` to the amount done. */
  increment(delta: number): void;
  /** Finishes the display (final line / stop the bar). Idempotent. */
  done(): void;
}

/** Human-readable byte count: 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Creates a progress display; see {@link ProgressOptions}. */
export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const total = opts.total && opts.total > 0 ? opts.total : 0;
  const fmt = (n: number): string => (opts.unit === 'bytes' ? formatBytes(n) : String(n));
  let current = 0;
  let finished = false;
  const start = Date.now();

  if (opts.quiet) {
    return {
      update(n) {
        current = n;
      },
      increment(d) {
        current += d;
      },
      done() {
        finished = true;
      },
    };
  }

  const useBar = opts.tty ?? Boolean(stream.isTTY);
  if (useBar) {
    const bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: total
          ? `${opts.label} [{bar}] {percentage}% | {doneFmt}/{totalFmt} | ETA {eta_formatted}`
          : `${opts.label} {doneFmt}`,
        hideCursor: true,
        clearOnComplete: false,
        noTTYOutput: opts.tty === true && !stream.isTTY,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total || 1, 0, { doneFmt: fmt(0), totalFmt: fmt(total) });
    const set = (n: number): void => {
      current = n;
      bar.update(total ? Math.min(n, total) : 0, { doneFmt: fmt(n), totalFmt: fmt(total) });
    };
    return {
      update: set,
      increment: (d) => set(current + d),
      done() {
        if (finished) return;
        finished = true;
        if (total) bar.update(Math.min(current, total), { doneFmt: fmt(current), totalFmt: fmt(total) });
        bar.stop();
      },
    };
  }

  const interval = opts.intervalMs ?? 2000;
  let lastPrint = start;
  const line = (): string => {
    const pct = total ? ` (${((100 * current) / total).toFixed(0)}%)` : '';
    return `${opts.label}: ${fmt(current)}${total ? ` / ${fmt(total)}` : ''}${pct}`;
  };
  const maybePrint = (): void => {
    const now = Date.now();
    if (now - lastPrint >= interval) {
      lastPrint = now;
      stream.write(`${line()}\n`);
    }
  };
  return {
    update(n) {
      current = n;
      maybePrint();
    },
    increment(d) {
      current += d;
      maybePrint();
    },
    done() {
      if (finished) return;
      finished = true;
      const secs = ((Date.now() - start) / 1000).toFixed(1);
      stream.write(`${line()} done in ${secs} s\n`);
    },
  };
}
