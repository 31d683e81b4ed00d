import { expect } from 'chai';

import { DEFAULT_CASES, QUICK_CASES, allCases, stepGemms, trainCases, type GemmShape } from '../../src/bench/cases.js';

const flops = (shapes: GemmShape[]): number => shapes.reduce((f, [M, N, K]) => f + 2 * M * N * K, 0);

describe('bench cases', () => {
  it('names are unique, and the quick and default sets name existing cases', () => {
    const names = allCases.map((c) => c.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const n of [...QUICK_CASES, ...DEFAULT_CASES]) expect(names).to.include(n);
  });

  it('stepGemms of a dense net: forward, weight gradient and input gradient (none for the first layer) = 3 × forward − first layer', () => {
    const layers = [{ dense: [784, 1024] }, { dense: [1024, 1024] }, { dense: [1024, 10] }] as const;
    const first = 2 * 784 * 1024;
    const forward = first + 2 * 1024 * 1024 + 2 * 1024 * 10;
    for (const batch of [128, 1024]) {
      const g = stepGemms(
        layers.map((l) => ({ dense: [...l.dense] as [number, number] })),
        batch,
      );
      expect(g).to.have.length(8);
      expect(flops(g)).to.equal(batch * (3 * forward - first));
      // The fused SGD update accumulates into W (beta = 1) up to 256 examples only.
      expect(g[1][5]).to.equal(batch <= 256 ? 1 : 0);
    }
  });

  it('stepGemms of a convolution: the im2col GEMMs, split so no dimension exceeds 65536, with the same flops', () => {
    // 3 → 16 channels, 3×3, 32×32 outputs at batch 128: P = 131072 rows, above the 65536 gemmBench takes.
    const g = stepGemms([{ dense: [4, 4] }, { conv: [3, 16, 3, 32] }], 128);
    for (const [M, N, K] of g) expect(Math.max(M, N, K)).to.be.at.most(65536);
    const P = 128 * 32 * 32,
      I = 3 * 9,
      O = 16;
    expect(flops(g)).to.equal(2 * 4 * 4 * 128 * 2 + 3 * 2 * P * I * O);
    // Pieces of the weight gradient after the first accumulate into it.
    const dW = g.filter(([M, N]) => M === O && N === I);
    expect(dW.map((s) => s[5])).to.deep.equal([0, 1]);
  });

  it('every training case carries the sgemm calls of its step', () => {
    for (const c of trainCases) {
      expect(c.gemms.length, c.name).to.be.greaterThan(0);
      // Dense/conv GEMMs are at most the 3 × forward flops the GFLOP/s counts.
      expect(flops(c.gemms) / c.batch, c.name).to.be.at.most(3 * c.forwardFlopsPerExample + 1e-6);
    }
  });
});
