import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import YAML from 'yaml';

import {
  SweepSpecError,
  arrayRanges,
  expandSweep,
  getPath,
  k8sManifest,
  loadTasks,
  planSweep,
  readSweepSpec,
  setPath,
  slurmScript,
  validateSweepSpec,
  type SweepSpec,
} from '../../src/sweep/index.js';
import { tempDir } from '../run/helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const tinyE1: SweepSpec = {
  experiment: 'landscape',
  preset: 'tiny',
  base: { 'trajectories.count': 0, instances: [{ name: '1d', dim: 1, dips: 2, seed: 1 }], 'noise.enabled': false },
  grid: { 'etaGrid.indices': [[0], [5], [9]], points: [50, 60] },
  seeds: [1, 7],
};

function writeSpec(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

describe('sweep spec: expandSweep()', function () {
  it('orders tasks as the grid product, first key slowest, seeds innermost', () => {
    const t = expandSweep(tinyE1);
    expect(t.count).to.equal(12);
    expect(t.tasks.map((x) => [x.params['etaGrid.indices'], x.params.points, x.seed])).to.deep.equal([
      [[0], 50, 1],
      [[0], 50, 7],
      [[0], 60, 1],
      [[0], 60, 7],
      [[5], 50, 1],
      [[5], 50, 7],
      [[5], 60, 1],
      [[5], 60, 7],
      [[9], 50, 1],
      [[9], 50, 7],
      [[9], 60, 1],
      [[9], 60, 7],
    ]);
    expect(t.tasks.map((x) => x.index)).to.deep.equal([...Array(12).keys()]);
    expect(t.params).to.deep.equal(['etaGrid.indices', 'points']);
  });

  it('is a pure function of the spec: same tasks, ids and sweep id every time', () => {
    const a = expandSweep(tinyE1);
    const b = expandSweep(structuredClone(tinyE1));
    expect(b.sweepId).to.equal(a.sweepId);
    expect(b.tasks).to.deep.equal(a.tasks);
    expect(new Set(a.tasks.map((x) => x.run)).size).to.equal(12);
    for (const x of a.tasks)
      expect(x.run)
        .to.equal(`landscape-tiny-${x.id}`)
        .and.match(/^landscape-tiny-[0-9a-f]{12}$/);
  });

  it('resolves each task config: preset, then base, then grid values, then the seed', () => {
    const t = expandSweep(tinyE1);
    const c = t.tasks[7].config as Record<string, any>;
    expect(c.points).to.equal(60);
    expect(c.etaGrid.indices).to.deep.equal([5]);
    expect(c.etaGrid.count).to.equal(10); // from the preset
    expect(c.trajectories.count).to.equal(0); // from base
    expect(c.seeds).to.deep.equal({ starts: 7, noise: 8, minima: 9 }); // --seed 7 rule (applySeed)
  });

  it('concatenates the products of a list of grids', () => {
    const t = expandSweep({
      ...tinyE1,
      seeds: undefined,
      grid: [{ 'etaGrid.indices': [[0], [1]] }, { 'etaGrid.indices': [[2]], points: [40, 41] }],
    });
    expect(t.tasks.map((x) => [x.grid, x.params])).to.deep.equal([
      [0, { 'etaGrid.indices': [0] }],
      [0, { 'etaGrid.indices': [1] }],
      [1, { 'etaGrid.indices': [2], points: 40 }],
      [1, { 'etaGrid.indices': [2], points: 41 }],
    ]);
  });

  it('sets array elements by index in a dotted path', () => {
    const t = expandSweep({ experiment: 'landscape', preset: 'tiny', grid: { 'instances.1.dips': [3, 5] } });
    expect(t.tasks.map((x) => (x.config as any).instances[1].dips)).to.deep.equal([3, 5]);
  });

  it('names the spec file, the task and the config field when a value is invalid', () => {
    expect(() =>
      expandSweep(
        { experiment: 'landscape', preset: 'tiny', grid: { 'noise.etaFactors': [[0.5], [1.5]] } },
        { file: 'my.yaml' },
      ),
    ).to.throw(
      SweepSpecError,
      /my\.yaml: task 1 \(noise\.etaFactors=\[1\.5\]\): config\.noise\.etaFactors\[0\] must be < 1/,
    );
    expect(() =>
      expandSweep(
        { experiment: 'landscape', preset: 'tiny', grid: { 'etaGrid.indices': [[10]] } },
        { file: 'my.yaml' },
      ),
    ).to.throw(SweepSpecError, /config\.etaGrid\.indices\[0\] must be an integer in \[0, 9\]/);
  });

  it('rejects a path whose parent does not exist, naming the grid field', () => {
    expect(() =>
      expandSweep({ experiment: 'landscape', preset: 'tiny', grid: { 'nosie.stdCount': [1, 2] } }, { file: 's.yaml' }),
    ).to.throw(SweepSpecError, /s\.yaml: grid\."nosie\.stdCount": the config has no object at "nosie"/);
  });

  it('reports fields the preset does not set (optional fields or typos)', () => {
    const t = expandSweep({ experiment: 'landscape', preset: 'tiny', grid: { 'noise.stdIndices': [[0], [1]] } });
    expect(t.newFields).to.deep.equal(['noise.stdIndices']);
  });

  // Every leaf lands in a config that the experiment's zod schema checks (src/util/schema.ts).
  const leaves: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'landscape',
      { 'instances.1.dipz': [3] },
      /config\.instances\[1\]: unknown option "dipz" \(did you mean "dips"\?\)/,
    ],
    ['landscape', { steps: [NaN] }, /config\.steps must be a positive integer/],
    [
      'escape',
      { 'converge.maxStep': [10] },
      /config\.converge: unknown option "maxStep" \(did you mean "maxSteps"\?\)/,
    ],
    // A typo in a synthetic set's generator option: passed before the synthetic sets had strict schemas.
    [
      'escape',
      { 'data.synthetic.seperation': [3] },
      /config\.data\.synthetic: unknown option "seperation" \(did you mean "separation"\?\)/,
    ],
    ['noise', { lrSmall: ['fast'] }, /config\.lrSmall/],
  ];
  for (const [experiment, grid, re] of leaves)
    it(`checks a ${experiment} grid leaf against the experiment's schema (${Object.keys(grid)[0]})`, () => {
      expect(() => expandSweep({ experiment, preset: 'tiny', grid } as SweepSpec, { file: 'l.yaml' })).to.throw(
        SweepSpecError,
        re,
      );
    });

  it('rejects two tasks that resolve to the same config', () => {
    expect(() =>
      expandSweep({ experiment: 'landscape', preset: 'tiny', grid: { points: [50, 50] } }, { file: 'dup.yaml' }),
    ).to.throw(SweepSpecError, /dup\.yaml: task 1 \(points=50\) resolves to the same config as task 0/);
  });
});

