/**
 * E1 — landscape: do large steps avoid sharp local minima? (PROTOCOL.md, experiment E1)
 *
 * For each instance of f(x) = μ/2·‖x‖² − Σᵢ aᵢ·exp(−‖x − cᵢ‖²/(2σᵢ²)) (native/landscape.h):
 *  1. locate every local minimum numerically and the thresholds
 *       η_sharp = 2 / max L_loc,  η_local = 2 / min L_loc  (L_loc = λ_max of ∇²f at a local minimum),
 *       η_global = 2 / λ_max(∇²f(x*)) ≈ η_μ = 2/μ;
 *     for η > η_local no local minimum is a stable fixed point of GD; for η < η_global x* is;
 *  2. sweep: GD from N uniform starts for T steps at each η of a log grid from
 *     etaGrid.minFactor·η_sharp to etaGrid.maxFactor·η_μ; classify every end point;
 *  3. noise arm: small η (noise.etaFactors·η_sharp, all < η_sharp) with Gaussian gradient noise of
 *     std s over a log grid (factors of s_ref = max_i aᵢ/σᵢ·e^{−1/2}, the steepest pull of a dip),
 *     with and without annealing, same T;
 *  4. example trajectories (d ≤ 2) at a small and a large step.
 *
 * "Success" = x_T within classifyRadius (= classifyRadiusFactor · min σᵢ) of x*. "Basin success"
 * (reported beside it) = gradient flow from x_T reaches x*: it counts runs that end in the global
 * basin without having converged (e.g. still jittering under constant noise).
 */
import { native } from '../native/binding.js';
import { formatValue } from '../util/format.js';
import type { ResumeStore } from '../run/resume.js';
import type { NativeLandscapeAnneal, NativeLandscapeInstance, NativeLandscapeMinima } from '../native/landscape-types.js';
import { runConcurrently } from '../train/concurrent.js';
import { fail, isObj, nonNegInt, posInt } from './common.js';

export type LandscapeScale = 'tiny' | 'quick' | 'paper';

export interface LandscapeInstanceConfig {
  /** Label used in results and figures, e.g. "1d". */
  name: string;
  dim: number;
  dips: number;
  /** Instance seed (generator). */
  seed: number;
  mu?: number;
  radiusMin?: number;
  radiusMax?: number;
  depthMin?: number;
  depthMax?: number;
  sharpnessMin?: number;
  sharpnessMax?: number;
  separation?: number;
}

export interface LandscapeConfig {
  scale: LandscapeScale;
  instances: LandscapeInstanceConfig[];
  /** N: starting points per cell (the same N points in every cell of an instance). */
  points: number;
  /** T: GD steps per run (the same budget for the sweep and the noise arm). */
  steps: number;
  /** Starts are uniform in the ball of radius initRadiusFactor · max ‖cᵢ‖. */
  initRadiusFactor: number;
  /** Classification radius = classifyRadiusFactor · min σᵢ. */
  classifyRadiusFactor: number;
  etaGrid: {
    count: number;
    minFactor: number;
    maxFactor: number;
    /**
     * Run only these points of the η grid (0-based indices into the `count` log-spaced step sizes;
     * default: all; `[]`: no noise-free sweep). The grid itself is unchanged, so a selected cell
     * has bit-for-bit the η (and result) it has in the full grid: a sweep can run one cell per task.
     */
    indices?: number[];
  };
  noise: {
    enabled: boolean;
    /** Step sizes as fractions of η_sharp = 2 / max L_loc; each must be < 1. */
    etaFactors: number[];
    stdCount: number;
    stdMinFactor: number;
    stdMaxFactor: number;
    anneal: NativeLandscapeAnneal[];
    /**
     * Run only these points of the noise-std grid (0-based indices into the `stdCount` log-spaced
     * factors; default: all). As with `etaGrid.indices`, the grid and each cell's values are unchanged.
     */
    stdIndices?: number[];
    /** Names of the instances that get the noise arm (default: all). */
    instances?: string[];
  };
  trajectories: { count: number; every: number };
  seeds: { starts: number; noise: number; minima: number };
  /** Random starts of the minima search (on top of the grid for d ≤ 2). */
  minimaRandomStarts: number;
  /** Cells run at once (each one an async native call on the libuv pool). */
  concurrency: number;
}

