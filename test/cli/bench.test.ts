import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { allCases } from '../../src/bench/cases.js';
import type { BenchReport } from '../../src/bench/run.js';
import { tempDir, tempFiles } from '../run/helpers.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const TINY = 'mlp-784-128-10/b128';

function bigstep(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  timeout = 60000,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, BIGSTEP_DEBUG: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bigstep bench: misuse', function () {
  this.timeout(20000);
  const cwd = tempDir('bigstep-bench-');
  after(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('an unknown case is a usage error that lists every case', () => {
    const r = bigstep(['bench', '--cases', `${TINY},mlp-nope`], cwd);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/bigstep bench: unknown case "mlp-nope" \(cases: /);
    for (const c of allCases) expect(r.stderr).to.contain(c.name);
    expect(fs.readdirSync(cwd)).to.deep.equal([]);
  });

  const cases: Array<[string[], RegExp]> = [
    [['bench', '--threads', '0'], /--threads must be integers in \[1, 256\] \(got "0"\)/],
    [['bench', '--threads', '1,,2'], /--threads must be a comma-separated list without empty items/],
    [['bench', '--seconds', 'x'], /--seconds must be a number in \(0, 600\]/],
    [['bench', '--partition', 'a'], /--partition only applies with --sweep DIR/],
    [['bench', '--bogus'], /bigstep bench: unknown option --bogus/],
    [['bench', '--sweep', 'd', '--partition', 'a b'], /--partition: "a b" is not a Slurm partition value/],
    [['bench', '--sweep', 'd', '--time', 'soon'], /--time must look like 00:30:00/],
  ];
  for (const [args, re] of cases)
    it(`bigstep ${args.join(' ')} → exit 2 and a one-line error`, () => {
      const r = bigstep(args, cwd);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(re);
      expect(fs.existsSync(path.join(cwd, 'd')), 'nothing planned').to.equal(false);
    });

  it('--list prints every case with its kind', () => {
    const r = bigstep(['bench', '--list'], cwd);
    expect(r.code).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.have.length(allCases.length);
    expect(r.stdout).to.match(/hvp-mlp-784-128-10\/n1000\s+hvp \(quick\)/);
  });
});

