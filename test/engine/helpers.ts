/** Small deterministic fixtures for engine tests (independent of the data layer), and error checks. */
import { expect } from 'chai';

/** Mulberry32: tiny seeded PRNG for fixtures. */
export function fixtureRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = fixtureRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Two Gaussian blobs per class in d dims, linearly separable with margin. */
export function separableBlobs(
  n: number,
  d: number,
  classes: number,
  seed: number,
): { x: Float32Array; y: Int32Array } {
  const r = fixtureRandom(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: d }, () => (r() * 2 - 1) * 4));
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[c][j] + (r() * 2 - 1) * 0.5;
  }
  return { x, y };
}

export function bitwiseEqual(a: Float32Array | Float64Array, b: Float32Array | Float64Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

export type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;

/** `fn` throws an instance of `cls` whose message contains `param` (the field or argument it names). */
export function expectError(fn: () => unknown, cls: ErrorClass, param: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name} naming ${param}`).to.be.instanceOf(cls);
  expect((caught as Error).message).to.contain(param);
}
