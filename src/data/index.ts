/**
 * The dataset layer: named datasets from local files / cache / download, synthetic datasets from
 * a seed, normalisation and subsets. Every dataset is one contiguous typed array per split.
 * See docs/data.md.
 */
export type { Dataset, DatasetSplits } from './types.js';
export { exampleSize } from './types.js';
export { loadDataset, type LoadDatasetOptions } from './load.js';
export {
  dataRoot,
  locateDataset,
  locateDatasets,
  type DatasetInfo,
  type DatasetLocation,
  type LocateOptions,
} from './locate.js';
export { DATASET_NAMES, DEBIAN_FASHION_MNIST_DIR, SOURCES, type DatasetName } from './sources.js';
export {
  DatasetFileError,
  ChecksumError,
  DatasetNotFoundError,
  type DatasetFileErrorCode,
  type SearchedLocation,
} from './errors.js';
export { DownloadError, downloadVerified, type Checksum } from './download.js';
export {
  readIdxImages,
  readIdxLabels,
  parseIdxImages,
  parseIdxLabels,
  loadIdxPair,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
} from './idx.js';
export {
  loadCifarBatches,
  parseCifarBatch,
  CIFAR10_FORMAT,
  CIFAR100_FINE_FORMAT,
  CIFAR100_COARSE_FORMAT,
  type CifarFormat,
} from './cifar.js';
export { walkTar, extractTarMembers, type TarEntry } from './tar.js';
export { normalize, channelStats, applyNormalization, type ChannelStats } from './normalize.js';
export { subset, take, type SubsetOptions } from './subset.js';
export {
  synthetic,
  gaussianMixture,
  twoSpirals,
  teacherRegression,
  teacherClassification,
  linearlySeparable,
  SYNTHETIC_KINDS,
  type SyntheticSpec,
  type SplitSizes,
  type TeacherOptions,
  type GaussianMixtureOptions,
  type TwoSpiralsOptions,
  type TeacherRegressionOptions,
  type TeacherClassificationOptions,
  type LinearlySeparableOptions,
} from './synthetic.js';
