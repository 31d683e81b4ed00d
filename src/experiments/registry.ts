/**
 * The experiments bigstep runs, by name, with what the run directory and the report need beyond
 * the `ExperimentDefinition` contract: the paper claim each one tests (PROTOCOL.md), a short
 * description of its data/model/seeds for summary.json, and optional tables for the report.
 */
import type { RegisteredExperiment, RunDescription } from '../run/experiment.js';
import { escapeExperiment, type EscapeConfig, type EscapeResult } from './escape.js';
import { landscapeExperiment } from './landscape-experiment.js';
import type { LandscapeConfig } from './landscape.js';
import { noiseExperiment, noiseTable, type NoiseConfig, type NoiseResult } from './noise.js';
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
    'Large steps avoid sharp local minima: GD from many random starts on f(x) = μ/2·‖x‖² − Σ Gaussian dips, over a log grid of step sizes ' +
    'spanning 2/L_loc and 2/μ, and small steps with Gaussian gradient noise at the same step budget.',
  describe(config) {
    const c = config as LandscapeConfig;
    const inst = c.instances.map((i) => `${i.name} (d=${i.dim}, ${i.dips} dips, seed ${i.seed})`).join(', ');
    return {
      dataset: `synthetic landscape f(x) = μ/2·‖x‖² − Σ aᵢ·exp(−‖x − cᵢ‖²/(2σᵢ²)): ${inst}`,
      model: `GD on f directly (N = ${c.points} starts, T = ${c.steps} steps)`,
      seeds: c.seeds,
    };
  },
};

/** Data set and model of E2/E3 (shared config parts, escape-setup.ts); from the result when there is one (it names a fallback). */
function describeNetwork(config: unknown, result: unknown): RunDescription {
  const c = config as EscapeConfig | NoiseConfig;
  const r = result as EscapeResult | NoiseResult | undefined;
  const seeds = 'seeds' in c ? c.seeds : c.seed;
  if (r && isObject(r.data) && isObject(r.model))
    return {
      dataset: `${r.data.description}${r.data.fallback ? ` (FALLBACK: ${r.data.fallback})` : ''}`,
      model: r.model.description,
      seeds,
    };
  const dataset =
    c.data.source === 'synthetic' && c.data.synthetic ? `synthetic ${c.data.synthetic.kind} (seed ${c.data.synthetic.seed})` : c.data.source;
  return { dataset, model: JSON.stringify(c.model), seeds };
}

const escape: RegisteredExperiment = {
  definition: escapeExperiment,
  protocolId: 'E2',
  claim: CLAIMS.E2,
  question:
    'Full-batch GD on a network from the same initialisation at a small and a large learning rate (and a grid between): trajectories, ' +
    'sharpness against 2/η, and whether the large rate leaves the minimum the small rate converged to (distance, loss spike, barrier).',
  describe: describeNetwork,
};

const noise: RegisteredExperiment = {
  definition: noiseExperiment,
  protocolId: 'E3',
  claim: CLAIMS.E3,
  question:
    'SGD at a fixed budget: small and large η, and small η with amplified mini-batch noise, a smaller batch or isotropic Gaussian noise ' +
    'matched to the large arm, plus full-batch GD; final train loss and test accuracy over several seeds.',
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
