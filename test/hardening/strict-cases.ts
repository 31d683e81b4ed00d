// Cases of the strict-input battery (issue 20): every bad input must end in the named error class
// with a message naming the parameter or file, within the case's time limit, without a crash.
// Each case runs in its own child process (strict-child.ts); this module only builds the list
// (importing it loads nothing of bigstep: case bodies import the package when they run).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a case must end in: an exception (class + message fragment) or a CLI exit. */
export interface StrictCase {
  name: string;
  group: string;
  /** API case: resolves when the call returned (a failure for these cases), rejects with the error. */
  run?: () => unknown;
  /** Error class name expected (constructor name); 'returns-true': the call must resolve to true. */
  cls?: string;
  /** A fragment the message must contain: the parameter path or the file. */
  names?: string;
  /** CLI case: argv after `bigstep`, run in a fresh temp dir; exit code and stderr fragment. */
  cli?: {
    argv: (dir: string) => string[];
    setup?: (dir: string) => void;
    code: number;
    stderr: string;
    noNewFiles?: boolean;
    /** Send SIGTERM (SIGINT when `stderr` is 'SIGINT') this long after stdout says "running"; it must exit within 2 s. */
    signalAfterMs?: number;
  };
  /** Limit for the whole child (ms). */
  timeoutMs?: number;
  /** Wall time the call itself must stay under (ms), e.g. an impossible mkdir. */
  withinMs?: number;
}

const dist = fileURLToPath(new URL('../../src/', import.meta.url));
const load = async () => (await import(path.join(dist, 'index.js'))) as typeof import('../../src/index.js');
const loadExp = async () =>
  (await import(path.join(dist, 'experiments-api.js'))) as typeof import('../../src/experiments-api.js');
const mod = async <T>(rel: string): Promise<T> => (await import(path.join(dist, rel))) as T;

export const cliMain = path.join(dist, 'cli', 'main.js');

const cases: StrictCase[] = [];

/**
 * A hang guard, not a speed check: a refusal that does its work first (expanding 7.8e8 sweep
 * tasks, blocking on a FIFO) takes minutes or forever, so the bound is set far above any honest
 * refusal on a loaded machine (a 2 s bound failed at 3.2 s under a load of 18 on 2 cores).
 */
export const HANG_MS = 20000;

/** Runs `call` after the modules are loaded and fails (a plain Error) if it takes longer than `ms`: the bound is the call's, not node's start-up. */
async function within<T>(ms: number, call: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const tooSlow = (): Error | undefined => {
    const took = performance.now() - t0;
    return took > ms ? new Error(`took ${took.toFixed(0)} ms (limit ${ms} ms)`) : undefined;
  };
  let value: T;
  try {
    value = await call();
  } catch (e) {
    throw tooSlow() ?? e;
  }
  const slow = tooSlow();
  if (slow) throw slow;
  return value;
}
const api = (
  group: string,
  name: string,
  cls: string,
  names: string,
  run: () => unknown,
  extra: Partial<StrictCase> = {},
): void => {
  cases.push({ group, name, cls, names, run, ...extra });
};

/** A small classifier and its data. */
async function small() {
  const bs = await load();
  const m = new bs.Model(bs.mlp({ input: 4, hidden: [8], outputs: 2 }), { seed: 1 });
  const x = new Float32Array(32 * 4).map((_, i) => Math.sin(i));
  const y = new Int32Array(32).map((_, i) => i % 2);
  return { bs, m, d: { x, y } };
}

// ---- 1. unknown keys (did you mean …) ------------------------------------------------------------
const typo = (group: string, name: string, near: string, run: () => unknown): void =>
  api(group, `unknown key: ${name}`, 'TypeError', `"${near}"`, run);

