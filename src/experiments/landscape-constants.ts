/**
 * E1: the constants of Theorem 1 (PROTOCOL.md, "The theory"), measured on one instance, not assumed.
 *
 * Regions (x* the bowl's minimum, x†ⱼ the local minimum in dip j, sⱼ the dip's support radius:
 * w for a compact dip, 3σ for a Gaussian one, 0.5 for paper-1d's patch on [6, 7]):
 *  - Mⱼ = B(x†ⱼ, rⱼ): the OPSC set towards x†ⱼ. The OPSC ratio q†(x) = ⟨∇f(x), x − x†⟩/‖x − x†‖²
 *    equals λ_min(∇²f(x†)) =: μ†₀ at x† and falls to 0 at the dip's barrier (where the gradient stops
 *    pulling towards x†), so "the largest set where OPSC holds" has μ† = 0. The rule, fixed before
 *    the runs: rⱼ is the largest radius on the radial grid with min q† ≥ μ†₀/2 on the ball
 *    (the half-strength rule), and μ†ⱼ = that minimum. rOpsc (the barrier radius) is reported too.
 *  - P(Mⱼ) = {sⱼ < ‖x − cⱼ‖ ≤ 2sⱼ} minus the other dips' supports: the ring around the dip (for
 *    paper-1d [5, 6) ∪ (7, 8], as in the overview); L and μ* (OPSC ratio towards x*) on it.
 *  - outside: every point outside all supports; μ* and L there.
 *  - the shell supportⱼ \ Mⱼ is in no region: there neither OPSC condition can hold (along the
 *    segment x† → x* the two conditions need opposite signs of ⟨∇f, x* − x†⟩, and ∇f is
 *    continuous), so C_l as restated (μ* > 0 on all of ℝᵈ \ M) is empty for C¹ functions; this code
 *    tests the restatement with that shell exempt, and reports the shell.
 * Window (2/μ†, μ* / L²] with μ† = minⱼ μ†ⱼ, μ* / L² = the smallest ratio over the rings and the outside;
 * small-step bound μ†/L_global².
 *
 * Sampling: d = 1 a dense grid over [−R, R]; d = 2 a dense square grid; d > 2 uniform samples in the
 * ball of radius R plus uniform samples in B(cⱼ, 2sⱼ). Mⱼ is measured on rays from x†ⱼ (d = 1: ±1;
 * d = 2: evenly spaced angles; d > 2: random directions), each with a uniform radial grid to 2sⱼ.
 * Every number is a sup or inf over those points: a measured bound, not a proof.
 */
import { native } from '../native/binding.js';
import type { NativeLandscapeInstance } from '../native/landscape-types.js';

export interface ConstantsSampling {
  /** d = 1: grid points over [−R, R]. */
  grid1d: number;
  /** d = 2: grid points per axis over [−R, R]². */
  grid2d: number;
  /** d > 2: uniform samples in the ball of radius R (and as many again near the dips). */
  samples: number;
  /** d ≥ 2: rays from each x† (d = 2: evenly spaced angles). */
  directions: number;
  /** Radial grid points per ray, up to 2sⱼ. */
  radial: number;
  seed: number;
}

/** Inf of the OPSC ratio towards a point and sup of ‖∇²f‖₂ over a sampled region. */
export interface RegionConstants {
  /** inf ⟨∇f(x), x − x*⟩/‖x − x*‖² (null: no sample in the region) */
  muStar: number | null;
  /** sup over samples of max |eigenvalue of ∇²f| */
  L: number | null;
  samples: number;
}

export interface DipConstants {
  /** index into the instance's dips */
  dip: number;
  /** index into the minima list */
  minimum: number;
  xDagger: number[];
  supportRadius: number;
  /** λ_min(∇²f(x†)): the OPSC ratio's limit at x† */
  muDagger0: number;
  /** radius of M (half-strength rule); 0 if even the first radial point fails */
  rM: number;
  /** inf of the OPSC ratio towards x† on M */
  muDagger: number;
  /** distance from x† to the first sampled point where the gradient stops pulling towards x† */
  rOpsc: number;
  /** P(M): the ring around the dip's support */
  ring: RegionConstants;
  /** sup ‖∇f‖ on M (the scale of the dip's pull; the noise arm's σ unit) */
  gradMaxM: number;
}

