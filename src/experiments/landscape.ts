/**
 * E1 — Theorem 1 on its own class (PROTOCOL.md, experiment E1): compute.
 *
 * For every instance of every family (paper-1d: the paper's 1-D illustration; 'compact': a bowl
 * μ/2‖x‖² with C² compact dips, instances of C_l; 'gaussian': Gaussian dips, beyond the class):
 *  1. locate the minima (x* = the bowl's minimum, x† = the local minima in the dips);
 *  2. measure the constants of Theorem 1 (landscape-constants.ts): M, μ†, P(M), L, μ*, L_global,
 *     the window (2/μ†, μ* / L²], the small-step bound μ†/L_global², and whether the instance is in C_l;
 *  3. sweep: GD from N starts in W and, separately, N starts in M, over a log grid of γ from
 *     etaGrid.minFactor·(μ†/L_global²) to etaGrid.maxFactor·(μ* / L²), plus one cell at the window's
 *     geometric middle √(lower·upper); outcomes x*, x† (the start's own local minimum), another local
 *     minimum, oscillating (not near any minimum at T), diverged;
 *  4. noise arm (the first instance of the families in noise.instances): uniform noise
 *     ξ ∈ [−σ, σ]^d at small γ (noise.etaFactors · μ†/L_global²), started in M, at two budgets (equal T, equal
 *     γT to the mid-window large step), and the large step itself with the same noise;
 *  5. example trajectories (d = 1) at a small and a large γ.
 * Verdict rules: landscape-verdicts.ts.
 */
import { native } from '../native/binding.js';
import type { ResumeStore } from '../run/resume.js';
import type { NativeLandscapeInstance, NativeLandscapeMinima } from '../native/landscape-types.js';
import { runConcurrently } from '../train/concurrent.js';
import {
  validateLandscapeConfig,
  type LandscapeConfig,
  type LandscapeInstanceConfig,
  type LandscapeKind,
  type LandscapeScale,
  type LandscapeVerdictRules,
} from './landscape-config.js';
import {
  center,
  domainRadius,
  measureConstants,
  supportRadius,
  type InstanceConstants,
} from './landscape-constants.js';

export type {
  LandscapeConfig,
  LandscapeInstanceConfig,
  LandscapeKind,
  LandscapeScale,
  LandscapeVerdictRules,
} from './landscape-config.js';
export { landscapeConfigSchema, validateLandscapeConfig } from './landscape-config.js';

export interface LandscapeCounts {
  /** at x* */
  global: number;
  /** at the start's own local minimum x† (for W starts: the local minimum nearest the start) */
  own: number;
  /** at another local minimum */
  otherLocal: number;
  oscillating: number;
  diverged: number;
}

export interface LandscapeSweepCell {
  startSet: 'W' | 'M';
  /** grid index, or −1 for the mid-window cell */
  index: number;
  eta: number;
  /** share of starts ending at x* */
  success: number;
  /** share ending at the start's own x† */
  stay: number;
  /** share whose end point flows to x* under gradient flow */
  basinSuccess: number;
  counts: LandscapeCounts;
  inWindow: boolean;
  belowSmallBound: boolean;
}

export interface LandscapeNoiseCell {
  /** 'small-T' (equal T), 'small-gammaT' (equal γT), 'large' (the mid-window γ) */
  arm: 'small-T' | 'small-gammaT' | 'large';
  etaFactor: number;
  eta: number;
  steps: number;
  std: number;
  stdFactor: number;
  /** ε of the settled fraction */
  epsilon: number;
  /** ε was capped at half the distance from x* to the nearest dip (the jitter fills the basin) */
  epsilonCapped: boolean;
  /** mean over starts of the share of the last 10 % of iterates within ε of x* */
  settled: number;
  /** share of starts with x_T within ε of x* */
  endAtXStar: number;
  counts: LandscapeCounts;
}

export interface LandscapeTrajectory {
  label: 'small' | 'large';
  eta: number;
  startIndex: number;
  points: number[][];
  every: number;
}