typo('keys', 'sgd({ momentun })', 'momentum', async () => (await load()).sgd({ lr: 0.1, momentun: 0.9 } as never));
typo('keys', 'sgd({ weightdecay })', 'weightDecay', async () =>
  (await load()).sgd({ lr: 0.1, weightdecay: 0.1 } as never),
);
typo('keys', 'sgd({ nestrov })', 'nesterov', async () => (await load()).sgd({ lr: 0.1, nestrov: true } as never));
typo('keys', 'sgd({ Lr })', 'lr', async () => (await load()).sgd({ lr: 0.1, Lr: 1 } as never));
typo('keys', 'noisySgd({ anealSteps })', 'annealSteps', async () =>
  (await load()).noisySgd({ lr: 0.1, noiseStd: 0.1, anealSteps: 5 } as never),
);
typo('keys', 'noisySgd({ noiseSdt })', 'noiseStd', async () =>
  (await load()).noisySgd({ lr: 0.1, noiseStd: 0.1, noiseSdt: 1 } as never),
);
typo('keys', 'momentum(0.9, { nesterv })', 'nesterov', async () =>
  (await load()).momentum(0.9, { nesterv: true } as never),
);
typo('keys', 'gaussianNoise(0.1, { mod })', 'mode', async () =>
  (await load()).gaussianNoise(0.1, { mod: 'std' } as never),
);
typo('keys', 'addWeightDecay(0.1, { mask_ })', 'mask', async () =>
  (await load()).addWeightDecay(0.1, { mask_: null } as never),
);
typo('keys', 'decoupledWeightDecay(0.1, { msk })', 'mask', async () =>
  (await load()).decoupledWeightDecay(0.1, { msk: null } as never),
);
for (const [kind, obj, near] of [
  ['constant', { kind: 'constant', lr: 0.1, warmup: 5 }, 'warmupSteps'],
  ['step', { kind: 'step', lr: 0.1, stepSize: 2, gamma: 0.5, stepsize: 3 }, 'stepSize'],
  ['cosine', { kind: 'cosine', lr: 0.1, totalSteps: 9, finalLR: 0 }, 'finalLr'],
  ['piecewise', { kind: 'piecewise', boundaries: [1], values: [1, 2], value: [1] }, 'values'],
] as const) {
  typo('keys', `schedule ${kind} with a typo`, near, async () => (await load()).scheduleLr(obj as never, 0));
  typo('keys', `sgd({ lr: ${kind} schedule with a typo })`, near, async () => (await load()).sgd({ lr: obj as never }));
}
for (const [kind, obj, near] of [
  ['momentum', { kind: 'momentum', beta: 0.9, nesterow: true }, 'nesterov'],
  ['clipGlobalNorm', { kind: 'clipGlobalNorm', maxnorm: 1, maxNorm: 1 }, 'maxNorm'],
  ['gaussianNoise', { kind: 'gaussianNoise', std: 0.1, annealsteps: 3 }, 'annealSteps'],
  ['addWeightDecay', { kind: 'addWeightDecay', weightDecay: 0.1, weightdecay: 1 }, 'weightDecay'],
  ['scaleByLearningRate', { kind: 'scaleByLearningRate', lr: 1 }, 'kind'],
] as const) {
  typo('keys', `hand-built ${kind} transform with a typo`, near, async () => {
    const { bs, m, d } = await small();
    return new bs.Trainer(m, {
      data: d,
      optimizer: { transforms: [obj as never, { kind: 'scaleByLearningRate' }], schedule: bs.constant(0.1) },
    });
  });
}
typo('keys', 'optimizer { transforms, schedule, schedul }', 'schedule', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: { ...bs.sgd({ lr: 0.1 }), schedul: 1 } as never });
});
typo('keys', 'Trainer({ seeed })', 'seed', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }), seeed: 3 } as never);
});
typo('keys', 'Trainer({ optimiser })', 'optimizer', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }), optimiser: 1 } as never);
});
typo('keys', 'batch.droplast', 'dropLast', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, {
    data: d,
    optimizer: bs.sgd({ lr: 0.1 }),
    batch: { mode: 'shuffle', size: 4, droplast: true } as never,
  });
});
typo('keys', 'batch.microbatch', 'microBatch', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, {
    data: d,
    optimizer: bs.sgd({ lr: 0.1 }),
    batch: { mode: 'full', microbatch: 4 } as never,
  });
});
typo('keys', 'batch.augment.crop', 'cropPadding', async () => {
  const bs = await load();
  const m = new bs.Model(bs.smallCnn({ input: [1, 8, 8], channels: [2, 2], hidden: 4, outputs: 2 }));
  return new bs.Trainer(m, {
    data: { x: new Float32Array(4 * 64), y: new Int32Array(4) },
    optimizer: bs.sgd({ lr: 0.1 }),
    batch: { mode: 'full', augment: { croppadding: 2 } as never },
  });
});
typo('keys', 'run({ chunksize })', 'chunkSize', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run({ steps: 2, chunksize: 1 } as never);
});
typo('keys', 'run({ step })', 'steps', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run({ steps: 1, step: 2 } as never);
});
typo('keys', 'new Model(spec, { sed })', 'seed', async () => {
  const bs = await load();
  return new bs.Model(bs.mlp({ input: 2, hidden: [], outputs: 2 }), { sed: 1 } as never);
});
typo('keys', 'model spec lossFn', 'loss', async () => {
  const bs = await load();
  return new bs.Model({ ...bs.mlp({ input: 2, hidden: [], outputs: 2 }), lossFn: 'mse' } as never);
});
typo('keys', 'evaluate(data, { batchsize })', 'batchSize', async () => {
  const { m, d } = await small();
  return m.evaluate(d, { batchsize: 4 } as never);
});
typo('keys', 'lossAndGrad(batch, { trainig })', 'training', async () => {
  const { m, d } = await small();
  return m.lossAndGrad(d, { trainig: false } as never);
});
for (const [type, extra, near] of [
  ['dense', { units: 2, activaton: 'relu' }, 'activation'],
  ['dense', { units: 2, biass: false }, 'bias'],
  ['conv2d', { units: 2, kernel: 3, paddng: 1 }, 'padding'],
  ['conv2d', { units: 2, kernel: 3, strid: 1 }, 'stride'],
  ['maxpool', { kernel: 2, strides: 2 }, 'stride'],
  ['avgpool', { kernal: 2, kernel: 2 }, 'kernel'],
  ['resblock', { units: 2, batchNorm: true }, 'batchnorm'],
  ['relu', { inplace: true }, 'type'],
  ['flatten', { dims: 1 }, 'type'],
  ['batchnorm', { momentum: 0.1 }, 'type'],
  ['globalavgpool', { tipe: 1 }, 'type'],
] as const) {
  const key = Object.keys(extra).find((k) => !['units', 'kernel'].includes(k)) ?? '';
  api('keys', `unknown key: layer ${type}.${key}`, 'TypeError', `unknown option "${key}"`, async () => {
    const bs = await load();
    const input = ['conv2d', 'maxpool', 'avgpool', 'resblock', 'globalavgpool', 'batchnorm'].includes(type)
      ? [2, 8, 8]
      : [4];
    return new bs.Model({
      input,
      layers: [{ type, ...extra } as never, { type: 'flatten' }, { type: 'dense', units: 2 }],
    });
  });
  void near;
}
for (const [kind, near] of [
  ['gaussian-mixture', 'separation'],
  ['two-spirals', 'turns'],
  ['teacher-regression', 'targetDim'],
  ['teacher-classification', 'numClasses'],
  ['linearly-separable', 'margin'],
] as const) {
  const bad =
    near === 'separation'
      ? 'seperation'
      : near === 'turns'
        ? 'turn'
        : near === 'targetDim'
          ? 'targetdim'
          : near === 'numClasses'
            ? 'numclasses'
            : 'margn';
  const sizes = kind === 'gaussian-mixture' ? { k: 2, d: 2 } : kind === 'two-spirals' ? {} : { d: 2 };
  typo('keys', `synthetic ${kind} { ${bad} }`, near, async () =>
    (await load()).synthetic({ kind, nTrain: 4, nTest: 2, seed: 1, ...sizes, [bad]: 1 } as never),
  );
}
typo('keys', 'mlp({ activatoin })', 'activation', async () =>
  (await load()).mlp({ input: 2, hidden: [2], outputs: 2, activatoin: 'tanh' } as never),
);
typo('keys', 'resnet({ block })', 'blocks', async () => (await load()).resnet({ block: [1] } as never));
typo('keys', 'smallCnn({ channel })', 'channels', async () => (await load()).smallCnn({ channel: [2, 2] } as never));
typo('keys', 'normalize(splits, { epsilon })', 'eps', async () => {
  const bs = await load();
  return bs.normalize(bs.synthetic({ kind: 'two-spirals', nTrain: 4, nTest: 2, seed: 1 }), { epsilon: 1 } as never);
});
typo('keys', 'ResumeStore({ interval })', 'intervalSeconds', async () => {
  const { ResumeStore } = await mod<typeof import('../../src/run/resume.js')>('run/resume.js');
  return new ResumeStore({ dir: null, configHash: '', log: () => undefined, interval: 1 } as never);
});
typo('keys', 'runExperiment options { forse }', 'force', async () => {
  const E = await loadExp();
  return E.runExperiment(E.experiments[0], 'tiny', { out: os.tmpdir(), forse: true } as never);
});
typo('keys', 'writeReport options { filename }', 'fileName', async () => {
  const { writeReport } = await mod<typeof import('../../src/report/report.js')>('report/report.js');
  return writeReport(os.tmpdir(), { filename: 'a.html' } as never);
});
api('keys', 'unknown key: sweep spec { seed }', 'SweepSpecError', '"seeds"', async () => {
  const { validateSweepSpec } = await mod<typeof import('../../src/sweep/spec.js')>('sweep/spec.js');
  return validateSweepSpec({ experiment: 'landscape', seed: [1] });
});

