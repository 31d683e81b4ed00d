/**
 * Seeded, explicit-state pseudo-random numbers for the TypeScript layer.
 *
 * The generator is xoshiro256** seeded through splitmix64, bit-for-bit the same algorithm as
 * `native/rng.h` (`Rng::seed_state(seed, stream)`, `next_u64`, `uniform`, `below`, `normal`), so
 * a stream started from the same (seed, stream) pair yields the same 64-bit words in TS and C++.
 *
 * The state is 4 × uint64 held in a `Uint32Array(8)` as (low, high) pairs, i.e. the same bytes as
 * a `uint64_t[4]` on a little-endian machine. It can be copied out with {@link Rng.state} and
 * restored with {@link Rng.fromState}, so it can be checkpointed with a run.
 *
 * Arithmetic is done in 32-bit halves (no BigInt on the hot path), so results are identical on
 * every platform. `normal()` uses `Math.log`/`Math.cos`, which V8 implements with its own
 * fdlibm port, so it is deterministic across platforms too.
 */

const MASK64 = (1n << 64n) - 1n;

/** A seed: a non-negative safe integer or a bigint in [0, 2^64). */
export type Seed = number | bigint;

/** Validates and converts a seed to a 64-bit bigint. Throws a parameter-named error. */
export function seedToBigInt(seed: Seed, param = 'seed'): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MASK64) throw new RangeError(`${param} must be in [0, 2^64), got ${seed}`);
    return seed;
  }
  if (typeof seed !== 'number') {
    throw new TypeError(`${param} must be a non-negative integer or bigint, got ${typeof seed}`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`${param} must be a non-negative safe integer, got ${seed}`);
  }
  return BigInt(seed);
}

