/**
 * The local executor end to end, through the CLI: a 17-task sweep (16 one-cell E1 tasks of well
 * under a second, and one task of a few seconds) run by `bigstep sweep local`, then the same sweep
 * disturbed (SIGKILL of a running task; Ctrl-C of the pool) and rerun: the collected results must
 * be byte-identical to the undisturbed run.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadTasks, readResults, type SweepTasks } from '../../src/sweep/index.js';
import { tempDir } from '../run/helpers.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const ENV = { ...process.env, BIGSTEP_DEBUG: '', BIGSTEP_THREADS: '1' };

const SPEC = `
experiment: landscape
preset: tiny
name: local-test
figures: false
base:
  trajectories.count: 0
  instances: [{ name: paper-1d, kind: paper-1d, dim: 1, dips: 1, seed: 0 }]
  points: 100
grid:
  - noise.enabled: [false]
    etaGrid.indices: [[0], [1], [2], [3], [4], [5], [6], [7], [8], [9]]
  - etaGrid.indices: [[]]
    noise.etaFactors: [[0.25], [0.9]]
    noise.stdIndices: [[0], [1], [2]]
  # task 16: the long one (a few seconds)
  - etaGrid.indices: [[]]
    noise.etaFactors: [[0.9]]
    noise.stdIndices: [[2]]
    points: [1000]
    noise.points: [1000]
    steps: [60000]
columns:
  success: [instances.0.sweep.0.success, instances.0.noise.0.settled]
`;
const LONG = 16;

function bigstep(args: string[], timeout = 120000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout, env: ENV });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function start(args: string[]): { child: ChildProcess; exit: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr })),
  );
  return { child, exit };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `file` exists and holds a pid of a live process; returns it. */
async function waitForLock(file: string, deadlineMs: number): Promise<number> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const pid = Number((fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '').trim());
    if (pid > 0) return pid;
    await sleep(50);
  }
  throw new Error(`${file} did not appear within ${deadlineMs} ms`);
}

/** result.json of every task, without wall-clock fields. */
function results(dir: string, t: SweepTasks): string[] {
  return t.tasks.map((task) => {
    const r = JSON.parse(fs.readFileSync(path.join(dir, 'runs', task.run, 'result.json'), 'utf8'));
    delete r.timing;
    return JSON.stringify(r);
  });
}

describe('bigstep sweep local', function () {
  this.timeout(240000);
  const root = tempDir('bigstep-sweep-local-');
  const spec = path.join(root, 'spec.yaml');
  const A = path.join(root, 'a');
  let tasks: SweepTasks;
  let referenceCsv: string;
  let referenceResults: string[];

  before(() => {
    fs.writeFileSync(spec, SPEC);
    for (const d of ['a', 'b', 'c'])
      expect(bigstep(['sweep', 'plan', spec, '--out', path.join(root, d)]).code).to.equal(0);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('runs all 17 tasks with a pool of processes and collects them', async () => {
    tasks = await loadTasks(A);
    expect(tasks.count).to.equal(17);
    const r = bigstep(['sweep', 'local', A, '--concurrency', '2']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/17 tasks: 17 finished/);
    const c = await readResults(A);
    expect(c.counts).to.deep.include({ total: 17, finished: 17, missing: 0, failed: 0, incomplete: 0 });
    referenceCsv = fs.readFileSync(path.join(A, 'results.csv'), 'utf8');
    expect(referenceCsv.split('\n').filter(Boolean)).to.have.length(18);
    expect(fs.readFileSync(path.join(A, 'results.jsonl'), 'utf8').split('\n').filter(Boolean)).to.have.length(17);
    for (const row of c.rows) expect(row.columns.success).to.be.a('number');
    referenceResults = results(A, tasks);
    // Each task ran with one BLAS thread (env.json).
    const env = JSON.parse(fs.readFileSync(path.join(A, 'runs', tasks.tasks[0].run, 'env.json'), 'utf8'));
    expect(env.blas.threads).to.equal(1);
  });

  it('is a no-op when rerun: every task is skipped and results.csv is unchanged', () => {
    const summaries = tasks.tasks.map((t) => fs.statSync(path.join(A, 'runs', t.run, 'summary.json')).mtimeMs);
    const t0 = Date.now();
    const r = bigstep(['sweep', 'local', A]);
    expect(r.code, r.stderr).to.equal(0);
    expect(Date.now() - t0).to.be.below(10000);
    expect(tasks.tasks.map((t) => fs.statSync(path.join(A, 'runs', t.run, 'summary.json')).mtimeMs)).to.deep.equal(
      summaries,
    );
    expect(fs.readFileSync(path.join(A, 'results.csv'), 'utf8')).to.equal(referenceCsv);
    expect(bigstep(['sweep', 'run', A, '--task', '3']).stdout).to.match(/task 3: already finished/);
  });

  it('recovers from SIGKILL of a running task: the rerun gives byte-identical results', async () => {
    const B = path.join(root, 'b');
    const pool = start(['sweep', 'local', B, '--concurrency', '2']);
    const lock = path.join(B, 'runs', tasks.tasks[LONG].run, '.lock');
    const pid = await waitForLock(lock, 60000);
    await sleep(700);
    process.kill(pid, 'SIGKILL');
    const { code, stderr } = await pool.exit;
    expect(code).to.equal(1);
    expect(stderr).to.match(new RegExp(`task ${LONG} was killed by SIGKILL`));
    const mid = await readResults(B);
    expect(mid.rows[LONG].status).to.equal('incomplete');
    expect(mid.counts.finished).to.equal(16);
    expect(fs.existsSync(path.join(B, 'runs', tasks.tasks[LONG].run, 'result.json'))).to.equal(false);

    const r = bigstep(['sweep', 'local', B]);
    expect(r.code, r.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(B, 'results.csv'), 'utf8')).to.equal(referenceCsv);
    expect(results(B, tasks)).to.deep.equal(referenceResults);
  });

  it('stops cleanly on Ctrl-C (SIGINT) and continues on the next run', async () => {
    const C = path.join(root, 'c');
    const pool = start(['sweep', 'local', C, '--concurrency', '2', '--tasks', `${LONG},0-3`]);
    await waitForLock(path.join(C, 'runs', tasks.tasks[LONG].run, '.lock'), 60000);
    await sleep(500);
    pool.child.kill('SIGINT');
    const { code, stderr } = await pool.exit;
    expect(code, stderr).to.equal(130);
    expect(stderr).to.match(/interrupted; run the same command again to continue/);
    const mid = await readResults(C);
    expect(mid.rows[LONG].status).to.equal('incomplete');
    // A task that reaches a safe point within the 1.5 s grace writes status 'aborted' and unlocks;
    // one that does not is stopped anyway (as if killed: no summary, a stale lock). Both resume.
    const runDir = path.join(C, 'runs', tasks.tasks[LONG].run);
    if (fs.existsSync(path.join(runDir, 'summary.json'))) {
      expect(JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')).status).to.equal('aborted');
      expect(fs.existsSync(path.join(runDir, '.lock'))).to.equal(false);
    }

    const r = bigstep(['sweep', 'local', C]);
    expect(r.code, r.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(C, 'results.csv'), 'utf8')).to.equal(referenceCsv);
  });

  it('rejects a task index outside the sweep with a usage error', () => {
    const r = bigstep(['sweep', 'run', A, '--task', '17']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/bigstep sweep run: task must be an integer in \[0, 16\]/);
  });
});