describe('bigstep bench: a run', function () {
  this.timeout(120000);
  const cwd = tempDir('bigstep-bench-');
  after(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('threads above the cores run with a warning; the table and the JSON carry the share-of-peak figures and machine facts', () => {
    const over = os.availableParallelism() + 1;
    const r = bigstep(
      [
        'bench',
        '--cases',
        `${TINY},e1-paper-1d/N20000xT200`,
        '--threads',
        `1,${over}`,
        '--seconds',
        '0.2',
        '--out',
        'r/b.json',
      ],
      cwd,
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(
      new RegExp(`warning: threads ${over} above the ${os.availableParallelism()} cores this process may use`),
    );
    expect(r.stderr.match(/warning: threads/g)).to.have.length(1);
    expect(r.stdout).to.match(/case\s+threads\s+samples\/s\s+GFLOP\/s\s+% FMA peak\s+% sgemm ceiling\s+peak RSS MiB/);
    const rep = JSON.parse(fs.readFileSync(path.join(cwd, 'r/b.json'), 'utf8')) as BenchReport;
    expect(rep.schema).to.equal('bigstep/bench@1');
    // The E1 sweep runs on one native thread: one row; the MLP at both thread counts.
    expect(rep.rows.map((x) => `${x.case}@${x.threads}`)).to.deep.equal([
      `${TINY}@1`,
      `${TINY}@${over}`,
      'e1-paper-1d/N20000xT200@1',
    ]);
    expect(rep.peaks.map((p) => p.threads)).to.deep.equal([1, over]);
    for (const row of rep.rows.filter((x) => x.kind === 'train')) {
      expect(row.samplesPerSec).to.be.greaterThan(0);
      expect(row.fmaPeakGflops).to.equal(rep.peaks.find((p) => p.threads === row.threads)!.gflops);
      expect(row.pctOfFmaPeak).to.be.closeTo((100 * (row.gflops as number)) / row.fmaPeakGflops, 1e-9);
      expect(row.pctOfCeiling).to.be.closeTo(
        (100 * (row.ceilingStepSeconds as number)) / (row.stepSeconds as number),
        1e-9,
      );
      expect(row.peakRssMiB).to.be.greaterThan(10);
    }
    const e1 = rep.rows[2];
    expect(e1.gflops).to.equal(null);
    expect(e1.pctOfFmaPeak).to.equal(null);
    expect(rep.warnings.join(' ')).to.match(/above the \d+ cores/);
    const m = rep.machine;
    expect(m.cores).to.equal(os.cpus().length);
    expect(m.isaAvailable).to.include('baseline');
    expect(m.isaAvailable).to.include(m.isa);
    expect(m.node).to.equal(process.version);
    expect(m.bigstep).to.match(/^\d+\.\d+\.\d+/);
    expect(m.blasVendor).to.match(/^(openblas|portable)$/);
    if (process.platform === 'linux') expect(m.flags).to.include('sse2');
  });

  it('--compare-pytorch without torch: a note, and bigstep figures alone', () => {
    const r = bigstep(
      ['bench', '--cases', TINY, '--threads', '1', '--seconds', '0.2', '--compare-pytorch', '--out', 'np.json'],
      cwd,
      { BIGSTEP_PYTHON: path.join(cwd, 'no-such-python') },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(
      /warning: PyTorch not found \(.*no-such-python: import torch failed\); PyTorch columns skipped/,
    );
    expect(r.stdout).not.to.contain('PyTorch samples/s');
    const rep = JSON.parse(fs.readFileSync(path.join(cwd, 'np.json'), 'utf8')) as BenchReport;
    expect(rep.pytorch)
      .to.have.property('note')
      .that.matches(/BIGSTEP_PYTHON/);
    expect(rep.rows[0].torch).to.equal(undefined);
  });

  it('SIGINT mid-run: exit 130, no JSON and no temp file', async () => {
    const child = spawn(
      process.execPath,
      [MAIN, 'bench', '--cases', `${TINY},small-cnn-28x28/b128`, '--threads', '1', '--seconds', '3', '--out', 'i.json'],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const t0 = Date.now();
    while (!/bench \[2\/3\]/.test(stderr)) {
      if (Date.now() - t0 > 30000 || child.exitCode !== null) throw new Error(`bench did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 800));
    child.kill('SIGINT');
    expect(await exited, stderr).to.equal(130);
    expect(stderr).to.match(/bench interrupted; nothing written/);
    expect(fs.existsSync(path.join(cwd, 'i.json'))).to.equal(false);
    expect(tempFiles(cwd)).to.deep.equal([]);
  });
});

describe('bigstep bench --sweep and sweep collect', function () {
  this.timeout(120000);
  const cwd = tempDir('bigstep-bench-sweep-');
  after(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('plans one task per partition (whole node each), runs a task, collects a node type × case table and plot', () => {
    const p = bigstep(
      [
        'bench',
        '--sweep',
        's',
        '--partition',
        'skylake,zen3',
        '--cases',
        TINY,
        '--threads',
        '1',
        '--seconds',
        '0.2',
        '--time',
        '00:05:00',
      ],
      cwd,
    );
    expect(p.code, p.stderr).to.equal(0);
    expect(p.stdout).to.match(/bench sweep: 2 tasks \(skylake, zen3\)/);
    const script = fs.readFileSync(path.join(cwd, 's/slurm/array.sbatch'), 'utf8');
    expect(script).to.match(/^#SBATCH --exclusive$/m);
    expect(script).to.match(/^#SBATCH --array=0-1$/m);
    expect(script).to.match(/^#SBATCH --time=00:05:00$/m);
    expect(script).to.match(/sweep run \S+ --task "\$SLURM_ARRAY_TASK_ID"$/m);
    const submit = fs
      .readFileSync(path.join(cwd, 's/slurm/submit.sh'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('sbatch'));
    expect(submit).to.have.length(2);
    expect(submit[0]).to.match(/^sbatch --array=0 --partition=skylake \S+array\.sbatch$/);
    expect(submit[1]).to.match(/^sbatch --array=1 --partition=zen3 /);
    const sweep = JSON.parse(fs.readFileSync(path.join(cwd, 's/bench-sweep.json'), 'utf8'));
    expect(sweep.benchArgs).to.deep.equal(['--cases', TINY, '--threads', '1', '--seconds', '0.2']);

    const r = bigstep(['sweep', 'run', 's', '--task', '0'], cwd);
    expect(r.code, r.stderr).to.equal(0);
    const rep = JSON.parse(fs.readFileSync(path.join(cwd, 's/results/task-0.json'), 'utf8')) as BenchReport;
    expect(rep.label).to.equal('skylake');
    expect(rep.rows.map((x) => x.case)).to.deep.equal([TINY]);

    const c = bigstep(['sweep', 'collect', 's'], cwd);
    expect(c.code, c.stderr).to.equal(0);
    expect(c.stdout).to.match(/node type\s+host\s+CPU\s+case\s+threads\s+samples\/s\s+GFLOP\/s\s+% FMA peak/);
    expect(c.stdout).to.match(new RegExp(`^skylake\\s+\\S+.*${TINY.replace(/[/.]/g, '\\$&')}\\s+1\\s+[\\d.]+`, 'm'));
    expect(c.stdout).to.match(/no result yet from task 1 \(zen3\)/);
    const csv = fs.readFileSync(path.join(cwd, 's/bench-comparison.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).to.equal(
      'task,label,host,cpu,case,threads,samplesPerSec,gflops,pctOfFmaPeak,pctOfCeiling,fmaPeakGflops',
    );
    expect(csv).to.have.length(2);
    expect(Number(csv[1].split(',').at(-3))).to.be.closeTo(rep.rows[0].pctOfFmaPeak as number, 1e-6);
    const png = fs.readFileSync(path.join(cwd, 's/bench-comparison.png'));
    expect(png.subarray(1, 4).toString()).to.equal('PNG');
    expect(fs.readFileSync(path.join(cwd, 's/bench-comparison.svg'), 'utf8')).to.contain('<svg');
    expect(bigstep(['sweep', 'collect', 's', '--check'], cwd).code).to.equal(1);
    const bad = bigstep(['sweep', 'local', 's'], cwd);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/is a bench sweep: submit it with bigstep bench --sweep/);
  });
});
