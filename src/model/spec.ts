/**
 * Model specs are plain data: JSON-able, hashable, validated by the native `describe()`.
 * Activations are NCHW per batch; an example is `[features]` or `[channels, height, width]`.
 */

import { formatValue } from '../util/format.js';
import { checkKnownKeys } from '../util/options.js';
import { plainCopy } from '../util/plain-data.js';

/** One layer of a {@link ModelSpec}, as plain data. */
export type LayerSpec =
  /** y[N,units] = x·Wᵀ + b, W [units, in]. A [C,H,W] input is flattened implicitly. */
  | { type: 'dense'; units: number; bias?: boolean; init?: 'he' | 'xavier' }
  /** Square kernel, W [units, in_c, k, k], zero padding. */
  | {
      type: 'conv2d';
      units: number;
      kernel: number;
      stride?: number;
      padding?: number;
      bias?: boolean;
      init?: 'he' | 'xavier';
    }
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

/** The keys each layer type takes (the native describe() checks values; unknown keys are caught here). */
const LAYER_KEYS: Record<LayerSpec['type'], readonly string[]> = {
  dense: ['type', 'units', 'bias', 'init'],
  conv2d: ['type', 'units', 'kernel', 'stride', 'padding', 'bias', 'init'],
  maxpool: ['type', 'kernel', 'stride'],
  avgpool: ['type', 'kernel', 'stride'],
  globalavgpool: ['type'],
  flatten: ['type'],
  relu: ['type'],
  tanh: ['type'],
  gelu: ['type'],
  resblock: ['type', 'units', 'stride', 'batchnorm'],
  batchnorm: ['type'],
};

/**
 * A checked plain copy of a model spec: plain data (no Proxy, bounded depth, no prototype keys),
 * no unknown key on the spec or any layer (`spec.layers[2]: unknown option "activaton" …`). Values
 * are checked by the native describe().
 */
export function checkModelSpec(spec: unknown, where = 'spec'): ModelSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new TypeError(
      `${where} must be a model spec object such as mlp({ input: 4, hidden: [8], outputs: 2 }) (got ${formatValue(spec)})`,
    );
  const copy = plainCopy(spec as ModelSpec, where);
  checkKnownKeys(copy, ['input', 'layers', 'loss'], where);
  if (Array.isArray(copy.layers)) {
    copy.layers.forEach((layer, i) => {
      const type = (layer as { type?: unknown } | null)?.type;
      if (typeof type === 'string' && Object.prototype.hasOwnProperty.call(LAYER_KEYS, type))
        checkKnownKeys(layer, LAYER_KEYS[type as LayerSpec['type']], `${where}.layers[${i}]`);
    });
  }
  return copy;
}

function optionsObject<T>(options: T, where: string, known: readonly string[]): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError(`${where} must be an object (got ${formatValue(options)})`);
  checkKnownKeys(options, known, where);
  return options;
}

function positiveInt(v: unknown, param: string, max = 2 ** 31 - 1): number {
  if (typeof v !== 'number') throw new TypeError(`${param} must be a number (got ${formatValue(v)})`);
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new RangeError(`${param} must be an integer in [1, ${max}] (got ${v})`);
  return v;
}

function intList(v: unknown, param: string, min: number): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${param} must be an array of integers (got ${formatValue(v)})`);
  v.forEach((x, i) => {
    if (typeof x !== 'number') throw new TypeError(`${param}[${i}] must be a number (got ${formatValue(x)})`);
    if (!Number.isInteger(x) || x < min || x > 2 ** 31 - 1)
      throw new RangeError(`${param}[${i}] must be an integer >= ${min} (got ${x})`);
  });
  return v as number[];
}

/** Multi-layer perceptron: input → (dense(h) → activation)* → dense(outputs). */
export function mlp(options: {
  input: number | number[];
  hidden: number[];
  outputs: number;
  activation?: 'relu' | 'tanh' | 'gelu';
  loss?: LossName;
}): ModelSpec {
  optionsObject(options, 'mlp(options)', ['input', 'hidden', 'outputs', 'activation', 'loss']);
  if (Array.isArray(options.input)) intList(options.input, 'mlp(options).input', 1);
  else positiveInt(options.input, 'mlp(options).input');
  intList(options.hidden, 'mlp(options).hidden', 1);
  positiveInt(options.outputs, 'mlp(options).outputs');
  const activation = options.activation ?? 'relu';
  if (!['relu', 'tanh', 'gelu'].includes(activation))
    throw new RangeError(`mlp(options).activation must be one of relu, tanh, gelu (got ${formatValue(activation)})`);
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
  optionsObject(options, 'smallCnn(options)', ['input', 'channels', 'hidden', 'outputs']);
  if (options.input !== undefined) intList(options.input, 'smallCnn(options).input', 1);
  if (options.channels !== undefined && intList(options.channels, 'smallCnn(options).channels', 1).length !== 2)
    throw new RangeError(`smallCnn(options).channels must hold 2 channel counts (got ${options.channels.length})`);
  if (options.hidden !== undefined) positiveInt(options.hidden, 'smallCnn(options).hidden');
  if (options.outputs !== undefined) positiveInt(options.outputs, 'smallCnn(options).outputs');
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
  optionsObject(options, 'resnet(options)', ['input', 'width', 'blocks', 'outputs', 'batchnorm']);
  if (options.input !== undefined) intList(options.input, 'resnet(options).input', 1);
  const width = options.width === undefined ? 64 : positiveInt(options.width, 'resnet(options).width', 2 ** 20);
  // 0 blocks in a stage is allowed (a shallower net); -1 or 1.5 is an error, not 0 or 2 blocks.
  const blocks = options.blocks === undefined ? [2, 2, 2, 2] : intList(options.blocks, 'resnet(options).blocks', 0);
  if (blocks.length > 8)
    throw new RangeError(`resnet(options).blocks must list at most 8 stages (got ${blocks.length})`);
  if (options.outputs !== undefined) positiveInt(options.outputs, 'resnet(options).outputs');
  const batchnorm = options.batchnorm ?? false;
  if (typeof batchnorm !== 'boolean')
    throw new TypeError(`resnet(options).batchnorm must be a boolean (got ${formatValue(batchnorm)})`);
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