/** One splitmix64 step on a bigint state; returns [output, newState]. */
export function splitmix64(x: bigint): [bigint, bigint] {
  const s = (x + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [z ^ (z >> 31n), s];
}

/** xoshiro256** generator with explicit, copyable state. */
export class Rng {
  /** (lo, hi) pairs of the four 64-bit state words. */
  private readonly s: Uint32Array;

  private constructor(state: Uint32Array) {
    this.s = state;
  }

  /**
   * A generator for `stream` of `seed`, exactly like `Rng::seed_state(state, seed, stream)` in
   * native/rng.h: x = seed ^ (0xD1B54A32D192ED03 * (stream + 1)), four splitmix64 outputs.
   */
  static fromSeed(seed: Seed, stream: Seed = 0): Rng {
    const sd = seedToBigInt(seed, 'seed');
    const st = seedToBigInt(stream, 'stream');
    let x = sd ^ ((0xd1b54a32d192ed03n * (st + 1n)) & MASK64);
    const state = new Uint32Array(8);
    let any = 0n;
    for (let i = 0; i < 4; i++) {
      const [out, next] = splitmix64(x);
      x = next;
      any |= out;
      state[2 * i] = Number(out & 0xffffffffn);
      state[2 * i + 1] = Number(out >> 32n);
    }
    if (any === 0n) state[0] = 1;
    return new Rng(state);
  }

  /** Restores a generator from a copy of {@link Rng.state} (8 uint32 words, not all zero). */
  static fromState(state: Uint32Array): Rng {
    if (!(state instanceof Uint32Array) || state.length !== 8) {
      throw new TypeError('state must be a Uint32Array of length 8');
    }
    if (state.every((w) => w === 0)) throw new RangeError('state must not be all zero');
    return new Rng(state.slice());
  }

  /** A copy of the state (8 uint32 words: lo, hi of s[0..3]). */
  get state(): Uint32Array {
    return this.s.slice();
  }

  /** An independent copy of this generator. */
  clone(): Rng {
    return new Rng(this.s.slice());
  }

  /** Advances the state; returns the 64-bit output as [lo, hi] uint32 halves in `out`. */
  private step(out: Uint32Array | null): void {
    const s = this.s;
    const s0l = s[0]!,
      s0h = s[1]!,
      s1l = s[2]!,
      s1h = s[3]!;
    const s2l = s[4]!,
      s2h = s[5]!,
      s3l = s[6]!,
      s3h = s[7]!;
    if (out !== null) {
      // r = rotl(s1 * 5, 7) * 9   (all mod 2^64)
      // s1 * 5 = (s1 << 2) + s1
      let al = (s1l << 2) >>> 0;
      let ah = ((s1h << 2) | (s1l >>> 30)) >>> 0;
      let lo = al + s1l;
      let hi = (ah + s1h + (lo > 0xffffffff ? 1 : 0)) >>> 0;
      lo >>>= 0;
      // rotl 7
      const rl = ((lo << 7) | (hi >>> 25)) >>> 0;
      const rh = ((hi << 7) | (lo >>> 25)) >>> 0;
      // * 9 = (r << 3) + r
      al = (rl << 3) >>> 0;
      ah = ((rh << 3) | (rl >>> 29)) >>> 0;
      lo = al + rl;
      hi = (ah + rh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
      out[0] = lo >>> 0;
      out[1] = hi;
    }
    // t = s1 << 17
    const tl = (s1l << 17) >>> 0;
    const th = ((s1h << 17) | (s1l >>> 15)) >>> 0;
    const n2l = (s2l ^ s0l) >>> 0,
      n2h = (s2h ^ s0h) >>> 0; // s2 ^= s0
    const n3l = (s3l ^ s1l) >>> 0,
      n3h = (s3h ^ s1h) >>> 0; // s3 ^= s1
    const n1l = (s1l ^ n2l) >>> 0,
      n1h = (s1h ^ n2h) >>> 0; // s1 ^= s2
    const n0l = (s0l ^ n3l) >>> 0,
      n0h = (s0h ^ n3h) >>> 0; // s0 ^= s3
    const m2l = (n2l ^ tl) >>> 0,
      m2h = (n2h ^ th) >>> 0; // s2 ^= t
    // s3 = rotl(s3, 45) = rotl(swap halves, 13)
    const m3l = ((n3h << 13) | (n3l >>> 19)) >>> 0;
    const m3h = ((n3l << 13) | (n3h >>> 19)) >>> 0;
    s[0] = n0l;
    s[1] = n0h;
    s[2] = n1l;
    s[3] = n1h;
    s[4] = m2l;
    s[5] = m2h;
    s[6] = m3l;
    s[7] = m3h;
  }

  private readonly buf = new Uint32Array(2);

  /** Next 64-bit output as a bigint (slow; for tests and cross-checks). */
  nextU64(): bigint {
    this.step(this.buf);
    return (BigInt(this.buf[1]!) << 32n) | BigInt(this.buf[0]!);
  }

  /** The high 32 bits of the next 64-bit output. */
  nextU32(): number {
    this.step(this.buf);
    return this.buf[1]!;
  }

  /** Uniform double in [0, 1) from the top 53 bits, exactly as `Rng::uniform()` in C++. */
  uniform(): number {
    this.step(this.buf);
    // (x >> 11) * 2^-53 with x = hi·2^32 + lo  →  (hi·2^21 + (lo >>> 11)) · 2^-53
    return (this.buf[1]! * 2097152 + (this.buf[0]! >>> 11)) * 1.1102230246251565e-16;
  }

  /**
   * Uniform integer in [0, n) without modulo bias (Lemire's method), the same draws as
   * `Rng::below(n)` in C++. `n` must be a positive safe integer.
   */
  below(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`n must be a positive safe integer, got ${n}`);
    const bn = BigInt(n);
    let m = this.nextU64() * bn;
    let low = m & MASK64;
    if (low < bn) {
      const threshold = (MASK64 + 1n - bn) % bn;
      while (low < threshold) {
        m = this.nextU64() * bn;
        low = m & MASK64;
      }
    }
    return Number(m >> 64n);
  }

  /** Standard normal via Box–Muller, one draw per call (two uniforms), as `Rng::normal()`. */
  normal(): number {
    let u1 = this.uniform();
    const u2 = this.uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(6.283185307179586 * u2);
  }

  /**
   * Standard normal by the ziggurat method, the same algorithm, word layout and table rules as
   * `normal_ziggurat()` in native/ziggurat.h (the native noise transform's draws). The tables are
   * built here with V8's `Math.exp`/`Math.log`, which can differ from the C library's in the last
   * bit, so a draw matches the native one to float64 rounding (and takes the same branch except
   * with probability ~2⁻⁵²). The number of words a draw consumes varies.
   */
  normalZiggurat(): number {
    const z = zigguratTables();
    for (;;) {
      this.step(this.buf);
      const lo = this.buf[0]!;
      const hi = this.buf[1]!;
      const layer = lo & 0xff;
      const negative = ((lo >>> 8) & 1) === 1;
      // Bits 9–60 of the word: 23 from the low half, 29 from the high half (exact in a double).
      const abscissa = (hi & 0x1fffffff) * 8388608 + (lo >>> 9);
      let x = abscissa * z.w[layer]!;
      if (abscissa < z.k[layer]!) return negative ? -x : x;
      if (layer === 0) {
        let tail: number, e: number;
        do {
          tail = -Math.log(1 - this.uniform()) / ZIGGURAT_R;
          e = -Math.log(1 - this.uniform());
        } while (e + e < tail * tail);
        x = ZIGGURAT_R + tail;
        return negative ? -x : x;
      }
      if (z.f[layer]! + this.uniform() * (z.f[layer - 1]! - z.f[layer]!) < Math.exp(-0.5 * x * x))
        return negative ? -x : x;
    }
  }

  /** Fisher–Yates shuffle in place (j = below(i + 1) for i from the end). Returns `a`. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1 as an Int32Array. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

// ---- ziggurat tables (native/ziggurat.h: 256 layers of area V, the base layer's edge at R) ----

const ZIGGURAT_R = 3.6541528853610088;
const ZIGGURAT_V = 0.00492867323399;
let ziggurat: { k: Float64Array; w: Float64Array; f: Float64Array } | null = null;

function zigguratTables(): { k: Float64Array; w: Float64Array; f: Float64Array } {
  if (ziggurat) return ziggurat;
  const n = 256;
  const m = 2 ** 52;
  const k = new Float64Array(n);
  const w = new Float64Array(n);
  const f = new Float64Array(n);
  let x = ZIGGURAT_R;
  let outer = x;
  const q = ZIGGURAT_V / Math.exp(-0.5 * x * x);
  k[0] = Math.floor((x / q) * m);
  k[1] = 0;
  w[0] = q / m;
  w[n - 1] = x / m;
  f[0] = 1;
  f[n - 1] = Math.exp(-0.5 * x * x);
  for (let i = n - 2; i >= 1; i--) {
    x = Math.sqrt(-2 * Math.log(ZIGGURAT_V / x + Math.exp(-0.5 * x * x)));
    k[i + 1] = Math.floor((x / outer) * m);
    outer = x;
    f[i] = Math.exp(-0.5 * x * x);
    w[i] = x / m;
  }
  return (ziggurat = { k, w, f });
}