describe('sweep spec: validateSweepSpec()', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /f\.yaml: the spec must be an object/],
    [{ experiment: 'nope' }, /f\.yaml: experiment must be one of landscape.* \(got "nope"\)/],
    [{ experiment: 'landscape', preset: 'huge' }, /f\.yaml: preset must be one of tiny, quick, study, paper/],
    [{ experiment: 'landscape', grdi: {} }, /f\.yaml: grdi is not a spec field/],
    [
      { experiment: 'landscape', grid: { points: 5 } },
      /f\.yaml: grid\."points" must be a list of values \(got number; write \[5\] for one value\)/,
    ],
    [{ experiment: 'landscape', grid: { points: [] } }, /f\.yaml: grid\."points" must not be an empty list/],
    [{ experiment: 'landscape', grid: [{ points: [1] }, 3] }, /f\.yaml: grid\[1\] must be an object/],
    [{ experiment: 'landscape', grid: { 'a..b': [1] } }, /f\.yaml: grid\."a\.\.b" is not a dotted path/],
    [{ experiment: 'landscape', seeds: [1, -2] }, /f\.yaml: seeds\[1\] must be a non-negative integer/],
    [{ experiment: 'landscape', seeds: [3, 3] }, /f\.yaml: seeds must not repeat a seed/],
    [{ experiment: 'landscape', figures: 'no' }, /f\.yaml: figures must be true or false/],
    [{ experiment: 'landscape', columns: { x: 3 } }, /f\.yaml: columns\."x" must be a dotted path/],
  ];
  for (const [spec, re] of cases)
    it(`rejects ${JSON.stringify(spec)}`, () => {
      expect(() => validateSweepSpec(spec, 'f.yaml')).to.throw(SweepSpecError, re);
    });
});

