/**
 * One bench measurement in this process (src/bench/child.ts runs each in its own process, so peak
 * RSS is the case's own). Shared by `bigstep bench` and the developers' bench (bench/run.ts).
 *
 * - Training: steps through Trainer.run (the native chunk loop), SGD on random data; mini-batch
 *   cases draw batches sequentially from 4 batches' worth of examples, `full` cases are gradient
 *   descent on the whole set. The median over repeats of the time per step (1 warm-up chunk, a
 *   probe to size the repeats), the process CPU time per step, then the sgemm ceiling: the step's
 *   GEMM calls (cases.ts) timed alone at the same threads, best of repeated calls.
 * - HVP: the median of repeated H·v products of the mean loss over the case's n examples at the
 *   model's seeded init, then one λ_max run (topEigenvalue, relative tolerance 1e-4).
 * - E1 sweep: GD from N starts near the dips for T steps on one native worker thread, best of 3.
 *
 * Peak RSS is read before the ceiling is measured (its GEMM buffers are not the case's memory).
 */
import { writeFileSync } from 'node:fs';

import { hessianVectorProduct } from '../measure/hessian.js';
import { topEigenvalue } from '../measure/sharpness.js';
import { Model } from '../model/model.js';
import { native } from '../native/binding.js';
import { gemmBench } from '../native/gemm-bench.js';
import { info, setThreads } from '../native/info.js';
import { sgd } from '../optim/optimizer.js';
import { Trainer } from '../train/trainer.js';
import type { HvpCase, LandscapeCase, TrainCase } from './cases.js';

/** What every measurement reports (the field names bench/run.ts and the tables read). */
export interface Measurement {
  impl: 'bigstep';
  kind: 'train' | 'hvp' | 'landscape';
  case: string;
  threads: number;
  /** Examples per second (training: batch / step time; HVP: n / time of one product); E1: particle-steps per second. */
  samplesPerSec: number;
  /** Counted flops per second (null where flops are not counted: the E1 sweep). */
  gflops: number | null;
  /** Peak resident memory of the measuring process before the ceiling, MiB. */
  peakRssMiB: number;
  blas: string;
  isa: string;
  // training
  batch?: number;
  stepSeconds?: number;
  cpuSecondsPerStep?: number;
  steps?: number;
  rssGrowthMiB?: number;
  /** Seconds of the step's sgemm calls alone (best of repeats). */
  ceilingStepSeconds?: number;
  /** 100 · ceiling / median step. */
  pctOfCeiling?: number;
  /** 100 · ceiling / fastest repeat (both quiet-moment estimates on a shared machine). */
  pctOfCeilingBest?: number;
  // HVP
  n?: number;
  params?: number;
  /** One product at a θ not seen before (the whole forward-over-reverse pass), median wall seconds. */
  hvpSeconds?: number;
  hvpCpuSeconds?: number;
  hvpRepeats?: number;
  /** A further product at the same θ and data (the primal pass reused, native/hvp.cpp), median wall seconds. */
  hvpWarmSeconds?: number;
  hvpWarmCpuSeconds?: number;
  lambda?: number;
  lambdaSeconds?: number;
  lambdaIterations?: number;
  lambdaResidual?: number;
  lambdaConverged?: boolean;
  // E1
  particles?: number;
  T?: number;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function common(threads: number) {
  const i = info();
  return { impl: 'bigstep' as const, threads, blas: `${i.blasVendor}/${i.blasCore}`, isa: i.simd };
}

const peakRssMiB = (): number => process.resourceUsage().maxRSS / 1024;

/** Deterministic pseudo-random inputs in [0, 1) and labels (the same problem in every run). */
function randomData(n: number, inputSize: number, classes: number): { x: Float32Array; y: Int32Array } {
  let s = 0x9e3779b9 >>> 0;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const x = new Float32Array(n * inputSize).map(next);
  const y = new Int32Array(n).map(() => Math.floor(next() * classes));
  return { x, y };
}

/** Times training steps of `c` at `threads` within about `seconds`. */
export async function measureTraining(c: TrainCase, threads: number, seconds: number): Promise<Measurement> {
  setThreads(threads);
  const repeats = c.repeats ?? 7;
  const warm = repeats >= 7 ? 3 : 1;
  const model = new Model(c.spec, { seed: 1 });
  const n = c.full ? c.batch : c.batch * 4;
  const data = randomData(n, model.inputSize, model.outputSize);
  const trainer = new Trainer(model, {
    data,
    optimizer: sgd({ lr: 1e-3 }),
    batch: c.full ? { mode: 'full' } : { mode: 'sequential', size: c.batch },
  });
  const timeSteps = async (steps: number): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await trainer.run({ steps, chunkSize: steps });
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  await timeSteps(warm); // warm-up: workspace allocation, thread start
  const rssAfterWarmup = process.memoryUsage().rss;
  const probe = await timeSteps(warm);
  const steps = Math.max(repeats >= 7 ? 2 : 1, Math.round(seconds / repeats / (probe / warm)));
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < repeats; r++) times.push((await timeSteps(steps)) / steps);
  const cpu = process.cpuUsage(cpu0);
  const rssGrowthMiB = (process.memoryUsage().rss - rssAfterWarmup) / 2 ** 20;
  const peak = peakRssMiB();
  model.close();
  const step = median(times);
  const ceiling = gemmBench(c.gemms, Math.min(2, Math.max(0.2, seconds / 3))).reduce((a, b) => a + b, 0);
  return {
    ...common(threads),
    kind: 'train',
    case: c.name,
    batch: c.batch,
    stepSeconds: step,
    samplesPerSec: c.batch / step,
    cpuSecondsPerStep: (cpu.user + cpu.system) / 1e6 / (repeats * steps),
    gflops: (3 * c.forwardFlopsPerExample * c.batch) / step / 1e9,
    ceilingStepSeconds: ceiling,
    pctOfCeiling: (100 * ceiling) / step,
    pctOfCeilingBest: (100 * ceiling) / Math.min(...times),
    peakRssMiB: peak,
    rssGrowthMiB,
    steps: repeats * steps,
  };
}