export interface LandscapeCounts {
  global: number;
  local: number;
  oscillating: number;
  diverged: number;
}

export interface LandscapeCell {
  eta: number;
  /** fraction of starts ending within classifyRadius of x* */
  success: number;
  /** fraction whose end point flows to x* under gradient flow */
  basinSuccess: number;
  /** fraction with ‖∇f(x_T)‖ ≤ 1e-6 */
  converged: number;
  counts: LandscapeCounts;
}

export interface LandscapeSweepCell extends LandscapeCell {
  /** η relative to the thresholds, for reading tables. */
  etaOverLocal: number;
  etaOverMu: number;
  /** how many starts end at each minimum (index as in minima.points) */
  perMinimum: number[];
}

export interface LandscapeNoiseCell extends LandscapeCell {
  etaFactor: number;
  std: number;
  stdFactor: number;
  anneal: NativeLandscapeAnneal;
}

export interface LandscapeTrajectory {
  label: 'small' | 'large';
  eta: number;
  startIndex: number;
  /** frames × dim (trailing frames where the point no longer moves are trimmed) */
  points: number[][];
  every: number;
  cls: 'global' | 'local' | 'oscillating' | 'diverged';
}

export interface LandscapeThresholds {
  mu: number;
  lLocMin: number;
  lLocMax: number;
  lGlobal: number;
  etaSharp: number;
  etaLocal: number;
  etaGlobal: number;
  etaMu: number;
}

export interface LandscapeInstanceResult {
  name: string;
  config: LandscapeInstanceConfig;
  instance: { dim: number; mu: number; dips: number; centers: number[]; depths: number[]; widths: number[] };
  minima: {
    points: number[][];
    values: number[];
    lambdaMin: number[];
    lambdaMax: number[];
    hits: number[];
    nearestDip: number[];
    globalIndex: number;
    verified: boolean;
    gap: number;
    gridMin: number | null;
    starts: number;
    unconverged: number;
    dipsWithoutMinimum: number;
  };
  thresholds: LandscapeThresholds;
  initRadius: number;
  classifyRadius: number;
  noiseRef: number;
  sweep: LandscapeSweepCell[];
  noise: LandscapeNoiseCell[];
  trajectories: LandscapeTrajectory[];
}

export interface LandscapeHeadline {
  instance: string;
  etaLocal: number;
  etaMu: number;
  /** success at the smallest grid η (below every local threshold) */
  smallEta: { eta: number; success: number } | null;
  /** grid η in (η_local, η_global): the smallest and the largest */
  smallestStable: { eta: number; success: number } | null;
  largestStable: { eta: number; success: number } | null;
  bestNoise: { eta: number; std: number; anneal: NativeLandscapeAnneal; success: number; basinSuccess: number } | null;
}

export interface LandscapeResult {
  experiment: 'E1-landscape';
  scale: LandscapeScale;
  config: LandscapeConfig;
  instances: LandscapeInstanceResult[];
  headline: LandscapeHeadline[];
  /** wall-clock, not part of the deterministic result */
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
  /**
   * Keeps finished cells across restarts (src/run/resume.ts; `context.resume` of a run): each GD
   * cell and each instance's trajectories is a unit, loaded instead of recomputed after a restart.
   * The minima search is recomputed (deterministic).
   */
  units?: Pick<ResumeStore, 'unit'>;
}

// ---- presets --------------------------------------------------------------------------------------

const baseNoise = { enabled: true, stdMinFactor: 0.01, stdMaxFactor: 10, anneal: ['none', 'linear'] as NativeLandscapeAnneal[] };

/**
 * Instance parameters use the generator defaults (radius 1–2, relative depth 0.4–0.8, sharpness
 * L_loc/μ 30–100, μ = 1, dips ≥ 3(σᵢ + σⱼ) apart).
 * Seeds are fixed in advance (1, 2, ...), not picked after looking at results.
 */
