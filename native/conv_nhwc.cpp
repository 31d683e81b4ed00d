// Channels-last (NHWC) convolution: the layout the model uses inside convolutional trunks.
// Shapes and contracts are in conv.h; the oracle is the NCHW naive twin applied through the
// layout transposes (kernels_test). Tiles, micro-kernels and weight packing: conv_nhwc_tiles.h.
//
// Convolution without im2col ("implicit GEMM"). Output pixel q reads its K×K×C patch of a
// zero-padded NHWC input at   xp + base[q] + (kh·Wp + kw)·C + c,   so one register-tiled
// micro-kernel computes 6 pixels × 16 output channels, accumulating over (kh, kw, c) with the
// weights packed as [o-block][kh][kw][c][16]. Padding is done per group of images into a
// cache-sized buffer right before the group is used; nothing of size K²× the activation (an
// im2col matrix) is ever written.
//
//   forward          out[q, o] = Σ_(kk,c) xp[base q + tap kk + c] · W[o, c, kk]   (+ b, + residual, relu)
//   din, stride 1    the same kernel on dout padded by K−1−P with the flipped kernel, transposed
//                    ([c-block][kh][kw][o][16]), written straight into din (+ relu mask, accumulate)
//   din, stride > 1  per 6-pixel tile and tap: Σ_o dout[q, o] · W[o, c, kk] scatter-added into a
//                    padded din buffer of the group, whose interior is then copied out
//   dW               dW[o, c, kk] = Σ_q dout[q, o] · xp[base q + tap kk + c]: tiles of MRW (kk, c)
//                    rows × 16 o with the pixel loop inside (a GEMM whose A rows are addressed
//                    through the pixel bases)
//
// Threads: forward and din split the groups of images (a partition of the output), dW splits its
// tiles, and each dW element is summed over pixels in image order by one worker; db is a serial
// sum. So every result is bitwise identical for any thread count.
//
// ISA paths: CMake compiles this file (like every native/*_nhwc.cpp) once per path (baseline,
// avx2, avx512) into the namespaces bigstep::isa_<path>; nhwc_dispatch.cpp forwards the public
// functions to the path chosen at load (isa.h). The avx512 micro-kernels keep the avx2 tiles
// (6 × 16, one 16-float register per row instead of two 8-float halves) except dW, whose tiles
// are 16 rows tall there (more independent FMA chains in its 32 registers); every element is
// summed in the same order on both paths, so they give the same bits. Tails are masked.
#include <algorithm>
#include <cstring>

#if defined(BIGSTEP_ISA_AVX2) || defined(BIGSTEP_ISA_AVX512)
#include <immintrin.h>
#endif

#include "conv.h"
#include "kernels.h"  // column_sums (the bias gradient)
#include "threads.h"
#include "isa_target.h"  // last: the code below is compiled for this object's ISA path

#include "conv_nhwc_tiles.h"  // in this object's ISA path, after the pragma of isa_target.h

