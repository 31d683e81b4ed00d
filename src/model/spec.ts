/**
 * Model specs are plain data: JSON-able, hashable, validated by the native `describe()`.
 * Activations are NCHW per batch; an example is `[features]` or `[channels, height, width]`.
 */

import { z } from 'zod';

import { kinds } from '../native/kinds.js';
import { formatValue } from '../util/format.js';
import { plainCopy } from '../util/plain-data.js';
import { boolean, kindName, kindUnionError, parseNamed } from '../util/schema.js';

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

// ---- The option kinds, as zod schemas ---------------------------------------------------------------

/**
 * The keys each layer type takes. Their values are checked by the native describe() (the binding
 * validates every spec it is given, so it is the one check of a spec's values); a key the layer
 * does not take is caught here: `spec.layers[2]: unknown option "activaton" (did you mean …)`.
 */
const layer = <K extends LayerSpec['type'], F extends string>(type: K, fields: readonly F[]) =>
  z.strictObject({
    type: z.literal(type),
    ...(Object.fromEntries(fields.map((f) => [f, z.unknown().optional()])) as Record<F, z.ZodOptional<z.ZodUnknown>>),
  });

const layerSchema = z.discriminatedUnion(
  'type',
  [
    layer('dense', ['units', 'bias', 'init']),
    layer('conv2d', ['units', 'kernel', 'stride', 'padding', 'bias', 'init']),
    layer('maxpool', ['kernel', 'stride']),
    layer('avgpool', ['kernel', 'stride']),
    layer('globalavgpool', []),
    layer('flatten', []),
    layer('relu', []),
    layer('tanh', []),
    layer('gelu', []),
    layer('resblock', ['units', 'stride', 'batchnorm']),
    layer('batchnorm', []),
  ],
  { error: kindUnionError('a layer object such as { type: "dense", units: 10 }', kinds.layerTypes) },
);

/** A model spec's keys, its layers' keys and its loss (values: the native describe()). */
const modelSpecSchema = z.strictObject(
  {
    input: z.unknown().optional(),
    layers: z.array(layerSchema, { error: (i) => `must be an array of layers (got ${formatValue(i.input)})` }),
    loss: kindName(kinds.losses).optional(),
  },
  {
    error: (i) =>
      `must be a model spec object such as mlp({ input: 4, hidden: [8], outputs: 2 }) (got ${formatValue(i.input)})`,
  },
);

/**
 * A checked plain copy of a model spec: plain data (no Proxy, bounded depth, no prototype keys),
 * no unknown key on the spec or any layer (`spec.layers[2]: unknown option "activaton" …`), a
 * known layer type and loss. The other values are checked by the native describe().
 */
export function checkModelSpec(spec: unknown, where = 'spec'): ModelSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new TypeError(
      `${where} must be a model spec object such as mlp({ input: 4, hidden: [8], outputs: 2 }) (got ${formatValue(spec)})`,
    );
  const copy = plainCopy(spec as ModelSpec, where);
  parseNamed(modelSpecSchema, copy, where);
  return copy;
}

/** A positive integer <= max (a width, a count). */
const positiveInt = (max = 2 ** 31 - 1) => {
  const range = (v: unknown) => `must be an integer in [1, ${max}] (got ${formatValue(v)})`;
  return z
    .number({
      error: (i) => (typeof i.input === 'number' ? range(i.input) : `must be a number (got ${formatValue(i.input)})`),
    })
    .int({ error: (i) => range(i.input) })
    .min(1, { error: (i) => range(i.input) })
    .max(max, { error: (i) => range(i.input) });
};

/** A list of integers >= min (widths, shapes, blocks per stage). */
const intList = (min: number) => {
  const range = (v: unknown) => `must be an integer >= ${min} (got ${formatValue(v)})`;
  return z.array(
    z
      .number({
        error: (i) => (typeof i.input === 'number' ? range(i.input) : `must be a number (got ${formatValue(i.input)})`),
      })
      .int({ error: (i) => range(i.input) })
      .min(min, { error: (i) => range(i.input) })
      .max(2 ** 31 - 1, { error: (i) => range(i.input) }),
    { error: (i) => `must be an array of integers (got ${formatValue(i.input)})` },
  );
};