export interface LandscapeInstanceResult {
  /** family name + '#' + index within the family */
  name: string;
  family: string;
  kind: LandscapeKind;
  config: LandscapeInstanceConfig;
  instance: {
    kind: LandscapeKind;
    dim: number;
    mu: number;
    dips: number;
    centers: number[];
    depths: number[];
    widths: number[];
  };
  minima: {
    points: number[][];
    values: number[];
    nearestDip: number[];
    globalIndex: number;
    verified: boolean;
    gap: number;
    starts: number;
    unconverged: number;
  };
  constants: InstanceConstants;
  initRadius: number;
  classifyRadius: number;
  sweep: LandscapeSweepCell[];
  noise: LandscapeNoiseCell[];
  trajectories: LandscapeTrajectory[];
}

export interface LandscapeResult {
  experiment: 'E1-landscape';
  scale: LandscapeScale;
  config: LandscapeConfig;
  instances: LandscapeInstanceResult[];
  timing: { totalMs: number; perInstanceMs: number[] };
}

export interface LandscapeProgress {
  instance: string;
  phase: 'minima' | 'sweep' | 'noise' | 'trajectories';
  done: number;
  total: number;
}

export interface RunLandscapeOptions {
  onProgress?: (p: LandscapeProgress) => void;
  signal?: AbortSignal;
  /** Keeps finished cells across restarts (src/run/resume.ts); minima and constants are recomputed. */
  units?: Pick<ResumeStore, 'unit'>;
}

// ---- presets --------------------------------------------------------------------------------------

const verdict: LandscapeVerdictRules = {
  success: 0.99,
  stay: 0.99,
  familyShare: 0.9,
  settledMax: 0.05,
  largeSettledMin: 0.99,
};
const constants = { grid1d: 200001, grid2d: 401, samples: 20000, directions: 64, radial: 2000 };
const noiseBase = {
  enabled: true,
  etaFactors: [0.1, 0.9],
  stdMinFactor: 1e-4,
  stdMaxFactor: 1e4,
  stdCount: 9,
  maxSteps: 400000,
  jitterFactor: 3,
};
/** The families; `small` (quick) gives the Gaussian families fewer dips (4 in 2-D, 6 in 5-D; their cost is the exp per dip and step). */
const families = (count: number, small = false): LandscapeInstanceConfig[] => [
  { name: 'paper-1d', kind: 'paper-1d', dim: 1, dips: 1, seed: 0 },
  { name: 'compact-1d', kind: 'compact', dim: 1, dips: 2, seed: 1, count, separation: 2 },
  { name: 'compact-2d', kind: 'compact', dim: 2, dips: 8, seed: 1, count, separation: 2 },
  { name: 'compact-5d', kind: 'compact', dim: 5, dips: 16, seed: 1, count, separation: 2, startSet: 'dips' },
  { name: 'gaussian-2d', kind: 'gaussian', dim: 2, dips: small ? 4 : 8, seed: 1, count },
  { name: 'gaussian-5d', kind: 'gaussian', dim: 5, dips: small ? 6 : 16, seed: 1, count, startSet: 'dips' },
];

/** Seeds are fixed in advance (1, 2, …), not picked after looking at results. */
export const landscapePresets: Record<LandscapeScale, LandscapeConfig> = {
  tiny: {
    scale: 'tiny',
    instances: [
      { name: 'paper-1d', kind: 'paper-1d', dim: 1, dips: 1, seed: 0 },
      { name: 'compact-2d', kind: 'compact', dim: 2, dips: 4, seed: 1, count: 2 },
    ],
    points: 100,
    steps: 1500,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 10, minFactor: 0.5, maxFactor: 1.5 },
    constants: { grid1d: 20001, grid2d: 121, samples: 2000, directions: 32, radial: 400 },
    noise: { ...noiseBase, stdCount: 5, points: 50, maxSteps: 20000 },
    trajectories: { count: 2, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 200,
    concurrency: 2,
    verdict,
  },
  quick: {
    scale: 'quick',
    instances: families(30, true),
    points: 100,
    steps: 1500,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 12, minFactor: 0.5, maxFactor: 1.5 },
    constants: { ...constants, grid1d: 100001, grid2d: 201, samples: 4000, directions: 32, radial: 500 },
    noise: { ...noiseBase, points: 30, maxSteps: 50000, instances: ['paper-1d', 'compact-2d'] },
    trajectories: { count: 3, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 100,
    concurrency: 2,
    verdict,
  },
  study: {
    scale: 'study',
    instances: families(200),
    points: 200,
    steps: 3000,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 24, minFactor: 0.5, maxFactor: 1.5 },
    constants: { ...constants, grid2d: 301, samples: 10000 },
    noise: { ...noiseBase, points: 200, instances: ['paper-1d', 'compact-1d', 'compact-2d'] },
    trajectories: { count: 3, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 1000,
    concurrency: 2,
    verdict,
  },
  paper: {
    scale: 'paper',
    instances: families(1000),
    points: 1000,
    steps: 5000,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 40, minFactor: 0.5, maxFactor: 1.5 },
    constants,
    noise: { ...noiseBase, stdCount: 17, points: 1000, maxSteps: 2000000 },
    trajectories: { count: 4, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 5000,
    concurrency: 2,
    verdict,
  },
};