namespace bigstep {
namespace BIGSTEP_ISA_NS {

namespace {

// ---- geometry of one call -----------------------------------------------------------------------

// Forward / dW: groups over the input grid.
struct FwdGeo {
  int g, groups;
  size_t pad;  // floats of one padded group (0 when P == 0: the input is read in place)
  FwdGeo(int N, const ConvShape& s, bool dw = false) {
    g = dw ? group_images(N, s.H, s.W, s.C, s.P, (int)s.ohw(), 512, (size_t)96 << 10)
           : group_images(N, s.H, s.W, s.C, s.P, (int)s.ohw());
    groups = (N + g - 1) / g;
    pad = s.P == 0 ? 0 : (size_t)g * (s.H + 2 * s.P) * (s.W + 2 * s.P) * s.C;
  }
};

// din: stride 1 gathers from dout padded by K−1−P (groups over the dout grid); stride > 1
// scatters into a padded din buffer (groups as forward).
struct DinGeo {
  bool gather;
  int Pp, g, groups;
  size_t pad;
  DinGeo(int N, const ConvShape& s) {
    gather = s.S == 1;
    if (gather) {
      Pp = s.K - 1 - s.P;
      g = group_images(N, s.OH, s.OW, s.O, Pp, s.H * s.W);
      pad = Pp == 0 ? 0 : (size_t)g * (s.OH + 2 * Pp) * (s.OW + 2 * Pp) * s.O;
    } else {
      Pp = 0;
      g = group_images(N, s.H, s.W, s.C, s.P, (int)s.ohw());
      pad = (size_t)g * (s.H + 2 * s.P) * (s.W + 2 * s.P) * s.C;
    }
    groups = (N + g - 1) / g;
  }
};

size_t packed_forward_size(const ConvShape& s) { return (size_t)s.K * s.K * s.C * round_up(s.O, NR); }
size_t packed_backward_size(const ConvShape& s) { return (size_t)s.K * s.K * s.O * round_up(s.C, NR); }
int dw_rows(const ConvShape& s) { return s.K * s.K * s.C; }
int dw_ktiles(const ConvShape& s) { return (dw_rows(s) + MRW - 1) / MRW; }
size_t dwt_size(const ConvShape& s) { return (size_t)((s.O + NR - 1) / NR) * dw_ktiles(s) * MRW * NR; }
size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// ---- forward ------------------------------------------------------------------------------------

struct FwdCall {
  const float* in;
  float* out;
  const float* wp;
  const float* bias;
  const float* residual;
  bool relu;
  int N;
  ConvShape s;
  FwdGeo geo;
  float* pads;  // parts × geo.pad
};

void forward_groups(const FwdCall& c, int gb, int ge, float* pad) {
  const ConvShape& s = c.s;
  const int Hq = s.H + 2 * s.P, Wq = s.W + 2 * s.P;
  const long rs = (long)Wq * s.C;
  long base[QCHUNK];
  alignas(64) float tile[MR * NR];
  for (int gi = gb; gi < ge; ++gi) {
    const int n0 = gi * c.geo.g, gn = std::min(c.geo.g, c.N - n0);
    const float* xp = c.in + (size_t)n0 * s.in_size();
    if (s.P > 0) {
      pad_group(pad, xp, gn, s.H, s.W, s.C, s.P);
      xp = pad;
    }
    const int Q = gn * (int)s.ohw();
    float* y = c.out + (size_t)n0 * s.out_size();
    const float* res = c.residual ? c.residual + (size_t)n0 * s.out_size() : nullptr;
    for (int qc = 0; qc < Q; qc += QCHUNK) {
      const int qn = std::min(QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.OH, s.OW, Hq, Wq, s.C, s.S);
      for (int o0 = 0; o0 < s.O; o0 += NR) {
        const int nr = std::min(NR, s.O - o0);
        Epilogue e;
        e.bias = c.bias ? c.bias + o0 : nullptr;
        e.relu = c.relu;
        const float* w = c.wp + (size_t)o0 * s.K * s.K * s.C;
        for (int t = 0; t < qn; t += MR) {
          const int mr = std::min(MR, qn - t);
          const float* a[MR];
          for (int r = 0; r < MR; ++r) a[r] = xp + base[t + std::min(r, mr - 1)];
          gather_tile(a, s.K, rs, s.C, w, tile);
          const size_t at = (size_t)(qc + t) * s.O + o0;
          store_tile(tile, mr, nr, y + at, s.O, res ? res + at : nullptr, nullptr, e);
        }
      }
    }
  }
}

// ---- backward -----------------------------------------------------------------------------------

struct BwdCall {
  const float* dout;
  const float* in;
  float* din;
  const float* wb;
  float* dwt;
  const float* mask;
  bool accumulate;
  int N;
  ConvShape s;
  FwdGeo fgeo;  // dW groups
  DinGeo dgeo;
  const int* roff;  // [ktiles][MRW] offsets of each dW tile row (kk, c) in a padded pixel patch
  float* pads;      // parts × max(fgeo.pad, dgeo.pad)
};

// dW tiles [t0, t1) (in (o-block, k-tile) order), summed over every image in order.
void dw_part(const BwdCall& c, int t0, int t1, float* pad) {
  const ConvShape& s = c.s;
  const int ktiles = dw_ktiles(s);
  const int Hq = s.H + 2 * s.P, Wq = s.W + 2 * s.P;
  long base[DW_QCHUNK];
  const int oblocks = (s.O + NR - 1) / NR;
  float* strips = pad + c.fgeo.pad;  // [o-block][DW_QCHUNK][16]: the chunk's dout, packed
  for (int gi = 0; gi < c.fgeo.groups; ++gi) {
    const int n0 = gi * c.fgeo.g, gn = std::min(c.fgeo.g, c.N - n0);
    const float* xp = c.in + (size_t)n0 * s.in_size();
    if (s.P > 0) {
      pad_group(pad, xp, gn, s.H, s.W, s.C, s.P);
      xp = pad;
    }
    const int Q = gn * (int)s.ohw();
    const float* gd = c.dout + (size_t)n0 * s.out_size();
    for (int qc = 0; qc < Q; qc += DW_QCHUNK) {
      const int qn = std::min(DW_QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.OH, s.OW, Hq, Wq, s.C, s.S);
      // Pack the o-blocks this part touches: contiguous 64-byte rows, zero columns past O.
      const int ob0 = t0 / ktiles, ob1 = std::min(oblocks, (t1 + ktiles - 1) / ktiles);
      for (int q = 0; q < qn; ++q) {
        const float* dq = gd + (size_t)(qc + q) * s.O;
        for (int ob = ob0; ob < ob1; ++ob) {
          float* st = strips + ((size_t)ob * DW_QCHUNK + q) * NR;
          const int o0 = ob * NR, nr = std::min(NR, s.O - o0);
          std::memcpy(st, dq + o0, sizeof(float) * nr);
          for (int j = nr; j < NR; ++j) st[j] = 0.0f;
        }
      }
      for (int t = t0; t < t1; ++t) {
        const int ob = t / ktiles, kt = t % ktiles;
        dw_tile(xp, base, c.roff + (size_t)kt * MRW, qn, strips + (size_t)ob * DW_QCHUNK * NR, NR,
                c.dwt + ((size_t)ob * ktiles + kt) * MRW * NR);
      }
    }
  }
}

void din_gather_groups(const BwdCall& c, int gb, int ge, float* pad) {
  const ConvShape& s = c.s;
  const int Pp = c.dgeo.Pp;
  const int Hq = s.OH + 2 * Pp, Wq = s.OW + 2 * Pp;
  const long rs = (long)Wq * s.O;
  long base[QCHUNK];
  alignas(64) float tile[MR * NR];
  Epilogue e;
  e.accumulate = c.accumulate;
  for (int gi = gb; gi < ge; ++gi) {
    const int n0 = gi * c.dgeo.g, gn = std::min(c.dgeo.g, c.N - n0);
    const float* gp = c.dout + (size_t)n0 * s.out_size();
    if (Pp > 0) {
      pad_group(pad, gp, gn, s.OH, s.OW, s.O, Pp);
      gp = pad;
    }
    const int Q = gn * s.H * s.W;
    float* y = c.din + (size_t)n0 * s.in_size();
    const float* m = c.mask ? c.mask + (size_t)n0 * s.in_size() : nullptr;
    for (int qc = 0; qc < Q; qc += QCHUNK) {
      const int qn = std::min(QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.H, s.W, Hq, Wq, s.O, 1);
      for (int c0 = 0; c0 < s.C; c0 += NR) {
        const int nr = std::min(NR, s.C - c0);
        const float* w = c.wb + (size_t)c0 * s.K * s.K * s.O;
        for (int t = 0; t < qn; t += MR) {
          const int mr = std::min(MR, qn - t);
          const float* a[MR];
          for (int r = 0; r < MR; ++r) a[r] = gp + base[t + std::min(r, mr - 1)];
          gather_tile(a, s.K, rs, s.O, w, tile);
          const size_t at = (size_t)(qc + t) * s.C + c0;
          store_tile(tile, mr, nr, y + at, s.C, nullptr, m ? m + at : nullptr, e);
        }
      }
    }
  }
}

void din_scatter_groups(const BwdCall& c, int gb, int ge, float* pad) {
  const ConvShape& s = c.s;
  const int Hp = s.H + 2 * s.P, Wp = s.W + 2 * s.P;
  const size_t per_img = (size_t)Hp * Wp * s.C;
  long base[QCHUNK];
  alignas(64) float tile[MR * NR];
  for (int gi = gb; gi < ge; ++gi) {
    const int n0 = gi * c.dgeo.g, gn = std::min(c.dgeo.g, c.N - n0);
    std::memset(pad, 0, sizeof(float) * per_img * gn);
    const int Q = gn * (int)s.ohw();
    const float* gd = c.dout + (size_t)n0 * s.out_size();
    for (int qc = 0; qc < Q; qc += QCHUNK) {
      const int qn = std::min(QCHUNK, Q - qc);
      pixel_bases(base, qc, qn, s.OH, s.OW, Hp, Wp, s.C, s.S);
      for (int c0 = 0; c0 < s.C; c0 += NR) {
        const int nr = std::min(NR, s.C - c0);
        const float* wblk = c.wb + (size_t)c0 * s.K * s.K * s.O;
        for (int t = 0; t < qn; t += MR) {
          const int mr = std::min(MR, qn - t);
          const float* gr[MR];
          for (int r = 0; r < MR; ++r) gr[r] = gd + (size_t)(qc + t + std::min(r, mr - 1)) * s.O;
          for (int kh = 0; kh < s.K; ++kh)
            for (int kw = 0; kw < s.K; ++kw) {
              scatter_tile(gr, s.O, wblk + (size_t)(kh * s.K + kw) * s.O * NR, tile);
              const long off = ((long)kh * Wp + kw) * s.C + c0;
              for (int r = 0; r < mr; ++r) {
                float* d = pad + base[t + r] + off;
                const float* tr = tile + r * NR;
                for (int j = 0; j < nr; ++j) d[j] += tr[j];
              }
            }
        }
      }
    }
    // Interior -> din (relu mask, accumulate).
    float* y = c.din + (size_t)n0 * s.in_size();
    const float* m = c.mask ? c.mask + (size_t)n0 * s.in_size() : nullptr;
    const size_t row = (size_t)s.W * s.C;
    for (int j = 0; j < gn; ++j)
      for (int h = 0; h < s.H; ++h) {
        const float* src = pad + (size_t)j * per_img + ((size_t)(h + s.P) * Wp + s.P) * s.C;
        const size_t at = ((size_t)j * s.H + h) * row;
        float* dst = y + at;
        const float* mm = m ? m + at : nullptr;
        for (size_t i = 0; i < row; ++i) {
          float v = src[i];
          if (mm && !(mm[i] > 0.0f)) v = 0.0f;
          dst[i] = c.accumulate ? dst[i] + v : v;
        }
      }
  }
}

}  // namespace

// ---- public entry points ---------------------------------------------------------------------

size_t conv2d_nhwc_forward_scratch(int N, const ConvShape& s) {
  const FwdGeo geo(N, s);
  return align16(packed_forward_size(s)) + (size_t)parts_for(geo.groups) * align16(geo.pad) + 16;
}

void conv2d_nhwc_forward(float* out, const float* in, const float* W, const float* b, int N, const ConvShape& s,
                         bool relu, float* scratch, const float* residual) {
  if (N <= 0) return;
  pack_forward(scratch, W, s);
  const FwdGeo geo(N, s);
  FwdCall c{in, out, scratch, b, residual, relu, N, s, geo, scratch + align16(packed_forward_size(s))};
  const int parts = parts_for(geo.groups);
  parallel_for(parts, [&](int p) {
    forward_groups(c, (int)((int64_t)geo.groups * p / parts), (int)((int64_t)geo.groups * (p + 1) / parts),
                   c.pads + (size_t)p * align16(geo.pad));
  });
}

// Per-part buffer of the backward pass: dW needs its padded group + the packed dout chunk, din
// its padded group.
static size_t bwd_part_floats(const ConvShape& s, const FwdGeo& fgeo, const DinGeo& dgeo) {
  return align16(std::max(fgeo.pad + (size_t)DW_QCHUNK * round_up(s.O, NR), dgeo.pad));
}

size_t conv2d_nhwc_backward_scratch(int N, const ConvShape& s) {
  const FwdGeo fgeo(N, s, /*dw=*/true);
  const DinGeo dgeo(N, s);
  const int parts = std::max(compute_threads(), parts_for(dgeo.groups));
  return align16(packed_backward_size(s)) + align16(dwt_size(s)) + align16((size_t)dw_ktiles(s) * MRW) +
         (size_t)parts * bwd_part_floats(s, fgeo, dgeo) + 16;
}

void conv2d_nhwc_backward(float* din, float* dW, float* db, const float* dout, const float* in, const float* W, int N,
                          const ConvShape& s, bool accumulate_din, float* scratch, const float* din_mask) {
  const int KK = s.K * s.K, rows = dw_rows(s), ktiles = dw_ktiles(s);
  if (db) column_sums(db, dout, (size_t)N * s.ohw(), s.O);
  const FwdGeo fgeo(N, s, /*dw=*/true);
  const DinGeo dgeo(N, s);
  float* wb = scratch;
  float* dwt = wb + align16(packed_backward_size(s));
  int* roff = reinterpret_cast<int*>(dwt + align16(dwt_size(s)));
  float* pads = dwt + align16(dwt_size(s)) + align16((size_t)ktiles * MRW);
  const size_t pad_stride = bwd_part_floats(s, fgeo, dgeo);
  static_assert(sizeof(int) == sizeof(float), "row offsets share the float scratch");
  {
    const int Wq = s.W + 2 * s.P;
    int kk = 0, ch = 0;
    for (int k = 0; k < ktiles * MRW; ++k) {
      roff[k] = ((kk / s.K) * Wq + kk % s.K) * s.C + ch;  // rows past the end repeat the last
      if (k + 1 < rows && ++ch == s.C) ch = 0, ++kk;
    }
  }
  BwdCall c{dout, in, din, wb, dwt, din_mask, accumulate_din, N, s, fgeo, dgeo, roff, pads};

  // dW: tiles split over the workers; each tile sums over all pixels in image order. Skipped when
  // dW is null (the R-operator's din-only call, native/hvp.cpp).
  if (dW) {
    std::memset(dwt, 0, sizeof(float) * dwt_size(s));
    if (N > 0) {
      const int tiles = ((s.O + NR - 1) / NR) * ktiles;
      const int parts = std::max(1, std::min(tiles, compute_threads()));
      parallel_for(parts, [&](int p) {
        dw_part(c, (int)((int64_t)tiles * p / parts), (int)((int64_t)tiles * (p + 1) / parts),
                pads + (size_t)p * pad_stride);
      });
    }
    for (int o = 0; o < s.O; ++o) {
      const float* blk = dwt + (size_t)(o / NR) * ktiles * MRW * NR + o % NR;
      for (int k = 0; k < rows; ++k) dW[((size_t)o * s.C + k % s.C) * KK + k / s.C] = blk[(size_t)k * NR];
    }
  }
  if (!din || N <= 0) return;
  pack_backward(wb, W, s, /*flipped=*/dgeo.gather);
  const int parts = parts_for(dgeo.groups);
  parallel_for(parts, [&](int p) {
    const int gb = (int)((int64_t)dgeo.groups * p / parts), ge = (int)((int64_t)dgeo.groups * (p + 1) / parts);
    float* pad = pads + (size_t)p * pad_stride;
    if (dgeo.gather) {
      din_gather_groups(c, gb, ge, pad);
    } else {
      din_scatter_groups(c, gb, ge, pad);
    }
  });
}

}  // namespace BIGSTEP_ISA_NS
}  // namespace bigstep
