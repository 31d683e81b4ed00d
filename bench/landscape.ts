/**
 * E1: particle-steps per second of the native GD sweep (`landscapeRun`: native/landscape_sweep.cpp
 * on one worker thread) beside a vectorised numpy baseline of the same function, N starts and T
 * steps (bench/landscape_numpy.py, Debian's /usr/bin/python3 with one BLAS/OpenMP thread), measured
 * in the same run and printed as one JSON line per case:
 *   node dist/bench/landscape.js [REPS] [CASE]
 * γ is small enough that no particle converges within T (no early exit): every particle takes T
 * steps. Each side reports the median, min and max over REPS repeats (default 5) of both the wall
 * time and the CPU time of its process (on a shared machine the CPU time is the steadier of the
 * two; the native side's includes the call's copies and the classification of every x_T).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { native } from '../src/native/binding.js';

const REPS = Number(process.argv[2] ?? 5);
const ONLY = process.argv[3]; // run only the cases whose name starts with this
const PY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/landscape_numpy.py');

// N and T per case: ~0.1-0.3 s of native work per repeat, so that the call's fixed costs (~1-3 ms:
// copies, classifying every x_T) and the timer's grain stay at the 1 % level (at 20-30 ms per repeat
// the native rates spread by ±20 %); numpy then takes ~3 s per repeat and case.
const cases = [
  { name: 'paper-1d', inst: native.landscapePaper1d(), eta: 1e-7, N: 20000, T: 20000 },
  {
    name: 'compact-2d (8 dips)',
    inst: native.landscapeCreate({ kind: 'compact', dim: 2, dips: 8, seed: 1, separation: 2 }),
    eta: 2e-5,
    N: 4000,
    T: 2500,
  },
  {
    name: 'compact-5d (16 dips)',
    inst: native.landscapeCreate({ kind: 'compact', dim: 5, dips: 16, seed: 1, separation: 2 }),
    eta: 2e-5,
    N: 2000,
    T: 2500,
  },
];

interface Spread {
  median: number;
  min: number;
  max: number;
}
function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1] };
}
/** Particle-steps per second from seconds (so the min time gives the max rate). */
function rate(steps: number, t: Spread): Spread {
  return { median: steps / t.median, min: steps / t.max, max: steps / t.min };
}

for (const c of cases) {
  if (ONLY !== undefined && !c.name.startsWith(ONLY)) continue;
  const { N, T } = c;
  const d = c.inst.dim;
  // starts near the dips, so the dip terms are live
  const starts = native.landscapeSample({ dim: d, count: N, radius: 1, seed: 1 });
  const k = c.inst.depths.length;
  for (let p = 0; p < N; p++)
    for (let j = 0; j < d; j++)
      starts[p * d + j] = c.inst.centers[(p % k) * d + j] + 1.5 * c.inst.widths[p % k] * starts[p * d + j];
  const minima = { points: new Float64Array(d), globalIndex: 0 };
  const options = { eta: c.eta, steps: T, classifyRadius: 1e-3, basin: false };
  const input = JSON.stringify({
    kind: c.inst.kind,
    dim: d,
    mu: c.inst.mu,
    centers: Array.from(c.inst.centers),
    depths: Array.from(c.inst.depths),
    widths: Array.from(c.inst.widths),
    starts: Array.from(starts),
    eta: c.eta,
    steps: T,
    reps: 1,
  });
  const wall: number[] = [];
  const cpu: number[] = [];
  const np = { wall: [] as number[], cpu: [] as number[], final: [] as number[] };
  let finalX: Float64Array | undefined;
  for (let rep = 0; rep < REPS; rep++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await native.landscapeRun(c.inst, minima, starts, options);
    wall.push((performance.now() - t0) / 1000);
    const du = process.cpuUsage(c0);
    cpu.push((du.user + du.system) / 1e6);
    finalX = r.finalX;
    // numpy times itself inside the script (its start-up and the JSON transfer are not counted)
    const py = spawnSync('/usr/bin/python3', [PY], {
      input,
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' },
    });
    if (py.status !== 0) throw new Error(`numpy baseline failed: ${py.stderr}`);
    const out = JSON.parse(py.stdout) as { wall: number[]; cpu: number[]; final: number[] };
    np.wall.push(out.wall[0]);
    np.cpu.push(out.cpu[0]);
    np.final = out.final;
  }
  // the two must compute the same trajectories
  let diff = 0;
  for (let i = 0; i < finalX!.length; i++) diff = Math.max(diff, Math.abs(finalX![i] - np.final[i]));
  const steps = N * T;
  const nWall = spread(wall),
    nCpu = spread(cpu),
    pWall = spread(np.wall),
    pCpu = spread(np.cpu);
  console.log(
    JSON.stringify({
      case: c.name,
      N,
      T,
      reps: REPS,
      nativeStepsPerSecCpu: rate(steps, nCpu),
      numpyStepsPerSecCpu: rate(steps, pCpu),
      speedupCpu: spread(np.cpu.map((t, i) => t / cpu[i])),
      nativeStepsPerSecWall: rate(steps, nWall),
      numpyStepsPerSecWall: rate(steps, pWall),
      speedupWall: spread(np.wall.map((t, i) => t / wall[i])),
      maxAbsDiffFinalX: diff,
      // per repeat, in run order: which side moves when the ratio spreads
      perRepeatCpu: {
        native: cpu.map((t) => Number((steps / t).toPrecision(3))),
        numpy: np.cpu.map((t) => Number((steps / t).toPrecision(3))),
      },
    }),
  );
}
