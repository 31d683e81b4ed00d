#!/usr/bin/env node
/**
 * bigstep command line. Commands:
 *   bigstep info                      what the addon runs (BLAS vendor, kernels, threads), data sets found
 *   bigstep demo [--steps N]          train a small MLP on a synthetic task (smoke test of the install)
 *   bigstep run landscape|escape|noise [--preset tiny|quick|study|paper] [--out DIR] [--seed N] [--force]
 *   bigstep reproduce [--out DIR] [--preset quick]   E1–E3, then the report
 *   bigstep report DIR                write DIR/report.html from the run directories under DIR
 *   bigstep bench [--quick] [--cases …] [--compare-pytorch] [--sweep DIR …]   CPU benchmark of this node, or a Slurm sweep of it
 *   bigstep sweep plan|run|status|collect|slurm|k8s …   sweeps (bigstep sweep --help)
 *   bigstep build [--portable]        (re)build the native addon from source (g++, cmake; OpenBLAS if found)
 *
 * Exit codes: 0 ok, 1 a run failed, 2 misuse (unknown command/option, bad value), 130 interrupted.
 * Errors are one line; BIGSTEP_DEBUG=1 prints stacks.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { UsageError } from './args.js';

const BUILD_SUMMARY =
  '(re)build the native addon from source: g++ and cmake, OpenBLAS if found (--portable: without BLAS)';

/** `bigstep build`: runs scripts/build-addon.cjs. Handled before anything loads the addon, which may not exist yet. */
function build(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: bigstep build [--portable]\n  ${BUILD_SUMMARY}`);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--portable');
  if (unknown.length > 0) throw new UsageError(`bigstep build: unknown option ${unknown[0]} (options: --portable)`);
  const script = fileURLToPath(new URL('../../../scripts/build-addon.cjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
  return r.status ?? 1;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'build') return build(rest);
  const { EXIT, commands } = await import('./commands.js');
  const usage = (): string =>
    [
      'usage: bigstep <command> [options]   (bigstep <command> --help for its options)',
      '',
      'commands:',
      ...commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
      `  ${'build'.padEnd(10)} ${BUILD_SUMMARY}`,
    ].join('\n');
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? console.log : console.error)(usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(
      `bigstep: unknown command "${name}" (commands: ${[...commands.map((c) => c.name), 'build'].join(', ')})`,
    );
    return EXIT.usage;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const e = error as Error;
    if (process.env.BIGSTEP_DEBUG) console.error(e?.stack ?? String(e));
    // Misuse (bad options, bad config values) and other errors are reported as one line.
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    console.error(message.startsWith('bigstep') ? message : `bigstep: ${message}`);
    process.exitCode = e instanceof UsageError || e instanceof TypeError || e instanceof RangeError ? 2 : 1; // EXIT.usage : EXIT.failed
  },
);
