/**
 * The experiments bigstep runs, by name, with what the run directory and the report need beyond
 * the `ExperimentDefinition` contract: the paper claim each one tests (PROTOCOL.md), a short
 * description of its data/model/seeds for summary.json, and optional tables for the report.
 */
import type { RegisteredExperiment, RunDescription } from '../run/experiment.js';
import { escapeExperiment, type EscapeConfig, type EscapeResult } from './escape-experiment.js';
import { landscapeExperiment } from './landscape-experiment.js';
import type { LandscapeConfig } from './landscape.js';
import { noiseExperiment, noiseTable } from './noise-experiment.js';
import type { NoiseConfig, NoiseResult } from './noise.js';
import type { ExperimentDefinition } from './types.js';

export { describeGeneric, type RegisteredExperiment, type RunDescription } from '../run/experiment.js';
export type ExperimentName = ExperimentDefinition<unknown, unknown>['name'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const CLAIMS = {
  E1:
    'Theory: on a class of non-convex functions, gradient descent with a large step size follows a different trajectory than with a small one ' +
    'and reaches the global minimum, while a small step size can stop in a local minimum. Small step size plus stochastic noise of any ' +
    'magnitude cannot guarantee the global minimum, whereas a large step size can.',
  E2:
    'Neural networks: with full-batch GD, small and large learning rates take visibly different trajectories; a large learning rate escapes ' +
    'a local minimum that a small one stays in.',
  E3:
    'SGD: stochastic noise helps, but does not explain the benefit of a large learning rate. A practical way to raise gradient noise without ' +
    'changing the learning rate, at a small learning rate, does not recover the performance of a large learning rate.',
} as const;

const landscape: RegisteredExperiment = {
  definition: landscapeExperiment,
  protocolId: 'E1',
  claim: CLAIMS.E1,
  question:
    "Theorem 1 on its own class: on the paper's 1-D illustration and on families of strongly convex bowls with narrow C² dips " +
    '(Gaussian dips as a family beyond the class), measure M, μ†, P(M), L, μ*, L_global and the window (2/μ†, μ* / L²], then run GD from ' +
    'random starts in W and in M over a log grid of γ spanning both bounds, and small γ with uniform noise of any σ at equal T and equal γT.',
  describe(config) {
    const c = config as LandscapeConfig;
    const inst = c.instances
      .map(
        (i) =>
          `${i.name} (${i.kind ?? 'gaussian'}, d=${i.dim}, ${i.dips} dips, ${i.count ?? 1} instance(s) from seed ${i.seed})`,
      )
      .join(', ');
    return {
      dataset: `synthetic landscapes: ${inst}`,
      model: `GD on f directly (N = ${c.points} starts per start set, T = ${c.steps} steps)`,
      seeds: c.seeds,
    };
  },
};

/** Data set and model of E2/E3 (shared config parts, escape-setup.ts); from the result when there is one (it names a fallback). */
function describeNetwork(config: unknown, result: unknown): RunDescription {
  const c = config as EscapeConfig | NoiseConfig;
  const r = result as EscapeResult | NoiseResult | undefined;
  const seeds = c.seeds;
  if (r && isObject(r.data) && isObject(r.model))
    return {
      dataset: `${r.data.description}${r.data.fallback ? ` (FALLBACK: ${r.data.fallback})` : ''}`,
      model: r.model.description,
      seeds,
    };
  const dataset =
    c.data.source === 'synthetic' && c.data.synthetic
      ? `synthetic ${c.data.synthetic.kind} (seed ${c.data.synthetic.seed})`
      : c.data.source;
  return { dataset, model: JSON.stringify(c.model), seeds };
}

const escape: RegisteredExperiment = {
  definition: escapeExperiment,
  protocolId: 'E2',
  claim: CLAIMS.E2,
  question:
    'Full-batch GD on a network (MSE loss, several init seeds): a catapult phase diagram over η·λ₀, λ_max against 2/η at the edge of stability, ' +
    'and whether GD at a large learning rate leaves the basin of a minimum θ_s that a small rate found (loss barrier on θ_s → end point, and ' +
    'whether small-η GD from the end point returns to θ_s).',
  describe: describeNetwork,
};

const noise: RegisteredExperiment = {
  definition: noiseExperiment,
  protocolId: 'E3',
  claim: CLAIMS.E3,
  question:
    'SGD at η_small with extra noise — two-batch (SVAG) amplification at the temperature-matched (√k) and per-step-matched (k) levels and ' +
    'around them, a smaller batch, temperature-matched isotropic noise — against SGD at η_large = k·η_small, at equal epochs and at equal ' +
    'gradient-flow time ηT, with a learning-rate sweep, a decay schedule and GD; paired per-seed differences with t-intervals and TOST.',
  describe: describeNetwork,
  tables: (result) => [noiseTable(result as NoiseResult)],
};

/** Every experiment, in PROTOCOL.md order. */
export const experiments: readonly RegisteredExperiment[] = [landscape, escape, noise];

/** The registered experiment called `name`, or undefined. */
export function findExperiment(name: string): RegisteredExperiment | undefined {
  return experiments.find((e) => e.definition.name === name);
}

/** Names of the registered experiments, in order. */
export function experimentNames(): string[] {
  return experiments.map((e) => e.definition.name);
}