export const landscapePresets: Record<LandscapeScale, LandscapeConfig> = {
  tiny: {
    scale: 'tiny',
    instances: [
      { name: '1d', dim: 1, dips: 2, seed: 1 },
      { name: '2d', dim: 2, dips: 4, seed: 1 },
    ],
    points: 200,
    steps: 1500,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 10, minFactor: 0.25, maxFactor: 1.25 },
    noise: { ...baseNoise, etaFactors: [0.25, 0.9], stdCount: 3 },
    trajectories: { count: 2, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 200,
    concurrency: 2,
  },
  quick: {
    scale: 'quick',
    instances: [
      { name: '1d', dim: 1, dips: 3, seed: 1 },
      { name: '2d', dim: 2, dips: 8, seed: 1 },
      { name: '5d', dim: 5, dips: 16, seed: 1 },
    ],
    points: 1000,
    steps: 2000,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 24, minFactor: 0.25, maxFactor: 1.25 },
    // The noise arm (42 cells per instance) runs on the 1-D and 2-D instances only at this size.
    noise: { ...baseNoise, etaFactors: [0.25, 0.5, 0.9], stdCount: 7, instances: ['1d', '2d'] },
    trajectories: { count: 3, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 2000,
    concurrency: 2,
  },
  paper: {
    scale: 'paper',
    instances: [
      { name: '1d', dim: 1, dips: 3, seed: 1 },
      { name: '2d', dim: 2, dips: 8, seed: 1 },
      { name: '2d-b', dim: 2, dips: 12, seed: 2 },
      { name: '5d', dim: 5, dips: 16, seed: 1 },
      { name: '10d', dim: 10, dips: 32, seed: 1 },
    ],
    points: 20000,
    steps: 5000,
    initRadiusFactor: 1.25,
    classifyRadiusFactor: 0.25,
    etaGrid: { count: 40, minFactor: 0.1, maxFactor: 1.25 },
    noise: { ...baseNoise, etaFactors: [0.1, 0.25, 0.5, 0.9], stdCount: 13 },
    trajectories: { count: 4, every: 1 },
    seeds: { starts: 1, noise: 2, minima: 3 },
    minimaRandomStarts: 20000,
    concurrency: 2,
  },
};

// ---- validation (primitives in common.ts) ---------------------------------------------------------

/** As escape-setup.ts `posNum`, with E1's wording of the range error. */
function posNum(v: unknown, field: string): void {
  if (typeof v !== 'number') fail(TypeError, field, 'must be a positive number');
  if (!Number.isFinite(v) || v <= 0) fail(RangeError, field, `must be a finite number > 0 (got ${v})`);
}
function optPosNum(o: Record<string, unknown>, key: string, field: string): void {
  if (o[key] !== undefined) posNum(o[key], `${field}.${key}`);
}
/** An optional list of distinct grid indices in [0, count). */
function optIndices(v: unknown, field: string, count: number, countField: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) fail(TypeError, field, `must be an array of indices into the grid (0 … ${countField} − 1)`);
  const seen = new Set<number>();
  v.forEach((x: unknown, i: number) => {
    if (typeof x !== 'number') fail(TypeError, `${field}[${i}]`, 'must be an integer');
    if (!Number.isInteger(x) || x < 0 || x >= count) fail(RangeError, `${field}[${i}]`, `must be an integer in [0, ${count - 1}] (${countField} = ${count}; got ${x})`);
    if (seen.has(x)) fail(RangeError, `${field}[${i}]`, `must not repeat an index (${x})`);
    seen.add(x);
  });
}