// ---- 2. ranges ----------------------------------------------------------------------------------
const range = (name: string, names: string, run: () => unknown, cls = 'RangeError'): void =>
  api('ranges', name, cls, names, run);
for (const lr of [-0.1, NaN, Infinity, -Infinity]) {
  range(`sgd({ lr: ${lr} })`, 'sgd(options).lr', async () => (await load()).sgd({ lr }));
  range(`noisySgd({ lr: ${lr} })`, 'noisySgd(options).lr', async () => (await load()).noisySgd({ lr, noiseStd: 0.1 }));
  range(`constant(${lr})`, 'constant(lr).lr', async () => (await load()).constant(lr));
  range(`chain(${lr})`, 'chain(lr)', async () => (await load()).chain(lr, (await load()).scaleByLearningRate()));
  range(`stepDecay(${lr}, 2, 0.5)`, 'stepDecay(lr, stepSize, gamma).lr', async () =>
    (await load()).stepDecay(lr, 2, 0.5),
  );
  range(`cosine(${lr}, 10)`, 'cosine(lr, totalSteps, finalLr).lr', async () => (await load()).cosine(lr, 10));
  range(`piecewise([5], [0.1, ${lr}])`, 'piecewise(boundaries, values).values[1]', async () =>
    (await load()).piecewise([5], [0.1, lr]),
  );
}
range('stepDecay(0.1, 2, -1)', 'gamma', async () => (await load()).stepDecay(0.1, 2, -1));
range('stepDecay(0.1, 0, 0.5)', 'stepSize', async () => (await load()).stepDecay(0.1, 0, 0.5));
range('stepDecay(0.1, 1.5, 0.5)', 'stepSize', async () => (await load()).stepDecay(0.1, 1.5, 0.5));
range('cosine(0.1, 10, -1)', 'finalLr', async () => (await load()).cosine(0.1, 10, -1));
range('cosine(0.1, 0)', 'totalSteps', async () => (await load()).cosine(0.1, 0));
range('piecewise([5, 3], [1, 1, 1])', 'boundaries', async () => (await load()).piecewise([5, 3], [1, 1, 1]));
range('piecewise([-1], [1, 1])', 'boundaries[0]', async () => (await load()).piecewise([-1], [1, 1]));
range('piecewise([1], [1])', 'values', async () => (await load()).piecewise([1], [1]));
range('withWarmup(constant(0.1), -2)', 'warmupSteps', async () =>
  (await load()).withWarmup((await load()).constant(0.1), -2),
);
range('switchAt(3, 0.1, -0.1)', 'values[1]', async () => (await load()).switchAt(3, 0.1, -0.1));
for (const t of [NaN, -1, 1.5, Infinity])
  range(`scheduleLr(constant(0.1), ${t})`, 't must be', async () =>
    (await load()).scheduleLr((await load()).constant(0.1), t),
  );
