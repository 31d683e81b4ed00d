/**
 * The experiment contract, re-exported for the experiments in this folder: it is defined in
 * src/run/experiment.ts, so that the run machinery never imports the experiments.
 */
export type { ExperimentDefinition, Figure, Headline, RunContext, Scale } from '../run/experiment.js';
export { SCALES } from '../run/experiment.js';
