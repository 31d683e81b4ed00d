/**
 * Sharpness tracking during training: the top-k Hessian eigenvalues (λ_max first) every `every`
 * steps on a FIXED subset of the training data whose size is stated in every result (λ estimated
 * on a fresh mini-batch each time swings by several times; a fixed subset of a few thousand
 * examples does not). Each measurement is Lanczos (lanczos.ts, full reorthogonalisation, exact
 * HVPs by default) warm-started from the previous eigenvectors: the start vector is their sum
 * plus a small seeded random part (so an eigenvector that newly overtakes the old ones is still
 * found), and the new vectors' signs are aligned with the previous ones so they can be followed
 * over time. Every measurement reports its cost (Hessian-vector products and seconds), and the
 * first one also measures λ on the full data once, to state the subset's effect.
 *
 * Batch norm is evaluated in eval mode (running statistics) unless `batchNorm: 'train'` (batch
 * statistics of each `batchSize` chunk); every result states the mode as `batchNorm`.
 */
import type { Examples, Model } from '../model/model.js';
import type { Trainer } from '../train/trainer.js';
import { Rng } from '../util/random.js';
import { parseNamed } from '../util/schema.js';
import {
  batchNormChoice,
  batchNormMode,
  countExamples,
  withOperator,
  type BatchNormChoice,
  type BatchNormMode,
  type HessianMethod,
  type HessianOptions,
} from './hessian.js';
import { LanczosWorkspace, lanczos } from './lanczos.js';
import { parseOptions, trackingOptionsSchema, trackRunOptionsSchema, type SameKeys } from './options.js';

/** Options of sharpness tracking: the fixed subset, top-k, how often, the Lanczos budget. */
export interface TrackingOptions {
  /** Eigenvalues tracked (default 2). */
  k?: number;
  /** Examples in the fixed subset: the FIRST `subset` examples of the data (default min(n, 5000)). */
  subset?: number;
  /** Warm-start from the previous eigenvectors (default true; false: a fresh seeded random start each time). */
  warmStart?: boolean;
  /** Relative eigenvalue accuracy (default 1e-3). */
  tolerance?: number;
  /** Lanczos steps at most per measurement (default 100). */
  iterations?: number;
  /** Weight of the random part of a warm start, relative to the old vectors' sum (default 0.1). */
  randomWeight?: number;
  /** Measure λ_max on the full data once, at the first measurement (default true when subset < n). */
  compareFull?: boolean;
  seed?: number;
  method?: HessianMethod;
  batchSize?: number;
  /** finite-difference only: relative step (see hessian.ts). */
  epsilon?: number;
  /** Batch norm with running statistics ('eval', default) or batch statistics ('train'); see hessian.ts. */
  batchNorm?: BatchNormChoice;
  /** Split the Hessian-vector products over the MPI ranks (exact method; src/measure/hessian.ts). */
  dataParallel?: boolean;
}

const sameKeys: [
  SameKeys<TrackingOptions, ReturnType<typeof trackingOptionsSchema.parse>>,
  SameKeys<TrackRunOptions, ReturnType<typeof trackRunOptionsSchema.parse>>,
] = [true, true];
void sameKeys;

/** One tracked measurement. */
export interface SharpnessPoint {
  step: number;
  /** Top-k eigenvalues, descending. */
  values: number[];
  /** Lanczos residual estimates ‖Hv − λv‖/|λ| per value. */
  residuals: number[];
  converged: boolean;
  /** Hessian-vector products and wall seconds this measurement took. */
  products: number;
  seconds: number;
}

/** λ on the tracking subset against λ on the full data set, measured once. */
export interface SubsetEffect {
  subset: number;
  full: number;
  /** λ_max on the subset and on all n examples, and (subset − full)/full. */
  subsetValue: number;
  fullValue: number;
  relative: number;
}

/** Takes warm-started top-k measurements of a model's Hessian on a fixed data subset. */
export class SharpnessTracker {
  readonly k: number;
  readonly subsetSize: number;
  readonly dataSize: number;
  readonly batchNorm: BatchNormMode;
  readonly points: SharpnessPoint[] = [];
  subsetEffect: SubsetEffect | null = null;
  private vectors: Float64Array[] | null = null;
  private workspace: LanczosWorkspace | null = null; // the Lanczos basis, kept across measurements
  private readonly subset: Examples;
  private readonly rng: Rng;
  private readonly o: Required<
    Pick<TrackingOptions, 'warmStart' | 'tolerance' | 'iterations' | 'randomWeight' | 'compareFull'>
  >;

  constructor(
    private readonly model: Model,
    private readonly data: Examples,
    private readonly options: TrackingOptions = {},
  ) {
    parseOptions(trackingOptionsSchema, options);
    this.dataSize = countExamples(model, data);
    this.k = options.k ?? 2;
    if (this.k > model.params.length)
      throw new RangeError(`options.k must be at most paramCount ${model.params.length}`);
    this.subsetSize = options.subset ?? Math.min(this.dataSize, 5000);
    if (this.subsetSize > this.dataSize)
      throw new RangeError(`options.subset must be at most the ${this.dataSize} examples (got ${this.subsetSize})`);
    const ySize = model.isClassifier() ? 1 : model.outputSize;
    this.subset = {
      x: data.x.subarray(0, this.subsetSize * model.inputSize),
      y: data.y.subarray(0, this.subsetSize * ySize),
    };
    this.rng = Rng.fromSeed(options.seed ?? 0, 51);
    this.o = {
      warmStart: options.warmStart ?? true,
      tolerance: options.tolerance ?? 1e-3,
      iterations: options.iterations ?? 100,
      randomWeight: options.randomWeight ?? 0.1,
      compareFull: options.compareFull ?? this.subsetSize < this.dataSize,
    };
    this.batchNorm = batchNormMode(model, batchNormChoice(options.batchNorm));
  }

