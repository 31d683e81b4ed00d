/**
 * The bigstep commands: info, demo, run, reproduce, report. Each parses its own options strictly
 * (src/cli/args.ts): misuse is a one-line `UsageError` and exit code 2; a failed run exits 1; a run
 * stopped with Ctrl-C exits 130 after writing status 'aborted'.
 */
import { experimentNames, experiments, findExperiment, type RegisteredExperiment } from '../experiments/registry.js';
import { SCALES, type Scale } from '../run/experiment.js';
import { Model } from '../model/model.js';
import { mlp } from '../model/spec.js';
import { showBlasNotice } from '../native/binding.js';
import { info } from '../native/info.js';
import { sgd } from '../optim/optimizer.js';
import type { MpiWorld } from '../train/data-parallel.js';
import { Trainer } from '../train/trainer.js';
import { locateDatasets } from '../data/locate.js';
import { writeReport } from '../report/report.js';
import { RunFailedError, runExperiment, type ProgressSink, type RunOutcome } from '../run/run.js';
import { createProgress, type Progress } from '../util/progress.js';
import { UsageError, choiceOption, intOption, parseCommandArgs, withOverrides } from './args.js';
import { EXIT, failureLine, seconds, show, withInterrupts, type Command } from './common.js';
import { dataParallelWorld } from './data-parallel.js';
import { fallbackLines } from './fallback-note.js';
import { benchCommand } from './bench-command.js';
import { sweepCommand } from './sweep-command.js';

export { UsageError } from './args.js';
export { EXIT, type Command } from './common.js';

const DEFAULT_OUT = 'runs';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** One progress display per experiment (a bar with ETA on a TTY, plain lines otherwise). */
function progressDisplay(label: string): { sink: ProgressSink; done(): void } {
  let p: Progress | undefined;
  let total = -1;
  return {
    sink(done, t) {
      if (!p || t !== total) {
        p?.done();
        total = t;
        p = createProgress({ label, total: t, unit: 'items', intervalMs: 5000 });
      }
      p.update(done);
    },
    done() {
      p?.done();
    },
  };
}

type RunReport = { outcome?: RunOutcome; error?: RunFailedError };

const silentDisplay = { sink: (): void => {}, done: (): void => {} };

/** Runs one experiment with a progress display; prints where it is and how it ended. */
async function runOne(
  entry: RegisteredExperiment,
  preset: Scale,
  opts: {
    out: string;
    seed?: number;
    force?: boolean;
    signal: AbortSignal;
    config?: unknown;
    world?: MpiWorld | null;
  },
): Promise<RunReport> {
  const name = entry.definition.name;
  const world = opts.world ?? null;
  // Data parallel: rank 0 speaks for the job; the other ranks print nothing.
  const display = world && world.rank > 0 ? silentDisplay : progressDisplay(`${entry.protocolId} ${name} (${preset})`);
  try {
    const outcome = await runExperiment(entry, opts.config ?? preset, {
      out: opts.out,
      seed: opts.seed,
      force: opts.force,
      signal: opts.signal,
      progress: display.sink,
      onStart: (plan) => {
        showBlasNotice(); // here, once the config is valid: misuse stays a one-line error
        console.log(
          `${name}: running ${preset} in ${show(plan.dir)}${world ? ` (data parallel over ${world.size} MPI ranks)` : ''}`,
        );
      },
      ...(world ? { dataParallel: true } : {}),
    });
    display.done();
    if (world && world.rank > 0) return { outcome };
    if (outcome.skipped)
      console.log(`${name}: already ${outcome.status} in ${show(outcome.dir)}; nothing to do (--force runs it again)`);
    else if (outcome.status === 'aborted')
      console.error(`bigstep: ${name} aborted; ${show(outcome.dir)}/summary.json says status "aborted"`);
    else console.log(`${name}: ${outcome.status} in ${seconds(outcome.summary.wallSeconds)} → ${show(outcome.dir)}`);
    return { outcome };
  } catch (e) {
    display.done();
    if (e instanceof RunFailedError) return { error: e };
    throw e;
  }
}

function printHeadline(outcome: RunOutcome): void {
  const h = outcome.summary.headline;
  if (!h) return;
  const keys = Object.keys(h);
  const width = Math.min(40, Math.max(...keys.map((k) => k.length)));
  for (const k of keys) {
    const v = h[k];
    console.log(
      `  ${k.padEnd(width)}  ${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : String(v)}`,
    );
  }
}

