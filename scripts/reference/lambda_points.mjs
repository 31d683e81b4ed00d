// The parameter points of the issue-15 accuracy check, made by bigstep's own GD: MLP 784-128-10
// (ReLU, MSE on one-hot targets, so minima exist as in E2) on the first 1,000 Fashion-MNIST
// training images, at init, at a small-η GD solution θ_s (η = 0.5/λ_max(θ₀), 2,000 steps), and
// after large-η GD from θ_s (E2's switch: η = 2.5/λ_max(θ_s), 600 steps; 2.2 or 2.05 if that
// diverges). Writes <dir>/point<i>.bin (θ f32, x f32, y f32, little-endian) and <dir>/points.json.
//   npm run build && node scripts/reference/lambda_points.mjs <dir> [fashion-mnist-dir]
//   /usr/bin/python3 scripts/reference/lambda_torch.py <dir>      (float64 reference λ_max)
//   node scripts/reference/lambda_check.mjs <dir>                 (the comparison table)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { Model, Trainer, mlp, sgd, topEigenvalue } from '../../dist/src/index.js';

const [dir, dataDir = '/usr/share/datasets/fashion-mnist'] = process.argv.slice(2);
if (!dir) throw new TypeError('usage: node scripts/reference/lambda_points.mjs <out-dir> [fashion-mnist-dir]');
mkdirSync(dir, { recursive: true });
const n = 1000;
const images = gunzipSync(readFileSync(join(dataDir, 'train-images-idx3-ubyte.gz')));
const labels = gunzipSync(readFileSync(join(dataDir, 'train-labels-idx1-ubyte.gz')));
const x = new Float32Array(n * 784);
for (let i = 0; i < x.length; i++) x[i] = images[16 + i] / 255;
const y = new Float32Array(n * 10);
for (let i = 0; i < n; i++) y[i * 10 + labels[8 + i]] = 1;
const data = { x, y };
const model = new Model(mlp({ input: 784, hidden: [128], outputs: 10, loss: 'mse' }), { seed: 15 });
const lambda = () => topEigenvalue(model, data, { tolerance: 1e-6 }).value;

function gd(eta, steps) {
  const t = new Trainer(model, { data, optimizer: sgd({ lr: eta }), batch: { mode: 'full' } });
  for (let s = 0; s < steps; s++) {
    if (t.step().diverged) return false;
  }
  return true;
}

const points = [];
const save = (label, eta, steps) => {
  const file = `point${points.length}.bin`;
  const bytes = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(join(dir, file), Buffer.concat([bytes(model.params), bytes(x), bytes(y)]));
  const e = model.evaluate(data);
  points.push({ point: label, file, eta, gdSteps: steps, loss: e.loss });
  console.error(`saved ${label}: loss ${e.loss}`);
};
const lam0 = lambda();
save('init', null, 0);
const etaS = 0.5 / lam0;
gd(etaS, 2000);
save('small-η GD solution θ_s', etaS, 2000);
const thetaS = model.params.slice();
const lamS = lambda();
for (const c of [2.5, 2.2, 2.05]) {
  model.params.set(thetaS);
  if (gd(c / lamS, 600) && model.evaluate(data).loss < 10 * points[0].loss) {
    save(`large-η GD from θ_s (η = ${c}/λ_max(θ_s), 600 steps)`, c / lamS, 600);
    break;
  }
}
writeFileSync(
  join(dir, 'points.json'),
  JSON.stringify({ model: 'mlp 784-128-10 relu, mse', n, data: 'Fashion-MNIST train[0:1000]', points }, null, 1),
);
