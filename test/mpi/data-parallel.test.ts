/**
 * Data-parallel training across processes: real `mpirun -n N` jobs of test/mpi/rank.ts against the
 * single-process run with microBatch = ⌈b/N⌉ (bitwise), a killed rank (the job ends with an error
 * within its timeout), ranks that disagree (every rank names what differs), and plans that do not
 * split. Run by `npm run test:mpi` (CI installs Open MPI); skipped with its reason where mpirun or
 * an MPI build is missing, unless BIGSTEP_REQUIRE_MPI=1 (then that is a failure).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { gaussianMixture } from '../../src/data/synthetic.js';
import { Model } from '../../src/model/model.js';
import { mlp } from '../../src/model/spec.js';
import { sgd } from '../../src/optim/optimizer.js';
import { CheckpointError, loadCheckpoint } from '../../src/train/checkpoint.js';
import { mpiBuilt } from '../../src/train/data-parallel.js';
import { Trainer } from '../../src/train/trainer.js';
import { hessianVectorProduct } from '../../src/measure/hessian.js';
import { buildTrainer, measure, runToEnd, type MeasureConfig, type RunConfig, type RunOutcome } from './run.js';

const RANK_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'rank.js');
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

interface JobOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  timedOut: boolean;
  results: Array<RunOutcome & { rank: number; size: number } & Record<string, any>>;
  errors: Array<{ rank: number; name: string; code?: string; message: string }>;
}

/** Runs rank.ts on `ranks` processes under mpirun; kills the whole job after `timeoutMs`. */
function mpirun(ranks: number, args: object, timeoutMs = 60_000): Promise<JobOutput> {
  return launch(mpirunArgs(ranks, [RANK_SCRIPT, JSON.stringify(args)]), timeoutMs);
}

function mpirunArgs(ranks: number, nodeArgs: string[]): string[] {
  return ['mpirun', '--allow-run-as-root', '--oversubscribe', '-n', String(ranks), process.execPath, ...nodeArgs];
}

/**
 * Runs `command` (argv) in its own process group with `env` added; kills the group after
 * `timeoutMs`. `watch`, if given, is called once at the start with a handle that SIGKILLs the
 * group, and may return a function to call when the command ends.
 */
function launch(
  command: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = {},
  watch?: (job: { kill(): void }) => (() => void) | void,
): Promise<JobOutput> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), {
      detached: true,
      env: { ...process.env, BIGSTEP_THREADS: '1', OMP_NUM_THREADS: '1', ...env },
    });
    const unwatch = watch?.({ kill: () => process.kill(-(child.pid as number), 'SIGKILL') });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-(child.pid as number), 'SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      unwatch?.();
      const lines = stdout.split('\n');
      const parse = (tag: string) =>
        lines.filter((l) => l.startsWith(`${tag} `)).map((l) => JSON.parse(l.slice(tag.length + 1)));
      resolve({
        code,
        signal,
        stdout,
        stderr,
        seconds: (Date.now() - started) / 1000,
        timedOut,
        results: parse('RESULT'),
        errors: parse('ERROR'),
      });
    });
  });
}

/** The reference: one process, microBatch = ⌈b/N⌉. */
async function singleProcess(c: RunConfig, ranks: number): Promise<RunOutcome> {
  const b = c.mode === 'full' ? c.n : (c.batch as number);
  return runToEnd(buildTrainer(c, { microBatch: Math.ceil(b / ranks) }), c.steps);
}

function expectBitwise(job: JobOutput, want: RunOutcome, ranks: number): void {
  expect(job.code, job.stderr).to.equal(0);
  expect(job.results.map((r) => r.rank).sort()).to.deep.equal([...Array(ranks).keys()]);
  for (const r of job.results) {
    expect(r.size).to.equal(ranks);
    expect(r.stepsDone).to.equal(want.stepsDone);
    expect(r.paramsSha256, `rank ${r.rank} θ`).to.equal(want.paramsSha256);
    expect(r.loss, `rank ${r.rank} losses`).to.deep.equal(want.loss);
  }
}

const mpirunFound = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;

