/**
 * Leak check: RSS over long runs of the public API, after forced GC, with the slope of the second
 * half fitted by least squares. A leak of even a few bytes per native call shows as a positive
 * slope; the allocator's warm-up shows only in the first half.
 *
 *   node --expose-gc dist/bench/hardening/leak-check.js [--steps 10000] [--cycles 1000] [--json out.json]
 *
 * Phases:
 *   steps   10^4 training steps: half synchronous Trainer#step(), half Trainer#run() chunks of 10
 *           (each chunk an AsyncWorker), plus evaluate()/predict() every 100 steps.
 *   cycles  10^3 create/destroy cycles of Model + Trainer (one step each, after 500 unsampled
 *           warm-up cycles); even cycles close() the model, odd ones drop it for the GC (the
 *           ObjectWrap finalizer must free it).
 *   landscape 10^3 landscapeEval / landscapeRun round trips.
 * Exit code 1 if a slope exceeds its limit: 0.5 MiB per 1,000 steps or calls, 4 MiB per 1,000
 * create/destroy cycles (4 KB per cycle, against ~130 KB of parameters, gradients, optimizer state
 * and scratch that one leaked model + trainer would hold; the 2nd-half fit over 10^3 cycles moves
 * by about ±1.5 MiB/1,000 from run to run). --max-slope X scales all limits (X / 1.0).
 */
import { writeFileSync } from 'node:fs';

import { native } from '../../src/native/binding.js';
import { Model, Trainer, mlp, sgd } from '../../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const STEPS = arg('steps', 10000);
const CYCLES = arg('cycles', 1000);
const SCALE_LIMITS = arg('max-slope', 1.0);
const LIMITS: Record<string, number> = { steps: 0.5, 'create/destroy cycles': 4, 'landscape eval+run calls': 0.5 };
const jsonIndex = process.argv.indexOf('--json');
const jsonOut = jsonIndex >= 0 ? process.argv[jsonIndex + 1] : undefined;

const MiB = 1024 * 1024;
// Node-API finalizers (the ObjectWrap destructor of a model that was never closed) run on an
// event-loop turn after the GC, not inside gc(): yield before sampling.
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
async function rss(): Promise<number> {
  gc!();
  await tick();
  gc!();
  await tick();
  return process.memoryUsage().rss / MiB;
}

/** Least-squares slope of y on x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxy / sxx;
}

interface Phase {
  phase: string;
  units: number;
  samples: number;
  rssStartMiB: number;
  rssEndMiB: number;
  /** MiB per 1,000 units (steps, cycles, calls) over the second half of the samples. */
  slopeSecondHalf: number;
}

function summarise(phase: string, xs: number[], ys: number[]): Phase {
  const h = Math.floor(xs.length / 2);
  return {
    phase,
    units: xs[xs.length - 1]!,
    samples: xs.length,
    rssStartMiB: +ys[0]!.toFixed(2),
    rssEndMiB: +ys[ys.length - 1]!.toFixed(2),
    slopeSecondHalf: +(slope(xs.slice(h), ys.slice(h)) * 1000).toFixed(4),
  };
}

function data(n: number, d: number, classes: number): { x: Float32Array; y: Int32Array } {
  return {
    x: new Float32Array(n * d).map((_, i) => Math.sin(i * 0.1)),
    y: new Int32Array(n).map((_, i) => i % classes),
  };
}

async function stepsPhase(): Promise<Phase> {
  const model = new Model(mlp({ input: 64, hidden: [64], outputs: 10 }), { seed: 1 });
  const d = data(1024, 64, 10);
  const trainer = new Trainer(model, {
    data: d,
    optimizer: sgd({ lr: 0.01, momentum: 0.9 }),
    batch: { mode: 'shuffle', size: 32 },
  });
  const xs: number[] = [];
  const ys: number[] = [];
  const every = Math.max(1, Math.floor(STEPS / 50));
  for (let s = 0; s < STEPS;) {
    if (s % every === 0) {
      xs.push(s);
      ys.push(await rss());
    }
    if (s % 100 === 0) {
      model.evaluate(d, { batchSize: 256 });
      model.predict(d.x.subarray(0, 640));
    }
    if (s < STEPS / 2) {
      trainer.step();
      s += 1;
    } else {
      const r = await trainer.run({ steps: 10, chunkSize: 10 });
      s += r.stepsDone;
    }
  }
  xs.push(STEPS);
  ys.push(await rss());
  model.close();
  return summarise('steps', xs, ys);
}

