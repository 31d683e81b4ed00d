/**
 * Several solo runs at once: 8 MLPs 784-256-256-10, batch 128 (8 learning rates of a sweep), trained
 * one after another and with runConcurrently on the available cores, one BLAS thread per run.
 *   node dist/bench/concurrent.js [seconds]
 * Figures are model-samples/s (examples processed × models, summed over the 8 runs).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { Model, Trainer, mlp, runConcurrently, setThreads, sgd } from '../src/index.js';

const K = 8;
const B = 128;
const spec = mlp({ input: 784, hidden: [256, 256], outputs: 10 });
const lrs = Array.from({ length: K }, (_, k) => 0.002 * 2 ** k);

function makeData(): { x: Float32Array; y: Int32Array } {
  const n = B * 4;
  let s = 12345;
  const rand = (): number => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return { x: new Float32Array(n * 784).map(() => rand()), y: new Int32Array(n).map(() => Math.floor(rand() * 10)) };
}

/** Median over `repeats` of the seconds per step of all K models, after a warm-up. */
async function secondsPerStep(run: (steps: number) => Promise<void>, budget: number, repeats = 5): Promise<number> {
  await run(2);
  let t0 = process.hrtime.bigint();
  await run(3);
  const probe = Number(process.hrtime.bigint() - t0) / 1e9 / 3;
  const steps = Math.max(3, Math.round(budget / repeats / probe));
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    t0 = process.hrtime.bigint();
    await run(steps);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9 / steps);
  }
  times.sort((a, b) => a - b);
  return times[repeats >> 1];
}

/** The markdown table of the sequential and the concurrent rate, and their ratio. */
export async function concurrentBench(budget: number): Promise<string> {
  setThreads(1);
  const data = makeData();
  const batch = { mode: 'sequential' as const, size: B };
  const trainers = lrs.map(
    (lr, k) => new Trainer(new Model(spec, { seed: 1 + k }), { data, optimizer: sgd({ lr }), batch }),
  );
  const cores = availableParallelism();
  const sequential = await secondsPerStep(async (s) => {
    for (const t of trainers) await t.run({ steps: s, chunkSize: s });
  }, budget / 2);
  const concurrent = await secondsPerStep(
    async (s) =>
      void (await runConcurrently(
        trainers.map((t) => () => t.run({ steps: s, chunkSize: s })),
        { concurrency: cores },
      )),
    budget / 2,
  );
  for (const t of trainers) t.model.close();
  const rate = (sec: number): string => ((K * B) / sec).toFixed(0);
  return [
    `8 runs of MLP 784-256-256-10, batch 128, 1 BLAS thread each, ${cores} cores`,
    '',
    '| configuration | model-samples/s | × sequential |',
    '|---|---|---|',
    `| 8 runs one after another | ${rate(sequential)} | 1.00× |`,
    `| 8 runs, runConcurrently (concurrency ${cores}) | ${rate(concurrent)} | ${(sequential / concurrent).toFixed(2)}× |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await concurrentBench(Number(process.argv[2] ?? 6)));
}
