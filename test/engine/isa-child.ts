/**
 * Child of isa.test.ts: loads the addon under the BIGSTEP_ISA its parent set, and prints as JSON
 * the path info() reports and the loss and gradient of a small ResNet (conv, residual, pooling,
 * dense: every dispatched kernel family) on a fixed batch.
 */
import { Model, info, resnet } from '../../src/index.js';
import { randomArray } from './helpers.js';

const spec = resnet({ input: [3, 12, 12], width: 8, blocks: [1, 1], outputs: 5 });
const model = new Model(spec, { seed: 3 });
const n = 7;
const x = randomArray(n * 3 * 12 * 12, 11);
const y = new Int32Array(n).map((_, i) => i % 5);
const { loss } = model.lossAndGrad({ x, y });
console.log(JSON.stringify({ simd: info().simd, loss, grads: Array.from(model.grads) }));
