/** HVP bench cases (issue 15), shared by bench/hvp-one.ts and, by name, torch_bench.py. */
import { mlp, resnet, smallCnn, type ModelSpec } from '../src/index.js';

export interface HvpCase {
  /** "hvp-<model>/n<examples>": torch_bench.py builds the same model from the name. */
  name: string;
  spec: ModelSpec;
  /** Examples the loss (and so the Hessian) is the mean over. */
  n: number;
}

export const hvpCases: HvpCase[] = [
  { name: 'hvp-mlp-784-128-10/n1000', spec: mlp({ input: 784, hidden: [128], outputs: 10 }), n: 1000 },
  { name: 'hvp-small-cnn-28x28/n500', spec: smallCnn(), n: 500 },
  { name: 'hvp-resnet18-nobn-w16-32x32/n256', spec: resnet({ width: 16 }), n: 256 },
];
