/**
 * Closeness of numeric arrays for the numerical tests: one `expectClose` whose failure names the
 * worst element, and the two error norms the tests report (max-abs and L2, both relative).
 */
import { expect } from 'chai';

/**
 * Element i may differ from `want[i]` by `abs + rel·|want[i]| + relToMax·max|want|`:
 * `rel` for per-element relative error, `relToMax` to judge small components against the
 * array's magnitude (gradients with near-zero entries), `abs` as a floor.
 */
export interface Tolerance {
  abs?: number;
  rel?: number;
  relToMax?: number;
}

/** Fails (naming `what`, the worst index, both values and the allowance) unless every element of `got` is within `tol` of `want`. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, what = 'values'): void {
  expect(got.length, `${what}: length`).to.equal(want.length);
  const { abs = 0, rel = 0, relToMax = 0 } = tol;
  let maxWant = 0;
  for (let i = 0; i < want.length; i++) maxWant = Math.max(maxWant, Math.abs(want[i]));
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const allowed = abs + rel * Math.abs(want[i]) + relToMax * maxWant;
    const diff = Math.abs(got[i] - want[i]);
    // NaN in either array fails: the comparison below is false for NaN.
    const excess = diff <= allowed ? 0 : Number.isNaN(diff) ? Infinity : diff / (allowed || Number.MIN_VALUE);
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    const allowed = abs + rel * Math.abs(want[worst]) + relToMax * maxWant;
    expect.fail(
      `${what}: element ${worst} is ${got[worst]}, want ${want[worst]} (off by ${Math.abs(got[worst] - want[worst])}, allowed ${allowed})`,
    );
  }
}

/** max |a − b| / (1 + max |b|): the error of a trajectory against its reference. */
export function relErrorMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / (1 + scale);
}

/** ‖a − b‖₂ / ‖b‖₂: the error of a whole vector (e.g. a Hessian-vector product). */
export function relErrorL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(e / s);
}
