/**
 * Is the λ_max you measured the curvature your gradient-descent step sees? A check of the
 * measurement against the training step itself, at the model's θ:
 *
 * - the loss along the top eigenvector v (unit): the central second difference
 *   (L(θ + εv) − 2L(θ) + L(θ − εv))/ε² of `model.evaluate`'s mean loss, which should equal λ_max,
 *   and the error of the quadratic model L(θ) + ε·gᵀv + ½ε²λ at θ ± εv;
 * - the GD step's linear response along v: one full-batch step of a `Trainer` with `gd({ lr: η })`
 *   (the step training takes, the gradient it differentiates) from θ and from θ + δv. Their
 *   difference is (I − ηH)δv to first order, so vᵀ(θ'₂ − θ'₁)/δ = 1 − ηλ. At η = c/λ for each c in
 *   `factors` (default 1.9 and 2.1: the two sides of 2/λ) the measured multiplier is reported
 *   next to 1 − c;
 * - stability: after `steps` GD steps from both starts, the growth ‖θ₂ − θ₁‖/δ of the perturbation
 *   (about |1 − c|^steps: < 1 below 2/λ, > 1 above) and the unperturbed run's loss against L(θ).
 *
 * If λ were measured on another objective than the step's (another scaling, a sum instead of a
 * mean, another subset, stale parameters, another batch-norm mode), the multipliers would miss
 * 1 − c by as much. Full-batch GD on `data` only; models with batch norm are refused (a training
 * step normalises with batch statistics and moves the running ones, so the two losses differ by
 * design). `model.params` and `model.grads` are restored bit for bit.
 */
import type { Examples, Model } from '../model/model.js';
import { gd } from '../optim/optimizer.js';
import { Trainer } from '../train/trainer.js';
import { countExamples } from './hessian.js';
import { parseOptions, stepCheckOptionsSchema, type SameKeys } from './options.js';
import { topEigenvalue } from './sharpness.js';

export interface StepCheckOptions {
  /** η = factor/λ_max for each factor (default [1.9, 2.1]). */
  factors?: number[];
  /** Loss-curve step ε = epsilon·max(1, ‖θ‖) along v (default 1e-3). */
  epsilon?: number;
  /** Perturbation δ = delta·max(1, ‖θ‖) along v for the GD response (default 1e-4). */
  delta?: number;
  /** GD steps for the growth of the perturbation (default 10). */
  steps?: number;
  /** λ_max accuracy (default 1e-6) and Lanczos budget (default 300). */
  tolerance?: number;
  iterations?: number;
  /** Examples per float pass of the loss and the HVPs (default 1000). */
  batchSize?: number;
  /** Start vector of the λ_max solve (e.g. a tracker's last eigenvector). */
  start?: Float64Array;
}

const sameKeys: SameKeys<StepCheckOptions, ReturnType<typeof stepCheckOptionsSchema.parse>> = true;
void sameKeys;

export interface StepResponse {
  factor: number;
  /** The step size tried, factor/λ_max (the model's loss units). */
  eta: number;
  /** 1 − factor: the multiplier along v that the measured λ_max predicts. */
  predicted: number;
  /** vᵀ(θ'₂ − θ'₁)/δ after one GD step from θ₁ = θ and θ₂ = θ + δv. */
  measured: number;
  /** ‖θ₂ − θ₁‖/δ after `steps` GD steps (about |1 − factor|^steps). */
  growth: number;
  /** Loss of the unperturbed run after `steps` steps, over L(θ) (NaN if it diverged). */
  lossRatio: number;
  diverged: boolean;
}