/** Throws TypeError / RangeError naming the first bad field, e.g. "config.steps must be a positive integer". */
export function validateLandscapeConfig(config: unknown): asserts config is LandscapeConfig {
  if (!isObj(config)) fail(TypeError, 'config', 'must be an object');
  const c = config;
  if (!['tiny', 'quick', 'paper'].includes(c.scale as string)) fail(RangeError, 'config.scale', "must be 'tiny', 'quick' or 'paper'");
  if (!Array.isArray(c.instances)) fail(TypeError, 'config.instances', 'must be an array');
  if (c.instances.length === 0) fail(RangeError, 'config.instances', 'must not be empty');
  const names = new Set<string>();
  c.instances.forEach((inst: unknown, i: number) => {
    const f = `config.instances[${i}]`;
    if (!isObj(inst)) fail(TypeError, f, 'must be an object');
    if (typeof inst.name !== 'string' || inst.name.length === 0) fail(TypeError, `${f}.name`, 'must be a non-empty string');
    if (names.has(inst.name)) fail(RangeError, `${f}.name`, `must be unique ("${inst.name}" repeats)`);
    names.add(inst.name);
    posInt(inst.dim, `${f}.dim`, 1000);
    posInt(inst.dips, `${f}.dips`, 100000);
    nonNegInt(inst.seed, `${f}.seed`);
    for (const k of ['mu', 'radiusMin', 'radiusMax', 'depthMin', 'depthMax', 'sharpnessMin', 'sharpnessMax', 'separation'])
      optPosNum(inst, k, f);
  });
  posInt(c.points, 'config.points', 2 ** 24);
  posInt(c.steps, 'config.steps', 1e9);
  posNum(c.initRadiusFactor, 'config.initRadiusFactor');
  posNum(c.classifyRadiusFactor, 'config.classifyRadiusFactor');
  if (!isObj(c.etaGrid)) fail(TypeError, 'config.etaGrid', 'must be an object');
  posInt(c.etaGrid.count, 'config.etaGrid.count', 10000);
  if ((c.etaGrid.count as number) < 2) fail(RangeError, 'config.etaGrid.count', 'must be >= 2');
  posNum(c.etaGrid.minFactor, 'config.etaGrid.minFactor');
  posNum(c.etaGrid.maxFactor, 'config.etaGrid.maxFactor');
  optIndices(c.etaGrid.indices, 'config.etaGrid.indices', c.etaGrid.count as number, 'config.etaGrid.count');
  if (!isObj(c.noise)) fail(TypeError, 'config.noise', 'must be an object');
  if (typeof c.noise.enabled !== 'boolean') fail(TypeError, 'config.noise.enabled', 'must be a boolean');
  if (!Array.isArray(c.noise.etaFactors) || c.noise.etaFactors.length === 0)
    fail(TypeError, 'config.noise.etaFactors', 'must be a non-empty array of numbers in (0, 1)');
  c.noise.etaFactors.forEach((v: unknown, i: number) => {
    posNum(v, `config.noise.etaFactors[${i}]`);
    if ((v as number) >= 1) fail(RangeError, `config.noise.etaFactors[${i}]`, 'must be < 1 (the noise arm uses steps below 2/L_loc)');
  });
  posInt(c.noise.stdCount, 'config.noise.stdCount', 10000);
  posNum(c.noise.stdMinFactor, 'config.noise.stdMinFactor');
  posNum(c.noise.stdMaxFactor, 'config.noise.stdMaxFactor');
  if ((c.noise.stdMaxFactor as number) < (c.noise.stdMinFactor as number))
    fail(RangeError, 'config.noise.stdMaxFactor', 'must be >= config.noise.stdMinFactor');
  optIndices(c.noise.stdIndices, 'config.noise.stdIndices', c.noise.stdCount as number, 'config.noise.stdCount');
  if (!Array.isArray(c.noise.anneal) || c.noise.anneal.length === 0)
    fail(TypeError, 'config.noise.anneal', "must be a non-empty array of 'none' | 'linear' | 'inverse'");
  c.noise.anneal.forEach((v: unknown, i: number) => {
    if (!['none', 'linear', 'inverse'].includes(v as string))
      fail(RangeError, `config.noise.anneal[${i}]`, "must be 'none', 'linear' or 'inverse'");
  });
  if (c.noise.instances !== undefined) {
    if (!Array.isArray(c.noise.instances)) fail(TypeError, 'config.noise.instances', 'must be an array of instance names');
    c.noise.instances.forEach((v: unknown, i: number) => {
      if (!names.has(v as string)) fail(RangeError, `config.noise.instances[${i}]`, `must name an instance in config.instances (got ${formatValue(v)})`);
    });
  }
  if (!isObj(c.trajectories)) fail(TypeError, 'config.trajectories', 'must be an object');
  nonNegInt(c.trajectories.count, 'config.trajectories.count');
  posInt(c.trajectories.every, 'config.trajectories.every');
  if (!isObj(c.seeds)) fail(TypeError, 'config.seeds', 'must be an object');
  for (const k of ['starts', 'noise', 'minima']) nonNegInt(c.seeds[k], `config.seeds.${k}`);
  nonNegInt(c.minimaRandomStarts, 'config.minimaRandomStarts');
  posInt(c.concurrency, 'config.concurrency', 64);
}

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

