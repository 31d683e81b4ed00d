/**
 * What batch gathering costs inside the native chunk loop, on Fashion-MNIST (60,000 × 784):
 *   node dist/bench/gather.js [seconds-per-measurement]
 *
 * For each model, a step with `shuffle` batches of 128 drawn from the whole training set (rows
 * copied from random places, one permutation per epoch) is compared with a step on a fixed set of
 * 128 examples in `full` mode (no gather, no permutation, data already in cache). The difference is
 * the cost of gathering; its share of the shuffled step is the figure the data issue bounds
 * (< 10 % of an MLP training step). A linear model (784 → 10, almost no compute) gives the
 * gathering rate in batches/s. Repeats are interleaved and the median of 7 is reported.
 */
import { Model, Trainer, loadDataset, mlp, setThreads, sgd, type ModelSpec } from '../src/index.js';

const budget = Number(process.argv[2] ?? 2);
const BATCH = 128;
setThreads(1);

interface Arm {
  name: string;
  spec: ModelSpec;
}
const arms: Arm[] = [
  { name: 'linear 784-10', spec: mlp({ input: 784, hidden: [], outputs: 10 }) },
  { name: 'MLP 784-256-256-10', spec: mlp({ input: 784, hidden: [256, 256], outputs: 10 }) },
  { name: 'MLP 784-1024-1024-10', spec: mlp({ input: 784, hidden: [1024, 1024], outputs: 10 }) },
];

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { train } = await loadDataset('fashion-mnist', { download: false });
  const fixedX = train.x.slice(0, BATCH * 784);
  const labels = train.labels;
  if (!labels) throw new Error('fashion-mnist: train split has no labels');
  const fixedY = labels.slice(0, BATCH);
  const rows: string[] = [];
  for (const arm of arms) {
    const model = new Model(arm.spec, { seed: 1 });
    const shuffled = new Trainer(model, {
      data: { x: train.x, y: labels },
      optimizer: sgd({ lr: 1e-3 }),
      batch: { mode: 'shuffle', size: BATCH },
      seed: 1,
    });
    const fixed = new Trainer(model, {
      data: { x: fixedX, y: fixedY },
      optimizer: sgd({ lr: 1e-3 }),
      batch: { mode: 'full' },
      seed: 1,
    });
    const time = async (t: Trainer, steps: number): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await t.run({ steps, chunkSize: steps });
      return Number(process.hrtime.bigint() - t0) / 1e9 / steps;
    };
    await time(shuffled, 5);
    await time(fixed, 5);
    const probe = await time(shuffled, 20);
    const steps = Math.max(20, Math.round(budget / 7 / probe));
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < 7; r++) {
      a.push(await time(shuffled, steps));
      b.push(await time(fixed, steps));
    }
    const stepShuffled = median(a);
    const stepFixed = median(b);
    const gather = Math.max(0, stepShuffled - stepFixed);
    rows.push(
      `| ${arm.name} | ${(1e6 * stepShuffled).toFixed(1)} | ${(1e6 * stepFixed).toFixed(1)} | ${(1e6 * gather).toFixed(1)} | ` +
        `${((100 * gather) / stepShuffled).toFixed(1)} % | ${gather > 0 ? Math.round(1 / gather).toLocaleString('en') : '∞'} |`,
    );
    model.close();
  }
  console.log(
    `Batch gathering, Fashion-MNIST train (60,000 × 784), batch ${BATCH}, 1 thread, median of 7 interleaved repeats\n`,
  );
  console.log(
    '| model | step, shuffled batches (µs) | step, fixed batch (µs) | gathering (µs) | share of step | gathered batches/s |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