for (const beta of [-0.1, 1, 1.5, NaN, Infinity]) {
  range(`sgd({ momentum: ${beta} })`, 'sgd(options).momentum', async () =>
    (await load()).sgd({ lr: 0.1, momentum: beta }),
  );
  range(`momentum(${beta})`, 'momentum(beta)', async () => (await load()).momentum(beta));
}
range(
  'sgd({ momentum: "0.9" })',
  'sgd(options).momentum',
  async () => (await load()).sgd({ lr: 0.1, momentum: '0.9' as never }),
  'TypeError',
);
range('noisySgd({ momentum: NaN })', 'noisySgd(options).momentum', async () =>
  (await load()).noisySgd({ lr: 0.1, noiseStd: 0.1, momentum: NaN }),
);
for (const wd of [-1, NaN, Infinity]) {
  range(`sgd({ weightDecay: ${wd} })`, 'sgd(options).weightDecay', async () =>
    (await load()).sgd({ lr: 0.1, weightDecay: wd }),
  );
  range(`addWeightDecay(${wd})`, 'addWeightDecay(weightDecay)', async () => (await load()).addWeightDecay(wd));
}
range('noisySgd({ weightDecay: NaN })', 'noisySgd(options).weightDecay', async () =>
  (await load()).noisySgd({ lr: 0.1, noiseStd: 0.1, weightDecay: NaN }),
);
range('noisySgd({ noiseStd: -1 })', 'noiseStd', async () => (await load()).noisySgd({ lr: 0.1, noiseStd: -1 }));
range('noisySgd({ annealSteps: 1.5 })', 'annealSteps', async () =>
  (await load()).noisySgd({ lr: 0.1, noiseStd: 0.1, annealSteps: 1.5 }),
);
range('gaussianNoise(NaN)', 'gaussianNoise(std)', async () => (await load()).gaussianNoise(NaN));
range('clipGlobalNorm(-1)', 'clipGlobalNorm(maxNorm)', async () => (await load()).clipGlobalNorm(-1));
range('hand-built momentum beta 1', 'optimizer.transforms[0].beta', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, {
    data: d,
    optimizer: {
      transforms: [{ kind: 'momentum', beta: 1 }, { kind: 'scaleByLearningRate' }],
      schedule: bs.constant(0.1),
    },
  });
});
range('hand-built schedule lr -1', 'optimizer.schedule.lr', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, {
    data: d,
    optimizer: { transforms: [{ kind: 'scaleByLearningRate' }], schedule: { kind: 'constant', lr: -1 } },
  });
});
for (const blocks of [[-1], [1.5], [2, -2], [NaN]])
  range(`resnet({ blocks: [${blocks}] })`, 'resnet(options).blocks', async () => (await load()).resnet({ blocks }));
range(
  'resnet({ blocks: ["2"] })',
  'resnet(options).blocks[0]',
  async () => (await load()).resnet({ blocks: ['2' as never] }),
  'TypeError',
);
range('resnet({ width: 0 })', 'resnet(options).width', async () => (await load()).resnet({ width: 0 }));
range('mlp({ hidden: [0] })', 'mlp(options).hidden[0]', async () =>
  (await load()).mlp({ input: 2, hidden: [0], outputs: 2 }),
);
range('mlp({ hidden: [-3] })', 'mlp(options).hidden[0]', async () =>
  (await load()).mlp({ input: 2, hidden: [-3], outputs: 2 }),
);
range('mlp({ outputs: 0 })', 'mlp(options).outputs', async () =>
  (await load()).mlp({ input: 2, hidden: [], outputs: 0 }),
);
range('mlp({ input: 1.5 })', 'mlp(options).input', async () =>
  (await load()).mlp({ input: 1.5, hidden: [], outputs: 2 }),
);
range('mlp({ activation: "sigmoid" })', 'mlp(options).activation', async () =>
  (await load()).mlp({ input: 2, hidden: [2], outputs: 2, activation: 'sigmoid' as never }),
);
range('smallCnn({ channels: [2] })', 'smallCnn(options).channels', async () =>
  (await load()).smallCnn({ channels: [2] as never }),
);
range(
  'new Model(spec, { seed: -1 })',
  'options.seed',
  async () => new (await load()).Model((await load()).mlp({ input: 2, hidden: [], outputs: 2 }), { seed: -1 }),
);
range('Trainer seed 1.5', 'options.seed', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }), seed: 1.5 });
});
range('batch.amplify NaN', 'options.batch.amplify', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, {
    data: d,
    optimizer: bs.sgd({ lr: 0.1 }),
    batch: { mode: 'shuffle', size: 4, amplify: NaN },
  });
});
range(
  'batch.dropLast "yes"',
  'options.batch.dropLast',
  async () => {
    const { bs, m, d } = await small();
    return new bs.Trainer(m, {
      data: d,
      optimizer: bs.sgd({ lr: 0.1 }),
      batch: { mode: 'shuffle', size: 4, dropLast: 'yes' as never },
    });
  },
  'TypeError',
);
for (const steps of [2 ** 31, 2 ** 40]) {
  range(`run({ steps: ${steps} })`, 'options.steps', async () => {
    const { bs, m, d } = await small();
    return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run({ steps });
  });
}
for (const steps of [2 ** 53, -1, 1.5, NaN]) {
  range(`run({ steps: ${steps} })`, 'options.steps', async () => {
    const { bs, m, d } = await small();
    return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run({ steps });
  });
}
range('run({ chunkSize: 0 })', 'options.chunkSize', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run({ steps: 1, chunkSize: 0 });
});
for (const n of [2 ** 40, 2 ** 27, -1, 1.5, NaN]) {
  range(`synthetic({ nTrain: ${n} })`, 'spec.nTrain', async () =>
    (await load()).synthetic({ kind: 'two-spirals', nTrain: n, nTest: 2, seed: 1 }),
  );
}
range('synthetic({ nTest: 2**40 })', 'spec.nTest', async () =>
  (await load()).synthetic({ kind: 'gaussian-mixture', k: 2, d: 2, nTrain: 2, nTest: 2 ** 40, seed: 1 }),
);
range('normalize(splits, { eps: 0 })', 'opts.eps', async () => {
  const bs = await load();
  return bs.normalize(bs.synthetic({ kind: 'two-spirals', nTrain: 4, nTest: 2, seed: 1 }), { eps: 0 });
});
range('ResumeStore({ intervalSeconds: -1 })', 'options.intervalSeconds', async () => {
  const { ResumeStore } = await mod<typeof import('../../src/run/resume.js')>('run/resume.js');
  return new ResumeStore({ dir: null, configHash: '', log: () => undefined, intervalSeconds: -1 });
});

