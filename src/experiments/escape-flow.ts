/**
 * E2's gradient-flow reference (issue 22, measure/flow.ts): from θ₀ of a seed, the flow
 * θ'(t) = −∇L(θ) (Dormand–Prince 5(4), step ≤ α/λ_max with λ_max re-estimated by warm-started
 * Lanczos) against full-batch GD at each edge-of-stability arm's η = c/λ₀ and at η_small, compared
 * at matched times t = η·k: ‖θ_GD(k) − θ_flow(ηk)‖, exact (full parameter vectors, double).
 *
 * Every arm runs for as many steps as cover the time the fastest edge-of-stability arm reaches
 * (t_max = max_c (c/λ₀)·eos.steps), so every line spans the same flow time; each is compared at
 * `points` + 1 evenly spaced steps. The GD runs are this unit's own (the same trajectories as the
 * eos and converge phases, which do not keep iterates); the unit is recomputed whole if a run is
 * interrupted inside it. Batch norm: train data, eval mode; E2's models have none ('none').
 */
import { Model, type Examples } from '../model/model.js';
import type { ModelSpec } from '../model/spec.js';
import { modelGradientFlow } from '../measure/flow.js';
import type { BatchNormMode } from '../measure/hessian.js';
import { sgd } from '../optim/optimizer.js';
import { Trainer } from '../train/trainer.js';

/** The flow reference's part of the E2 config. */
export interface FlowConfig {
  /** The first `seeds` seeds get the comparison (0: none). */
  seeds: number;
  /** Comparison points per arm (evenly spaced steps, plus step 0). */
  points: number;
  /** Step bound h ≤ alpha/λ_max (Cohen et al.'s heuristic; the Dormand–Prince stability interval ends near 3.3/λ). */
  alpha: number;
  /** Error control per coordinate: atol + rtol·|θᵢ|. */
  rtol: number;
  atol: number;
}

/** One GD arm against the flow. */
export interface FlowArm {
  label: string;
  /** c of η = c/λ₀ (null for the η_small reference). */
  etaLambda: number | null;
  eta: number;
  steps: number;
  diverged: boolean;
  points: Array<{
    step: number;
    /** Flow time t = η·step. */
    t: number;
    /** ‖θ_GD(step) − θ_flow(t)‖₂. */
    distance: number;
    /** ‖θ_flow(t) − θ₀‖₂: how far the flow itself has moved (the scale of `distance`). */
    flowTravel: number;
    gdLoss: number;
    flowLoss: number;
  }>;
}

/** The flow run and every arm's distance to it. */
export interface FlowComparison {
  /** t_max, and t_max·λ₀ (dimensionless). */
  horizon: number;
  horizonLambda0: number;
  gradients: number;
  accepted: number;
  rejected: number;
  /** λ_max along the flow (the step bound's estimates). */
  lambdas: Array<{ t: number; value: number }>;
  diverged: boolean;
  batchNorm: BatchNormMode;
  arms: FlowArm[];
}

/** Steps 0 = k₀ < k₁ < … ≤ steps, `points` + 1 of them evenly spaced (fewer when steps < points). */
export function comparisonSteps(steps: number, points: number): number[] {
  const ks = new Set<number>();
  for (let j = 0; j <= points; j++) ks.add(Math.round((j * steps) / points));
  return [...ks].sort((a, b) => a - b);
}

function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/**
 * The comparison for one seed: `theta0` its θ₀, λ₀ = λ_max(θ₀), the eos arms' c values and steps,
 * η_small. `progress(steps)` is told the GD steps as they are done.
 */
export async function flowComparison(args: {
  spec: ModelSpec;
  train: Examples;
  theta0: Float32Array;
  lambda0: number;
  etaLambda: number[];
  eosSteps: number;
  etaSmall: number;
  config: FlowConfig;
  microBatch: number | null;
  signal?: AbortSignal;
  progress: (steps: number) => void;
}): Promise<FlowComparison> {
  const { spec, train, theta0, lambda0, config: c } = args;
  const arms = [
    ...args.etaLambda.map((el) => ({ label: `η·λ₀ = ${el}`, etaLambda: el as number | null, eta: el / lambda0 })),
    { label: `η_small (η·λ₀ = ${+(args.etaSmall * lambda0).toPrecision(3)})`, etaLambda: null, eta: args.etaSmall },
  ];
  const horizon = Math.max(...args.etaLambda.map((el) => (el / lambda0) * args.eosSteps));
  const plans = arms.map((a) => {
    const steps = Math.max(1, Math.round(horizon / a.eta));
    return { ...a, steps, ks: comparisonSteps(steps, c.points) };
  });
  // The flow is saved at the union of every arm's matched times (t = η·k > 0).
  const times = [...new Set(plans.flatMap((p) => p.ks.filter((k) => k > 0).map((k) => p.eta * k)))].sort(
    (a, b) => a - b,
  );
  const model = new Model(spec);
  let flow: ReturnType<typeof modelGradientFlow>;
  try {
    model.params.set(theta0);
    flow = modelGradientFlow(model, train, {
      eta: args.etaSmall,
      times,
      rtol: c.rtol,
      atol: c.atol,
      alpha: c.alpha,
      maxStep: horizon,
      lambdaEvery: 10,
      batchSize: args.microBatch ?? Math.max(1, train.x.length / model.inputSize),
    });
  } finally {
    model.close();
  }
  const flowAt = new Map<number, number>(); // time → index into flow.iterates
  flow.times.forEach((t, i) => flowAt.set(i === 0 ? 0 : times[i - 1], i));
  const out: FlowArm[] = [];
  for (const p of plans) {
    const m = new Model(spec);
    try {
      m.params.set(theta0);
      const trainer = new Trainer(m, {
        data: train,
        optimizer: sgd({ lr: p.eta }),
        batch: { mode: 'full', ...(args.microBatch ? { microBatch: args.microBatch } : {}) },
        seed: 0,
      });
      const arm: FlowArm = {
        label: p.label,
        etaLambda: p.etaLambda,
        eta: p.eta,
        steps: 0,
        diverged: false,
        points: [],
      };
      for (const k of p.ks) {
        if (k > arm.steps) {
          const r = await trainer.run({ steps: k - arm.steps, chunkSize: k - arm.steps, signal: args.signal });
          arm.steps += r.stepsDone;
          args.progress(r.stepsDone);
          if (r.diverged) {
            arm.diverged = true;
            break;
          }
        }
        const i = flowAt.get(k === 0 ? 0 : p.eta * k);
        if (i === undefined || i >= flow.iterates.length) break; // the flow diverged before this time
        const f = flow.iterates[i];
        arm.points.push({
          step: k,
          t: p.eta * k,
          distance: dist(m.params, f),
          flowTravel: dist(f, theta0),
          gdLoss: m.evaluate(train).loss,
          flowLoss: flow.loss[i],
        });
      }
      out.push(arm);
    } finally {
      m.close();
    }
  }
  return {
    horizon,
    horizonLambda0: horizon * lambda0,
    gradients: flow.gradients,
    accepted: flow.accepted,
    rejected: flow.rejected,
    lambdas: flow.lambdas,
    diverged: flow.diverged,
    batchNorm: flow.batchNorm,
    arms: out,
  };
}
