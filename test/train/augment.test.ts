/**
 * Per-batch image augmentation (random crop with zero padding + horizontal flip) inside the native
 * chunk loop: the batch the model sees equals a TS reference built from the same augmentation RNG
 * stream; it is deterministic, checkpointed and resumable bit for bit; bad options are named.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  Model,
  Trainer,
  loadCheckpoint,
  mlp,
  readCheckpoint,
  saveCheckpoint,
  sgd,
  type ModelSpec,
} from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { bitwiseEqual } from '../engine/helpers.js';

const [C, H, W] = [2, 6, 7];
const N = 32;
const spec: ModelSpec = mlp({ input: [C, H, W], hidden: [8], outputs: 3 });

function makeData(): { x: Float32Array; y: Int32Array } {
  const rng = Rng.fromSeed(11);
  const x = new Float32Array(N * C * H * W).map(() => rng.uniform() * 2 - 1);
  const y = new Int32Array(N).map(() => rng.below(3));
  return { x, y };
}
const data = makeData();

function makeTrainer(
  options: { seed?: number; augment?: object; mode?: 'sequential' | 'shuffle' | 'full' } = {},
): Trainer {
  const mode = options.mode ?? 'sequential';
  return new Trainer(new Model(spec, { seed: 1 }), {
    data,
    optimizer: sgd({ lr: 0.1 }),
    batch: mode === 'full' ? { mode, augment: options.augment } : { mode, size: 8, augment: options.augment },
    seed: options.seed ?? 5,
  });
}

/** torchvision order: pad p with zeros, crop H×W at (oy, ox), then mirror; draws oy, ox, flip per example. */
function referenceAugment(x: Float32Array, rng: Rng, p: number, flip: boolean): Float32Array {
  const image = C * H * W;
  const out = new Float32Array(x.length);
  for (let e = 0; e < x.length / image; e++) {
    const oy = p > 0 ? rng.below(2 * p + 1) : p;
    const ox = p > 0 ? rng.below(2 * p + 1) : p;
    const mirror = flip && rng.below(2) === 1;
    for (let c = 0; c < C; c++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          const si = i + oy - p;
          const sj = (mirror ? W - 1 - j : j) + ox - p;
          const inside = si >= 0 && si < H && sj >= 0 && sj < W;
          out[e * image + (c * H + i) * W + j] = inside ? x[e * image + (c * H + si) * W + sj] : 0;
        }
  }
  return out;
}

function rngOf(words: BigUint64Array): Rng {
  return Rng.fromState(new Uint32Array(words.slice().buffer));
}

describe('batch augmentation (crop + flip)', () => {
  it('trains each step on exactly the reference-augmented batch (two steps, bitwise gradients)', () => {
    const trainer = makeTrainer({ augment: { cropPadding: 2, flip: true } });
    const reference = new Model(spec, { seed: 1 });
    const rng = rngOf(trainer.exportState().augmentRng);
    const image = C * H * W;
    for (let step = 0; step < 2; step++) {
      reference.params.set(trainer.model.params);
      const batch = {
        x: data.x.subarray(step * 8 * image, (step + 1) * 8 * image),
        y: data.y.subarray(step * 8, (step + 1) * 8),
      };
      const augmented = referenceAugment(batch.x, rng, 2, true);
      expect(bitwiseEqual(augmented, batch.x)).to.equal(false, 'augmentation changes the batch');
      reference.lossAndGrad({ x: augmented, y: batch.y });
      trainer.step();
      expect(bitwiseEqual(trainer.model.grads, reference.grads)).to.equal(
        true,
        `step ${step}: gradient of the augmented batch`,
      );
    }
  });

  it('differs from training without augmentation, and is off when cropPadding is 0 and flip false', () => {
    const plain = makeTrainer();
    const off = makeTrainer({ augment: { cropPadding: 0, flip: false } });
    const on = makeTrainer({ augment: { flip: true } });
    for (const t of [plain, off, on]) t.step();
    expect(bitwiseEqual(plain.model.grads, off.model.grads)).to.equal(true);
    expect(bitwiseEqual(plain.model.grads, on.model.grads)).to.equal(false);
  });

  it('augments full-batch steps too (a fresh draw every step, the data set untouched)', () => {
    const before = data.x.slice();
    const trainer = makeTrainer({ mode: 'full', augment: { cropPadding: 1 } });
    const reference = new Model(spec, { seed: 1 });
    const rng = rngOf(trainer.exportState().augmentRng);
    reference.params.set(trainer.model.params);
    reference.lossAndGrad({ x: referenceAugment(data.x, rng, 1, false), y: data.y });
    trainer.step();
    expect(bitwiseEqual(trainer.model.grads, reference.grads)).to.equal(true);
    expect(bitwiseEqual(data.x, before)).to.equal(true, 'the data set is not modified');
  });

  it('is deterministic per seed, differs across seeds, and resumes bit for bit from a checkpoint', async () => {
    const augment = { cropPadding: 2, flip: true };
    const a = makeTrainer({ augment, mode: 'shuffle' });
    await a.run({ steps: 12, chunkSize: 5 });
    const b = makeTrainer({ augment, mode: 'shuffle' });
    await b.run({ steps: 12, chunkSize: 12 });
    expect(bitwiseEqual(a.model.params, b.model.params)).to.equal(true);
    const other = makeTrainer({ augment, mode: 'shuffle', seed: 6 });
    await other.run({ steps: 12 });
    expect(bitwiseEqual(a.model.params, other.model.params)).to.equal(false);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-augment-'));
    try {
      const first = makeTrainer({ augment, mode: 'shuffle' });
      await first.run({ steps: 7 });
      const file = path.join(dir, 'ckpt.bin');
      saveCheckpoint(file, first, { configHash: 'aug' });
      expect(Array.from(readCheckpoint(file).state.augmentRng)).to.deep.equal(
        Array.from(first.exportState().augmentRng),
      );
      const resumed = makeTrainer({ augment, mode: 'shuffle' });
      loadCheckpoint(file, resumed, { configHash: 'aug' });
      await resumed.run({ steps: 5 });
      expect(bitwiseEqual(resumed.model.params, a.model.params)).to.equal(
        true,
        'resumed run ends where the uninterrupted one does',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad options with errors naming them', () => {
    expect(() => makeTrainer({ augment: { cropPadding: -1 } })).to.throw(
      RangeError,
      /options\.batch\.augment\.cropPadding/,
    );
    expect(() => makeTrainer({ augment: { cropPadding: 1.5 } })).to.throw(
      RangeError,
      /options\.batch\.augment\.cropPadding/,
    );
    expect(() => makeTrainer({ augment: { cropPadding: 8 } })).to.throw(
      RangeError,
      /options\.batch\.augment\.cropPadding must be at most min\(H, W\) = 6/,
    );
    expect(() => makeTrainer({ augment: { flip: 'yes' } })).to.throw(TypeError, /options\.batch\.augment\.flip/);
    expect(() => makeTrainer({ augment: 'crop' as unknown as object })).to.throw(
      TypeError,
      /options\.batch\.augment must be an object/,
    );
    const flat = new Model(mlp({ input: 84, hidden: [4], outputs: 3 }), { seed: 1 });
    expect(
      () => new Trainer(flat, { data, optimizer: sgd({ lr: 0.1 }), batch: { mode: 'full', augment: { flip: true } } }),
    ).to.throw(RangeError, /options\.batch\.augment needs a model with image input/);
  });
});
