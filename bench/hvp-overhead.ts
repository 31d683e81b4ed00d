/**
 * What an exact Hessian-vector product costs on its own and inside `topEigenvalue` (λ_max to
 * 1e-4), in CPU seconds per product at 1 thread (CPU time moves less than wall time on a shared
 * machine). On its own: "cold", a product at a θ the engine has not seen (the bench alternates one
 * parameter between two values), and "warm", a repeat at the same θ and data, which reuses the
 * primal pass when all examples fit one chunk (native/hvp.cpp). Inside: topEigenvalue's CPU time
 * over its products (Lanczos steps + the residual check); the difference to one cold and the rest
 * warm is the solver's own overhead. Cases: the bench's HVP rows (src/bench/cases.ts).
 * Usage: node dist/bench/hvp-overhead.js [case-substring ...] (default: the MLP row).
 */
import { Model, hessianVectorProduct, setThreads, topEigenvalue } from '../src/index.js';
import { hvpCases } from '../src/bench/cases.js';
import { Rng } from '../src/util/random.js';

const cpuSeconds = (f: () => void): number => {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1e6;
};
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

setThreads(1);
const wanted = process.argv.slice(2);
const cases = hvpCases.filter((c) => (wanted.length ? wanted.some((w) => c.name.includes(w)) : c.name.includes('mlp')));
for (const c of cases) {
  const model = new Model(c.spec, { seed: 1 });
  const rng = Rng.fromSeed(1, 1);
  const x = new Float32Array(c.n * model.inputSize).map(() => rng.uniform());
  const y = new Int32Array(c.n).map(() => rng.below(model.outputSize));
  const data = { x, y };
  const dim = model.params.length;
  const v = new Float64Array(dim).map(() => rng.uniform() - 0.5);
  const out = new Float64Array(dim);
  const opts = { batchSize: c.n };
  const repeats = dim > 500_000 ? 3 : 9;
  const base = model.params[0];
  hessianVectorProduct(model, data, v, out, opts); // workspace allocation
  const cold: number[] = [];
  for (let r = 0; r < repeats; r++) {
    model.params[0] = r % 2 === 0 ? Math.fround(base * (1 + 2 ** -20) + 2 ** -30) : base;
    cold.push(cpuSeconds(() => hessianVectorProduct(model, data, v, out, opts)));
  }
  model.params[0] = base;
  hessianVectorProduct(model, data, v, out, opts);
  const warm: number[] = [];
  for (let r = 0; r < repeats; r++) warm.push(cpuSeconds(() => hessianVectorProduct(model, data, v, out, opts)));
  model.params[0] = Math.fround(base * (1 - 2 ** -20) - 2 ** -30); // a θ not seen: the solver starts cold
  let top: ReturnType<typeof topEigenvalue> | null = null;
  const topCpu = cpuSeconds(() => {
    top = topEigenvalue(model, data, { ...opts, tolerance: 1e-4 });
  });
  const t = top!;
  const products = t.iterations + 1;
  const solver = topCpu - median(cold) - (products - 1) * median(warm);
  console.log(
    `${c.name} (${dim} params, 1 thread, CPU s): product cold ${median(cold).toFixed(4)} warm ${median(warm).toFixed(4)} ` +
      `(median of ${repeats}); topEigenvalue ${topCpu.toFixed(3)} s for ${products} products = ${(topCpu / products).toFixed(4)} per product, ` +
      `solver overhead ${solver.toFixed(3)} s (${((100 * solver) / topCpu).toFixed(0)} %); λ_max ${t.value.toPrecision(8)}, residual ${t.residual.toExponential(1)}`,
  );
  model.close();
}