const infoCommand: Command = {
  name: 'info',
  summary:
    'show the BLAS vendor, kernel family and thread count the addon runs with, and which data sets were found where',
  usage: 'bigstep info',
  async run(args) {
    parseCommandArgs('info', args, {}, { min: 0, max: 0, names: '' });
    // The addon's facts, then the data sets: the two things that decide what a run here can test.
    console.log(JSON.stringify({ ...info(), datasets: locateDatasets() }, null, 2));
    return EXIT.ok;
  },
};

const demoCommand: Command = {
  name: 'demo',
  summary: 'train a small MLP on a synthetic 4-class task (checks the install)',
  usage: 'bigstep demo [--steps N]',
  async run(args) {
    const { values } = parseCommandArgs(
      'demo',
      args,
      { steps: { type: 'string', default: '300' } },
      { min: 0, max: 0, names: '' },
    );
    const steps = intOption('demo', 'steps', values.steps, 1) ?? 300;
    const n = 2000;
    const d = 16;
    const x = new Float32Array(n * d);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 4;
      for (let j = 0; j < d; j++) x[i * d + j] = Math.sin(7 * i + 3 * j) * 0.5 + (j % 4 === y[i] ? 2 : 0);
    }
    const model = new Model(mlp({ input: d, hidden: [64], outputs: 4 }), { seed: 1 });
    const trainer = new Trainer(model, {
      data: { x, y },
      optimizer: sgd({ lr: 0.05 }),
      batch: { mode: 'shuffle', size: 64 },
      seed: 1,
    });
    const t0 = performance.now();
    const r = await trainer.run({ steps });
    const secs = (performance.now() - t0) / 1000;
    const evaluation = model.evaluate({ x, y });
    console.log(
      `demo: ${r.stepsDone} steps in ${secs.toFixed(2)} s (${(r.stepsDone / secs).toFixed(0)} steps/s), ` +
        `train loss ${evaluation.loss.toFixed(4)}, accuracy ${(100 * evaluation.accuracy).toFixed(1)}%`,
    );
    return EXIT.ok;
  },
};

const runOptions = {
  preset: { type: 'string', default: 'quick' },
  out: { type: 'string', default: DEFAULT_OUT },
  seed: { type: 'string' },
  force: { type: 'boolean', default: false },
  set: { type: 'string', multiple: true },
  'data-parallel': { type: 'boolean', default: false },
} as const;

/**
 * reproduce runs the shipped presets: no --set (one path rarely exists in every experiment's config; use bigstep run),
 * and no --data-parallel (E1 has nothing to split; run E2 and E3 one by one under mpirun).
 */
const { set: _set, 'data-parallel': _dataParallel, ...reproduceOptions } = runOptions;

const runCommand: Command = {
  name: 'run',
  summary: `run one experiment into <out>/<name>-<preset>-<id>/ (${experimentNames().join(' | ')})`,
  usage:
    `bigstep run ${experimentNames().join('|')} [--preset tiny|quick|study|paper] [--out DIR] [--seed N] [--force] [--set PATH=VALUE ...] [--data-parallel]\n` +
    '  --set changes one field of the preset config (repeatable; VALUE is YAML: 0.1, true, null, [1, 2], {cropPadding: 4, flip: true}),\n' +
    '  e.g. --set epochs=10 --set model.hidden=[256]; the fields are listed in docs/experiments.md and in config.json of any run\n' +
    '  --data-parallel (escape, noise; under mpirun -n N or srun -n N, N >= 2): training (E2 GD, every E3 arm) and\n' +
    '  full-data measurements split over the ranks; rank 0 writes the run directory; resumes on the same N (docs/cluster.md)',
  async run(args) {
    if (wantsHelp(args)) return help(this);
    const { values, positionals } = parseCommandArgs('run', args, runOptions, {
      min: 1,
      max: 1,
      names: `the experiment (${experimentNames().join(', ')})`,
    });
    const name = positionals[0];
    const entry = findExperiment(name);
    if (!entry)
      throw new UsageError(`bigstep run: unknown experiment "${name}" (choose ${experimentNames().join(', ')})`);
    const preset = choiceOption('run', 'preset', values.preset ?? 'quick', SCALES);
    const seed = intOption('run', 'seed', values.seed);
    const out = values.out ?? DEFAULT_OUT;
    if (out.length === 0) throw new UsageError('bigstep run: --out must not be empty');
    const sets = (values as { set?: string[] }).set ?? [];
    const presetConfig = entry.definition.presets[preset];
    if (presetConfig === undefined)
      throw new UsageError(
        `bigstep run: experiment "${name}" has no preset "${preset}" (it has ${Object.keys(entry.definition.presets).join(', ')})`,
      );
    const config = sets.length > 0 ? withOverrides('run', presetConfig, sets) : undefined;
    const world = dataParallelWorld('bigstep run', values['data-parallel'] ?? false, name);
    const r = await withInterrupts((signal) =>
      runOne(entry, preset, { out, seed, force: values.force, signal, config, world }),
    );
    if (world && world.rank > 0) {
      if (r.error) console.error(`rank ${world.rank}: ${failureLine(name, r.error)}`);
      return r.error ? EXIT.failed : r.outcome?.status === 'aborted' ? EXIT.aborted : EXIT.ok;
    }
    if (r.error) {
      console.error(failureLine(name, r.error));
      return EXIT.failed;
    }
    const outcome = r.outcome!;
    if (outcome.status === 'aborted') return EXIT.aborted;
    if (!outcome.skipped) printHeadline(outcome);
    for (const line of fallbackLines([outcome], `bigstep run ${name} --preset ${preset} --force`)) console.log(line);
    return EXIT.ok;
  },
};

