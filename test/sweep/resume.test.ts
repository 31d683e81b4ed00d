/**
 * `bigstep sweep run DIR --task I` on a half-done task resumes it: a task SIGKILLed at random
 * moments after it has written a checkpoint, and resubmitted each time with the same command,
 * ends with the same collected row (results.csv), result and metrics as a task that ran once.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { collectSweep, loadTasks, planSweep, taskDir } from '../../src/sweep/index.js';
import type { RunSummary } from '../../src/run/schema.js';
import { tempDir } from '../run/helpers.js';
import { CHILD_ENV, resultWithoutTiming, runWithKills } from '../run/resume-harness.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const ENV = { BIGSTEP_CHECKPOINT_SECONDS: '0.02' };

// Task 1: E3 small-batch and amplified arms (3 training runs: small-batch, amp-k0.5, amp-k1; one seed, one at a time).
const SPEC = `
experiment: noise
preset: tiny
name: resume-test
figures: false
base:
  seeds: [1]
  concurrency: 1
  data.synthetic.nTrain: 1024
  model.hidden: [64]
  epochs: 30
  evalEvery: 5
  budgets: [epochs]
grid:
  arms: [[sgd-small], [small-batch, amplified]]
columns:
  testAccuracy: arms.0.runs.0.final.testAccuracy
`;
const TASK = 1;

describe('bigstep sweep run --task on a killed task', function () {
  this.timeout(60000);
  const root = tempDir('bigstep-sweep-resume-');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('resumes from its checkpoints after 3 SIGKILLs and collects the same row as an unkilled task', async () => {
    const spec = path.join(root, 'spec.yaml');
    fs.writeFileSync(spec, SPEC);
    const A = path.join(root, 'a');
    const B = path.join(root, 'b');
    await planSweep(spec, A);
    await planSweep(spec, B);
    const t = await loadTasks(A);
    expect(t.count).to.equal(2);

    const ref = spawnSync(process.execPath, [MAIN, 'sweep', 'run', A, '--task', String(TASK)], {
      env: { ...CHILD_ENV, ...ENV },
      encoding: 'utf8',
    });
    expect(ref.status, ref.stderr).to.equal(0);

    const dirB = taskDir(B, t.tasks[TASK]);
    const r = await runWithKills([MAIN, 'sweep', 'run', B, '--task', String(TASK)], path.join(dirB, 'checkpoints'), {
      kills: 3,
      maxDelayMs: 100,
      seed: 3,
      env: ENV,
    });
    if (process.env.BIGSTEP_REPORT_FIGURES)
      console.log(
        `      ${r.kills} kills (${r.killsWithPartial} left a partial checkpoint), ${r.filesChecked} files checked, corrupt ${r.corrupt.length}, ${r.seconds.toFixed(1)} s`,
      );
    expect(r.kills).to.equal(3);
    expect(r.corrupt).to.deep.equal([]);
    expect(r.stdout).to.match(new RegExp(`task ${TASK}: finished`));

    // The same row in results.csv (only computed values: a byte comparison), result and metrics.
    const ca = await collectSweep(A);
    const cb = await collectSweep(B);
    expect(cb.rows[TASK].status).to.equal('finished');
    expect(cb.csv).to.equal(ca.csv);
    const dirA = taskDir(A, t.tasks[TASK]);
    expect(resultWithoutTiming(path.join(dirB, 'result.json'))).to.equal(
      resultWithoutTiming(path.join(dirA, 'result.json')),
    );
    expect(fs.readFileSync(path.join(dirB, 'metrics.jsonl'), 'utf8')).to.equal(
      fs.readFileSync(path.join(dirA, 'metrics.jsonl'), 'utf8'),
    );
    const summary = JSON.parse(fs.readFileSync(path.join(dirB, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.restarts).to.equal(3);
    expect(summary.resumed).to.not.equal(null);

    // Finished: the same command is now a no-op that exits 0.
    const again = spawnSync(process.execPath, [MAIN, 'sweep', 'run', B, '--task', String(TASK)], {
      env: CHILD_ENV,
      encoding: 'utf8',
    });
    expect(again.status).to.equal(0);
    expect(again.stdout).to.match(new RegExp(`task ${TASK}: already finished`));
  });
});