describe('sweep spec files and planSweep()', function () {
  this.timeout(20000);
  const dir = tempDir('bigstep-sweep-spec-');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads YAML and JSON specs alike', async () => {
    const y = writeSpec(dir, 'a.yaml', 'experiment: landscape\npreset: tiny\ngrid:\n  points: [50, 60]\n');
    const j = writeSpec(
      dir,
      'a.json',
      JSON.stringify({ experiment: 'landscape', preset: 'tiny', grid: { points: [50, 60] } }),
    );
    expect(await readSweepSpec(y)).to.deep.equal(await readSweepSpec(j));
  });

  it('names the file when the YAML does not parse', async () => {
    const f = writeSpec(dir, 'bad.yaml', 'experiment: landscape\ngrid: [unclosed\n');
    let err: unknown;
    await readSweepSpec(f).catch((e) => (err = e));
    expect(err).to.be.instanceOf(SweepSpecError);
    expect((err as Error).message).to.match(/bad\.yaml: not valid YAML/);
  });

  it('writes tasks.json; planning the same spec again is a no-op; a different one needs --force', async () => {
    const out = path.join(dir, 'sweep');
    const f = writeSpec(dir, 'p.yaml', 'experiment: landscape\npreset: tiny\ngrid:\n  points: [50, 60]\n');
    const a = await planSweep(f, out);
    expect(a.action).to.equal('written');
    expect((await loadTasks(out)).count).to.equal(2);
    const mtime = fs.statSync(a.file).mtimeMs;
    const b = await planSweep(f, out);
    expect(b.action).to.equal('unchanged');
    expect(fs.statSync(a.file).mtimeMs).to.equal(mtime);
    const g = writeSpec(dir, 'q.yaml', 'experiment: landscape\npreset: tiny\ngrid:\n  points: [50, 70]\n');
    let err: unknown;
    await planSweep(g, out).catch((e) => (err = e));
    expect((err as Error).message).to.match(/already holds a different sweep .*--force/);
    expect((await planSweep(g, out, { force: true })).action).to.equal('replaced');
    expect((await loadTasks(out)).tasks.map((x) => (x.config as any).points)).to.deep.equal([50, 70]);
  });

  for (const [file, count] of [
    ['e1-noise-grid.yaml', 20],
    ['e3-study.yaml', 2],
  ] as const)
    it(`plans the shipped sweeps/${file} (${count} tasks)`, async () => {
      const out = path.join(dir, file);
      const r = await planSweep(path.join(ROOT, 'sweeps', file), out);
      expect(r.tasks.count).to.equal(count);
    });
});