const reproduceCommand: Command = {
  name: 'reproduce',
  summary: 'run every experiment (E1–E3) at quick size, then write the report',
  usage: 'bigstep reproduce [--preset tiny|quick|paper] [--out DIR] [--seed N] [--force]',
  async run(args) {
    if (wantsHelp(args)) return help(this);
    const { values } = parseCommandArgs('reproduce', args, reproduceOptions, { min: 0, max: 0, names: '' });
    dataParallelWorld('bigstep reproduce', false, ''); // refuses to run as one of several MPI ranks
    const preset = choiceOption('reproduce', 'preset', values.preset ?? 'quick', SCALES);
    const seed = intOption('reproduce', 'seed', values.seed);
    const out = values.out ?? DEFAULT_OUT;
    if (out.length === 0) throw new UsageError('bigstep reproduce: --out must not be empty');
    const t0 = performance.now();
    console.log(
      `bigstep reproduce: ${plural(experiments.length, 'experiment')} (${experimentNames().join(', ')}) at ${preset} size into ${show(out)}`,
    );
    const done: string[] = [];
    const outcomes: RunOutcome[] = [];
    const failures: string[] = [];
    const aborted = await withInterrupts(async (signal) => {
      for (const entry of experiments) {
        const r = await runOne(entry, preset, { out, seed, force: values.force, signal });
        if (r.error) {
          console.error(failureLine(entry.definition.name, r.error));
          failures.push(entry.definition.name);
          done.push(r.error.dir);
        } else if (r.outcome) {
          if (r.outcome.status === 'aborted') return true;
          done.push(r.outcome.dir);
          outcomes.push(r.outcome);
        }
      }
      return false;
    });
    if (aborted) {
      const wall = (performance.now() - t0) / 1000;
      console.error(
        `bigstep: reproduce interrupted after ${seconds(wall)}; no report written (finished runs are kept and skipped next time)`,
      );
      return EXIT.aborted;
    }
    const report = await writeReport(out, { runs: done });
    console.log(
      `report: ${show(report.file)} (${plural(report.runs.length, 'run')}, ${plural(report.figures, 'figure')})`,
    );
    console.log(`total wall time: ${seconds((performance.now() - t0) / 1000)}`);
    for (const line of fallbackLines(outcomes, `bigstep reproduce --preset ${preset} --force`)) console.log(line);
    if (failures.length > 0) {
      console.error(
        `bigstep: ${failures.length} experiment${failures.length === 1 ? '' : 's'} failed: ${failures.join(', ')}`,
      );
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};

const reportCommand: Command = {
  name: 'report',
  summary: 'write DIR/report.html from the run directories under DIR',
  usage: 'bigstep report DIR',
  async run(args) {
    if (wantsHelp(args)) return help(this);
    const { positionals } = parseCommandArgs(
      'report',
      args,
      {},
      { min: 1, max: 1, names: 'the directory (e.g. runs)' },
    );
    const dir = positionals[0];
    const r = await writeReport(dir, { skipIfEmpty: true }).catch((e: Error) => {
      if (e instanceof RangeError) throw new UsageError(`bigstep report: ${dir} is not a directory`);
      throw e;
    });
    for (const s of r.skipped) console.error(`bigstep report: skipped ${show(s.dir)}: ${s.problem}`);
    if (!r.written) {
      console.error(`bigstep report: no run directories (with summary.json) under ${show(dir)}; nothing written`);
      return EXIT.failed;
    }
    console.log(`report: ${show(r.file)} (${plural(r.runs.length, 'run')}, ${plural(r.figures, 'figure')})`);
    return EXIT.ok;
  },
};

function help(c: Command): number {
  console.log(`usage: ${c.usage}\n\n${c.summary}`);
  return EXIT.ok;
}

export const commands: Command[] = [
  infoCommand,
  demoCommand,
  runCommand,
  reproduceCommand,
  reportCommand,
  benchCommand,
  sweepCommand,
];
