/** Benchmark cases shared by the bigstep runner and (by name) the PyTorch peer in torch_bench.py. */
import { mlp, resnet, smallCnn, type ModelSpec } from '../src/index.js';

/** [M, N, K, transA, transB, beta] of one sgemm call (row-major, as native/gemm.h). */
export type GemmShape = [number, number, number, number, number, number];

export interface BenchCase {
  name: string;
  spec: ModelSpec;
  /** Examples per step; with `full`, the whole data set (gradient descent). */
  batch: number;
  full?: boolean;
  /** Multiply-adds ×2 of one forward pass per example (training ≈ 3× this). */
  forwardFlopsPerExample: number;
  /** The sgemm calls of one training step (dense nets only): the "ceiling" the step is compared with. */
  gemms?: GemmShape[];
  /** Timed repeats per child (default 7); fewer for cases of seconds per step (1 warm-up step then). */
  repeats?: number;
}

const mlpFlops = 2 * (784 * 1024 + 1024 * 1024 + 1024 * 10);
// conv1: 26·26 outputs × 32 ch × 9; conv2: 24·24 × 64 × 32·9; fc1: 12·12·64 × 128; fc2: 128 × 10
const cnnFlops = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 12 * 12 * 64 * 128 + 128 * 10);

/**
 * sgemm calls of one MLP training step with plain SGD, exactly as native/kernels.cpp and
 * Model::sgd_step issue them: up to 256 examples the weight update is fused into the dW GEMM
 * (beta = 1 into W), above that dW is written (beta = 0) and a separate pass updates W.
 */
export function mlpGemms(sizes: number[], batch: number): GemmShape[] {
  const out: GemmShape[] = [];
  const fused = batch <= 256 ? 1 : 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const I = sizes[l], O = sizes[l + 1], N = batch;
    out.push([N, O, I, 0, 1, 0]); // forward: out = in · Wᵀ
    out.push([O, I, N, 1, 0, fused]); // dW = doutᵀ · in, or W += -η·doutᵀ · in
    if (l > 0) out.push([N, I, O, 0, 0, 0]); // din = dout · W (not for the first layer)
  }
  return out;
}

/** Forward multiply-adds ×2 per example of resnet({ width, blocks: [2,2,2,2] }) on 32×32×3. */
function resnetFlops(w: number): number {
  let flops = 2 * 32 * 32 * w * 3 * 9; // stem
  let c = w, hw = 32;
  for (let stage = 0; stage < 4; stage++) {
    const u = w * 2 ** stage;
    for (let b = 0; b < 2; b++) {
      const s = stage > 0 && b === 0 ? 2 : 1;
      const ohw = hw / s;
      flops += 2 * ohw * ohw * u * c * 9 + 2 * ohw * ohw * u * u * 9;
      if (s !== 1 || c !== u) flops += 2 * ohw * ohw * u * c;
      c = u;
      hw = ohw;
    }
  }
  return flops + 2 * c * 10;
}

// The same network as the PyTorch peer: smallCnn()'s maxpool is 2×2 with stride 2 like MaxPool2d(2)
// (a 12×12×64 pool output; pools without `stride` default to stride = kernel).
const cnnSpec: ModelSpec = smallCnn();

const mlpSpec = mlp({ input: 784, hidden: [1024, 1024], outputs: 10 });
const mlpSizes = [784, 1024, 1024, 10];

export const benchCases: BenchCase[] = [
  { name: 'mlp-784-1024-1024-10/b128', spec: mlpSpec, batch: 128, forwardFlopsPerExample: mlpFlops, gemms: mlpGemms(mlpSizes, 128) },
  { name: 'mlp-784-1024-1024-10/b1024', spec: mlpSpec, batch: 1024, forwardFlopsPerExample: mlpFlops, gemms: mlpGemms(mlpSizes, 1024) },
  { name: 'mlp-784-1024-1024-10/gd10000', spec: mlpSpec, batch: 10000, full: true, forwardFlopsPerExample: mlpFlops, gemms: mlpGemms(mlpSizes, 10000) },
  { name: 'small-cnn-28x28/b128', spec: cnnSpec, batch: 128, forwardFlopsPerExample: cnnFlops },
  // ResNet-18 layout without batch norm at 1/4 width (16-32-64-128 channels): the repeated case.
  { name: 'resnet18-nobn-w16-32x32/b128', spec: resnet({ width: 16 }), batch: 128, forwardFlopsPerExample: resnetFlops(16) },
  // The paper's width, to size the paper preset (time per step and peak RSS): a few steps only.
  { name: 'resnet18-nobn-w64-32x32/b128', spec: resnet({ width: 64 }), batch: 128, forwardFlopsPerExample: resnetFlops(64), repeats: 3 },
];
