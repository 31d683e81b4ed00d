import { expect } from 'chai';

import { gemmBench } from '../../src/index.js';

describe('gemmBench (the bench ceiling)', () => {
  it('times [M, N, K, tA, tB] and [M, N, K, tA, tB, beta] shapes: one positive time per shape', () => {
    const t = gemmBench(
      [
        [8, 16, 4, 0, 1],
        [16, 8, 4, 1, 0, 1],
      ],
      0.05,
    );
    expect(t).to.have.length(2);
    for (const v of t) expect(v).to.be.greaterThan(0).and.lessThan(1);
  });

  it('beta other than 0 or 1 → RangeError naming shapes[5]', () => {
    expect(() => gemmBench([[8, 8, 8, 0, 0, 0.5]], 0.05)).to.throw(RangeError, 'shapes[5]');
  });
});