/** Resolves once process `pid` has exited (polled); rejects after `timeoutMs`. */
async function untilGone(pid: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return; // ESRCH: gone
    }
    if (Date.now() > end) throw new Error(`process ${pid} still runs ${timeoutMs} ms after the job was killed`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Trainer({ dataParallel }) under mpirun', function () {
  this.timeout(180_000);

  before(function () {
    const missing = !mpirunFound
      ? 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)'
      : !mpiBuilt()
        ? 'the addon was built without MPI (install libopenmpi-dev, npm run build)'
        : '';
    if (!missing) return;
    if (process.env.BIGSTEP_REQUIRE_MPI === '1') throw new Error(`BIGSTEP_REQUIRE_MPI=1 but ${missing}`);
    this.skip();
  });

  it('2-rank full-batch GD (MLP) is bitwise the single process with microBatch = n/2, every step', async () => {
    const c: RunConfig = { model: 'mlp', mode: 'full', n: 40, steps: 6 };
    const want = await singleProcess(c, 2);
    expectBitwise(await mpirun(2, c), want, 2);
  });

  it('2-rank full-batch GD (small CNN, uneven split 8 + 7) is bitwise the single process with microBatch = 8', async () => {
    const c: RunConfig = { model: 'cnn', mode: 'full', n: 15, steps: 4 };
    const want = await singleProcess(c, 2);
    expectBitwise(await mpirun(2, c), want, 2);
  });

  it('3-rank shuffled SGD splits each batch of 12 into 4 + 4 + 4: bitwise the single process with microBatch = 4', async () => {
    const c: RunConfig = { model: 'mlp', mode: 'shuffle', n: 48, batch: 12, steps: 8 };
    const want = await singleProcess(c, 3);
    expectBitwise(await mpirun(3, c), want, 3);
  });

  it('2-rank amplified SGD with augmentation (small CNN, 30 = 2·12 + 6) is bitwise the single process with shards = 2, the last batch too', async () => {
    const c: RunConfig = { model: 'cnn', mode: 'shuffle', n: 30, batch: 12, steps: 6, amplify: 2, augment: true };
    const want = await runToEnd(buildTrainer(c, { shards: 2 }), c.steps);
    expectBitwise(await mpirun(2, c), want, 2);
    // The arms differ from plain SGD (amplification and augmentation took effect).
    const plain = await runToEnd(
      buildTrainer({ ...c, amplify: undefined, augment: undefined }, { shards: 2 }),
      c.steps,
    );
    expect(plain.paramsSha256).to.not.equal(want.paramsSha256);
  });

  it('a repeated 2-rank run is bitwise identical to the first', async () => {
    const c: RunConfig = { model: 'mlp', mode: 'shuffle', n: 40, batch: 10, steps: 6 };
    const first = await mpirun(2, c);
    const second = await mpirun(2, c);
    expect(first.code, first.stderr).to.equal(0);
    expect(second.results.map((r) => r.paramsSha256)).to.deep.equal(first.results.map((r) => r.paramsSha256));
    expect(second.results[0].loss).to.deep.equal(first.results[0].loss);
  });

  it('rank 0 writes the checkpoint; a 2-rank job resumed from it ends bitwise where the uninterrupted run ends; 1 process may not load it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bigstep-mpi-ckpt-'));
    try {
      const file = join(dir, 'run.ckpt');
      const c: RunConfig = { model: 'mlp', mode: 'shuffle', n: 40, batch: 10, steps: 7 };
      const whole = await mpirun(2, { ...c, checkpoint: file, saveAt: 3 });
      expect(whole.code, whole.stderr).to.equal(0);
      expect(readdirSync(dir)).to.deep.equal(['run.ckpt']); // one file, no temporaries left
      const resumed = await mpirun(2, { ...c, checkpoint: file, resume: true });
      expect(resumed.code, resumed.stderr).to.equal(0);
      expect(resumed.results.map((r) => r.paramsSha256)).to.deep.equal(whole.results.map((r) => r.paramsSha256));
      expect(resumed.results[0].loss).to.deep.equal(whole.results[0].loss.slice(-4));
      const solo = buildTrainer(c, {});
      expect(() => loadCheckpoint(file, solo, { configHash: 'mpi-test' })).to.throw(
        CheckpointError,
        /holds 2 data-parallel rank\(s\) but the trainer has 1 \(a run resumes on the same number of ranks/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when one rank is killed mid-run, the job ends with an error naming it within 30 s (no hang)', async () => {
    const job = await mpirun(2, { model: 'mlp', mode: 'full', n: 2000, steps: 100_000, killRank: 1 }, 30_000);
    expect(job.timedOut, 'the job hung until the test killed it').to.equal(false);
    expect(job.code).to.not.equal(0);
    expect(job.results).to.have.length(0);
    expect(job.stderr).to.match(/rank 1 .*signal 9|signal 9 \(Killed\)/s);
  });

  it('ranks with different data sets all throw ERR_BIGSTEP_RANKS_DIFFER naming the data set', async () => {
    const job = await mpirun(2, { model: 'mlp', mode: 'full', n: 40, steps: 2, dataSeedOnRank1: 6 });
    expect(job.results).to.have.length(0);
    expect(job.errors.map((e) => e.rank).sort()).to.deep.equal([0, 1]);
    for (const e of job.errors) {
      expect(e.code).to.equal('ERR_BIGSTEP_RANKS_DIFFER');
      expect(e.message).to.match(/^options\.dataParallel: .*data set \(x, y\) \(rank 1 differs from rank 0/);
      expect(e.message).to.not.match(/configuration \(|initial parameters \(/);
    }
  });

  it('a rank with another BLAS thread count (other rounding) makes every rank name the numerics', async () => {
    const job = await mpirun(2, { model: 'mlp', mode: 'full', n: 40, steps: 2, threadsOnRank1: 2 });
    expect(job.results).to.have.length(0);
    expect(job.errors.map((e) => e.rank).sort()).to.deep.equal([0, 1]);
    for (const e of job.errors)
      expect(e.message).to.match(
        /numerics \(ISA path, BLAS vendor, kernels and threads\) \(rank 1 differs from rank 0/,
      );
  });

  it('batch.shards other than N is a RangeError naming it on every rank; shards = N is the split itself', async () => {
    const c: RunConfig = { model: 'mlp', mode: 'shuffle', n: 40, batch: 10, steps: 3 };
    const wrong = await mpirun(2, { ...c, shards: 3 });
    expect(wrong.errors.map((e) => e.rank).sort()).to.deep.equal([0, 1]);
    for (const e of wrong.errors)
      expect([e.name, e.message]).to.match(
        /RangeError,options\.batch\.shards must equal the number of data-parallel ranks \(2\) or be unset \(got 3\)/,
      );
    expectBitwise(await mpirun(2, { ...c, shards: 2 }), await runToEnd(buildTrainer(c, { shards: 2 }), c.steps), 2);
  });

  it('a data set smaller than N, and a batch that leaves a rank empty, are RangeErrors naming the option on every rank', async () => {
    const small = await mpirun(2, { model: 'mlp', mode: 'full', n: 1, steps: 1 });
    expect(small.errors.map((e) => e.rank).sort()).to.deep.equal([0, 1]);
    for (const e of small.errors)
      expect([e.name, e.message]).to.match(
        /RangeError,options\.data \(full batch\): 1 examples do not split over 2 ranks/,
      );
    const batch = await mpirun(2, { model: 'mlp', mode: 'shuffle', n: 40, batch: 1, steps: 1 });
    expect(batch.errors.map((e) => e.rank).sort()).to.deep.equal([0, 1]);
    for (const e of batch.errors)
      expect([e.name, e.message]).to.match(/RangeError,options\.batch\.size: 1 examples do not split over 2 ranks/);
  });
});

describe('Model#evaluate / hessianVectorProduct / topEigenvalue ({ dataParallel }) under mpirun', function () {
  this.timeout(180_000);

  before(function () {
    if (mpirunFound && mpiBuilt()) return;
    if (process.env.BIGSTEP_REQUIRE_MPI === '1')
      throw new Error('BIGSTEP_REQUIRE_MPI=1 but mpirun or the MPI build is missing');
    this.skip();
  });

  async function expectSameAsOneProcess(c: MeasureConfig, ranks: number): Promise<void> {
    const want = await measure(c, false);
    const job = await mpirun(ranks, { model: c.model, mode: 'full', n: c.n, steps: 0, measure: c });
    expect(job.code, job.stderr).to.equal(0);
    expect(job.results.map((r) => r.rank).sort()).to.deep.equal([...Array(ranks).keys()]);
    for (const r of job.results) {
      const { rank: _rank, size: _size, ...got } = r;
      expect(got, `rank ${r.rank}`).to.deep.equal(want);
    }
  }

  it('2 ranks, MLP, 40 examples in chunks of 7 (6 chunks, 3 per rank): loss, accuracy, H·v and λ_max bitwise the one process with batchSize 7', async () => {
    await expectSameAsOneProcess({ model: 'mlp', n: 40, batchSize: 7 }, 2);
  });

  it('3 ranks, small CNN, 15 examples in chunks of 4 (chunks 2 + 2 + 0): bitwise the one process with batchSize 4', async () => {
    await expectSameAsOneProcess({ model: 'cnn', n: 15, batchSize: 4 }, 3);
  });

  it('while a split evaluateAsync is in flight, another split evaluateAsync, evaluate and H·v are refused with ERR_BIGSTEP_BUSY on every rank; the pending one is bitwise the one process', async () => {
    const c: MeasureConfig = { model: 'mlp', n: 40, batchSize: 7 };
    const want = await measure(c, false);
    const job = await mpirun(2, { model: c.model, mode: 'full', n: c.n, steps: 0, measure: c, overlap: true });
    expect(job.code, job.stderr).to.equal(0);
    expect(job.results.map((r) => r.rank).sort()).to.deep.equal([0, 1]);
    for (const r of job.results) {
      expect(r.evaluation, `rank ${r.rank}`).to.deep.equal(want.evaluationAsync);
      expect(r.refused, `rank ${r.rank}`).to.deep.equal(['ERR_BIGSTEP_BUSY', 'ERR_BIGSTEP_BUSY', 'ERR_BIGSTEP_BUSY']);
    }
  });

  it('ranks with different θ all throw ERR_BIGSTEP_RANKS_DIFFER naming the parameters', async () => {
    const job = await mpirun(2, {
      model: 'mlp',
      mode: 'full',
      n: 40,
      steps: 0,
      measure: { model: 'mlp', n: 40, batchSize: 8 },
      paramSeedOnRank1: 9,
    });
    expect(job.results).to.have.length(0);
    expect(job.errors.map((e) => e.rank).sort()).to.deep.equal([0, 1]);
    for (const e of job.errors) {
      expect(e.code).to.equal('ERR_BIGSTEP_RANKS_DIFFER');
      expect(e.message).to.match(/^evaluate options\.dataParallel: .*parameters θ \(rank 1 differs from rank 0/);
      expect(e.message).to.not.match(/data set \(x, y\) \(|settings \(/);
    }
  });
});

// The experiment runs below take seconds each on a quiet machine; the launch timeouts are hang
// guards sized for a heavily loaded one (docs/cluster.md lists the measured times).
describe('bigstep run escape|noise --data-parallel under mpirun', function () {
  this.timeout(1_800_000);

  before(function () {
    if (mpirunFound && mpiBuilt()) return;
    if (process.env.BIGSTEP_REQUIRE_MPI === '1')
      throw new Error('BIGSTEP_REQUIRE_MPI=1 but mpirun or the MPI build is missing');
    this.skip();
  });

  const read = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const root = mkdtempSync(join(tmpdir(), 'bigstep-mpi-run-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  /** `bigstep run <experiment> --preset tiny` into root/out: one process, or 2 ranks with --data-parallel. */
  function cli(
    ranks: 1 | 2,
    experiment: string,
    out: string,
    sets: string[],
    env: NodeJS.ProcessEnv = {},
    watch?: Parameters<typeof launch>[3],
  ): Promise<JobOutput> {
    const args = [CLI, 'run', experiment, '--preset', 'tiny', '--out', join(root, out), ...sets];
    const command = ranks === 1 ? [process.execPath, ...args] : mpirunArgs(2, [...args, '--data-parallel']);
    return launch(command, 900_000, env, watch);
  }

  /** The one run directory under root/out. */
  function runDir(out: string): string {
    const runs = readdirSync(join(root, out));
    expect(runs, `${out} holds one run directory`).to.have.length(1);
    return join(root, out, runs[0]);
  }

  /**
   * Two runs of the same config are the same run: result.json bitwise but for `timing`, every
   * metrics line, and the summary but for its times (and, for a resumed run, restarts/resumed).
   */
  function expectSameRun(a: string, b: string): void {
    const ra = read(a, 'result.json');
    const rb = read(b, 'result.json');
    delete ra.timing;
    delete rb.timing;
    expect(JSON.stringify(rb)).to.equal(JSON.stringify(ra));
    expect(readFileSync(join(b, 'metrics.jsonl'), 'utf8')).to.equal(readFileSync(join(a, 'metrics.jsonl'), 'utf8'));
    const sa = read(a, 'summary.json');
    const sb = read(b, 'summary.json');
    for (const x of [sa, sb])
      for (const k of ['startedAt', 'endedAt', 'wallSeconds', 'restarts', 'resumed']) delete x[k];
    expect(sb).to.deep.equal(sa);
  }

  // Tiny E2 cut to one seed and one or two cells per phase (E2_SETS): 256 examples, so microBatch
  // 128 = ⌈256/2⌉ gives the one process the 2-rank arithmetic and both runs the same config (run
  // id); concurrency 1 (what a data-parallel run does anyway) keeps the metrics lines in one order.
  const E2_SETS = [
    ...[
      'microBatch=128',
      'concurrency=1',
      'seeds=[1]',
      'catapult.etaLambda=[1, 4]',
      'catapult.steps=20',
      'catapult.spikeWindow=10',
    ],
    ...['eos.etaLambda=[1.6]', 'eos.steps=20', 'converge.maxSteps=400', 'switch.largeFactors=[2]', 'switch.steps=30'],
    ...['escape.returnSteps=40', 'interpolationPoints=5', 'sharpness.iterations=10', 'sharpness.lanczosSteps=20'],
  ].flatMap((x) => ['--set', x]);

  it('E2: the 2-rank run equals the 1-process run with microBatch = n/2 (result.json bitwise but for timing, every metrics line, the summary); rank 1 writes nothing', async () => {
    const one = await cli(1, 'escape', 'e2-one', E2_SETS);
    expect(one.code, one.stderr + one.stdout).to.equal(0);
    const two = await cli(2, 'escape', 'e2-two', E2_SETS);
    expect(two.code, two.stderr + two.stdout).to.equal(0);
    expect(two.stdout.match(/escape: running tiny in .* \(data parallel over 2 MPI ranks\)/g)).to.have.length(1);
    const a = runDir('e2-one');
    const b = runDir('e2-two');
    expect(basename(b)).to.equal(basename(a)); // the same run id
    expectSameRun(a, b);
    // What the comparison covers: every phase ran and GD moved θ (a converged θ_s, the switch arms, the tests).
    const seed = read(a, 'result.json').seeds[0];
    expect(seed.catapult).to.have.length(2);
    expect(seed.thetaS.steps).to.be.greaterThan(0);
    expect(seed.thetaS.lambdaMax.value).to.be.a('number');
    expect(seed.switch.arms.length).to.be.greaterThan(1);
    expect(seed.tests.length).to.be.greaterThan(0);
    expect(read(b, 'env.json').dataParallel.ranks).to.equal(2);
  });

  // Tiny E3 with every kind of arm that trains: plain, amplified (k¹), small-batch (B' = 8),
  // isotropic (σ_iso re-measured along the run), GD; 2 seeds, the epochs budget. shards = 2 cuts
  // every batch as 2 ranks split it, so the one process has the 2-rank arithmetic (and the 2-rank
  // run the same config and run id).
  const E3_SETS = [
    ...[
      'shards=2',
      'seeds=[1, 2]',
      'arms=[sgd-small, sgd-large, amplified, small-batch, isotropic, gd-small, gd-large]',
    ],
    ...['amplifyPowers=[1]', 'budgets=[epochs]', 'concurrency=1'],
  ].flatMap((x) => ['--set', x]);

  it('E3: every arm splits its batches over 2 ranks, bitwise the 1-process run with shards = 2 (result.json but for timing, metrics, summary)', async () => {
    const one = await cli(1, 'noise', 'e3-one', E3_SETS);
    expect(one.code, one.stderr + one.stdout).to.equal(0);
    const two = await cli(2, 'noise', 'e3-two', E3_SETS);
    expect(two.code, two.stderr + two.stdout).to.equal(0);
    expect(two.stdout.match(/noise: running/g)).to.have.length(1); // rank 0 alone speaks
    const a = runDir('e3-one');
    const b = runDir('e3-two');
    expectSameRun(a, b);
    const arms = read(a, 'result.json').arms as Array<{ kind: string; runs: Array<{ steps: number }> }>;
    expect(arms.map((x) => x.kind)).to.include.members(['amplified', 'small-batch', 'isotropic', 'gd-small']);
    for (const x of arms) for (const r of x.runs) expect(r.steps, x.kind).to.be.greaterThan(0);
    expect(read(b, 'env.json').dataParallel.ranks).to.equal(2);
  });

  it('E3: a 2-rank job SIGKILLed after its first checkpoint resumes from it and ends as the uninterrupted run; one process may not resume it', async () => {
    const env = { BIGSTEP_CHECKPOINT_SECONDS: '0' }; // a partial checkpoint at every opportunity
    const reference = runDir('e3-one'); // the previous test's run (the same config)
    const out = 'e3-killed';
    const killed = await cli(2, 'noise', out, E3_SETS, env, (job) => {
      // SIGKILL mpirun's process group (the ranks follow) once rank 0 has written a partial checkpoint.
      const seen = setInterval(() => {
        let names: string[];
        try {
          names = readdirSync(join(runDir(out), 'checkpoints'));
        } catch {
          return; // not there yet
        }
        if (names.some((n) => /^partial-train-.*\.json$/.test(n))) {
          clearInterval(seen);
          job.kill();
          // The ranks live in process groups of their own and can outlive mpirun for a moment, long
          // enough on an idle machine to finish the tiny run: kill rank 0 (the writer) too.
          try {
            process.kill(Number(readFileSync(join(runDir(out), '.lock'), 'utf8')), 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }, 20);
      return () => clearInterval(seen);
    });
    expect(killed.signal ?? killed.code, 'the job was killed, not finished').to.not.equal(0);
    const dir = runDir(out);
    expect(existsSync(join(dir, 'summary.json'))).to.equal(false);
    // The ranks run in process groups of their own and end a moment after mpirun: wait until rank 0,
    // whose pid is in the run directory's lock, is gone.
    await untilGone(Number(readFileSync(join(dir, '.lock'), 'utf8')), 30_000);
    // One process (or another N) refuses the 2-rank checkpoints, naming both counts; they stay.
    const stored = () => readdirSync(join(dir, 'checkpoints')).filter((n) => n !== 'starts.json');
    const before = stored();
    expect(before.some((n) => n.startsWith('unit-train-') || n.startsWith('partial-train-'))).to.equal(true);
    const solo = await cli(1, 'noise', out, E3_SETS, env);
    expect(solo.code).to.not.equal(0);
    expect(solo.stderr + solo.stdout).to.match(
      /holds the units of a run on 2 data-parallel ranks, but this run is on one process: a run resumes on the same number of ranks/,
    );
    expect(stored()).to.deep.equal(before);
    const resumed = await cli(2, 'noise', out, E3_SETS, env);
    expect(resumed.code, resumed.stderr + resumed.stdout).to.equal(0);
    expectSameRun(reference, dir);
    const s = read(dir, 'summary.json');
    expect(s.restarts).to.equal(2); // the killed life and the refused one
    expect(s.resumed, 'the finishing life loaded earlier work').to.not.equal(null);
    expect(s.resumed.units + s.resumed.partial).to.be.greaterThan(0);
    if (process.env.BIGSTEP_REPORT_FIGURES)
      console.log(
        `      killed after ${killed.seconds.toFixed(1)} s; resumed ${JSON.stringify(s.resumed)} in ${resumed.seconds.toFixed(1)} s`,
      );
    expect(existsSync(join(dir, 'checkpoints'))).to.equal(false); // complete: removed
  });

  it('refuses to start 2 ranks without --data-parallel, and E1 with it, naming the flag (exit 2 on every rank)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bigstep-mpi-e3-'));
    try {
      const without = await launch(
        mpirunArgs(2, [CLI, 'run', 'noise', '--preset', 'tiny', '--out', join(root, 'x')]),
        60_000,
      );
      expect(without.code).to.not.equal(0);
      expect(without.stderr).to.match(/this process is one of 2 MPI ranks but --data-parallel is not set/);
      const e1 = await launch(
        mpirunArgs(2, [CLI, 'run', 'landscape', '--preset', 'tiny', '--out', join(root, 'y'), '--data-parallel']),
        60_000,
      );
      expect(e1.code).to.not.equal(0);
      expect(e1.stderr).to.match(
        /--data-parallel splits the full-batch training of escape and noise; "landscape" has none/,
      );
      expect(readdirSync(root)).to.deep.equal([]); // nothing written
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('Trainer({ dataParallel }) outside an MPI job', () => {
  it('throws ERR_BIGSTEP_MPI saying to start under mpirun/srun and call initMpi() (or, without MPI in the build, how to get it)', () => {
    const data = gaussianMixture({ k: 2, d: 4, nTrain: 8, nTest: 1, seed: 1 }).train;
    const model = new Model(mlp({ input: 4, hidden: [4], outputs: 2 }));
    expect(
      () =>
        new Trainer(model, {
          data: { x: data.x, y: data.labels as Int32Array },
          optimizer: sgd({ lr: 0.1 }),
          dataParallel: true,
        }),
    )
      .to.throw(
        mpiBuilt()
          ? /options\.dataParallel needs MPI: start the processes with mpirun or srun and call initMpi\(\) first/
          : /options\.dataParallel needs MPI: this build has no MPI support \(apt-get install openmpi-bin libopenmpi-dev/,
      )
      .with.property('code', 'ERR_BIGSTEP_MPI');
  });

  it('rejects a non-boolean dataParallel with a TypeError naming it', () => {
    const data = gaussianMixture({ k: 2, d: 4, nTrain: 8, nTest: 1, seed: 1 }).train;
    const model = new Model(mlp({ input: 4, hidden: [4], outputs: 2 }));
    expect(
      () =>
        new Trainer(model, {
          data: { x: data.x, y: data.labels as Int32Array },
          optimizer: sgd({ lr: 0.1 }),
          dataParallel: 'yes' as unknown as boolean,
        }),
    ).to.throw(TypeError, /options\.dataParallel must be a boolean/);
  });

  it('Model#evaluate({ dataParallel: true }) throws ERR_BIGSTEP_MPI naming the option; a non-boolean is a TypeError', () => {
    const data = gaussianMixture({ k: 2, d: 4, nTrain: 8, nTest: 1, seed: 1 }).train;
    const model = new Model(mlp({ input: 4, hidden: [4], outputs: 2 }));
    const examples = { x: data.x, y: data.labels as Int32Array };
    expect(() => model.evaluate(examples, { dataParallel: true }))
      .to.throw(/^options\.dataParallel needs MPI: /)
      .with.property('code', 'ERR_BIGSTEP_MPI');
    expect(() => model.evaluate(examples, { dataParallel: 1 as unknown as boolean })).to.throw(
      TypeError,
      /options\.dataParallel must be a boolean/,
    );
  });

  it('hessianVectorProduct({ dataParallel: true }) refuses finite differences with a RangeError, and needs MPI', () => {
    const data = gaussianMixture({ k: 2, d: 4, nTrain: 8, nTest: 1, seed: 1 }).train;
    const model = new Model(mlp({ input: 4, hidden: [4], outputs: 2 }));
    const examples = { x: data.x, y: data.labels as Int32Array };
    const v = new Float64Array(model.params.length).fill(1);
    expect(() =>
      hessianVectorProduct(model, examples, v, undefined, { method: 'finite-difference', dataParallel: true }),
    ).to.throw(RangeError, /options\.dataParallel works with method 'exact' only \(got 'finite-difference'\)/);
    expect(() => hessianVectorProduct(model, examples, v, undefined, { dataParallel: true }))
      .to.throw(/^options\.dataParallel needs MPI: /)
      .with.property('code', 'ERR_BIGSTEP_MPI');
  });
});
