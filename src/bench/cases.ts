/**
 * The benchmark cases of `bigstep bench` and of the developers' bench (`npm run bench`, which
 * also runs the PyTorch peer bench/torch_bench.py on the same cases, matched by name):
 * training steps (model × batch), exact Hessian-vector products with one λ_max run, and the E1
 * particle sweep. Each training case lists the sgemm calls its step amounts to, the "sgemm
 * ceiling" its time is compared with.
 */
import { mlp, resnet, smallCnn, type ModelSpec } from '../model/spec.js';

/** [M, N, K, transA, transB, beta] of one sgemm call (row-major, as native/gemm.h). */
export type GemmShape = [number, number, number, number, number, number];

export interface TrainCase {
  kind: 'train';
  name: string;
  spec: ModelSpec;
  /** Examples per step; with `full`, the whole data set (gradient descent). */
  batch: number;
  full?: boolean;
  /** Multiply-adds ×2 of one forward pass per example (a training step ≈ 3× this). */
  forwardFlopsPerExample: number;
  /**
   * The sgemm calls one training step amounts to: dense layers exactly as native/kernels.cpp
   * issues them; convolutions as the im2col GEMMs of the same layer (bigstep runs them as
   * implicit GEMM in its own kernels, so this is the roof of an im2col + BLAS implementation).
   */
  gemms: GemmShape[];
  /** Timed repeats per measurement (default 7); fewer for cases of seconds per step. */
  repeats?: number;
}

export interface HvpCase {
  kind: 'hvp';
  /** "hvp-<model>/n<examples>": torch_bench.py builds the same model from the name. */
  name: string;
  spec: ModelSpec;
  /** Examples the loss (and so the Hessian) is the mean over. */
  n: number;
  /** Flops per example of one H·v product, counted as the R-operator's GEMM-shaped work (`hvpFlops`). */
  flopsPerExample: number;
}

export interface LandscapeCase {
  kind: 'landscape';
  /** "e1-<instance>/N<particles>xT<steps>". */
  name: string;
  instance: { kind: 'paper-1d' } | { kind: 'compact'; dim: number; dips: number; seed: number; separation: number };
  /** Particles (starts) and GD steps each takes (γ is small enough that none stops early). */
  particles: number;
  steps: number;
  eta: number;
}

export type BenchCase = TrainCase | HvpCase | LandscapeCase;

/** Flops of a list of layers, as in the cases below: dense (in → out) and conv (cin → cout, k×k, output ohw × ohw). */
type Layer = { dense: [number, number] } | { conv: [number, number, number, number] };

function forwardFlops(layers: Layer[]): number {
  let f = 0;
  for (const l of layers) {
    if ('dense' in l) f += 2 * l.dense[0] * l.dense[1];
    else {
      const [cin, cout, k, ohw] = l.conv;
      f += 2 * ohw * ohw * cout * cin * k * k;
    }
  }
  return f;
}

/**
 * Flops per example of one exact H·v product (native/hvp.cpp, forward-over-reverse): per layer with
 * weights, the forward product and its tangent (W·x, V·x, W·Rx) and, backwards, the tangent of the
 * weight gradient (Rg·xᵀ, g·Rxᵀ) and of the input gradient (g·W, Rg·W, g·V): 8 products of the
 * layer's forward size; the first layer has no input tangent and no input gradient: 3. Pools,
 * activations and the loss are not counted.
 */
function hvpFlops(layers: Layer[]): number {
  return layers.reduce((f, l, i) => f + (i === 0 ? 3 : 8) * forwardFlops([l]), 0);
}

/** The largest M, N or K gemmBench takes (binding/gemm_bench.cpp). */
const MAX_DIM = 65536;

/** Splits a shape with M or K above MAX_DIM into pieces of the same total flops (K pieces after the first accumulate, beta = 1). */
function capped(s: GemmShape): GemmShape[] {
  const [M, N, K, ta, tb, beta] = s;
  const out: GemmShape[] = [];
  for (let m = 0; m < M; m += MAX_DIM)
    for (let k = 0; k < K; k += MAX_DIM)
      out.push([Math.min(MAX_DIM, M - m), N, Math.min(MAX_DIM, K - k), ta, tb, k === 0 ? beta : 1]);
  return out;
}

/**
 * sgemm calls of one training step of `layers` at `batch` with plain SGD. Dense layers exactly as
 * native/kernels.cpp and Model::sgd_step issue them: up to 256 examples the weight update is fused
 * into the dW GEMM (beta = 1 into W), above that dW is written (beta = 0). Convolutions as im2col
 * GEMMs: out[P, Cout] = cols[P, Cin·k²]·Wᵀ, dW = doutᵀ·cols, dcols = dout·W, P = batch·ohw².
 * The first layer computes no input gradient.
 */
export function stepGemms(layers: Layer[], batch: number): GemmShape[] {
  const out: GemmShape[] = [];
  const fused = batch <= 256 ? 1 : 0;
  layers.forEach((l, i) => {
    const [P, I, O] =
      'dense' in l ? [batch, l.dense[0], l.dense[1]] : [batch * l.conv[3] ** 2, l.conv[0] * l.conv[2] ** 2, l.conv[1]];
    out.push([P, O, I, 0, 1, 0]); // forward
    out.push([O, I, P, 1, 0, 'dense' in l ? fused : 0]); // weight gradient (fused update for small dense batches)
    if (i > 0) out.push([P, I, O, 0, 0, 0]); // input gradient
  });
  return out.flatMap(capped);
}