describe('sweep executors: job scripts', () => {
  const t = expandSweep({
    ...tinyE1,
    name: 'demo',
    seeds: undefined,
    grid: { points: [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65] },
  });

  it('arrayRanges() compresses indices into Slurm ranges', () => {
    expect(arrayRanges([5, 0, 1, 2, 3, 9, 7, 8])).to.equal('0-3,5,7-9');
    expect(arrayRanges([4])).to.equal('4');
  });

  it("slurmScript() writes one array element per task with per-task logs and this install's node", () => {
    const s = slurmScript('/data/sw', t, { maxParallel: 4, mem: '1G', time: '00:10:00', partition: 'cpu' });
    expect(s).to.match(/^#!\/bin\/bash\n/);
    expect(s).to.contain('#SBATCH --array=0-15%4\n');
    expect(s).to.contain('#SBATCH --output=/data/sw/slurm/logs/%A_%a.out\n');
    expect(s).to.contain('#SBATCH --cpus-per-task=1\n');
    expect(s).to.contain('#SBATCH --mem=1G\n');
    expect(s).to.contain('#SBATCH --time=00:10:00\n');
    expect(s).to.contain('#SBATCH --partition=cpu\n');
    expect(s).to.contain('export BIGSTEP_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1\n');
    expect(s).to.contain(`exec ${process.execPath} `);
    expect(s).to.match(/dist\/src\/cli\/main\.js sweep run \/data\/sw --task "\$TASK"\n/);
    expect(s).to.contain('TASK=$(( ${BIGSTEP_TASK_OFFSET:-0} + SLURM_ARRAY_TASK_ID ))');
  });

  it('slurmScript() rejects malformed resource values, naming the option', () => {
    expect(() => slurmScript('/d', t, { mem: 'lots' })).to.throw(RangeError, /mem must look like 2G/);
    expect(() => slurmScript('/d', t, { time: 'soon' })).to.throw(RangeError, /time must look like 00:30:00/);
  });

  it('slurmScript({ ntasks: 2 }) asks for 2 tasks and starts an E3 task data-parallel through srun', () => {
    const e3 = expandSweep({ experiment: 'noise', preset: 'tiny', name: 'e3', grid: { epochs: [1, 2] } });
    const s = slurmScript('/data/e3', e3, { ntasks: 2 });
    expect(s).to.contain('#SBATCH --ntasks=2\n');
    expect(s).to.match(
      /\nexec srun --mpi=pmix --ntasks=2 \S+ \S+dist\/src\/cli\/main\.js sweep run \/data\/e3 --task "\$TASK" --data-parallel\n/,
    );
    expect(slurmScript('/data/e3', e3, { ntasks: 2, srunMpi: 'pmi2' })).to.contain('exec srun --mpi=pmi2 --ntasks=2 ');
    // One rank: the plain line, no srun.
    const one = slurmScript('/data/e3', e3, {});
    expect(one).to.contain('#SBATCH --ntasks=1\n');
    expect(one).to.not.contain('srun');
  });

  it('slurmScript() refuses a bad ntasks, several ranks for E1, and --srun-mpi without them, naming the option', () => {
    const e3 = expandSweep({ experiment: 'noise', preset: 'tiny', name: 'e3', grid: { epochs: [1, 2] } });
    expect(() => slurmScript('/d', e3, { ntasks: 0 })).to.throw(
      RangeError,
      /^ntasks must be an integer in \[1, 100000\] \(got 0\)/,
    );
    expect(() => slurmScript('/d', e3, { ntasks: 2.5 })).to.throw(RangeError, /^ntasks must be an integer/);
    expect(() => slurmScript('/d', t, { ntasks: 2 })).to.throw(
      RangeError,
      /^ntasks 2: a task of several MPI ranks splits the full-batch training of escape and noise; this sweep runs landscape/,
    );
    expect(() => slurmScript('/d', e3, { srunMpi: 'pmix' })).to.throw(
      RangeError,
      /^srun-mpi pmix only applies to tasks of several ranks/,
    );
    expect(() => slurmScript('/d', e3, { ntasks: 2, srunMpi: 'pm ix' })).to.throw(
      RangeError,
      /^srun-mpi must look like pmix or pmi2/,
    );
  });

  it('k8sManifest() is an Indexed Job whose pods run task $JOB_COMPLETION_INDEX', () => {
    const text = k8sManifest('/somewhere/demo-sweep', t, { image: 'reg/bigstep:1', parallelism: 3 });
    const job = YAML.parse(text);
    expect(job.kind).to.equal('Job');
    expect(job.spec.completionMode).to.equal('Indexed');
    expect(job.spec.completions).to.equal(16);
    expect(job.spec.parallelism).to.equal(3);
    const c = job.spec.template.spec.containers[0];
    expect(c.image).to.equal('reg/bigstep:1');
    expect(c.command.join(' ')).to.contain(`sweep run '/sweeps/demo-sweep' --task "$JOB_COMPLETION_INDEX"`);
    expect(c.env).to.deep.include({ name: 'BIGSTEP_THREADS', value: '1' });
    expect(job.spec.template.spec.restartPolicy).to.equal('Never');
  });
});

describe('sweep: dotted paths', () => {
  it('getPath() reads objects and array indices; setPath() replaces values', () => {
    const o: Record<string, unknown> = { a: { b: [1, { c: 2 }] } };
    expect(getPath(o, 'a.b.1.c')).to.equal(2);
    expect(getPath(o, 'a.x')).to.equal(undefined);
    setPath(o, 'a.b.0', 5, 'f');
    expect(getPath(o, 'a.b.0')).to.equal(5);
    expect(() => setPath(o, 'a.b.7', 1, 'f')).to.throw(SweepSpecError, /indexes past the end/);
  });
});
