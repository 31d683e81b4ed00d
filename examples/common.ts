// Shared by the examples: Fashion-MNIST when installed (Debian: apt-get install
// dataset-fashion-mnist), otherwise a synthetic 10-class set, so every example runs offline.
// BIGSTEP_EXAMPLE_SIZE=tiny shrinks everything (used by the test that keeps examples working).
import { loadDataset, normalize, subset, synthetic, toExamples, type DatasetSplits, type Examples } from 'bigstep';

export const tiny = process.env.BIGSTEP_EXAMPLE_SIZE === 'tiny';

export async function fashionMnist(
  nTrain: number,
  nTest: number,
): Promise<{ train: Examples; test: Examples; name: string; inputs: number }> {
  let splits: DatasetSplits;
  let name = 'fashion-mnist';
  try {
    const full = await loadDataset('fashion-mnist', { download: false });
    splits = { train: subset(full.train, { n: nTrain }), test: subset(full.test, { n: nTest }) };
  } catch {
    name = 'synthetic gaussian mixture (Fashion-MNIST not installed)';
    splits = synthetic({ kind: 'gaussian-mixture', k: 10, d: 784, nTrain, nTest, seed: 1 });
  }
  normalize(splits);
  return {
    train: toExamples(splits.train),
    test: toExamples(splits.test),
    name,
    inputs: splits.train.x.length / splits.train.n,
  };
}
