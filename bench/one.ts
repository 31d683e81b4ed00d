/**
 * Times training steps of one bench case in this process and prints one JSON line:
 *   node dist/bench/one.js <case-name> <threads> <seconds-budget> [repeats]
 * Steps run through Trainer.run (the native chunk loop), SGD on random data: mini-batch cases draw
 * batches sequentially from 4 batches' worth of examples; `full` cases are gradient descent on the
 * whole set. Reports the median over 7 repeats (fewer for cases of seconds per step: then 1
 * warm-up step and at least 1 step per repeat), the process CPU time per step over those repeats
 * (all threads; at 1 thread a measure that time-slicing on a busy machine barely moves), peak RSS,
 * RSS growth over the timed steps and, for dense nets, the sgemm ceiling: the same GEMM calls
 * timed alone (gemmBench) at the same threads.
 */
import { Model, Trainer, gemmBench, info, setThreads, sgd } from '../src/index.js';
import { benchCases } from './models.js';

const [caseName, threadsArg, budgetArg, repeatsArg] = process.argv.slice(2);
const found = benchCases.find((c) => c.name === caseName);
if (!found) throw new RangeError(`unknown bench case "${caseName}" (have ${benchCases.map((c) => c.name).join(', ')})`);
const bench = found;
const threads = Number(threadsArg ?? 1);
const budget = Number(budgetArg ?? 6);
const repeats = Number(repeatsArg ?? 7);
const warm = repeats >= 7 ? 3 : 1;
setThreads(threads);

const model = new Model(bench.spec, { seed: 1 });
const n = bench.full ? bench.batch : bench.batch * 4;
const x = new Float32Array(n * model.inputSize).map(() => Math.random());
const y = new Int32Array(n).map(() => Math.floor(Math.random() * model.outputSize));
const trainer = new Trainer(model, {
  data: { x, y },
  optimizer: sgd({ lr: 1e-3 }),
  batch: bench.full ? { mode: 'full' } : { mode: 'sequential', size: bench.batch },
});

async function timeSteps(steps: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await trainer.run({ steps, chunkSize: steps });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  await timeSteps(warm); // warm-up: workspace allocation, thread start
  const rssAfterWarmup = process.memoryUsage().rss;
  const probe = await timeSteps(warm);
  const steps = Math.max(repeats >= 7 ? 2 : 1, Math.round((budget / repeats) / (probe / warm)));
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < repeats; r++) times.push((await timeSteps(steps)) / steps);
  const cpu = process.cpuUsage(cpu0);
  const cpuSecondsPerStep = (cpu.user + cpu.system) / 1e6 / (repeats * steps);
  times.sort((a, b) => a - b);
  const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  const rssEnd = process.memoryUsage().rss;
  // Ceiling: the step's sgemm calls alone, best of repeated calls, same thread count.
  let ceilingSeconds: number | undefined;
  if (bench.gemms) ceilingSeconds = gemmBench(bench.gemms, Math.min(2, budget / 3)).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({
    impl: 'bigstep', case: bench.name, threads, batch: bench.batch,
    stepSeconds: median, samplesPerSec: bench.batch / median, cpuSecondsPerStep,
    gflops: (3 * bench.forwardFlopsPerExample * bench.batch) / median / 1e9,
    ceilingStepSeconds: ceilingSeconds,
    pctOfCeiling: ceilingSeconds === undefined ? undefined : (100 * ceilingSeconds) / median,
    // The ceiling is a best-of figure on hot buffers; against the fastest repeat both sides are
    // quiet-moment estimates (on a shared machine the median step also measures the load).
    pctOfCeilingBest: ceilingSeconds === undefined ? undefined : (100 * ceilingSeconds) / times[0],
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rssGrowthMiB: (rssEnd - rssAfterWarmup) / 2 ** 20,
    steps: repeats * steps,
    blas: `${info().blasVendor}/${info().blasCore}`,
    isa: info().simd,
  }));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
