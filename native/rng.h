// Explicit, checkpointable random number generation: xoshiro256** seeded through splitmix64.
// The whole state is 4 x uint64 so it can live in a TS-owned BigUint64Array and be saved with a
// run. Separate streams come from one seed via seed_state(state, seed, stream): stream 0 is the
// model's init (Model::init), 1 data order, 2 augmentation, 3 noise (src/train/rng.ts seeds the
// trainer's streams bit-identically).
#pragma once
#include <cmath>
#include <cstdint>

namespace bigstep {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

struct Rng {
  uint64_t* s;  // borrowed state, 4 words

  static void seed_state(uint64_t* state, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1));
    for (int i = 0; i < 4; ++i) state[i] = splitmix64(x);
    if ((state[0] | state[1] | state[2] | state[3]) == 0) state[0] = 1;
  }

  static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  inline uint64_t next_u64() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // Uniform double in [0, 1) with 53 random bits.
  inline double uniform() { return (next_u64() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n) without modulo bias (Lemire's method), n > 0.
  inline uint64_t below(uint64_t n) {
    __uint128_t m = (__uint128_t)next_u64() * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = (__uint128_t)next_u64() * n;
        low = (uint64_t)m;
      }
    }
    return (uint64_t)(m >> 64);
  }

  // Standard normal via Box-Muller; one draw per call (the pair's second value is discarded so
  // the state advance per draw is fixed, which keeps streams easy to reason about).
  inline double normal() {
    double u1 = uniform();
    const double u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

}  // namespace bigstep
