/** test/support/close.ts: expectClose passes within the tolerance and names the worst element when not. */
import { expect } from 'chai';

import { expectClose, relErrorL2, relErrorMax } from './close.js';

function failure(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('expectClose()', () => {
  it('passes when every element is within abs + rel·|want| + relToMax·max|want|', () => {
    expectClose([1, 2.0000001], [1, 2], { rel: 1e-6 });
    expectClose([0.001, 100], [0, 100], { relToMax: 1e-5 });
    expectClose(new Float32Array([0.5]), new Float64Array([0.5000000001]), { abs: 1e-9 });
  });

  it('fails naming the worst element, its values and the allowance', () => {
    const message = failure(() => expectClose([1, 2.1, 3.5], [1, 2, 3], { rel: 0.01 }, 'grads'));
    expect(message).to.contain('grads: element 2 is 3.5, want 3');
    expect(message).to.contain('allowed 0.03');
  });

  it('fails on NaN and on a length mismatch', () => {
    expect(failure(() => expectClose([NaN], [1], { rel: 1 }))).to.contain('element 0 is NaN');
    expect(failure(() => expectClose([1, 2], [1], { rel: 1 }, 'v'))).to.contain('v: length');
  });
});

describe('relErrorMax() / relErrorL2()', () => {
  it('measure max|a − b| / (1 + max|b|) and ‖a − b‖ / ‖b‖', () => {
    expect(relErrorMax([1, 3], [1, 2])).to.equal(1 / 3);
    expect(relErrorL2([3, 0], [0, 4])).to.equal(5 / 4);
  });
});
