/**
 * Times training steps of one bench case in this process and prints one JSON line:
 *   node dist/bench/one.js <case-name> <threads> <seconds-budget>
 * Steps run through Trainer.run (the native chunk loop), SGD on random data, batches drawn
 * sequentially from 4 batches' worth of examples. Reports the median over repeats.
 */
import { Model, Trainer, info, setThreads, sgd } from '../src/index.js';
import { benchCases } from './models.js';

const [caseName, threadsArg, budgetArg] = process.argv.slice(2);
const found = benchCases.find((c) => c.name === caseName);
if (!found) throw new RangeError(`unknown bench case "${caseName}" (have ${benchCases.map((c) => c.name).join(', ')})`);
const bench = found;
const threads = Number(threadsArg ?? 1);
const budget = Number(budgetArg ?? 6);
setThreads(threads);

const model = new Model(bench.spec, { seed: 1 });
const n = bench.batch * 4;
const x = new Float32Array(n * model.inputSize).map(() => Math.random());
const y = new Int32Array(n).map(() => Math.floor(Math.random() * model.outputSize));
const trainer = new Trainer(model, { data: { x, y }, optimizer: sgd({ lr: 1e-3 }), batch: { mode: 'sequential', size: bench.batch } });

async function timeSteps(steps: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await trainer.run({ steps, chunkSize: steps });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  await timeSteps(3); // warm-up: workspace allocation, BLAS thread start
  const rssAfterWarmup = process.memoryUsage().rss;
  const probe = await timeSteps(5);
  const steps = Math.max(3, Math.round((budget / 7) / (probe / 5)));
  const times: number[] = [];
  for (let r = 0; r < 7; r++) times.push((await timeSteps(steps)) / steps);
  times.sort((a, b) => a - b);
  const median = times[3];
  const rssEnd = process.memoryUsage().rss;
  console.log(JSON.stringify({
    impl: 'bigstep', case: bench.name, threads, batch: bench.batch,
    stepSeconds: median, samplesPerSec: bench.batch / median,
    gflops: (3 * bench.forwardFlopsPerExample * bench.batch) / median / 1e9,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rssGrowthMiB: (rssEnd - rssAfterWarmup) / 2 ** 20,
    blas: `${info().blasVendor}/${info().blasCore}`,
  }));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