export interface InstanceConstants {
  method: string;
  dips: DipConstants[];
  outside: RegionConstants;
  /** sup of ‖∇²f‖₂ over every sampled point */
  lGlobal: number;
  /** analytic upper bound on ‖∇²f‖₂ (native curvature_bound) */
  lGlobalBound: number;
  muDagger: number | null;
  /** min over rings and outside of μ* / L² (the window's upper end) */
  upper: number | null;
  /** max over dips of 2/μ†ⱼ (the window's lower end) */
  lower: number | null;
  /** μ†/L_global² */
  smallBound: number | null;
  inClass: boolean;
  /** the first condition of C_l that fails, null if none */
  failing: string | null;
  /** conditions checked, in order, with their values */
  conditions: Array<{ name: string; ok: boolean; value: string }>;
}

export interface MinimaInfo {
  points: number[][];
  values: number[];
  nearestDip: number[];
  globalIndex: number;
}

/** Support radius of dip i: w (compact), 3σ (Gaussian), 0.5 (paper-1d). */
export function supportRadius(inst: NativeLandscapeInstance, i: number): number {
  return inst.kind === 'gaussian' || inst.kind === undefined ? 3 * inst.widths[i] : inst.widths[i];
}

/** Radius of the sampled domain: 1.25 · max(‖cᵢ‖ + 2sᵢ). */
export function domainRadius(inst: NativeLandscapeInstance): number {
  let r = 0;
  for (let i = 0; i < inst.depths.length; i++) r = Math.max(r, norm(center(inst, i)) + 2 * supportRadius(inst, i));
  return 1.25 * Math.max(r, 1e-3);
}

export function center(inst: NativeLandscapeInstance, i: number): number[] {
  return Array.from(inst.centers.subarray(i * inst.dim, (i + 1) * inst.dim));
}
function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j] * x[j];
  return Math.sqrt(s);
}
function dist(x: ArrayLike<number>, off: number, y: ArrayLike<number>, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += (x[off + j] - y[j]) ** 2;
  return Math.sqrt(s);
}

/** Sample points of the domain: the dense grid (d ≤ 2) or uniform samples (d > 2). [n, d] */
function domainPoints(inst: NativeLandscapeInstance, s: ConstantsSampling): Float64Array {
  const d = inst.dim;
  const R = domainRadius(inst);
  if (d === 1) return Float64Array.from({ length: s.grid1d }, (_, k) => -R + (2 * R * k) / (s.grid1d - 1));
  if (d === 2) {
    const n = s.grid2d;
    const out = new Float64Array(n * n * 2);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        out[(a * n + b) * 2] = -R + (2 * R * a) / (n - 1);
        out[(a * n + b) * 2 + 1] = -R + (2 * R * b) / (n - 1);
      }
    return out;
  }
  const dips = inst.depths.length;
  const ball = native.landscapeSample({ dim: d, count: s.samples, radius: R, seed: s.seed });
  if (dips === 0) return ball;
  const per = Math.ceil(s.samples / dips);
  const out = new Float64Array(ball.length + per * dips * d);
  out.set(ball);
  for (let i = 0; i < dips; i++) {
    const local = native.landscapeSample({
      dim: d,
      count: per,
      radius: 2 * supportRadius(inst, i),
      seed: s.seed + 1 + i,
    });
    const c = center(inst, i);
    for (let k = 0; k < per; k++)
      for (let j = 0; j < d; j++) out[ball.length + (i * per + k) * d + j] = local[k * d + j] + c[j];
  }
  return out;
}

/** Unit directions of the rays from x†. [K, d] */
function rayDirections(d: number, s: ConstantsSampling): Float64Array {
  if (d === 1) return Float64Array.from([-1, 1]);
  if (d === 2) {
    const out = new Float64Array(s.directions * 2);
    for (let k = 0; k < s.directions; k++) {
      out[2 * k] = Math.cos((2 * Math.PI * k) / s.directions);
      out[2 * k + 1] = Math.sin((2 * Math.PI * k) / s.directions);
    }
    return out;
  }
  const raw = native.landscapeSample({ dim: d, count: s.directions, radius: 1, seed: s.seed + 1000 });
  for (let k = 0; k < s.directions; k++) {
    const n = norm(raw.subarray(k * d, (k + 1) * d));
    for (let j = 0; j < d; j++) raw[k * d + j] /= n;
  }
  return raw;
}