// ---- 3. data checked as the Trainer does ----------------------------------------------------------
const data = (name: string, cls: string, names: string, run: () => unknown): void => api('data', name, cls, names, run);
data('evaluate(32 x, 64 y)', 'RangeError', 'data.y', async () => {
  const { m, d } = await small();
  return m.evaluate({ x: d.x, y: new Int32Array(64) });
});
data('evaluate(null)', 'TypeError', 'data', async () => (await small()).m.evaluate(null as never));
data('evaluate({ x })', 'TypeError', 'data.y', async () => {
  const { m, d } = await small();
  return m.evaluate({ x: d.x } as never);
});
data('evaluate(y Float32Array for a classifier)', 'TypeError', 'data.y', async () => {
  const { m, d } = await small();
  return m.evaluate({ x: d.x, y: new Float32Array(32) });
});
data('evaluate(labels out of range)', 'RangeError', 'data.y[0]', async () => {
  const { m, d } = await small();
  return m.evaluate({ x: d.x, y: new Int32Array(32).fill(7) });
});
data('evaluate(x of 3 numbers)', 'RangeError', 'data.x', async () =>
  (await small()).m.evaluate({ x: new Float32Array(3), y: new Int32Array(1) }),
);
data('evaluate(x detached)', 'TypeError', 'data.x', async () => {
  const { m, d } = await small();
  structuredClone(d.x.buffer, { transfer: [d.x.buffer] });
  return m.evaluate(d);
});
data('evaluate(y detached)', 'TypeError', 'data.y', async () => {
  const { m, d } = await small();
  structuredClone(d.y.buffer, { transfer: [d.y.buffer] });
  return m.evaluate(d);
});
data('evaluate(data, { batchSize: 0 })', 'RangeError', 'batchSize', async () => {
  const { m, d } = await small();
  return m.evaluate(d, { batchSize: 0 });
});
data('predict(x detached)', 'TypeError', 'x', async () => {
  const { m, d } = await small();
  structuredClone(d.x.buffer, { transfer: [d.x.buffer] });
  return m.predict(d.x);
});
data('predict(Float64Array)', 'TypeError', 'x must be a Float32Array', async () =>
  (await small()).m.predict(new Float64Array(4) as never),
);
data('predict(x of 5 numbers)', 'RangeError', 'x must have length', async () =>
  (await small()).m.predict(new Float32Array(5)),
);
data('lossAndGrad(32 x, 16 y)', 'RangeError', 'batch.y', async () => {
  const { m, d } = await small();
  return m.lossAndGrad({ x: d.x, y: new Int32Array(16) });
});
data('Trainer(data.x detached)', 'TypeError', 'options.data.x', async () => {
  const { bs, m, d } = await small();
  structuredClone(d.x.buffer, { transfer: [d.x.buffer] });
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) });
});
data('Trainer(data.y detached)', 'TypeError', 'options.data.y', async () => {
  const { bs, m, d } = await small();
  structuredClone(d.y.buffer, { transfer: [d.y.buffer] });
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) });
});
data('new Trainer({}, …)', 'TypeError', 'model', async () => {
  const { bs, d } = await small();
  return new bs.Trainer({} as never, { data: d, optimizer: bs.sgd({ lr: 0.1 }) });
});
data(
  'new Trainer(m, null)',
  'TypeError',
  'options',
  async () => new (await small()).bs.Trainer((await small()).m, null as never),
);
data('new Trainer(m, { data: null })', 'TypeError', 'options.data', async () => {
  const { bs, m } = await small();
  return new bs.Trainer(m, { data: null as never, optimizer: bs.sgd({ lr: 0.1 }) });
});
data('trainer.run() without options', 'TypeError', 'options', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run(undefined as never);
});
data('run({ signal: {} })', 'TypeError', 'options.signal', async () => {
  const { bs, m, d } = await small();
  return new bs.Trainer(m, { data: d, optimizer: bs.sgd({ lr: 0.1 }) }).run({ steps: 1, signal: {} as never });
});
data('mlp(null)', 'TypeError', 'mlp(options)', async () => (await load()).mlp(null as never));
data('mlp({ input, outputs })', 'TypeError', 'mlp(options).hidden', async () =>
  (await load()).mlp({ input: 2, outputs: 2 } as never),
);
data('new Model(null)', 'TypeError', 'spec', async () => new (await load()).Model(null as never));
data('normalize({ train })', 'TypeError', 'splits.test', async () => {
  const bs = await load();
  return bs.normalize({ train: bs.synthetic({ kind: 'two-spirals', nTrain: 4, nTest: 2, seed: 1 }).train } as never);
});
data('normalize(null)', 'TypeError', 'splits', async () => (await load()).normalize(null as never));
data('synthetic(null)', 'TypeError', 'spec', async () => (await load()).synthetic(null as never));
data('sgd(null)', 'TypeError', 'sgd(options)', async () => (await load()).sgd(null as never));
data('sgd({ lr: "0.1" })', 'TypeError', 'sgd(options).lr', async () => (await load()).sgd({ lr: '0.1' as never }));
data('noisySgd(undefined)', 'TypeError', 'noisySgd(options)', async () => (await load()).noisySgd(undefined as never));
api('data', 'evaluate with NaN in x is flagged finite: false, not a silent NaN', 'returns-true', '', async () => {
  const { m, d } = await small();
  d.x[0] = NaN;
  const r = m.evaluate(d);
  return r.finite === false && Number.isNaN(r.loss);
});
api('data', 'evaluate of good data is flagged finite: true', 'returns-true', '', async () => {
  const { m, d } = await small();
  const r = m.evaluate(d);
  return r.finite === true && Number.isFinite(r.loss);
});

// ---- 4. files -----------------------------------------------------------------------------------
const file = (name: string, cls: string, names: string, run: () => unknown, extra: Partial<StrictCase> = {}): void =>
  api('files', name, cls, names, run, extra);
