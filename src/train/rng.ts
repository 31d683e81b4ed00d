/**
 * Seeds the native xoshiro256** streams (see native/rng.h) from a run seed, bit-identically to
 * Rng::seed_state, so the state can live in TS-owned arrays and be checkpointed.
 */
export const RNG_STREAM = { init: 0n, data: 1n, augment: 2n, noise: 3n } as const;

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: { x: bigint }): bigint {
  state.x = (state.x + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.x;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** The 4-word state of stream `stream` for run seed `seed`. */
export function seedRngState(seed: number, stream: bigint): BigUint64Array {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`seed must be a non-negative safe integer (got ${seed})`);
  const s = { x: (BigInt(seed) ^ ((0xd1b54a32d192ed03n * (stream + 1n)) & MASK64)) & MASK64 };
  const out = new BigUint64Array(4);
  for (let i = 0; i < 4; i++) out[i] = splitmix64(s);
  if (out.every((w) => w === 0n)) out[0] = 1n;
  return out;
}