// ---- helpers --------------------------------------------------------------------------------------

/** n points log-spaced from a to b inclusive. */
export function logGrid(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => a * Math.pow(b / a, i / (n - 1)));
}

function rows(a: Float64Array | Int32Array, dim: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length / dim; i++) out.push(Array.from(a.subarray(i * dim, (i + 1) * dim)));
  return out;
}

/** The instances a config runs, in order: each family expanded to its `count` seeds. */
export function expandInstances(
  cfg: LandscapeConfig,
): Array<{ family: LandscapeInstanceConfig; seed: number; name: string }> {
  const out: Array<{ family: LandscapeInstanceConfig; seed: number; name: string }> = [];
  for (const f of cfg.instances) {
    const n = f.count ?? 1;
    for (let k = 0; k < n; k++) out.push({ family: f, seed: f.seed + k, name: n === 1 ? f.name : `${f.name}#${k}` });
  }
  return out;
}

export function createInstance(f: LandscapeInstanceConfig, seed: number): NativeLandscapeInstance {
  if (f.kind === 'paper-1d') return native.landscapePaper1d();
  const { name: _n, count: _c, startSet: _s, kind, ...gen } = f;
  return native.landscapeCreate({ ...gen, kind: kind ?? 'gaussian', seed });
}

/** Uniform points in the balls B(cⱼ, ρⱼ) (point k in ball k mod m), from one seeded sample. [n, d] */
function sampleInBalls(d: number, n: number, centers: number[][], radii: number[], seed: number): Float64Array {
  const unit = native.landscapeSample({ dim: d, count: n, radius: 1, seed });
  const out = new Float64Array(n * d);
  for (let k = 0; k < n; k++) {
    const j = k % centers.length;
    for (let q = 0; q < d; q++) out[k * d + q] = centers[j][q] + radii[j] * unit[k * d + q];
  }
  return out;
}

// ---- one instance -----------------------------------------------------------------------------

