/** Benchmark cases shared by the bigstep runner and (by name) the PyTorch peer in torch_bench.py. */
import { mlp, smallCnn, type ModelSpec } from '../src/index.js';

export interface BenchCase {
  name: string;
  spec: ModelSpec;
  batch: number;
  /** Multiply-adds ×2 of one forward pass per example (training ≈ 3× this). */
  forwardFlopsPerExample: number;
}

const mlpFlops = 2 * (784 * 1024 + 1024 * 1024 + 1024 * 10);
// conv1: 26·26 outputs × 32 ch × 9; conv2: 24·24 × 64 × 32·9; fc1: 12·12·64 × 128; fc2: 128 × 10
const cnnFlops = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 12 * 12 * 64 * 128 + 128 * 10);

export const benchCases: BenchCase[] = [
  { name: 'mlp-784-1024-1024-10/b128', spec: mlp({ input: 784, hidden: [1024, 1024], outputs: 10 }), batch: 128, forwardFlopsPerExample: mlpFlops },
  { name: 'mlp-784-1024-1024-10/b1024', spec: mlp({ input: 784, hidden: [1024, 1024], outputs: 10 }), batch: 1024, forwardFlopsPerExample: mlpFlops },
  { name: 'small-cnn-28x28/b128', spec: smallCnn(), batch: 128, forwardFlopsPerExample: cnnFlops },
];
