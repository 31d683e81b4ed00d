import type { Examples } from '../model/model.js';
import type { Dataset } from './types.js';

/** The (x, y) pair a Model or Trainer consumes: class labels, or regression targets. */
export function toExamples(ds: Dataset): Examples {
  const y = ds.labels ?? ds.targets;
  if (!y) throw new RangeError(`dataset ${ds.name} has neither labels nor targets`);
  return { x: ds.x, y };
}
