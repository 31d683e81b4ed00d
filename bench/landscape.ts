/**
 * E1: particle-steps per second of the native GD sweep (native/landscape_run.cpp run_gd, one worker
 * thread) beside a vectorised numpy baseline of the same function, N and T (bench/landscape_numpy.py,
 * Debian's /usr/bin/python3), measured in the same run and printed as one JSON line per case:
 *   node dist/bench/landscape.js [N] [T]
 * γ is small enough that no particle converges within T (no early exit): every particle takes T steps.
 * Each side reports the best of 3 repeats (a loaded machine slows single repeats).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { native } from '../src/native/binding.js';

const N = Number(process.argv[2] ?? 20000);
const T = Number(process.argv[3] ?? 200);
const PY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/landscape_numpy.py');

const cases = [
  { name: 'paper-1d', inst: native.landscapePaper1d(), eta: 1e-6 },
  { name: 'compact-2d (8 dips)', inst: native.landscapeCreate({ kind: 'compact', dim: 2, dips: 8, seed: 1, separation: 2 }), eta: 1e-4 },
  { name: 'compact-5d (16 dips)', inst: native.landscapeCreate({ kind: 'compact', dim: 5, dips: 16, seed: 1, separation: 2 }), eta: 1e-4 },
];

for (const c of cases) {
  const d = c.inst.dim;
  // starts near the dips, so the dip terms are live
  const starts = native.landscapeSample({ dim: d, count: N, radius: 1, seed: 1 });
  for (let k = 0; k < N; k++) for (let j = 0; j < d; j++) starts[k * d + j] = c.inst.centers[(k % c.inst.depths.length) * d + j] + 1.5 * c.inst.widths[k % c.inst.depths.length] * starts[k * d + j];
  const minima = { points: new Float64Array(d), globalIndex: 0 };
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    await native.landscapeRun(c.inst, minima, starts, { eta: c.eta, steps: T, classifyRadius: 1e-3, basin: false });
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  const input = JSON.stringify({ kind: c.inst.kind, dim: d, mu: c.inst.mu, centers: Array.from(c.inst.centers), depths: Array.from(c.inst.depths), widths: Array.from(c.inst.widths), starts: Array.from(starts), eta: c.eta, steps: T });
  const py = spawnSync('/usr/bin/python3', [PY], { input, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' } });
  if (py.status !== 0) throw new Error(`numpy baseline failed: ${py.stderr}`);
  const np = JSON.parse(py.stdout) as { seconds: number; maxAbsDiff?: number; final: number[] };
  // the two must compute the same trajectories
  const r = await native.landscapeRun(c.inst, minima, starts, { eta: c.eta, steps: T, classifyRadius: 1e-3, basin: false });
  let diff = 0;
  for (let k = 0; k < r.finalX.length; k++) diff = Math.max(diff, Math.abs(r.finalX[k] - np.final[k]));
  const steps = N * T;
  console.log(JSON.stringify({ case: c.name, N, T, nativeStepsPerSec: steps / best, numpyStepsPerSec: steps / np.seconds, speedup: np.seconds / best, maxAbsDiffFinalX: diff }));
}
