/**
 * Times exact Hessian-vector products of one HVP bench case in this process and prints one JSON line:
 *   node dist/bench/hvp-one.js <case-name> <threads> <seconds-budget> [problem-file]
 * One product = H·v of the mean loss over the case's n examples (random inputs and labels, the
 * model at its seeded init). Reports the median over repeats of one product, and one λ_max run
 * (topEigenvalue, relative tolerance 1e-4) with its Lanczos steps and measured residual.
 * With `problem-file`, θ, x, y and v are written there (float32 θ, float32 x, int32 y, float64 v,
 * little-endian, back to back) so the PyTorch peer solves the very same problem.
 */
import { writeFileSync } from 'node:fs';

import { Model, hessianVectorProduct, info, setThreads, topEigenvalue } from '../src/index.js';
import { hvpCases } from './hvp-cases.js';

const [caseName, threadsArg, budgetArg, problemFile] = process.argv.slice(2);
const bench = hvpCases.find((c) => c.name === caseName);
if (!bench) throw new RangeError(`unknown HVP bench case "${caseName}" (have ${hvpCases.map((c) => c.name).join(', ')})`);
const threads = Number(threadsArg ?? 1);
const budget = Number(budgetArg ?? 6);
setThreads(threads);

const model = new Model(bench.spec, { seed: 1 });
const x = new Float32Array(bench.n * model.inputSize).map(() => Math.random());
const y = new Int32Array(bench.n).map(() => Math.floor(Math.random() * model.outputSize));
const data = { x, y };
const v = new Float64Array(model.params.length).map(() => Math.random() - 0.5);
const out = new Float64Array(model.params.length);
if (problemFile) {
  const bytes = (a: Float32Array | Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(problemFile, Buffer.concat([bytes(model.params), bytes(x), bytes(y), bytes(v)]));
}
const opts = { batchSize: bench.n };

hessianVectorProduct(model, data, v, out, opts); // warm-up: workspace allocation
const times: number[] = [];
const t0 = Date.now();
const cpu0 = process.cpuUsage();
while (times.length < 3 || (times.length < 15 && (Date.now() - t0) / 1000 < budget / 2)) {
  const s = process.hrtime.bigint();
  hessianVectorProduct(model, data, v, out, opts);
  times.push(Number(process.hrtime.bigint() - s) / 1e9);
}
const cpu = process.cpuUsage(cpu0);
// CPU time per product (all threads): at 1 thread, time-slicing by other processes barely moves it.
const hvpCpuSeconds = (cpu.user + cpu.system) / 1e6 / times.length;
times.sort((a, b) => a - b);
const s = process.hrtime.bigint();
const top = topEigenvalue(model, data, { ...opts, tolerance: 1e-4 });
const lambdaSeconds = Number(process.hrtime.bigint() - s) / 1e9;
console.log(JSON.stringify({
  impl: 'bigstep', case: bench.name, threads, n: bench.n, params: model.params.length,
  hvpSeconds: times[Math.floor(times.length / 2)], hvpCpuSeconds, hvpRepeats: times.length,
  lambdaSeconds, lambda: top.value, lambdaIterations: top.iterations, lambdaResidual: top.residual, lambdaConverged: top.converged,
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
  blas: `${info().blasVendor}/${info().blasCore}`,
}));
