#!/usr/bin/env node
/**
 * bigstep command line. Commands:
 *   bigstep info                      what the addon runs (BLAS vendor, kernels, threads)
 *   bigstep demo [--steps N]          train a small MLP on a synthetic task (smoke test of the install)
 *   bigstep run landscape|escape|noise [--preset quick|paper|tiny] [--out DIR] [--seed N]
 *   bigstep reproduce [--out DIR]     E1–E3 at quick size, then the report
 *   bigstep report DIR                write DIR/report.html from finished runs
 */
import { commands } from './commands.js';

function usage(): string {
  return ['usage: bigstep <command> [options]', '', 'commands:', ...commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`bigstep: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Misuse (bad option values) is reported as one line, not a stack trace.
    const e = error as Error;
    console.error(`bigstep: ${e instanceof TypeError || e instanceof RangeError ? e.message : (e.stack ?? String(e))}`);
    process.exitCode = 1;
  },
);
