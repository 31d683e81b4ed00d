/**
 * The names of the option kinds as TypeScript types, and the shape of the lists the addon exports
 * (binding/kinds.h; the lists themselves are in kinds.ts). Types only: binding.ts and kinds.ts both
 * use them.
 */
/** How a Trainer draws its batches (`batch.mode`): the addon's list, `native.kinds.batchModes`. */
export type BatchModeName = 'full' | 'sequential' | 'shuffle' | 'replacement';
export type ScheduleKindName = 'constant' | 'step' | 'cosine' | 'piecewise';
export type TransformKindName =
  'clipGlobalNorm' | 'addWeightDecay' | 'gaussianNoise' | 'momentum' | 'scaleByLearningRate' | 'decoupledWeightDecay';
/** How `gaussianNoise` scales its noise (`mode`): the addon's list, `native.kinds.noiseModes`. */
export type NoiseModeName = 'std' | 'norm' | 'relative';
export type LayerTypeName =
  | 'dense'
  | 'conv2d'
  | 'maxpool'
  | 'avgpool'
  | 'globalavgpool'
  | 'flatten'
  | 'relu'
  | 'tanh'
  | 'gelu'
  | 'resblock'
  | 'batchnorm';
export type LossKindName = 'softmax-cross-entropy' | 'mse';
export type InitKindName = 'he' | 'xavier';

/** The kind lists the addon exports (frozen arrays, in the binding's order). */
export interface OptionKinds {
  batchModes: readonly BatchModeName[];
  scheduleKinds: readonly ScheduleKindName[];
  transformKinds: readonly TransformKindName[];
  noiseModes: readonly NoiseModeName[];
  layerTypes: readonly LayerTypeName[];
  losses: readonly LossKindName[];
  inits: readonly InitKindName[];
}