/**
 * Times exact HVPs of `c` at `threads`. With `problemFile`, θ, x, y and v are written there
 * (float32 θ, float32 x, int32 y, float64 v, little-endian, back to back) for the PyTorch peer.
 */
export function measureHvp(c: HvpCase, threads: number, seconds: number, problemFile?: string): Measurement {
  setThreads(threads);
  const model = new Model(c.spec, { seed: 1 });
  const data = randomData(c.n, model.inputSize, model.outputSize);
  const v = new Float64Array(model.params.length);
  const r = randomData(model.params.length, 1, 1).x;
  for (let i = 0; i < v.length; i++) v[i] = r[i] - 0.5;
  const out = new Float64Array(model.params.length);
  if (problemFile) {
    const bytes = (a: Float32Array | Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(problemFile, Buffer.concat([bytes(model.params), bytes(data.x), bytes(data.y), bytes(v)]));
  }
  const opts = { batchSize: c.n };
  // Cold products alternate one parameter between θ₀ and a neighbour, so every product is at a θ
  // the engine has not just seen and runs the primal pass too; warm ones repeat at one θ.
  const theta0 = model.params[0];
  const neighbour = Math.fround(theta0 * (1 + 2 ** -20) + 2 ** -30);
  model.params[0] = neighbour;
  hessianVectorProduct(model, data, v, out, opts); // warm-up: workspace allocation
  model.params[0] = theta0;
  // λ_max first, at θ₀ exactly (the θ the PyTorch peer reads), starting cold.
  const s = process.hrtime.bigint();
  const top = topEigenvalue(model, data, { ...opts, tolerance: 1e-4 });
  const lambdaSeconds = Number(process.hrtime.bigint() - s) / 1e9;
  const timeProducts = (share: number, cold: boolean) => {
    const times: number[] = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    while (times.length < 3 || (times.length < 15 && (performance.now() - t0) / 1000 < seconds * share)) {
      if (cold) model.params[0] = times.length % 2 === 0 ? neighbour : theta0;
      const t = process.hrtime.bigint();
      hessianVectorProduct(model, data, v, out, opts);
      times.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
    const cpu = process.cpuUsage(cpu0);
    model.params[0] = theta0;
    return { seconds: median(times), cpu: (cpu.user + cpu.system) / 1e6 / times.length, repeats: times.length };
  };
  const cold = timeProducts(0.3, true);
  hessianVectorProduct(model, data, v, out, opts);
  const warm = timeProducts(0.2, false);
  const hvpSeconds = cold.seconds;
  const params = model.params.length;
  model.close();
  return {
    ...common(threads),
    kind: 'hvp',
    case: c.name,
    n: c.n,
    params,
    samplesPerSec: c.n / hvpSeconds,
    gflops: (c.flopsPerExample * c.n) / hvpSeconds / 1e9,
    hvpSeconds,
    hvpCpuSeconds: cold.cpu,
    hvpRepeats: cold.repeats,
    hvpWarmSeconds: warm.seconds,
    hvpWarmCpuSeconds: warm.cpu,
    lambda: top.value,
    lambdaSeconds,
    lambdaIterations: top.iterations,
    lambdaResidual: top.residual,
    lambdaConverged: top.converged,
    peakRssMiB: peakRssMiB(),
  };
}

/** Times the E1 GD particle sweep of `c` (one native worker thread; `threads` is recorded, not used). */
export async function measureLandscape(c: LandscapeCase, threads: number): Promise<Measurement> {
  const inst = c.instance.kind === 'paper-1d' ? native.landscapePaper1d() : native.landscapeCreate({ ...c.instance });
  const d = inst.dim;
  const N = c.particles;
  // Starts near the dips, so the dip terms are live.
  const starts = native.landscapeSample({ dim: d, count: N, radius: 1, seed: 1 });
  const k = inst.depths.length;
  for (let p = 0; p < N; p++)
    for (let j = 0; j < d; j++)
      starts[p * d + j] = inst.centers[(p % k) * d + j] + 1.5 * inst.widths[p % k] * starts[p * d + j];
  const minima = { points: new Float64Array(d), globalIndex: 0 };
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    await native.landscapeRun(inst, minima, starts, { eta: c.eta, steps: c.steps, classifyRadius: 1e-3, basin: false });
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return {
    ...common(threads),
    kind: 'landscape',
    case: c.name,
    particles: N,
    T: c.steps,
    samplesPerSec: (N * c.steps) / best,
    gflops: null,
    peakRssMiB: peakRssMiB(),
  };
}
