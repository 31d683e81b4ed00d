/**
 * Strong scaling on one machine (issue 19): full-batch GD on 10,000 Fashion-MNIST images with the
 * MLP and the small CNN of bench/models.ts, as 1 rank × 1 thread, 1 rank × 2 threads and 2 ranks ×
 * 1 thread (mpirun, data parallel). Prints seconds per step, the speed-up over 1 × 1, and whether the
 * 2-rank θ is bitwise the 1-rank run with microBatch = n/2 (same arithmetic by the contract).
 *
 *   node dist/bench/scaling.js [steps=2] [n=10000]
 *
 * Each configuration runs in its own process(es) with BIGSTEP_THREADS pinned; the load of the
 * machine is printed with the table, since a shared machine changes the timings.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const steps = Number(process.argv[2] ?? '2');
const n = Number(process.argv[3] ?? '10000');
const cases = ['mlp-784-1024-1024-10/gd10000', 'small-cnn-28x28/b128'];

interface Out {
  case: string;
  ranks: number;
  paramCount: number;
  secondsPerStep: number;
  paramsSha256: string;
}

function run(ranks: number, threads: number, args: object): Out {
  const env = {
    ...process.env,
    BIGSTEP_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    OMP_WAIT_POLICY: 'PASSIVE',
  };
  const script = [join(here, 'scaling-rank.js'), JSON.stringify(args)];
  const r =
    ranks === 1
      ? spawnSync(process.execPath, script, { env, encoding: 'utf8' })
      : spawnSync(
          'mpirun',
          [
            '--allow-run-as-root',
            '--oversubscribe',
            '--bind-to',
            'none',
            '-n',
            String(ranks),
            process.execPath,
            ...script,
          ],
          { env, encoding: 'utf8' },
        );
  const line = r.stdout.split('\n').find((l) => l.startsWith('SCALING '));
  if (r.status !== 0 || !line)
    throw new Error(`bench run failed (${ranks} rank(s) × ${threads} thread(s)): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('SCALING '.length)) as Out;
}

console.log(
  `strong scaling, full-batch GD on ${n} Fashion-MNIST images, ${steps} timed step(s) after 1 warm-up; load average before: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  'case | params | 1r×1t s/step | 1r×2t s/step (speed-up) | 2r×1t s/step (speed-up) | 2r θ = 1r microBatch θ',
);
for (const c of cases) {
  // The CNN's activations for n examples at once do not fit comfortably: it runs in pieces of 1000.
  const cnn = c.startsWith('small-cnn');
  const base = { case: c, n, steps };
  const one = run(1, 1, { ...base, microBatch: cnn ? 1000 : n / 2 });
  const oneTwo = run(1, 2, { ...base, microBatch: cnn ? 1000 : n / 2 });
  const two = run(2, 1, { ...base, ...(cnn ? { microBatch: 1000 } : {}) });
  const f = (s: number) => s.toFixed(2);
  const same = cnn ? 'n/a (pieces of 1000 are summed per rank first)' : String(two.paramsSha256 === one.paramsSha256);
  console.log(
    `${c} | ${one.paramCount} | ${f(one.secondsPerStep)} | ${f(oneTwo.secondsPerStep)} (${f(one.secondsPerStep / oneTwo.secondsPerStep)}×) | ${f(two.secondsPerStep)} (${f(one.secondsPerStep / two.secondsPerStep)}×) | ${same}`,
  );
}
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
