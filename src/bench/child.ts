/**
 * One bench measurement in its own process (so peak RSS is the case's), printed as one JSON line:
 *   node dist/src/bench/child.js <case-name> <threads> <seconds> [hvp problem file]
 * Spawned by `bigstep bench` (src/bench/run.ts) and by the developers' bench (bench/run.ts).
 */
import { findCase } from './cases.js';
import { measureHvp, measureLandscape, measureTraining, type Measurement } from './measure.js';

async function main(argv: string[]): Promise<Measurement> {
  const [name, threadsArg, secondsArg, problemFile] = argv;
  const c = findCase(name ?? '');
  if (!c) throw new RangeError(`bench child: unknown case "${name}"`);
  const threads = Number(threadsArg);
  const seconds = Number(secondsArg);
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`bench child: threads must be a positive integer (got "${threadsArg}")`);
  if (!(seconds > 0)) throw new RangeError(`bench child: seconds must be positive (got "${secondsArg}")`);
  if (c.kind === 'train') return measureTraining(c, threads, seconds);
  if (c.kind === 'hvp') return measureHvp(c, threads, seconds, problemFile);
  return measureLandscape(c, threads);
}

main(process.argv.slice(2)).then(
  (m) => console.log(JSON.stringify(m)),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  },
);