  /** The Hessian options of every measurement (method, chunk size, finite-difference step, batch-norm mode). */
  private hessianOptions(): HessianOptions {
    const { method, batchSize, epsilon, batchNorm, dataParallel } = this.options;
    return { method, batchSize, epsilon, batchNorm, dataParallel };
  }

  /** The unit eigenvectors of the last measurement (signs aligned over time), or null before the first. */
  get lastVectors(): Float64Array[] | null {
    return this.vectors;
  }

  /** Measures the top-k eigenvalues at the model's current θ, records and returns the point. */
  measure(step: number): SharpnessPoint {
    const began = performance.now();
    const hOpts = this.hessianOptions();
    const point = withOperator(this.model, this.subset, hOpts, (op) => {
      const dim = op.dim;
      const start = new Float64Array(dim);
      for (let i = 0; i < dim; i++) start[i] = this.rng.normal();
      if (this.o.warmStart && this.vectors) {
        // Random part scaled to `randomWeight` of the old vectors' sum (norm √k).
        const scale = (this.o.randomWeight * Math.sqrt(this.k)) / Math.sqrt(dim);
        for (let i = 0; i < dim; i++) start[i] *= scale;
        for (const v of this.vectors) for (let i = 0; i < dim; i++) start[i] += v[i];
      }
      let n = 0;
      for (let i = 0; i < dim; i++) n += start[i] * start[i];
      n = Math.sqrt(n);
      for (let i = 0; i < dim; i++) start[i] /= n;
      this.workspace ??= new LanczosWorkspace(dim);
      const r = lanczos(
        (v, out) => op.apply(v, out),
        dim,
        {
          k: this.k,
          which: 'largest',
          maxIterations: this.o.iterations,
          tolerance: this.o.tolerance,
          start,
          vectors: true,
        },
        this.workspace,
      );
      const vecs = r.largest.map((p) => p.vector!);
      if (this.vectors) {
        vecs.forEach((v, j) => {
          let c = 0;
          const prev = this.vectors![j];
          for (let i = 0; i < dim; i++) c += v[i] * prev[i];
          if (c < 0) for (let i = 0; i < dim; i++) v[i] = -v[i];
        });
      }
      this.vectors = vecs;
      return {
        step,
        values: r.largest.map((p) => p.value),
        residuals: r.largest.map((p) => p.residualEstimate / Math.max(Math.abs(p.value), 1e-300)),
        converged: r.largest.every((p) => p.converged),
        products: op.products,
        seconds: 0,
      };
    });
    point.seconds = (performance.now() - began) / 1000;
    if (this.o.compareFull && !this.subsetEffect) {
      const full = withOperator(this.model, this.data, this.hessianOptions(), (op) => {
        const start = Float64Array.from(this.vectors![0]);
        return lanczos(
          (v, out) => op.apply(v, out),
          op.dim,
          {
            k: 1,
            which: 'largest',
            maxIterations: this.o.iterations,
            tolerance: this.o.tolerance,
            start,
            vectors: false,
          },
          this.workspace!,
        ).largest[0].value;
      });
      const sub = point.values[0];
      this.subsetEffect = {
        subset: this.subsetSize,
        full: this.dataSize,
        subsetValue: sub,
        fullValue: full,
        relative: (sub - full) / full,
      };
    }
    this.points.push(point);
    return point;
  }
}

/** Options of `trackSharpness`: tracking plus the training run to follow. */
export interface TrackRunOptions extends TrackingOptions {
  /** Training steps in total. */
  steps: number;
  /** Measure every `every` steps (and at step 0). */
  every: number;
  /** Stop early when this returns true after a measurement (e.g. train accuracy reached). */
  stopWhen?: (point: SharpnessPoint, step: number) => boolean;
  /** Called after each measurement (progress, logging). */
  onMeasure?: (point: SharpnessPoint) => void;
}

/**
 * Trains with `trainer` (on `model`) for `steps` steps, measuring the top-k eigenvalues on the
 * fixed subset of `data` at step 0 and every `every` steps. Divergence ends the run and is
 * reported (`diverged`), not thrown.
 */
export async function trackSharpness(
  trainer: Trainer,
  model: Model,
  data: Examples,
  options: TrackRunOptions,
): Promise<{
  points: SharpnessPoint[];
  subsetEffect: SubsetEffect | null;
  subset: number;
  dataSize: number;
  k: number;
  diverged: boolean;
  steps: number;
  batchNorm: BatchNormMode;
}> {
  parseNamed(trackRunOptionsSchema, options, 'options');
  const { steps, every, stopWhen, onMeasure, ...rest } = options;
  const tracker = new SharpnessTracker(model, data, rest);
  let done = 0;
  let diverged = false;
  const measure = (): boolean => {
    const p = tracker.measure(done);
    onMeasure?.(p);
    return stopWhen ? stopWhen(p, done) : false;
  };
  let stop = measure();
  while (!stop && done < steps) {
    const n = Math.min(every, steps - done);
    const r = await trainer.run({ steps: n });
    done += n;
    if (r.diverged) {
      diverged = true;
      break;
    }
    stop = measure();
  }
  return {
    points: tracker.points,
    subsetEffect: tracker.subsetEffect,
    subset: tracker.subsetSize,
    dataSize: tracker.dataSize,
    k: tracker.k,
    diverged,
    steps: done,
    batchNorm: tracker.batchNorm,
  };
}