export interface StepCheck {
  lambda: number;
  lambdaConverged: boolean;
  /** The unit top eigenvector (float64). */
  vector: Float64Array;
  loss: number;
  /** ε used and the second difference of the loss along v (should equal `lambda`). */
  epsilon: number;
  secondDifference: number;
  /** |L(θ ± εv) − quadratic model| / (½ε²λ), the larger of the two sides. */
  quadraticModelError: number;
  delta: number;
  steps: number;
  responses: StepResponse[];
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/**
 * The check described in the module documentation, at the model's current θ on `data` (the
 * data the GD step trains on). Costs one λ_max solve, 4 loss evaluations and
 * 2·steps full-batch gradients per factor.
 */
export function checkStepCurvature(model: Model, data: Examples, options: StepCheckOptions = {}): StepCheck {
  parseOptions(stepCheckOptionsSchema, options);
  if (model.layout.stateCount > 0)
    throw new RangeError(
      'checkStepCurvature: the model has batch norm, whose training-step loss (batch statistics) is not the measured one; use a model without batch norm',
    );
  countExamples(model, data);
  const factors = options.factors ?? [1.9, 2.1];
  const epsilonRel = options.epsilon ?? 1e-3;
  const deltaRel = options.delta ?? 1e-4;
  const steps = options.steps ?? 10;
  const batchSize = options.batchSize;
  const theta = model.params.slice();
  const grads = model.grads.slice();
  const scale = Math.max(1, norm(theta));
  const eig = topEigenvalue(model, data, {
    tolerance: options.tolerance ?? 1e-6,
    iterations: options.iterations ?? 300,
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(options.start ? { start: options.start } : {}),
  });
  const lambda = eig.value;
  if (!(lambda > 0)) throw new RangeError(`checkStepCurvature: λ_max = ${lambda} is not positive; nothing to check`);
  const v = eig.vector;
  const at = (s: number): Float32Array => {
    const p = new Float32Array(theta.length);
    for (let i = 0; i < p.length; i++) p[i] = theta[i] + s * v[i];
    return p;
  };
  const lossAt = (p: Float32Array): number => {
    model.params.set(p);
    return model.evaluate(data, batchSize !== undefined ? { batchSize } : {}).loss;
  };
  try {
    const epsilon = epsilonRel * scale;
    const l0 = lossAt(theta);
    const plusP = at(epsilon);
    const minusP = at(-epsilon);
    const lp = lossAt(plusP);
    const lm = lossAt(minusP);
    // The steps actually taken in float32 (θ ± εv rounded), not the nominal ε.
    const realStep = (p: Float32Array): number => {
      let s = 0;
      for (let i = 0; i < p.length; i++) s += (p[i] - theta[i]) * v[i];
      return s;
    };
    const ep = realStep(plusP);
    const em = -realStep(minusP);
    // Second difference on an uneven stencil (ep, em ≈ ε).
    const secondDifference = (2 * (em * (lp - l0) + ep * (lm - l0))) / (ep * em * (ep + em));
    const slope = (em * em * (lp - l0) - ep * ep * (lm - l0)) / (ep * em * (ep + em));
    const quad = (s: number): number => l0 + slope * s + 0.5 * lambda * s * s;
    const quadraticModelError = Math.max(
      Math.abs(lp - quad(ep)) / (0.5 * lambda * ep * ep),
      Math.abs(lm - quad(-em)) / (0.5 * lambda * em * em),
    );

    const delta = deltaRel * scale;
    const responses: StepResponse[] = factors.map((factor) => {
      const eta = factor / lambda;
      // Plain GD keeps no optimizer state, so one trainer serves every run from a reset θ.
      const trainer = new Trainer(model, { data, optimizer: gd({ lr: eta }) });
      const run = (start: Float32Array, k: number): { params: Float32Array; diverged: boolean } => {
        model.params.set(start);
        let diverged = false;
        for (let s = 0; s < k && !diverged; s++) diverged = trainer.step().diverged;
        return { params: model.params.slice(), diverged };
      };
      const startB = at(delta);
      // δ as rounded to float32 along v, so that the multiplier is measured against the real start.
      const d0 = realStep(startB);
      const a1 = run(theta, 1).params;
      const b1 = run(startB, 1).params;
      let proj = 0;
      for (let i = 0; i < theta.length; i++) proj += (b1[i] - a1[i]) * v[i];
      const a = run(theta, steps);
      const b = run(startB, steps);
      const diff = new Float64Array(theta.length);
      for (let i = 0; i < diff.length; i++) diff[i] = b.params[i] - a.params[i];
      const diverged = a.diverged || b.diverged;
      const lossK = a.diverged ? NaN : lossAt(a.params);
      return {
        factor,
        eta,
        predicted: 1 - factor,
        measured: proj / d0,
        growth: diverged ? Infinity : norm(diff) / Math.abs(d0),
        lossRatio: lossK / l0,
        diverged,
      };
    });
    return {
      lambda,
      lambdaConverged: eig.converged,
      vector: v,
      loss: l0,
      epsilon,
      secondDifference,
      quadraticModelError,
      delta,
      steps,
      responses,
    };
  } finally {
    model.params.set(theta);
    model.grads.set(grads);
  }
}