const fmt = (x: number | null): string => (x === null ? 'none' : Number(x.toPrecision(4)).toString());

/** Measures the constants of Theorem 1 on one instance (see the module comment for the rules). */
export function measureConstants(
  inst: NativeLandscapeInstance,
  minima: MinimaInfo,
  s: ConstantsSampling,
): InstanceConstants {
  const d = inst.dim;
  const dips = inst.depths.length;
  const xs = minima.points[minima.globalIndex];
  const supp = Array.from({ length: dips }, (_, i) => supportRadius(inst, i));
  const centers = Array.from({ length: dips }, (_, i) => center(inst, i));

  // Domain samples: classify into outside / ring j / inside a support.
  const pts = domainPoints(inst, s);
  const n = pts.length / d;
  const ev = native.landscapeEval(inst, pts, { eigenvalues: true });
  const eig = ev.eigenvalues!;
  const region = (): { mu: number; L: number; n: number } => ({ mu: Infinity, L: 0, n: 0 });
  const outside = region();
  const rings = Array.from({ length: dips }, region);
  let lGlobal = 0;
  for (let k = 0; k < n; k++) {
    const lk = Math.max(Math.abs(eig[k * d]), Math.abs(eig[k * d + d - 1]));
    lGlobal = Math.max(lGlobal, lk);
    let inside = -1;
    let ring = -1;
    for (let i = 0; i < dips; i++) {
      const r = dist(pts, k * d, centers[i], d);
      if (r <= supp[i]) inside = i;
      else if (r <= 2 * supp[i] && ring < 0) ring = i;
    }
    if (inside >= 0) continue;
    let dot = 0;
    let r2 = 0;
    for (let j = 0; j < d; j++) {
      const t = pts[k * d + j] - xs[j];
      dot += ev.grad[k * d + j] * t;
      r2 += t * t;
    }
    const q = r2 > 1e-24 ? dot / r2 : Infinity; // at x* itself the ratio is undefined
    const reg = ring >= 0 ? rings[ring] : outside;
    reg.mu = Math.min(reg.mu, q);
    reg.L = Math.max(reg.L, lk);
    reg.n++;
    if (ring >= 0) {
      // the ring is also outside every support
      outside.mu = Math.min(outside.mu, q);
      outside.L = Math.max(outside.L, lk);
      outside.n++;
    }
  }
  const asRegion = (r: { mu: number; L: number; n: number }): RegionConstants => ({
    muStar: r.n > 0 ? r.mu : null,
    L: r.n > 0 ? r.L : null,
    samples: r.n,
  });

  // M around every local minimum that sits in a dip.
  const dirs = rayDirections(d, s);
  const K = dirs.length / d;
  const dipConstants: DipConstants[] = [];
  const stray: number[] = [];
  minima.points.forEach((xd, m) => {
    if (m === minima.globalIndex) return;
    const i = minima.nearestDip[m];
    if (i < 0 || dist(Float64Array.from(xd), 0, centers[i], d) > supp[i]) {
      stray.push(m);
      return;
    }
    const rMax = 2 * supp[i];
    const R = s.radial;
    const ray = new Float64Array(K * R * d);
    for (let k = 0; k < K; k++)
      for (let q = 0; q < R; q++)
        for (let j = 0; j < d; j++) ray[(k * R + q) * d + j] = xd[j] + ((rMax * (q + 1)) / R) * dirs[k * d + j];
    const g = native.landscapeEval(inst, ray).grad;
    // minRatio[q] = inf over rays of q†(x) on the ball of radius r_q
    const minRatio = new Float64Array(R).fill(Infinity);
    let rOpsc = rMax;
    let gradMaxM = 0;
    const gradNorm = new Float64Array(R);
    for (let k = 0; k < K; k++)
      for (let q = 0; q < R; q++) {
        const r = (rMax * (q + 1)) / R;
        let dot = 0;
        let gn = 0;
        for (let j = 0; j < d; j++) {
          const gj = g[(k * R + q) * d + j];
          dot += gj * r * dirs[k * d + j];
          gn += gj * gj;
        }
        const ratio = dot / (r * r);
        minRatio[q] = Math.min(minRatio[q], ratio);
        gradNorm[q] = Math.max(gradNorm[q], Math.sqrt(gn));
        if (ratio <= 0 && r < rOpsc) rOpsc = r;
      }
    for (let q = 1; q < R; q++) minRatio[q] = Math.min(minRatio[q], minRatio[q - 1]);
    const e0 = native.landscapeEval(inst, Float64Array.from(xd), { eigenvalues: true }).eigenvalues!;
    const muDagger0 = e0[0];
    let rM = 0;
    let muDagger = muDagger0;
    for (let q = 0; q < R && minRatio[q] >= muDagger0 / 2; q++) {
      rM = (rMax * (q + 1)) / R;
      muDagger = minRatio[q];
      gradMaxM = Math.max(gradMaxM, gradNorm[q]);
    }
    dipConstants.push({
      dip: i,
      minimum: m,
      xDagger: xd,
      supportRadius: supp[i],
      muDagger0,
      rM,
      muDagger,
      rOpsc,
      ring: asRegion(rings[i]),
      gradMaxM,
    });
  });

  const out = asRegion(outside);
  const muDagger = dipConstants.length > 0 ? Math.min(...dipConstants.map((c) => c.muDagger)) : null;
  const lower = dipConstants.length > 0 ? Math.max(...dipConstants.map((c) => 2 / c.muDagger)) : null;
  const ratios = [out, ...dipConstants.map((c) => c.ring)]
    .filter((r) => r.muStar !== null && r.L !== null)
    .map((r) => r.muStar! / (r.L! * r.L!));
  const upper = ratios.length > 0 ? Math.min(...ratios) : null;
  const smallBound = muDagger !== null ? muDagger / (lGlobal * lGlobal) : null;

  // C_l, condition by condition (the first that fails is reported).
  const fx = minima.values[minima.globalIndex];
  const deepest = Math.min(...minima.values);
  const conditions: InstanceConstants['conditions'] = [
    {
      name: 'x* (the bowl minimum) is a global minimum',
      ok: fx <= deepest + 1e-9 * (1 + Math.abs(deepest)),
      value: `f(x*) = ${fmt(fx)}, min f over minima = ${fmt(deepest)}`,
    },
    { name: 'a local minimum exists besides x*', ok: dipConstants.length > 0, value: `${dipConstants.length} in dips` },
    {
      name: 'every local minimum lies in a dip',
      ok: stray.length === 0,
      value: `${stray.length} outside every support`,
    },
    {
      name: 'M is non-empty (μ† ≥ μ†₀/2 on a ball)',
      ok: dipConstants.every((c) => c.rM > 0),
      value: dipConstants.map((c) => fmt(c.rM)).join(', '),
    },
    { name: 'μ* > 0 outside the dips', ok: out.muStar !== null && out.muStar > 0, value: fmt(out.muStar) },
    {
      name: 'μ* > 0 on every P(M)',
      ok: dipConstants.every((c) => c.ring.muStar !== null && c.ring.muStar > 0),
      value: dipConstants.map((c) => fmt(c.ring.muStar)).join(', '),
    },
    {
      name: 'L < L_global on every P(M)',
      ok: dipConstants.every((c) => c.ring.L !== null && c.ring.L < lGlobal),
      value: dipConstants.map((c) => fmt(c.ring.L)).join(', ') + ` vs ${fmt(lGlobal)}`,
    },
    {
      name: 'μ† > 2L²/μ* (the window is non-empty)',
      ok: lower !== null && upper !== null && lower < upper,
      value: `2/μ† = ${fmt(lower)}, μ* / L² = ${fmt(upper)}`,
    },
  ];
  const failing = conditions.find((c) => !c.ok)?.name ?? null;
  const method =
    (d === 1
      ? `dense grid of ${s.grid1d} points over [−R, R]`
      : d === 2
        ? `dense ${s.grid2d}×${s.grid2d} grid over [−R, R]²`
        : `${s.samples} uniform samples in ‖x‖ ≤ R plus ${s.samples} in the balls B(cⱼ, 2sⱼ)`) +
    ` (R = ${fmt(domainRadius(inst))}); M on ${K} rays × ${s.radial} radial points from each x†; half-strength rule for M; ` +
    `sup/inf over these points`;
  return {
    method,
    dips: dipConstants,
    outside: out,
    lGlobal,
    lGlobalBound: native.landscapeCurvatureBound(inst),
    muDagger,
    upper,
    lower,
    smallBound,
    inClass: failing === null,
    failing,
    conditions,
  };
}
