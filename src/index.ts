/**
 * bigstep: fast CPU neural-network training for Node.js — models, data sets, optimizers and
 * schedules, trainers, checkpoints and curvature/trajectory measurements. The experiments, run
 * directories, report and sweeps are in the `bigstep/experiments` entry point (it loads the
 * plotting libraries; this one does not).
 *
 * @module bigstep
 */

// ---- Models -------------------------------------------------------------------------------------
export { Model, describe, type Examples, type Evaluation } from './model/model.js';
export { mlp, smallCnn, resnet, type ModelSpec, type LayerSpec, type LossName } from './model/spec.js';
export type { NativeLayout, TensorEntry } from './native/binding.js';

// ---- Optimizers and schedules -------------------------------------------------------------------
export {
  sgd,
  gd,
  noisySgd,
  chain,
  clipGlobalNorm,
  addWeightDecay,
  gaussianNoise,
  momentum,
  scaleByLearningRate,
  decoupledWeightDecay,
  amplifyCoefficient,
  svagAmplification,
  parameterMask,
  isWeight,
  isBiasOrNorm,
  type OptimizerSpec,
  type TransformSpec,
  type NoiseMode,
} from './optim/optimizer.js';
export {
  constant,
  switchAt,
  stepDecay,
  cosine,
  piecewise,
  withWarmup,
  scheduleLr,
  type ScheduleSpec,
} from './optim/schedules.js';

// ---- Training and checkpoints -------------------------------------------------------------------
export type { BatchModeName, NoiseModeName } from './native/kind-names.js';
export {
  Trainer,
  type TrainerOptions,
  type TrainerState,
  type AugmentOptions,
  type BatchOptions,
  type BatchMode,
  type RunOptions,
  type RunResult,
  type StepResult,
} from './train/trainer.js';
export { runConcurrently, type ConcurrencyOptions } from './train/concurrent.js';
export {
  initMpi,
  mpiWorld,
  mpiBuilt,
  launchedByMpi,
  checkShardable,
  checkSameOnEveryRank,
  type MpiWorld,
  type RankCheckPart,
} from './train/data-parallel.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  CheckpointError,
  CHECKPOINT_MAGIC,
  CHECKPOINT_VERSION,
  type CheckpointHeader,
} from './train/checkpoint.js';

// ---- Measurement: curvature and trajectories -----------------------------------------------------
export {
  hessianVectorProduct,
  topEigenvalue,
  bottomEigenvalue,
  extremeEigenvalues,
  topEigenvalues,
  hessianTrace,
  type EigenResult,
  type HessianMethod,
  type HessianOptions,
  type BatchNormChoice,
  type SharpnessOptions,
} from './measure/sharpness.js';
export {
  distance,
  interpolationLosses,
  projectTrajectory,
  filterNormalizedDirection,
  lossSurface,
} from './measure/trajectory.js';

// ---- Data sets ----------------------------------------------------------------------------------
export {
  loadDataset,
  locateDataset,
  locateDatasets,
  synthetic,
  normalize,
  subset,
  DATASET_NAMES,
  SYNTHETIC_KINDS,
  DatasetNotFoundError,
  DatasetFileError,
  ChecksumError,
  DownloadError,
  type Dataset,
  type DatasetSplits,
  type DatasetName,
  type LoadDatasetOptions,
  type LocateOptions,
  type DatasetLocation,
  type DatasetInfo,
  type Checksum,
  type ChannelStats,
  type SubsetOptions,
  type SyntheticSpec,
  type SplitSizes,
  type TeacherOptions,
  type GaussianMixtureOptions,
  type TwoSpiralsOptions,
  type TeacherRegressionOptions,
  type TeacherClassificationOptions,
  type LinearlySeparableOptions,
  type DatasetFileErrorCode,
  type SearchedLocation,
} from './data/index.js';
export { toExamples } from './data/examples.js';

// ---- The addon ----------------------------------------------------------------------------------
export { info, setThreads, type BigstepInfo } from './native/info.js';
export { gemmBench } from './native/gemm-bench.js';
export { fmaPeak, type FmaPeak } from './native/fma-peak.js';
export type { NativeInfo, BlasCoreSource, NativeUpdatePath } from './native/binding.js';
export type { Seed } from './util/random.js';

// ---- Curvature and landscape toolkit (issue 22): flow reference, tracking, spectrum, surfaces ----
export {
  gradientFlow,
  modelGradientFlow,
  trajectoryDistances,
  RandomProjection,
  type GradientFn,
  type FlowOptions,
  type FlowResult,
} from './measure/flow.js';
export {
  SharpnessTracker,
  trackSharpness,
  type TrackingOptions,
  type TrackRunOptions,
  type SharpnessPoint,
  type SubsetEffect,
} from './measure/tracking.js';
export {
  spectralDensity,
  hessianSpectrum,
  layerCurvature,
  lanczosQuadrature,
  densityCdf,
  densityMoment,
  hutchinsonTrace,
  restrictOperator,
  type SymmetricApply,
  type BatchNormMode,
  type DensityOptions,
  type SpectralDensity,
  type QuadratureNodes,
  type HessianSpectrumOptions,
  type LayerCurvature,
} from './measure/spectrum.js';
export { checkStepCurvature, type StepCheck, type StepCheckOptions, type StepResponse } from './measure/step-check.js';
export {
  edgeOfStabilityVerdict,
  EOS_RULE,
  type EosRuleOptions,
  type EosVerdict,
  type EosJudgement,
} from './measure/eos-rule.js';
export { sharpnessChart, distanceChart, densityChart, surfaceChart } from './measure/charts.js';
export { renderChart, type RenderedChart, type RenderOptions } from './report/plot.js';
export {
  filterNormalize,
  randomFilterDirection,
  lossSurface1d,
  lossSurface2d,
  interpolationPath,
  trajectorySurface,
  type DirectionOptions,
  type SurfaceOptions,
  type Surface2D,
} from './measure/landscape-surface.js';
