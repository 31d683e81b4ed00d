/**
 * Float64 reference implementation of the optimizer chain (the update rules of
 * src/optim/optimizer.ts written out independently), and fixtures for the optimizer tests.
 */
import { Model, Trainer, mlp, type Examples, type OptimizerSpec, type TransformSpec } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { separableBlobs } from '../engine/helpers.js';
import { relErrorMax } from '../support/close.js';

export interface RefState {
  theta: Float64Array;
  buffers: Map<number, Float64Array>;
}

/** Generator in the state of a trainer's noise stream (BigUint64Array(4) → TS Rng). */
export function rngFromState(words: BigUint64Array): Rng {
  return Rng.fromState(new Uint32Array(words.slice().buffer));
}

/** One reference step: u₀ = g, each transform in order, then θ ← θ + u (all in double). */
export function referenceStep(
  transforms: TransformSpec[],
  st: RefState,
  g: Float32Array,
  t: number,
  lr: number,
  noise: Rng | null,
): void {
  const d = g.length;
  const theta = st.theta;
  const u = Float64Array.from(g);
  const on = (mask: Uint8Array | undefined, i: number) => !mask || mask[i] !== 0;
  transforms.forEach((tr, index) => {
    switch (tr.kind) {
      case 'clipGlobalNorm': {
        const n = Math.hypot(...u);
        if (n > tr.maxNorm) for (let i = 0; i < d; i++) u[i] *= tr.maxNorm / n;
        break;
      }
      case 'addWeightDecay':
        for (let i = 0; i < d; i++) if (on(tr.mask, i)) u[i] += tr.weightDecay * theta[i];
        break;
      case 'gaussianNoise': {
        let sigma = tr.std;
        if (tr.annealSteps) sigma *= Math.max(0, 1 - t / tr.annealSteps);
        if (!(sigma > 0)) break;
        if (!noise) throw new Error('reference needs the noise stream');
        const idx = Array.from({ length: d }, (_, i) => i).filter((i) => on(tr.mask, i));
        const xi = idx.map(() => noise.normalZiggurat());
        let scale = sigma;
        if (tr.mode === 'norm' || tr.mode === 'relative') {
          scale = sigma / Math.hypot(...xi);
          if (tr.mode === 'relative') scale *= Math.hypot(...idx.map((i) => u[i]));
        }
        idx.forEach((i, k) => (u[i] += scale * xi[k]));
        break;
      }
      case 'momentum': {
        let v = st.buffers.get(index);
        if (!v) st.buffers.set(index, (v = new Float64Array(d)));
        for (let i = 0; i < d; i++) {
          v[i] = tr.beta * v[i] + u[i];
          u[i] = tr.nesterov ? u[i] + tr.beta * v[i] : v[i];
        }
        break;
      }
      case 'scaleByLearningRate':
        for (let i = 0; i < d; i++) u[i] *= -lr;
        break;
      case 'decoupledWeightDecay':
        for (let i = 0; i < d; i++) if (on(tr.mask, i)) u[i] -= lr * tr.weightDecay * theta[i];
        break;
    }
  });
  for (let i = 0; i < d; i++) theta[i] += u[i];
}

export const tinySpec = mlp({ input: 6, hidden: [8], outputs: 3, activation: 'tanh' });

export function tinyData(): Examples {
  return separableBlobs(48, 6, 3, 3);
}

/**
 * Runs `steps` trainer steps and the float64 reference side by side, the reference using the
 * trainer's own gradient g_t (read from model.grads after each step) and noise stream state.
 * Returns the largest relative deviation over the steps, and the final params.
 */
export function compareWithReference(
  optimizer: OptimizerSpec,
  steps: number,
  options: { data?: Examples; seed?: number } = {},
): { maxError: number; params: Float32Array; reference: Float64Array } {
  const model = new Model(tinySpec, { seed: options.seed ?? 1 });
  const trainer = new Trainer(model, { data: options.data ?? tinyData(), optimizer, seed: 5 });
  const st: RefState = { theta: Float64Array.from(model.params), buffers: new Map() };
  let maxError = 0;
  for (let t = 0; t < steps; t++) {
    const noise = rngFromState(trainer.job.noiseRng);
    const r = trainer.step();
    referenceStep(optimizer.transforms, st, model.grads, t, r.lr, noise);
    maxError = Math.max(maxError, relErrorMax(model.params, st.theta));
  }
  return { maxError, params: model.params.slice(), reference: st.theta };
}