for (const f of [
  '/dev/zero',
  '/dev/null',
  '/dev/urandom',
  os.tmpdir(),
  path.join(os.tmpdir(), 'no-such-checkpoint.ckpt'),
]) {
  file(`readCheckpoint(${f}) within 1 s`, 'CheckpointError', f, async () => {
    const bs = await load();
    return within(HANG_MS, () => bs.readCheckpoint(f));
  });
}
file('readCheckpoint(a FIFO without a writer) within 1 s', 'CheckpointError', 'FIFO', async () => {
  const bs = await load();
  return within(HANG_MS, () => bs.readCheckpoint(process.env.STRICT_FIFO!));
});
file('readCheckpoint("")', 'TypeError', 'path', async () => (await load()).readCheckpoint(''));
file('readCheckpoint(42)', 'TypeError', 'path', async () => (await load()).readCheckpoint(42 as never));
const ckptWith = (
  name: string,
  names: string,
  edit: (s: import('../../src/train/trainer.js').TrainerState) => void,
): void =>
  file(`re-signed checkpoint: ${name}`, 'CheckpointError', names, async () => {
    const { bs, m, d } = await small();
    const { encodeCheckpoint } = await mod<typeof import('../../src/train/checkpoint.js')>('train/checkpoint.js');
    const t = new bs.Trainer(m, {
      data: d,
      optimizer: bs.sgd({ lr: 0.1 }),
      batch: { mode: 'shuffle', size: 4 },
      seed: 1,
    });
    t.step();
    const s = t.exportState();
    edit(s);
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-')), 'bad.ckpt');
    fs.writeFileSync(f, encodeCheckpoint(s, 'h'));
    return bs.loadCheckpoint(f, t, { configHash: 'h' });
  });