async function cyclesPhase(): Promise<Phase> {
  const d = data(64, 16, 4);
  const xs: number[] = [];
  const ys: number[] = [];
  const every = Math.max(1, Math.floor(CYCLES / 50));
  // Warm-up (not sampled): the allocator's arenas for model-sized blocks fill during the first
  // few hundred cycles, which would otherwise read as a slope at 10^3 cycles.
  const warmup = Math.floor(CYCLES / 2);
  for (let c = -warmup; c <= CYCLES; c++) {
    if (c < 0) {
      new Trainer(new Model(mlp({ input: 16, hidden: [128, 64], outputs: 4 }), { seed: -c }), {
        data: d,
        optimizer: sgd({ lr: 0.01 }),
      }).step();
      if (c % 10 === 0) await tick();
      continue;
    }
    if (c % every === 0 || c === CYCLES) {
      xs.push(c);
      ys.push(await rss());
    }
    if (c === CYCLES) break;
    const model = new Model(
      c % 4 < 2
        ? mlp({ input: 16, hidden: [128, 64], outputs: 4 })
        : {
            input: [1, 4, 4],
            layers: [
              { type: 'conv2d', units: 8, kernel: 3, padding: 1 },
              { type: 'batchnorm' },
              { type: 'relu' },
              { type: 'dense', units: 4 },
            ],
          },
      { seed: c },
    );
    const trainer = new Trainer(model, {
      data: d,
      optimizer: sgd({ lr: 0.01, momentum: 0.5 }),
      batch: { mode: 'shuffle', size: 8 },
    });
    trainer.step();
    if (c % 2 === 0) model.close();
    if (c % 10 === 9) await tick(); // as any real program does between units of work
  }
  return summarise('create/destroy cycles', xs, ys);
}

async function landscapePhase(): Promise<Phase> {
  const inst = native.landscapeCreate({ dim: 2, dips: 4, seed: 1 });
  const pts = native.landscapeSample({ dim: 2, count: 64, radius: 2, seed: 1 });
  const calls = CYCLES;
  const xs: number[] = [];
  const ys: number[] = [];
  const every = Math.max(1, Math.floor(calls / 50));
  for (let i = 0; i <= calls; i++) {
    if (i % every === 0 || i === calls) {
      xs.push(i);
      ys.push(await rss());
    }
    if (i === calls) break;
    native.landscapeEval(inst, pts, { hessian: true });
    await native.landscapeRun(inst, { points: new Float64Array(2), globalIndex: 0 } as never, pts, {
      eta: 0.05,
      steps: 20,
      classifyRadius: 0.1,
      recordCount: 2,
    });
  }
  return summarise('landscape eval+run calls', xs, ys);
}

const t0 = Date.now();
const phases = [await stepsPhase(), await cyclesPhase(), await landscapePhase()];
const result = {
  node: process.version,
  addon: (await import('../../src/native/binding.js')).addonPath,
  steps: STEPS,
  cycles: CYCLES,
  seconds: (Date.now() - t0) / 1000,
  phases,
};
for (const p of phases) {
  console.log(
    `${p.phase.padEnd(26)} ${String(p.units).padStart(6)} units  RSS ${p.rssStartMiB.toFixed(1)} → ${p.rssEndMiB.toFixed(1)} MiB  ` +
      `slope (2nd half) ${p.slopeSecondHalf.toFixed(3)} MiB / 1,000`,
  );
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
const limit = (p: Phase): number => (LIMITS[p.phase] ?? 0.5) * SCALE_LIMITS;
const bad = phases.filter((p) => p.slopeSecondHalf > limit(p));
if (bad.length) {
  console.log(
    `LEAK? slope above the limit in: ${bad.map((p) => `${p.phase} (${p.slopeSecondHalf} > ${limit(p)})`).join(', ')}`,
  );
  process.exit(1);
}
console.log(`leak-check ok (${result.seconds.toFixed(1)} s)`);