const CLASS_NAMES = ['global', 'local', 'oscillating', 'diverged'] as const;

// ---- the experiment -------------------------------------------------------------------------------

async function runInstance(cfg: LandscapeConfig, ic: LandscapeInstanceConfig, index: number, opts: RunLandscapeOptions): Promise<LandscapeInstanceResult> {
  const { signal, onProgress } = opts;
  // Unit keys name the instance by its position and cells by their indices into the unchanged grids.
  const unit = <T>(key: string, fn: () => Promise<T>): Promise<T> => (opts.units ? opts.units.unit(`i${index}.${key}`, fn) : fn());
  const progress = (phase: LandscapeProgress['phase'], done: number, total: number): void =>
    onProgress?.({ instance: ic.name, phase, done, total });

  const { name: _name, ...genOpts } = ic;
  void _name;
  const inst: NativeLandscapeInstance = native.landscapeCreate(genOpts);
  const d = inst.dim;
  progress('minima', 0, 1);
  const mr: NativeLandscapeMinima = await native.landscapeMinima(inst, { seed: cfg.seeds.minima, randomStarts: cfg.minimaRandomStarts });
  progress('minima', 1, 1);
  signal?.throwIfAborted();
  if (mr.count < 2) throw new Error(`instance "${ic.name}": no local minimum besides the global one was found; E1 needs sharp local minima`);

  const localIdx = Array.from({ length: mr.count }, (_, i) => i).filter((i) => i !== mr.globalIndex);
  const lLoc = localIdx.map((i) => mr.lambdaMax[i]);
  const thresholds: LandscapeThresholds = {
    mu: inst.mu,
    lLocMin: Math.min(...lLoc),
    lLocMax: Math.max(...lLoc),
    lGlobal: mr.lambdaMax[mr.globalIndex],
    etaSharp: mr.etaSharp,
    etaLocal: mr.etaLocal,
    etaGlobal: mr.etaGlobal,
    etaMu: mr.etaMu,
  };
  let maxC = 0;
  for (let i = 0; i < inst.depths.length; i++) maxC = Math.max(maxC, Math.hypot(...inst.centers.subarray(i * d, (i + 1) * d)));
  const initRadius = cfg.initRadiusFactor * maxC;
  const classifyRadius = cfg.classifyRadiusFactor * Math.min(...inst.widths);
  let noiseRef = 0;
  for (let i = 0; i < inst.depths.length; i++) noiseRef = Math.max(noiseRef, (inst.depths[i] / inst.widths[i]) * Math.exp(-0.5));
  const divergeRadius = 1e3 * Math.max(initRadius, mr.rBound);

  const starts = native.landscapeSample({ dim: d, count: cfg.points, radius: initRadius, seed: cfg.seeds.starts });
  const minima = { points: mr.points, globalIndex: mr.globalIndex };
  const base = { steps: cfg.steps, classifyRadius, divergeRadius, seed: cfg.seeds.noise };
  const N = cfg.points;
  const cell = (eta: number, r: Awaited<ReturnType<typeof native.landscapeRun>>): LandscapeCell => ({
    eta,
    success: r.counts.global / N,
    basinSuccess: r.basinGlobal / N,
    converged: r.convergedCount / N,
    counts: { ...r.counts },
  });

  // Sweep over η.
  const etaGrid = logGrid(cfg.etaGrid.minFactor * thresholds.etaSharp, cfg.etaGrid.maxFactor * thresholds.etaMu, cfg.etaGrid.count);
  const etaIndices = cfg.etaGrid.indices ?? etaGrid.map((_, i) => i);
  const etas = etaIndices.map((i) => etaGrid[i]);
  let done = 0;
  progress('sweep', 0, etas.length);
  const sweep: LandscapeSweepCell[] = await runConcurrently(
    etas.map((eta, k) => () =>
      unit(`sweep.${etaIndices[k]}`, async (): Promise<LandscapeSweepCell> => {
        const r = await native.landscapeRun(inst, minima, starts, { ...base, eta });
        const perMinimum = new Array<number>(mr.count).fill(0);
        for (const m of r.minimum) if (m >= 0) perMinimum[m]++;
        return { ...cell(eta, r), etaOverLocal: eta / thresholds.etaLocal, etaOverMu: eta / thresholds.etaMu, perMinimum };
      }),
    ),
    { concurrency: cfg.concurrency, signal, onDone: () => progress('sweep', ++done, etas.length) },
  );

  // Noise arm.
  const noise: LandscapeNoiseCell[] = [];
  if (cfg.noise.enabled && (cfg.noise.instances === undefined || cfg.noise.instances.includes(ic.name))) {
    const stdGrid = logGrid(cfg.noise.stdMinFactor, cfg.noise.stdMaxFactor, cfg.noise.stdCount);
    const stdIndices = cfg.noise.stdIndices ?? stdGrid.map((_, i) => i);
    const specs: Array<{ etaFactor: number; stdFactor: number; anneal: NativeLandscapeAnneal; key: string }> = [];
    cfg.noise.anneal.forEach((anneal, ai) =>
      cfg.noise.etaFactors.forEach((etaFactor, ei) => {
        for (const si of stdIndices) specs.push({ etaFactor, stdFactor: stdGrid[si], anneal, key: `noise.a${ai}.e${ei}.s${si}` });
      }),
    );
    done = 0;
    progress('noise', 0, specs.length);
    const cells = await runConcurrently(
      specs.map((s) => () =>
        unit(s.key, async (): Promise<LandscapeNoiseCell> => {
          const r = await native.landscapeRun(inst, minima, starts, {
            ...base,
            eta: s.etaFactor * thresholds.etaSharp,
            noiseStd: s.stdFactor * noiseRef,
            anneal: s.anneal,
          });
          return { ...cell(s.etaFactor * thresholds.etaSharp, r), etaFactor: s.etaFactor, std: s.stdFactor * noiseRef, stdFactor: s.stdFactor, anneal: s.anneal };
        }),
      ),
      { concurrency: cfg.concurrency, signal, onDone: () => progress('noise', ++done, specs.length) },
    );
    noise.push(...cells);
  }

  // Example trajectories (d <= 2): small step = 0.5·η_sharp (every local minimum stable), large
  // step = 2·η_local (no local minimum stable; still < η_global). Starts: the first ⌈count/2⌉ of
  // the N starts that the small step leaves at a local minimum, then the first remaining starts.
  const trajectories: LandscapeTrajectory[] = [];
  if (d <= 2 && cfg.trajectories.count > 0) {
    progress('trajectories', 0, 1);
    const computed = await unit('trajectories', async (): Promise<LandscapeTrajectory[]> => {
      const trajectories: LandscapeTrajectory[] = [];
      const small = 0.5 * thresholds.etaSharp;
      const large = Math.min(2 * thresholds.etaLocal, 0.9 * thresholds.etaGlobal);
      const probe = await native.landscapeRun(inst, minima, starts, { ...base, eta: small, basin: false });
      const want = cfg.trajectories.count;
      const chosen: number[] = [];
      for (let k = 0; k < N && chosen.length < Math.ceil(want / 2); k++) if (probe.cls[k] === 1) chosen.push(k);
      for (let k = 0; k < N && chosen.length < want; k++) if (!chosen.includes(k)) chosen.push(k);
      const sub = new Float64Array(chosen.length * d);
      chosen.forEach((k, j) => sub.set(starts.subarray(k * d, (k + 1) * d), j * d));
      for (const [label, eta] of [['small', small], ['large', large]] as const) {
        const r = await native.landscapeRun(inst, minima, sub, {
          ...base,
          eta,
          recordCount: chosen.length,
          recordEvery: cfg.trajectories.every,
          basin: false,
        });
        chosen.forEach((k, j) => {
          const all = rows(r.trajectories.subarray(j * r.frames * d, (j + 1) * r.frames * d), d);
          let end = all.length;
          while (end > 2 && all[end - 1].every((v, q) => Math.abs(v - all[end - 2][q]) <= 1e-12 * (1 + Math.abs(v)))) end--;
          trajectories.push({ label, eta, startIndex: k, points: all.slice(0, end), every: cfg.trajectories.every, cls: CLASS_NAMES[r.cls[j]] });
        });
      }
      return trajectories;
    });
    trajectories.push(...computed);
    progress('trajectories', 1, 1);
  }

  return {
    name: ic.name,
    config: ic,
    instance: {
      dim: d,
      mu: inst.mu,
      dips: inst.depths.length,
      centers: Array.from(inst.centers),
      depths: Array.from(inst.depths),
      widths: Array.from(inst.widths),
    },
    minima: {
      points: rows(mr.points, d),
      values: Array.from(mr.values),
      lambdaMin: Array.from(mr.lambdaMin),
      lambdaMax: Array.from(mr.lambdaMax),
      hits: Array.from(mr.hits),
      nearestDip: Array.from(mr.nearestDip),
      globalIndex: mr.globalIndex,
      verified: mr.verified,
      gap: mr.gap,
      gridMin: Number.isFinite(mr.gridMin) ? mr.gridMin : null,
      starts: mr.starts,
      unconverged: mr.unconverged,
      dipsWithoutMinimum: mr.dipsWithoutMinimum,
    },
    thresholds,
    initRadius,
    classifyRadius,
    noiseRef,
    sweep,
    noise,
    trajectories,
  };
}