const builderOptions = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, { error: (i) => `must be an object (got ${formatValue(i.input)})` });

const mlpOptionsSchema = builderOptions({
  input: z.union([positiveInt(), intList(1)], {
    error: (i) => `must be a number or an array of integers (got ${formatValue(i.input)})`,
  }),
  hidden: intList(1),
  outputs: positiveInt(),
  activation: kindName(['relu', 'tanh', 'gelu']).optional(),
  loss: kindName(kinds.losses).optional(),
});

const smallCnnOptionsSchema = builderOptions({
  input: intList(1).optional(),
  channels: intList(1)
    .refine((c) => c.length === 2, {
      error: (i) => `must hold 2 channel counts (got ${(i.input as unknown[]).length})`,
    })
    .optional(),
  hidden: positiveInt().optional(),
  outputs: positiveInt().optional(),
});

const resnetOptionsSchema = builderOptions({
  input: intList(1).optional(),
  width: positiveInt(2 ** 20).optional(),
  // 0 blocks in a stage is allowed (a shallower net); -1 or 1.5 is an error, not 0 or 2 blocks.
  blocks: intList(0)
    .max(8, { error: (i) => `must list at most 8 stages (got ${(i.input as unknown[]).length})` })
    .optional(),
  outputs: positiveInt().optional(),
  batchnorm: boolean().optional(),
});

/** Multi-layer perceptron: input → (dense(h) → activation)* → dense(outputs). */
export function mlp(options: {
  input: number | number[];
  hidden: number[];
  outputs: number;
  activation?: 'relu' | 'tanh' | 'gelu';
  loss?: LossName;
}): ModelSpec {
  const o = parseNamed(mlpOptionsSchema, options, 'mlp(options)');
  const activation = o.activation ?? 'relu';
  const layers: LayerSpec[] = [];
  for (const units of o.hidden) layers.push({ type: 'dense', units }, { type: activation });
  layers.push({ type: 'dense', units: o.outputs });
  return {
    input: Array.isArray(o.input) ? o.input : [o.input],
    layers,
    loss: o.loss ?? 'softmax-cross-entropy',
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
  const o = parseNamed(smallCnnOptionsSchema, options, 'smallCnn(options)');
  const [c1, c2] = o.channels ?? [32, 64];
  return {
    input: o.input ?? [1, 28, 28],
    layers: [
      { type: 'conv2d', units: c1, kernel: 3 },
      { type: 'relu' },
      { type: 'conv2d', units: c2, kernel: 3 },
      { type: 'relu' },
      { type: 'maxpool', kernel: 2, stride: 2 },
      { type: 'dense', units: o.hidden ?? 128 },
      { type: 'relu' },
      { type: 'dense', units: o.outputs ?? 10 },
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
  const o = parseNamed(resnetOptionsSchema, options, 'resnet(options)');
  const width = o.width ?? 64;
  const blocks = o.blocks ?? [2, 2, 2, 2];
  const batchnorm = o.batchnorm ?? false;
  const layers: LayerSpec[] = [{ type: 'conv2d', units: width, kernel: 3, padding: 1 }];
  if (batchnorm) layers.push({ type: 'batchnorm' });
  layers.push({ type: 'relu' });
  blocks.forEach((count, stage) => {
    for (let b = 0; b < count; b++) {
      layers.push({ type: 'resblock', units: width * 2 ** stage, stride: stage > 0 && b === 0 ? 2 : 1, batchnorm });
    }
  });
  layers.push({ type: 'globalavgpool' }, { type: 'dense', units: o.outputs ?? 10 });
  return { input: o.input ?? [3, 32, 32], layers, loss: 'softmax-cross-entropy' };
}
