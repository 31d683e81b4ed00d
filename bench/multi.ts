/**
 * Batched learning-rate sweep bench: K = 8 MLPs 784-256-256-10, batch 128, on the same batches.
 *   node dist/bench/multi.js all [seconds]      -> runs every mode below in child processes, prints JSON lines + a table
 *   node dist/bench/multi.js <mode> <threads> <seconds>
 * modes: solo  - one Trainer run (a single model)
 *        seq8  - the 8 models trained one after another with Trainer (what a plain sweep loop does)
 *        multi - MultiTrainer with the 8 models in one pass
 * Figures are model-samples/s (examples processed × models). "2 concurrent single runs" is two
 * `solo` processes at 1 thread started together (their throughputs summed).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Model, MultiTrainer, Trainer, mlp, setThreads, sgd } from '../src/index.js';

const K = 8;
const B = 128;
const spec = mlp({ input: 784, hidden: [256, 256], outputs: 10 });
const lrs = Array.from({ length: K }, (_, k) => 0.002 * 2 ** k);
// FLOPs of one training step per example and model: forward 2·(784·256 + 256·256 + 256·10),
// the same again for dW, and din for the 2nd and 3rd layers (the first layer needs none).
export const flopsPerModelSample = 2 * (784 * 256 + 256 * 256 + 256 * 10) * 2 + 2 * (256 * 256 + 256 * 10);

function makeData() {
  const n = B * 4;
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const x = new Float32Array(n * 784).map(() => rand());
  const y = new Int32Array(n).map(() => Math.floor(rand() * 10));
  return { x, y };
}

async function timeIt(run: (steps: number) => Promise<void>, budget: number): Promise<number> {
  await run(5);
  let t0 = process.hrtime.bigint();
  await run(5);
  const probe = Number(process.hrtime.bigint() - t0) / 1e9 / 5;
  const steps = Math.max(3, Math.round(budget / 7 / probe));
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    t0 = process.hrtime.bigint();
    await run(steps);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9 / steps);
  }
  times.sort((a, b) => a - b);
  return times[3]; // seconds per step (of one model for solo, of all models for seq8 / multi)
}

async function one(mode: string, threads: number, budget: number): Promise<void> {
  setThreads(threads);
  const data = makeData();
  const batch = { mode: 'sequential' as const, size: B };
  let stepSeconds: number;
  let models = 1;
  const rss0 = process.memoryUsage().rss;
  if (mode === 'solo') {
    const t = new Trainer(new Model(spec, { seed: 1 }), { data, optimizer: sgd({ lr: lrs[0] }), batch });
    stepSeconds = await timeIt(async (s) => void (await t.run({ steps: s, chunkSize: s })), budget);
  } else if (mode === 'seq8') {
    models = K;
    const ts = lrs.map((lr, k) => new Trainer(new Model(spec, { seed: 1 + k }), { data, optimizer: sgd({ lr }), batch }));
    stepSeconds = await timeIt(async (s) => {
      for (const t of ts) await t.run({ steps: s, chunkSize: s });
    }, budget);
  } else if (mode === 'multi') {
    models = K;
    const m = new MultiTrainer(spec, { data, batch, models: lrs.map((lr, k) => ({ optimizer: sgd({ lr }), init: 1 + k })) });
    stepSeconds = await timeIt(async (s) => void (await m.run({ steps: s, chunkSize: s })), budget);
  } else {
    throw new RangeError(`mode must be solo, seq8 or multi (got ${mode})`);
  }
  console.log(JSON.stringify({
    mode, threads, models, stepSeconds, modelSamplesPerSec: (models * B) / stepSeconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024, rssGrowthMiB: (process.memoryUsage().rss - rss0) / 2 ** 20,
  }));
}

interface Row { mode: string; threads: number; modelSamplesPerSec: number; peakRssMiB: number }

function child(mode: string, threads: number, budget: number): Promise<Row> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), mode, String(threads), String(budget)], {
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string) as Row) : reject(new Error(`${mode} exited ${code}`))));
  });
}

export async function multiBench(budget: number): Promise<string> {
  const seq8 = await child('seq8', 1, budget);
  const seq8t2 = await child('seq8', 2, budget); // a plain sweep loop at the default thread count (2 here)
  const solo = await child('solo', 1, budget);
  const pair = await Promise.all([child('solo', 1, budget), child('solo', 1, budget)]);
  const concurrent = pair[0].modelSamplesPerSec + pair[1].modelSamplesPerSec;
  const multi1 = await child('multi', 1, budget);
  const multi2 = await child('multi', 2, budget);
  const f = (v: number) => v.toFixed(0);
  const gf = (v: number) => ((v * flopsPerModelSample) / 1e9).toFixed(1);
  const lines = [
    `Batched sweep: ${K} × MLP 784-256-256-10, batch ${B} (model-samples/s = examples × models per second; GFLOP/s = model-samples/s × ${flopsPerModelSample} FLOP)`,
    '',
    '| configuration | threads | model-samples/s | GFLOP/s | vs 8 sequential | vs 2 concurrent single runs | peak RSS (MiB) |',
    '|---|---|---|---|---|---|---|',
    `| one solo run | 1 | ${f(solo.modelSamplesPerSec)} | ${gf(solo.modelSamplesPerSec)} | - | - | ${f(solo.peakRssMiB)} |`,
    `| 8 sequential solo runs (one process) | 1 | ${f(seq8.modelSamplesPerSec)} | ${gf(seq8.modelSamplesPerSec)} | 1.00× | - | ${f(seq8.peakRssMiB)} |`,
    `| 8 sequential solo runs (one process) | 2 | ${f(seq8t2.modelSamplesPerSec)} | ${gf(seq8t2.modelSamplesPerSec)} | ${(seq8t2.modelSamplesPerSec / seq8.modelSamplesPerSec).toFixed(2)}× | - | ${f(seq8t2.peakRssMiB)} |`,
    `| 2 concurrent single runs (2 processes) | 1 + 1 | ${f(concurrent)} | ${gf(concurrent)} | ${(concurrent / seq8.modelSamplesPerSec).toFixed(2)}× | 1.00× | ${f(pair[0].peakRssMiB)} each |`,
    `| MultiTrainer, 8 models in one pass | 1 | ${f(multi1.modelSamplesPerSec)} | ${gf(multi1.modelSamplesPerSec)} | ${(multi1.modelSamplesPerSec / seq8.modelSamplesPerSec).toFixed(2)}× | ${(multi1.modelSamplesPerSec / concurrent).toFixed(2)}× | ${f(multi1.peakRssMiB)} |`,
    `| MultiTrainer, 8 models in one pass | 2 | ${f(multi2.modelSamplesPerSec)} | ${gf(multi2.modelSamplesPerSec)} | ${(multi2.modelSamplesPerSec / seq8.modelSamplesPerSec).toFixed(2)}× | ${(multi2.modelSamplesPerSec / concurrent).toFixed(2)}× | ${f(multi2.peakRssMiB)} |`,
  ];
  return lines.join('\n') + '\n';
}

const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (isMain) {
  const [mode, a, b] = process.argv.slice(2);
  const run = mode === 'all' ? multiBench(Number(a ?? process.env.BENCH_SECONDS ?? 6)).then((t) => console.log(t)) : one(mode, Number(a ?? 1), Number(b ?? 6));
  run.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