ckptWith('perm with a repeat', 'section perm', (s) => (s.perm[1] = s.perm[0]));
ckptWith('perm out of range', 'section perm', (s) => (s.perm[0] = 99));
ckptWith('perm negative', 'section perm', (s) => (s.perm[2] = -1));
ckptWith('cursor past n', 'section counters', (s) => (s.counters[1] = 1000));
ckptWith('step fractional', 'section counters', (s) => (s.counters[0] = 1.5));
ckptWith('step NaN', 'section counters', (s) => (s.counters[0] = NaN));
ckptWith('data RNG all zero', 'section dataRng', (s) => s.dataRng.fill(0n));
ckptWith('noise RNG all zero', 'section noiseRng', (s) => s.noiseRng.fill(0n));
file('writeReport(dir, { fileName: "../../x.html" })', 'RangeError', 'options.fileName', async () => {
  const { writeReport } = await mod<typeof import('../../src/report/report.js')>('report/report.js');
  return writeReport(fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-')), { fileName: '../../x.html' });
});
file('writeReport(dir, { fileName: "/tmp/x.html" })', 'RangeError', 'options.fileName', async () => {
  const { writeReport } = await mod<typeof import('../../src/report/report.js')>('report/report.js');
  return writeReport(fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-')), { fileName: '/tmp/x.html' });
});
file('writeReport(dir, { fileName: "" })', 'TypeError', 'options.fileName', async () => {
  const { writeReport } = await mod<typeof import('../../src/report/report.js')>('report/report.js');
  return writeReport(fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-')), { fileName: '' });
});
file('runExperiment(..., { out: "" })', 'TypeError', 'options.out', async () => {
  const E = await loadExp();
  return E.runExperiment(E.experiments[0], 'tiny', { out: '' });
});
file('runExperiment(..., { out: 42 })', 'TypeError', 'options.out', async () => {
  const E = await loadExp();
  return E.runExperiment(E.experiments[0], 'tiny', { out: 42 as never });
});
for (const out of ['/proc/x', '/proc/x/y/z', '/dev/null/x']) {
  file(`runExperiment(..., { out: "${out}" }) fails within a second`, 'PathError', out, async () => {
    const E = await loadExp();
    return within(HANG_MS, () => E.runExperiment(E.experiments[0], 'tiny', { out }));
  });
}
file('ResumeStore({ dir: 42 })', 'TypeError', 'options.dir', async () => {
  const { ResumeStore } = await mod<typeof import('../../src/run/resume.js')>('run/resume.js');
  return new ResumeStore({ dir: 42 as never, configHash: '', log: () => undefined });
});
file('ResumeStore({ dir: "" })', 'TypeError', 'options.dir', async () => {
  const { ResumeStore } = await mod<typeof import('../../src/run/resume.js')>('run/resume.js');
  return new ResumeStore({ dir: '', configHash: '', log: () => undefined });
});
file('ResumeStore({ log: 1 })', 'TypeError', 'options.log', async () => {
  const { ResumeStore } = await mod<typeof import('../../src/run/resume.js')>('run/resume.js');
  return new ResumeStore({ dir: null, configHash: '', log: 1 as never });
});
file('readSweepSpec(/dev/zero)', 'SweepSpecError', '/dev/zero', async () =>
  (await mod<typeof import('../../src/sweep/spec.js')>('sweep/spec.js')).readSweepSpec('/dev/zero'),
);
file('readSweepSpec(a FIFO)', 'SweepSpecError', 'FIFO', async () =>
  (await mod<typeof import('../../src/sweep/spec.js')>('sweep/spec.js')).readSweepSpec(process.env.STRICT_FIFO!),
);
file('loadTasks: a null task in tasks.json', 'SweepSpecError', 'tasks.json: tasks[0]', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-'));
  fs.writeFileSync(
    path.join(dir, 'tasks.json'),
    JSON.stringify({ schema: 'bigstep/sweep-tasks@1', count: 1, tasks: [null] }),
  );
  return (await mod<typeof import('../../src/sweep/tasks.js')>('sweep/tasks.js')).loadTasks(dir);
});
file('loadTasks: a task run name escaping runs/', 'SweepSpecError', 'tasks[0]', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-strict-'));
  fs.writeFileSync(
    path.join(dir, 'tasks.json'),
    JSON.stringify({ schema: 'bigstep/sweep-tasks@1', count: 1, tasks: [{ index: 0, run: '../../etc' }] }),
  );
  return (await mod<typeof import('../../src/sweep/tasks.js')>('sweep/tasks.js')).loadTasks(dir);
});
file('k8sManifest: a newline in image', 'RangeError', 'image', async () => {
  const { k8sManifest } = await mod<typeof import('../../src/sweep/k8s.js')>('sweep/k8s.js');
  return k8sManifest('/tmp/s', { name: 's', count: 1, sweepId: 'x', experiment: 'landscape' } as never, {
    image: 'img\nkind: Pod',
  });
});

// ---- 5. limits, prototype keys, odd objects -------------------------------------------------------
const spec = async () => await mod<typeof import('../../src/sweep/spec.js')>('sweep/spec.js');
const limit = (name: string, cls: string, names: string, run: () => unknown, extra: Partial<StrictCase> = {}): void =>
  api('limits', name, cls, names, run, extra);
const big = Object.fromEntries(
  ['a.b', 'c.d', 'e.f', 'g.h', 'i.j'].map((k) => [k, Array.from({ length: 60 }, (_, i) => i)]),
);
limit('sweep of 7.8e8 tasks refused before expansion', 'SweepSpecError', 'grid', async () => {
  const { validateSweepSpec } = await spec();
  return within(HANG_MS, () => validateSweepSpec({ experiment: 'landscape', grid: big }));
});
limit(
  'sweep of 1e6 + 1 tasks (seeds) refused',
  'SweepSpecError',
  'limit of 1000000',
  async () =>
    (await spec()).validateSweepSpec({
      experiment: 'landscape',
      grid: { 'a.b': Array.from({ length: 1000 }, (_, i) => i), 'c.d': Array.from({ length: 1000 }, (_, i) => i) },
      seeds: [1, 2],
    }),
  { withinMs: HANG_MS },
);
for (const key of ['__proto__.toString', 'constructor.prototype.x', 'seeds.__proto__', 'a.prototype']) {
  limit(
    `sweep base "${key}"`,
    'SweepSpecError',
    key.split('.').find((s) => ['__proto__', 'constructor', 'prototype'].includes(s))!,
    async () => (await spec()).validateSweepSpec({ experiment: 'landscape', base: { [key]: 1 } }),
  );
  limit(
    `sweep grid "${key}"`,
    'SweepSpecError',
    key.split('.').find((s) => ['__proto__', 'constructor', 'prototype'].includes(s))!,
    async () => (await spec()).validateSweepSpec({ experiment: 'landscape', grid: { [key]: [1, 2] } }),
  );
  limit(
    `setPath "${key}"`,
    'SweepSpecError',
    '__proto__|constructor|prototype'.split('|').find((s) => key.includes(s))!,
    async () => {
      (await spec()).setPath({ a: {}, seeds: [1] }, key, 1, 'field');
    },
  );
}
limit('sweep base JSON { "__proto__": { polluted: 1 } }', 'SweepSpecError', '__proto__', async () =>
  (await spec()).validateSweepSpec(JSON.parse('{"experiment":"landscape","base":{"x":{"__proto__":{"polluted":1}}}}')),
);
limit('sweep spec with an own __proto__ key', 'SweepSpecError', '__proto__', async () =>
  (await spec()).validateSweepSpec(JSON.parse('{"experiment":"landscape","__proto__":{"polluted":1}}')),
);
limit('sweep spec nested 20,000 deep', 'SweepSpecError', 'nested more than', async () => {
  let deep: unknown = 1;
  for (let i = 0; i < 20000; i++) deep = [deep];
  return (await spec()).validateSweepSpec({ experiment: 'landscape', base: { 'a.b': deep } });
});
limit('sweep spec as a Proxy', 'SweepSpecError', 'Proxy', async () =>
  (await spec()).validateSweepSpec(new Proxy({ experiment: 'landscape' }, {})),
);
limit(
  'model spec as a Proxy',
  'TypeError',
  'Proxy',
  async () => new (await load()).Model(new Proxy((await load()).mlp({ input: 2, hidden: [], outputs: 2 }), {})),
);
limit('model spec nested 20,000 deep', 'RangeError', 'nested more than', async () => {
  let deep: unknown = 1;
  for (let i = 0; i < 20000; i++) deep = { a: deep };
  return new (await load()).Model({ input: [2], layers: [{ type: 'dense', units: 2, x: deep } as never] });
});
limit('model spec with a cycle', 'TypeError', 'cycle', async () => {
  const s = { input: [2], layers: [] as unknown[] };
  s.layers.push(s);
  return new (await load()).Model(s as never);
});
limit('experiment config as a Proxy', 'TypeError', 'Proxy', async () => {
  const E = await loadExp();
  return E.planRun(E.experiments[0], new Proxy({}, {}), { out: os.tmpdir() });
});
limit('experiment config nested 20,000 deep', 'RangeError', 'nested more than', async () => {
  const E = await loadExp();
  let deep: unknown = 1;
  for (let i = 0; i < 20000; i++) deep = [deep];
  return E.planRun(E.experiments[0], { deep }, { out: os.tmpdir() });
});
limit('experiment config with a function', 'TypeError', 'config.f', async () => {
  const E = await loadExp();
  return E.planRun(E.experiments[0], { f: () => 1 }, { out: os.tmpdir() });
});
limit('experiment config with a BigInt', 'TypeError', 'config.n', async () => {
  const E = await loadExp();
  return E.planRun(E.experiments[0], { n: 1n }, { out: os.tmpdir() });
});
limit('experiment config with an own __proto__ key', 'TypeError', '__proto__', async () => {
  const E = await loadExp();
  return E.planRun(E.experiments[0], JSON.parse('{"__proto__":{"x":1}}'), { out: os.tmpdir() });
});

// ---- 6. the CLI ---------------------------------------------------------------------------------
const SPEC = 'experiment: landscape\npreset: tiny\ngrid:\n  seeds.starts: [1, 2]\n';
const planned = (dir: string): void => {
  fs.writeFileSync(path.join(dir, 'spec.yaml'), SPEC);
  const r = spawnSync(
    process.execPath,
    [cliMain, 'sweep', 'plan', path.join(dir, 'spec.yaml'), '--out', path.join(dir, 's')],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`sweep plan failed: ${r.stderr}`);
};
const cli = (
  name: string,
  argv: (dir: string) => string[],
  code: number,
  stderr: string,
  extra: Partial<NonNullable<StrictCase['cli']>> = {},
  timeoutMs = 30000,
): void => {
  cases.push({ group: 'cli', name, cli: { argv, code, stderr, ...extra }, timeoutMs });
};
cli('reproduce --set epochs=1 is refused', () => ['reproduce', '--set', 'epochs=1'], 2, '--set', { noNewFiles: true });
cli('run --out "" is a usage error', () => ['run', 'landscape', '--out', ''], 2, '--out', { noNewFiles: true });
cli(
  'run --preset twice is a usage error',
  () => ['run', 'landscape', '--preset', 'tiny', '--preset', 'quick'],
  2,
  '--preset',
  { noNewFiles: true },
);
cli('run --seed twice is a usage error', () => ['run', 'landscape', '--seed', '1', '--seed', '2'], 2, '--seed', {
  noNewFiles: true,
});
cli(
  'run --set __proto__.toString=1 is refused',
  (d) => ['run', 'landscape', '--preset', 'tiny', '--out', d, '--set', '__proto__.toString=1'],
  2,
  '__proto__',
  { noNewFiles: true },
);
cli(
  'run --set constructor.prototype.x=1 is refused',
  (d) => ['run', 'landscape', '--preset', 'tiny', '--out', d, '--set', 'constructor.prototype.x=1'],
  2,
  'constructor',
  { noNewFiles: true },
);
cli(
  'run --set with a typo names the field',
  (d) => ['run', 'landscape', '--preset', 'tiny', '--out', d, '--set', 'epochz=1'],
  2,
  'epochz',
  { noNewFiles: true },
);
cli(
  'run --out /proc/x stops at once with the directory named',
  () => ['run', 'noise', '--preset', 'tiny', '--out', '/proc/x'],
  1,
  '/proc/x',
  {},
  15000,
);
cli('report EMPTYDIR writes nothing', (d) => ['report', d], 1, 'nothing written', { noNewFiles: true });
cli('report of a file is a usage error', (d) => ['report', path.join(d, 'f')], 2, 'not a directory', {
  setup: (d) => fs.writeFileSync(path.join(d, 'f'), 'x'),
});
cli(
  'sweep plan --out "" is a usage error',
  (d) => ['sweep', 'plan', path.join(d, 'spec.yaml'), '--out', ''],
  2,
  '--out',
  { setup: (d) => fs.writeFileSync(path.join(d, 'spec.yaml'), SPEC), noNewFiles: true },
);
cli(
  'sweep plan of /dev/zero names it',
  (d) => ['sweep', 'plan', '/dev/zero', '--out', path.join(d, 's')],
  2,
  '/dev/zero',
  { noNewFiles: true },
);
cli(
  'sweep plan of 7.8e8 tasks is refused at once',
  (d) => ['sweep', 'plan', path.join(d, 'big.json'), '--out', path.join(d, 's')],
  2,
  'limit of 1000000',
  {
    setup: (d) => fs.writeFileSync(path.join(d, 'big.json'), JSON.stringify({ experiment: 'landscape', grid: big })),
    noNewFiles: true,
  },
  15000,
);
cli(
  'sweep plan with base __proto__ is refused',
  (d) => ['sweep', 'plan', path.join(d, 'p.json'), '--out', path.join(d, 's')],
  2,
  '__proto__',
  {
    setup: (d) =>
      fs.writeFileSync(
        path.join(d, 'p.json'),
        '{"experiment":"landscape","preset":"tiny","base":{"__proto__.toString":1}}',
      ),
    noNewFiles: true,
  },
);
cli(
  'sweep run --task 0 --task 1 is a usage error',
  (d) => ['sweep', 'run', path.join(d, 's'), '--task', '0', '--task', '1'],
  2,
  '--task',
  { setup: planned, noNewFiles: true },
);
cli(
  'sweep slurm --tasks 0 (without --submit) writes nothing',
  (d) => ['sweep', 'slurm', path.join(d, 's'), '--tasks', '0'],
  2,
  '--tasks',
  { setup: planned, noNewFiles: true },
);
cli('sweep slurm --mem bad writes nothing', (d) => ['sweep', 'slurm', path.join(d, 's'), '--mem', 'lots'], 2, '--mem', {
  setup: planned,
  noNewFiles: true,
});
cli(
  'sweep k8s --image with a newline writes nothing',
  (d) => ['sweep', 'k8s', path.join(d, 's'), '--image', 'img\nkind: Pod'],
  2,
  '--image',
  { setup: planned, noNewFiles: true },
);
cli(
  'sweep k8s --image twice is a usage error',
  (d) => ['sweep', 'k8s', path.join(d, 's'), '--image', 'a', '--image', 'b'],
  2,
  '--image',
  { setup: planned, noNewFiles: true },
);
cli(
  'sweep local --concurrency twice is a usage error',
  (d) => ['sweep', 'local', path.join(d, 's'), '--concurrency', '1', '--concurrency', '2'],
  2,
  '--concurrency',
  { setup: planned, noNewFiles: true },
);
cli(
  'SIGTERM stops bigstep run within 2 s',
  // quick, not tiny: tiny E1 can finish in about 2 s, before a signal sent under load lands mid-run
  (d) => ['run', 'landscape', '--preset', 'quick', '--out', d, '--force'],
  130,
  'SIGTERM',
  { signalAfterMs: 800 },
  30000,
);
cli(
  'SIGINT stops bigstep reproduce within 2 s',
  (d) => ['reproduce', '--preset', 'tiny', '--out', d],
  130,
  'SIGINT',
  { signalAfterMs: 800 },
  30000,
);

export const strictCases: readonly StrictCase[] = cases;
