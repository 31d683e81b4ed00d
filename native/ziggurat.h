// Standard normal draws by the ziggurat method (Marsaglia & Tsang, "The Ziggurat Method for
// Generating Random Variables", JSS 2000) with 256 layers and a 52-bit abscissa, the layout numpy's
// Generator.standard_normal uses. About 99 % of draws take one 64-bit word, a table lookup and a
// multiply (no log, cos or sqrt), where Rng::normal()'s Box–Muller takes two words, a log, a cos and
// a sqrt per draw. The number of words a draw consumes varies (wedge and tail rejections), so streams
// whose advance must be fixed per draw (model init, the TS mirrors) keep Rng::normal().
// src/util/random.ts (Rng.normalZiggurat) implements the same draws in TypeScript.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "rng.h"

namespace bigstep {

struct ZigguratTables {
  static constexpr int kLayers = 256;
  static constexpr double kTailStart = 3.6541528853610088;      // R: right edge of the base layer
  static constexpr double kLayerArea = 0.00492867323399;        // V: area of every layer
  static constexpr double kAbscissaScale = 4503599627370496.0;  // 2^52, the abscissa's range
  uint64_t k[kLayers];  // draw is inside the layer's rectangle (no test) when abscissa < k[i]
  double w[kLayers];    // abscissa → x: x = abscissa · w[i]
  double f[kLayers];    // density exp(−x_i²/2) at layer i's right edge (f[0] = 1: the peak)

  ZigguratTables() {
    const double m = kAbscissaScale;
    double x = kTailStart, outer = x;
    const double q = kLayerArea / std::exp(-0.5 * x * x);  // the base layer's width (tail folded in)
    k[0] = (uint64_t)((x / q) * m);
    k[1] = 0;
    w[0] = q / m;
    w[kLayers - 1] = x / m;
    f[0] = 1.0;
    f[kLayers - 1] = std::exp(-0.5 * x * x);
    for (int i = kLayers - 2; i >= 1; --i) {
      // The layer with right edge x_{i+1} has area V: x_{i+1}·(f(x_i) − f(x_{i+1})) = V, solved for x_i.
      x = std::sqrt(-2.0 * std::log(kLayerArea / x + std::exp(-0.5 * x * x)));
      k[i + 1] = (uint64_t)((x / outer) * m);
      outer = x;
      f[i] = std::exp(-0.5 * x * x);
      w[i] = x / m;
    }
  }
};

// Built once (thread-safe static); callers hoist the reference out of their loops.
inline const ZigguratTables& ziggurat_tables() {
  static const ZigguratTables tables;
  return tables;
}

// |x| with the sign bit set from `sign` (0 or 1 << 63).
inline double with_sign(double x, uint64_t sign) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  bits |= sign;
  std::memcpy(&x, &bits, sizeof(bits));
  return x;
}

// One N(0, 1) draw from `rng`. Word layout: bits 0–7 the layer, bit 8 the sign, bits 9–60 the
// abscissa (52 bits).
inline double normal_ziggurat(Rng& rng, const ZigguratTables& z) {
  for (;;) {
    const uint64_t word = rng.next_u64();
    const int layer = (int)(word & 0xff);
    const uint64_t sign = (word & 0x100) << 55;  // bit 8 → the double's sign bit (no branch)
    const uint64_t abscissa = (word >> 9) & 0x000fffffffffffffULL;
    const double x = (double)abscissa * z.w[layer];
    if (abscissa < z.k[layer]) return with_sign(x, sign);
    if (layer == 0) {
      // Tail beyond R (Marsaglia 1964): x = R + e₁/R accepted when 2·e₂ > (e₁/R)²; 1 − U ∈ (0, 1].
      double tail, e;
      do {
        tail = -std::log(1.0 - rng.uniform()) / ZigguratTables::kTailStart;
        e = -std::log(1.0 - rng.uniform());
      } while (e + e < tail * tail);
      return with_sign(ZigguratTables::kTailStart + tail, sign);
    }
    // Wedge: accept when a uniform height under the layer falls below the density at x.
    if (z.f[layer] + rng.uniform() * (z.f[layer - 1] - z.f[layer]) < std::exp(-0.5 * x * x)) return with_sign(x, sign);
  }
}

}  // namespace bigstep
