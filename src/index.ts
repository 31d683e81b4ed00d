/** bigstep: fast CPU neural-network training for Node.js. */
export { Model, describe, type Examples, type Evaluation } from './model/model.js';
export { mlp, smallCnn, resnet, type ModelSpec, type LayerSpec, type LossName } from './model/spec.js';
export { sgd, gd, compilePlan, type OptimizerSpec, type TransformSpec } from './optim/optimizer.js';
export { constant, switchAt, type ScheduleSpec } from './optim/schedules.js';
export { Trainer, type TrainerOptions, type BatchOptions, type BatchMode, type RunOptions, type RunResult, type StepResult } from './train/trainer.js';
export { info, setThreads } from './info.js';
export {
  loadDataset,
  synthetic,
  normalize,
  subset,
  type Dataset,
  type DatasetSplits,
  type LoadDatasetOptions,
  type SyntheticSpec,
} from './data/index.js';
export { toExamples } from './data/examples.js';
export { MultiTrainer, gemmBench, type MultiTrainerOptions, type MultiModelOptions, type MultiRunOptions, type MultiRunResult, type MultiModelResult } from './train/multi-trainer.js';