/** The dense layers of an MLP with these sizes. */
function mlpLayers(sizes: number[]): Layer[] {
  return sizes.slice(1).map((o, i) => ({ dense: [sizes[i], o] }));
}

/** Conv and dense layers of resnet({ width, blocks: [2,2,2,2] }) on 32×32×3 (no batch norm). */
function resnetLayers(w: number): Layer[] {
  const layers: Layer[] = [{ conv: [3, w, 3, 32] }];
  let c = w,
    hw = 32;
  for (let stage = 0; stage < 4; stage++) {
    const u = w * 2 ** stage;
    for (let b = 0; b < 2; b++) {
      const s = stage > 0 && b === 0 ? 2 : 1;
      const ohw = hw / s;
      layers.push({ conv: [c, u, 3, ohw] }, { conv: [u, u, 3, ohw] });
      if (s !== 1 || c !== u) layers.push({ conv: [c, u, 1, ohw] });
      c = u;
      hw = ohw;
    }
  }
  layers.push({ dense: [c, 10] });
  return layers;
}

// smallCnn(): conv 1→32 (26×26), conv 32→64 (24×24), 2×2 max pool, dense 12·12·64 → 128 → 10.
const cnnLayers: Layer[] = [
  { conv: [1, 32, 3, 26] },
  { conv: [32, 64, 3, 24] },
  { dense: [12 * 12 * 64, 128] },
  { dense: [128, 10] },
];

function train(
  name: string,
  spec: ModelSpec,
  layers: Layer[],
  batch: number,
  extra: Partial<TrainCase> = {},
): TrainCase {
  return {
    kind: 'train',
    name,
    spec,
    batch,
    forwardFlopsPerExample: forwardFlops(layers),
    gemms: stepGemms(layers, batch),
    ...extra,
  };
}

const bigMlp = mlp({ input: 784, hidden: [1024, 1024], outputs: 10 });
const bigMlpLayers = mlpLayers([784, 1024, 1024, 10]);

/** Training cases, in the order they run. */
export const trainCases: TrainCase[] = [
  // A small net: the tiny case of tests and of `bigstep bench --cases` on a slow node.
  train('mlp-784-128-10/b128', mlp({ input: 784, hidden: [128], outputs: 10 }), mlpLayers([784, 128, 10]), 128),
  train('mlp-784-1024-1024-10/b128', bigMlp, bigMlpLayers, 128),
  train('mlp-784-1024-1024-10/b1024', bigMlp, bigMlpLayers, 1024),
  train('mlp-784-1024-1024-10/gd10000', bigMlp, bigMlpLayers, 10000, { full: true }),
  train('small-cnn-28x28/b128', smallCnn(), cnnLayers, 128),
  // ResNet-18 layout without batch norm at 1/4 width (16-32-64-128 channels): the repeated case.
  train('resnet18-nobn-w16-32x32/b128', resnet({ width: 16 }), resnetLayers(16), 128),
  // The paper's width, to size the paper preset (time per step and peak RSS): a few steps only.
  train('resnet18-nobn-w64-32x32/b128', resnet({ width: 64 }), resnetLayers(64), 128, { repeats: 3 }),
];

/** HVP cases (one product = H·v of the mean loss over n examples, plus one λ_max run). */
export const hvpCases: HvpCase[] = [
  {
    kind: 'hvp',
    name: 'hvp-mlp-784-128-10/n1000',
    spec: mlp({ input: 784, hidden: [128], outputs: 10 }),
    n: 1000,
    flopsPerExample: hvpFlops(mlpLayers([784, 128, 10])),
  },
  { kind: 'hvp', name: 'hvp-small-cnn-28x28/n500', spec: smallCnn(), n: 500, flopsPerExample: hvpFlops(cnnLayers) },
  {
    kind: 'hvp',
    name: 'hvp-resnet18-nobn-w16-32x32/n256',
    spec: resnet({ width: 16 }),
    n: 256,
    flopsPerExample: hvpFlops(resnetLayers(16)),
  },
];

/** The E1 particle sweep (native/landscape.cpp run_gd) on the paper's 1-D illustration and a 5-D family. */
export const landscapeCases: LandscapeCase[] = [
  {
    kind: 'landscape',
    name: 'e1-paper-1d/N20000xT200',
    instance: { kind: 'paper-1d' },
    particles: 20000,
    steps: 200,
    eta: 1e-6,
  },
  {
    kind: 'landscape',
    name: 'e1-compact-5d-16dips/N20000xT200',
    instance: { kind: 'compact', dim: 5, dips: 16, seed: 1, separation: 2 },
    particles: 20000,
    steps: 200,
    eta: 1e-4,
  },
];

export const allCases: BenchCase[] = [...trainCases, ...hvpCases, ...landscapeCases];

/** What `--quick` runs (about a minute on two cores, at 1 thread and every core): a dense net, a conv net, an HVP and the E1 sweep. */
export const QUICK_CASES = [
  'mlp-784-1024-1024-10/b128',
  'small-cnn-28x28/b128',
  'hvp-mlp-784-128-10/n1000',
  'e1-paper-1d/N20000xT200',
];
/** What runs by default (a few minutes): everything but the paper-width ResNet and the largest HVP. */
export const DEFAULT_CASES = allCases
  .map((c) => c.name)
  .filter((n) => n !== 'resnet18-nobn-w64-32x32/b128' && n !== 'hvp-resnet18-nobn-w16-32x32/n256');

export function findCase(name: string): BenchCase | undefined {
  return allCases.find((c) => c.name === name);
}
