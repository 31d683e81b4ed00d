/**
 * `bigstep/experiments`: the paper's experiments (E1 landscape, E2 escape, E3 noise) by name,
 * run directories (`runExperiment`) and the HTML report (`writeReport`) — what the `bigstep run`
 * and `bigstep report` commands do. Sweeps (`bigstep sweep plan|run|collect|slurm|k8s`) run each
 * task as a CLI process and are driven from the command line. Importing this entry point loads
 * the plotting libraries (vega, resvg); `bigstep` itself does not.
 *
 * ```ts
 * import { findExperiment, runExperiment, writeReport } from 'bigstep/experiments';
 * const outcome = await runExperiment(findExperiment('noise')!, 'tiny', { out: 'runs' });
 * console.log(outcome.status, outcome.summary.headline);
 * await writeReport('runs');
 * ```
 *
 * @module bigstep/experiments
 */

// ---- The experiments ----------------------------------------------------------------------------
export {
  experiments,
  findExperiment,
  experimentNames,
  type RegisteredExperiment,
  type RunDescription,
} from './experiments/registry.js';
export type { ExperimentDefinition, RunContext, Scale, Headline } from './experiments/types.js';
export { SCALES } from './run/experiment.js';
export type { Verdict, VerdictValue } from './run/verdict.js';

// ---- Run directories ----------------------------------------------------------------------------
export {
  runExperiment,
  planRun,
  applySeed,
  readSummary,
  RunFailedError,
  type RunExperimentOptions,
  type RunPlan,
  type RunOutcome,
  type ProgressSink,
} from './run/run.js';
export {
  validateRunDir,
  type RunSummary,
  type RunStatus,
  type ReportTable,
  type FigureEntry,
  type TableCell,
} from './run/schema.js';
export type { RunEnvironment } from './run/env.js';
// What an experiment gets as `context.resume`: units of work that survive a kill, with checkpoints.
export {
  ResumeStore,
  Unit,
  checkpointSecondsFromEnv,
  DEFAULT_CHECKPOINT_SECONDS,
  type ResumeStats,
  type ResumeStoreOptions,
} from './run/resume.js';

// ---- The report ---------------------------------------------------------------------------------
export { writeReport, findRunDirs, type WriteReportOptions, type ReportOutcome } from './report/report.js';
export type { Figure, RenderedChart } from './report/plot.js';
