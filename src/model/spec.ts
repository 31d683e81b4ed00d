/**
 * Model specs are plain data: JSON-able, hashable, validated by the native `describe()`.
 * Activations are NCHW per batch; an example is `[features]` or `[channels, height, width]`.
 */

/** One layer of a {@link ModelSpec}, as plain data. */
export type LayerSpec =
  /** y[N,units] = x·Wᵀ + b, W [units, in]. A [C,H,W] input is flattened implicitly. */
  | { type: 'dense'; units: number; bias?: boolean; init?: 'he' | 'xavier' }
  /** Square kernel, W [units, in_c, k, k], zero padding. */
  | { type: 'conv2d'; units: number; kernel: number; stride?: number; padding?: number; bias?: boolean; init?: 'he' | 'xavier' }
  /** Max over kernel×kernel windows. `stride` defaults to `kernel` (non-overlapping windows, like PyTorch's `MaxPool2d(k)`); 0 also means `kernel`. */
  | { type: 'maxpool'; kernel: number; stride?: number }
  /** Mean over kernel×kernel windows. `stride` defaults to `kernel`, as for `maxpool`. */
  | { type: 'avgpool'; kernel: number; stride?: number }
  | { type: 'globalavgpool' }
  | { type: 'flatten' }
  | { type: 'relu' }
  | { type: 'tanh' }
  | { type: 'gelu' }
  /** Basic residual block: conv3×3(stride)→[BN]→relu→conv3×3→[BN] + shortcut → relu. */
  | { type: 'resblock'; units: number; stride?: number; batchnorm?: boolean }
  | { type: 'batchnorm' };

/** The training loss: softmax cross-entropy over class indices, or mean squared error over float targets. */
export type LossName = 'softmax-cross-entropy' | 'mse';

/** A network as plain data (JSON-able): input shape, layers in order, loss. Build one with {@link mlp}, {@link smallCnn} or {@link resnet}, or write it out. */
export interface ModelSpec {
  /** Per-example input shape: [features] or [channels, height, width]. */
  input: number[];
  /** Layers applied in order; the last one produces the outputs. */
  layers: LayerSpec[];
  /** Default: softmax-cross-entropy (labels are Int32Array class indices). */
  loss?: LossName;
}

/** Multi-layer perceptron: input → (dense(h) → activation)* → dense(outputs). */
export function mlp(options: {
  input: number | number[];
  hidden: number[];
  outputs: number;
  activation?: 'relu' | 'tanh' | 'gelu';
  loss?: LossName;
}): ModelSpec {
  const activation = options.activation ?? 'relu';
  const layers: LayerSpec[] = [];
  for (const units of options.hidden) layers.push({ type: 'dense', units }, { type: activation });
  layers.push({ type: 'dense', units: options.outputs });
  return {
    input: Array.isArray(options.input) ? options.input : [options.input],
    layers,
    loss: options.loss ?? 'softmax-cross-entropy',
  };
}

/**
 * The small CNN of the benchmarks: conv3×3-c1 → relu → conv3×3-c2 → relu → maxpool 2×2 stride 2 →
 * dense-hidden → relu → dense-outputs (defaults 32, 64, 128 on 28×28×1 like PyTorch's MNIST example:
 * a 12×12×64 pool output and 1,199,882 parameters).
 */
export function smallCnn(
  options: { input?: number[]; channels?: [number, number]; hidden?: number; outputs?: number } = {},
): ModelSpec {
  const [c1, c2] = options.channels ?? [32, 64];
  return {
    input: options.input ?? [1, 28, 28],
    layers: [
      { type: 'conv2d', units: c1, kernel: 3 },
      { type: 'relu' },
      { type: 'conv2d', units: c2, kernel: 3 },
      { type: 'relu' },
      { type: 'maxpool', kernel: 2, stride: 2 },
      { type: 'dense', units: options.hidden ?? 128 },
      { type: 'relu' },
      { type: 'dense', units: options.outputs ?? 10 },
    ],
    loss: 'softmax-cross-entropy',
  };
}

/**
 * ResNet family for 32×32 images (CIFAR style): conv3×3-w stem, then 4 stages of `blocks[i]`
 * basic blocks with widths w, 2w, 4w, 8w (stride 2 from stage 2 on), global average pool, dense.
 * `resnet({})` is ResNet-18 without batch norm as in the paper (w = 64, blocks [2,2,2,2]);
 * smaller `width` / fewer `blocks` give CPU-sized variants.
 */
export function resnet(
  options: { input?: number[]; width?: number; blocks?: number[]; outputs?: number; batchnorm?: boolean } = {},
): ModelSpec {
  const width = options.width ?? 64;
  const blocks = options.blocks ?? [2, 2, 2, 2];
  const batchnorm = options.batchnorm ?? false;
  const layers: LayerSpec[] = [{ type: 'conv2d', units: width, kernel: 3, padding: 1 }];
  if (batchnorm) layers.push({ type: 'batchnorm' });
  layers.push({ type: 'relu' });
  blocks.forEach((count, stage) => {
    for (let b = 0; b < count; b++) {
      layers.push({ type: 'resblock', units: width * 2 ** stage, stride: stage > 0 && b === 0 ? 2 : 1, batchnorm });
    }
  });
  layers.push({ type: 'globalavgpool' }, { type: 'dense', units: options.outputs ?? 10 });
  return { input: options.input ?? [3, 32, 32], layers, loss: 'softmax-cross-entropy' };
}