/** Headline numbers of one instance (pure function of its result). */
export function landscapeHeadline(r: LandscapeInstanceResult): LandscapeHeadline {
  const t = r.thresholds;
  const pick = (c: LandscapeCell | undefined) => (c ? { eta: c.eta, success: c.success } : null);
  const stable = r.sweep.filter((c) => c.eta > t.etaLocal && c.eta < t.etaGlobal);
  const below = r.sweep.filter((c) => c.eta < t.etaSharp);
  let best: LandscapeNoiseCell | undefined;
  for (const c of r.noise) if (!best || c.success > best.success) best = c;
  return {
    instance: r.name,
    etaLocal: t.etaLocal,
    etaMu: t.etaMu,
    smallEta: pick(below[0]),
    smallestStable: pick(stable[0]),
    largestStable: pick(stable[stable.length - 1]),
    bestNoise: best ? { eta: best.eta, std: best.std, anneal: best.anneal, success: best.success, basinSuccess: best.basinSuccess } : null,
  };
}

/** Runs E1 for every instance in `config`. Deterministic for a given config (except `timing`). */
export async function runLandscape(config: LandscapeConfig, options: RunLandscapeOptions = {}): Promise<LandscapeResult> {
  validateLandscapeConfig(config);
  const t0 = performance.now();
  const instances: LandscapeInstanceResult[] = [];
  const perInstanceMs: number[] = [];
  for (const [index, ic] of config.instances.entries()) {
    options.signal?.throwIfAborted();
    const t1 = performance.now();
    instances.push(await runInstance(config, ic, index, options));
    perInstanceMs.push(performance.now() - t1);
  }
  return {
    experiment: 'E1-landscape',
    scale: config.scale,
    config: structuredClone(config),
    instances,
    headline: instances.map(landscapeHeadline),
    timing: { totalMs: performance.now() - t0, perInstanceMs },
  };
}