async function runInstance(
  cfg: LandscapeConfig,
  spec: { family: LandscapeInstanceConfig; seed: number; name: string },
  index: number,
  firstOfFamily: boolean,
  opts: RunLandscapeOptions,
): Promise<LandscapeInstanceResult> {
  const { signal, onProgress } = opts;
  const unit = <T>(key: string, fn: () => Promise<T>): Promise<T> =>
    opts.units ? opts.units.unit(`i${index}.${key}`, fn) : fn();
  const progress = (phase: LandscapeProgress['phase'], done: number, total: number): void =>
    onProgress?.({ instance: spec.name, phase, done, total });
  const fam = spec.family;
  const kind: LandscapeKind = fam.kind ?? 'gaussian';

  const inst = createInstance(fam, spec.seed);
  const d = inst.dim;
  progress('minima', 0, 1);
  // d ≥ 2: no start grid (every dip centre is a start, so each dip's minimum is found).
  const mr: NativeLandscapeMinima = await native.landscapeMinima(inst, {
    seed: cfg.seeds.minima,
    randomStarts: cfg.minimaRandomStarts,
    gridSpacing: d === 1 ? 0 : -1,
  });
  progress('minima', 1, 1);
  signal?.throwIfAborted();
  const points = rows(mr.points, d);
  // x* is the bowl's minimum (nearest the origin): in paper-1d, x† = 6.5 is as deep (f = 0).
  let gidx = 0;
  points.forEach((p, i) => {
    if (Math.hypot(...p) < Math.hypot(...points[gidx])) gidx = i;
  });
  const minima = { points, values: Array.from(mr.values), nearestDip: Array.from(mr.nearestDip), globalIndex: gidx };
  const K = measureConstants(inst, minima, { ...cfg.constants, seed: cfg.seeds.minima });

  const dips = inst.depths.length;
  const supp = Array.from({ length: dips }, (_, i) => supportRadius(inst, i));
  const centers = Array.from({ length: dips }, (_, i) => center(inst, i));
  let reach = 0;
  for (let i = 0; i < dips; i++) reach = Math.max(reach, Math.hypot(...centers[i]) + supp[i]);
  const initRadius = cfg.initRadiusFactor * reach;
  const classifyRadius = cfg.classifyRadiusFactor * Math.min(...supp);
  const divergeRadius = 1e3 * domainRadius(inst);
  const N = cfg.points;

  const startsW =
    (fam.startSet ?? 'ball') === 'dips'
      ? sampleInBalls(
          d,
          N,
          centers,
          supp.map((s) => 2 * s),
          cfg.seeds.starts,
        )
      : native.landscapeSample({ dim: d, count: N, radius: initRadius, seed: cfg.seeds.starts });
  const Mballs = K.dips.filter((c) => c.rM > 0);
  const startsM =
    Mballs.length > 0
      ? sampleInBalls(
          d,
          N,
          Mballs.map((c) => c.xDagger),
          Mballs.map((c) => c.rM),
          cfg.seeds.starts + 1,
        )
      : new Float64Array(0);
  // own minimum of each start: M starts the x† of their ball; W starts the local minimum nearest them
  const localIdx = points.map((_, i) => i).filter((i) => i !== gidx);
  const nearestLocal = (x: Float64Array, k: number): number => {
    let best = -1;
    let bd = Infinity;
    for (const i of localIdx) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x[k * d + j] - points[i][j]) ** 2;
      if (s < bd) [bd, best] = [s, i];
    }
    return best;
  };
  const ownW = Array.from({ length: N }, (_, k) => nearestLocal(startsW, k));
  const ownM = Array.from({ length: startsM.length / d }, (_, k) => Mballs[k % Mballs.length].minimum);

  const counts = (minimum: Int32Array, cls: Int32Array, own: number[]): LandscapeCounts => {
    const c: LandscapeCounts = { global: 0, own: 0, otherLocal: 0, oscillating: 0, diverged: 0 };
    for (let k = 0; k < minimum.length; k++) {
      if (cls[k] === 3) c.diverged++;
      else if (minimum[k] < 0) c.oscillating++;
      else if (minimum[k] === gidx) c.global++;
      else if (minimum[k] === own[k]) c.own++;
      else c.otherLocal++;
    }
    return c;
  };
  const mins = { points: mr.points, globalIndex: gidx };
  const base = { classifyRadius, divergeRadius, seed: cfg.seeds.noise };
  const inWindow = (eta: number): boolean =>
    K.inClass && K.lower !== null && K.upper !== null && eta > K.lower && eta <= K.upper;
  const belowSmall = (eta: number): boolean => K.smallBound !== null && eta < K.smallBound;

  // Sweep: grid from minFactor · small bound to maxFactor · upper, plus the mid-window cell.
  const sweepCells: Array<{ set: 'W' | 'M'; index: number; eta: number }> = [];
  const lo = K.smallBound ?? 1e-6;
  const hi = K.upper ?? 2 / inst.mu;
  const grid = logGrid(
    cfg.etaGrid.minFactor * Math.min(lo, hi),
    cfg.etaGrid.maxFactor * Math.max(lo, hi),
    cfg.etaGrid.count,
  );
  const indices = cfg.etaGrid.indices ?? grid.map((_, i) => i);
  const mid = K.lower !== null && K.upper !== null && K.lower < K.upper ? Math.sqrt(K.lower * K.upper) : null;
  for (const set of ['W', 'M'] as const) {
    if (set === 'M' && startsM.length === 0) continue;
    for (const i of indices) sweepCells.push({ set, index: i, eta: grid[i] });
    if (mid !== null && cfg.etaGrid.indices === undefined) sweepCells.push({ set, index: -1, eta: mid });
  }
  let done = 0;
  progress('sweep', 0, sweepCells.length);
  const sweep = await runConcurrently(
    sweepCells.map(
      (s) => () =>
        unit(`sweep.${s.set}.${s.index}`, async (): Promise<LandscapeSweepCell> => {
          const starts = s.set === 'W' ? startsW : startsM;
          const own = s.set === 'W' ? ownW : ownM;
          const r = await native.landscapeRun(inst, mins, starts, { ...base, eta: s.eta, steps: cfg.steps });
          const c = counts(r.minimum, r.cls, own);
          const n = own.length;
          let basin = 0;
          for (const b of r.basin) if (b === gidx) basin++;
          return {
            startSet: s.set,
            index: s.index,
            eta: s.eta,
            success: c.global / n,
            stay: c.own / n,
            basinSuccess: basin / n,
            counts: c,
            inWindow: inWindow(s.eta),
            belowSmallBound: belowSmall(s.eta),
          };
        }),
    ),
    { concurrency: cfg.concurrency, signal, onDone: () => progress('sweep', ++done, sweepCells.length) },
  );

  // Noise arm: the first instance of the listed families.
  const noise: LandscapeNoiseCell[] = [];
  const wantNoise =
    cfg.noise.enabled && firstOfFamily && (cfg.noise.instances === undefined || cfg.noise.instances.includes(fam.name));
  if (wantNoise && mid !== null && K.smallBound !== null && startsM.length > 0) {
    const nStarts = Math.min(cfg.noise.points, startsM.length / d);
    const starts = startsM.subarray(0, nStarts * d);
    const own = ownM.slice(0, nStarts);
    const gref = Math.max(...Mballs.map((c) => c.gradMaxM));
    const stdGrid = logGrid(cfg.noise.stdMinFactor, cfg.noise.stdMaxFactor, cfg.noise.stdCount);
    const stdIdx = cfg.noise.stdIndices ?? stdGrid.map((_, i) => i);
    // stationary jitter of GD + uniform noise at x*: per coordinate σ·√(γ / (3λ(2 − γλ))), λ = λ_min(∇²f(x*))
    const lamStar = native.landscapeEval(inst, Float64Array.from(points[gidx]), { eigenvalues: true }).eigenvalues![0];
    let gap = Infinity;
    for (let i = 0; i < dips; i++)
      gap = Math.min(gap, Math.hypot(...centers[i].map((v, j) => v - points[gidx][j])) - supp[i]);
    const cap = 0.5 * gap;
    const specs: Array<{
      arm: LandscapeNoiseCell['arm'];
      etaFactor: number;
      eta: number;
      steps: number;
      si: number;
      key: string;
    }> = [];
    cfg.noise.etaFactors.forEach((ef, ei) => {
      const eta = ef * K.smallBound!;
      for (const si of stdIdx) {
        specs.push({ arm: 'small-T', etaFactor: ef, eta, steps: cfg.steps, si, key: `noise.T.e${ei}.s${si}` });
        specs.push({
          arm: 'small-gammaT',
          etaFactor: ef,
          eta,
          steps: Math.min(cfg.noise.maxSteps, Math.round((mid * cfg.steps) / eta)),
          si,
          key: `noise.gT.e${ei}.s${si}`,
        });
      }
    });
    for (const si of stdIdx)
      specs.push({
        arm: 'large',
        etaFactor: mid / K.smallBound,
        eta: mid,
        steps: cfg.steps,
        si,
        key: `noise.L.s${si}`,
      });
    done = 0;
    progress('noise', 0, specs.length);
    const cells = await runConcurrently(
      specs.map(
        (s) => () =>
          unit(s.key, async (): Promise<LandscapeNoiseCell> => {
            const std = stdGrid[s.si] * gref;
            const jit = Math.sqrt(d) * std * Math.sqrt(s.eta / (3 * lamStar * Math.max(1e-12, 2 - s.eta * lamStar)));
            const want = Math.max(classifyRadius, cfg.noise.jitterFactor * jit);
            const epsilon = Math.min(want, cap);
            const r = await native.landscapeRun(inst, mins, starts, {
              ...base,
              classifyRadius: epsilon,
              eta: s.eta,
              steps: s.steps,
              noiseStd: std,
              noise: 'uniform',
              settleRadius: epsilon,
              basin: false,
            });
            let settled = 0;
            for (const v of r.settled) settled += v;
            const c = counts(r.minimum, r.cls, own);
            return {
              arm: s.arm,
              etaFactor: s.etaFactor,
              eta: s.eta,
              steps: s.steps,
              std,
              stdFactor: stdGrid[s.si],
              epsilon,
              epsilonCapped: want > cap,
              settled: settled / nStarts,
              endAtXStar: c.global / nStarts,
              counts: c,
            };
          }),
      ),
      { concurrency: cfg.concurrency, signal, onDone: () => progress('noise', ++done, specs.length) },
    );
    noise.push(...cells);
  }

  // Example trajectories (d = 1, first instance of a family): from starts in M, at 0.5·(small-step
  // bound) and at the window's middle.
  const trajectories: LandscapeTrajectory[] = [];
  if (
    d === 1 &&
    firstOfFamily &&
    cfg.trajectories.count > 0 &&
    mid !== null &&
    K.smallBound !== null &&
    startsM.length > 0
  ) {
    progress('trajectories', 0, 1);
    const computed = await unit('trajectories', async (): Promise<LandscapeTrajectory[]> => {
      const out: LandscapeTrajectory[] = [];
      const n = Math.min(cfg.trajectories.count, startsM.length);
      const sub = startsM.subarray(0, n);
      for (const [label, eta] of [
        ['small', 0.5 * K.smallBound!],
        ['large', mid],
      ] as const) {
        const r = await native.landscapeRun(inst, mins, sub, {
          ...base,
          eta,
          steps: cfg.steps,
          recordCount: n,
          recordEvery: cfg.trajectories.every,
          basin: false,
        });
        for (let j = 0; j < n; j++) {
          const all = rows(r.trajectories.subarray(j * r.frames, (j + 1) * r.frames), 1);
          let end = all.length;
          while (end > 2 && Math.abs(all[end - 1][0] - all[end - 2][0]) <= 1e-12 * (1 + Math.abs(all[end - 1][0])))
            end--;
          out.push({ label, eta, startIndex: j, points: all.slice(0, end), every: cfg.trajectories.every });
        }
      }
      return out;
    });
    trajectories.push(...computed);
    progress('trajectories', 1, 1);
  }

  return {
    name: spec.name,
    family: fam.name,
    kind,
    config: fam,
    instance: {
      kind,
      dim: d,
      mu: inst.mu,
      dips,
      centers: Array.from(inst.centers),
      depths: Array.from(inst.depths),
      widths: Array.from(inst.widths),
    },
    minima: { ...minima, verified: mr.verified, gap: mr.gap, starts: mr.starts, unconverged: mr.unconverged },
    constants: K,
    initRadius,
    classifyRadius,
    sweep,
    noise,
    trajectories,
  };
}

/** Runs E1 for every instance in `config`. Deterministic for a given config (except `timing`). */
export async function runLandscape(
  config: LandscapeConfig,
  options: RunLandscapeOptions = {},
): Promise<LandscapeResult> {
  validateLandscapeConfig(config);
  const t0 = performance.now();
  const instances: LandscapeInstanceResult[] = [];
  const perInstanceMs: number[] = [];
  const seen = new Set<string>();
  for (const [index, spec] of expandInstances(config).entries()) {
    options.signal?.throwIfAborted();
    const t1 = performance.now();
    instances.push(await runInstance(config, spec, index, !seen.has(spec.family.name), options));
    seen.add(spec.family.name);
    perInstanceMs.push(performance.now() - t1);
  }
  return {
    experiment: 'E1-landscape',
    scale: config.scale,
    config: structuredClone(config),
    instances,
    timing: { totalMs: performance.now() - t0, perInstanceMs },
  };
}
