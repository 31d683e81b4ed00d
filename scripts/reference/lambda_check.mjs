// bigstep's λ_max (exact HVPs, and the finite-difference option) against the float64 reference
// of scripts/reference/lambda_torch.py, on the very same θ and data. Prints a markdown table.
//   see scripts/reference/lambda_points.mjs for the three steps
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Model, mlp, topEigenvalue } from '../../dist/src/index.js';

const dir = process.argv[2];
if (!dir) throw new TypeError('usage: node scripts/reference/lambda_check.mjs <dir written by lambda_torch.py>');
const summary = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));
const model = new Model(mlp({ input: 784, hidden: [128], outputs: 10, loss: 'mse' }));
const P = model.params.length;
const n = summary.n;
console.log(
  `${summary.model}, ${summary.data}, reference: PyTorch ${summary.torch} float64 double backward + Lanczos (bound 1e-10)\n`,
);
console.log(
  '| point | η·λ_max | loss | ‖∇L‖ | λ_max float64 | exact: relative error | Lanczos steps | residual ‖Hv−λv‖/λ | finite differences: rel. error | FD converged |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const p of summary.points) {
  const raw = readFileSync(join(dir, p.file));
  const f32 = (offset, count) =>
    new Float32Array(raw.buffer.slice(raw.byteOffset + offset, raw.byteOffset + offset + 4 * count));
  model.params.set(f32(0, P));
  const data = { x: f32(4 * P, n * 784), y: f32(4 * (P + n * 784), n * 10) };
  const exact = topEigenvalue(model, data, { tolerance: 1e-6 });
  const fd = topEigenvalue(model, data, { method: 'finite-difference', tolerance: 1e-4, iterations: 100 });
  const rel = (v) => `${((100 * (v - p.lambdaMax)) / p.lambdaMax).toFixed(4)} %`;
  console.log(
    `| ${p.point} | ${p.etaLambda === null ? '-' : p.etaLambda.toFixed(3)} | ${p.loss.toPrecision(3)} | ${p.gradNorm.toExponential(1)} | ${p.lambdaMax.toPrecision(7)} | ` +
      `${((exact.value - p.lambdaMax) / p.lambdaMax).toExponential(1)} | ${exact.iterations} | ${exact.residual.toExponential(1)} | ${rel(fd.value)} | ${fd.converged} |`,
  );
}
