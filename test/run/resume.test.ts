/**
 * Interrupted runs resume (src/run/resume.ts): each experiment at a small size runs as a child
 * process that is SIGKILLed at random moments after it has written a checkpoint, and restarted
 * until it finishes; the result, headline, tables and metrics must equal those of an
 * uninterrupted run, and no checkpoint file may ever be found corrupt.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findExperiment } from '../../src/experiments/registry.js';
import { planRun } from '../../src/run/run.js';
import { validateRunDir, type RunSummary } from '../../src/run/schema.js';
import { tempDir } from './helpers.js';
import { CHILD_ENV, killDelayFor, resultWithoutTiming, runWithKills } from './resume-harness.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'resume-run-child.js');
/** Checkpoint as often as possible (every 20 ms of work) so that short runs have many resume points. */
const CHECKPOINT_MS = 20;
const ENV = { BIGSTEP_CHECKPOINT_SECONDS: String(CHECKPOINT_MS / 1000) };
/**
 * Kills need room: an uninterrupted run shorter than this (its summary's wallSeconds) is made
 * longer with the case's `grow` before it is killed. Runs differ by machine, BLAS and data set
 * (the synthetic fallback is far smaller than Fashion-MNIST), so the test sizes them by looking.
 */
const MIN_WORK_MS = 1500;

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const lines = (file: string): string[] => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);

interface Case {
  experiment: 'noise' | 'escape' | 'landscape';
  /** The config, with its work multiplied about `factor` times (1: as written). */
  config: (factor: number) => unknown;
  kills: number;
  /** The largest kill delay; less when the run is short (killDelayFor). */
  maxDelayMs: number;
  /** metrics.jsonl in the same order (false: units run concurrently, compare the sorted lines). */
  ordered: boolean;
  /** Whether a kill can leave a mid-unit checkpoint (E1 cells are single native calls: no). */
  partials: boolean;
}

const preset = (name: string): Record<string, unknown> =>
  structuredClone(findExperiment(name)!.definition.presets.tiny) as Record<string, unknown>;

const CASES: Case[] = [
  {
    // tiny E3 (sgd-small, sgd-large, amp-k0.5 and isotropic at both budgets: 7 arms × 2 seeds, two
    // units at a time) with more data and epochs, so that each training run lasts long enough to be
    // killed in the middle
    experiment: 'noise',
    config: (factor) => {
      const c = preset('noise') as { data: { synthetic: Record<string, unknown> } } & Record<string, unknown>;
      c.data.synthetic.nTrain = 1024;
      return {
        ...c,
        model: { kind: 'mlp', hidden: [64] },
        seeds: [1, 2],
        arms: ['sgd-small', 'sgd-large', 'amplified', 'isotropic'],
        amplifyPowers: [0.5],
        epochs: 10 * factor,
        evalEvery: 2 * factor,
      };
    },
    kills: 4,
    maxDelayMs: 150,
    ordered: false,
    partials: true,
  },
  {
    // tiny E2 (5 seeds, each a chain of units; converge and switch checkpoint mid-way)
    experiment: 'escape',
    config: (factor) => {
      const c = preset('escape') as Record<string, unknown> & { switch: { steps: number }; eos: { steps: number } };
      return {
        ...c,
        switch: { ...c.switch, steps: c.switch.steps * factor },
        eos: { ...c.eos, steps: c.eos.steps * factor },
      };
    },
    kills: 4,
    maxDelayMs: 250,
    ordered: true,
    partials: true,
  },
  {
    // tiny E1 on its 1-D instance
    experiment: 'landscape',
    config: (factor) => {
      const c = preset('landscape');
      return { ...c, instances: [(c.instances as unknown[])[0]], points: 100 * factor, minimaRandomStarts: 50 };
    },
    kills: 3,
    maxDelayMs: 100,
    ordered: true,
    partials: false,
  },
];

describe('runExperiment() resumes a run killed with SIGKILL', function () {
  this.timeout(120000); // the reference may run up to three times while it is sized
  const root = tempDir('bigstep-resume-run-');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  for (const c of CASES) {
    it(`${c.experiment}: ${c.kills} kills at random moments, then the same result, headline, tables and metrics as an uninterrupted run`, async () => {
      const configFile = path.join(root, `${c.experiment}.json`);
      const refOut = path.join(root, `${c.experiment}-ref`);
      const killedOut = path.join(root, `${c.experiment}-killed`);
      // The uninterrupted reference, made longer (×2 to ×8 at a time) until its work is long enough to kill.
      let factor = 1;
      let workMs: number;
      for (;;) {
        fs.rmSync(refOut, { recursive: true, force: true });
        fs.writeFileSync(configFile, JSON.stringify(c.config(factor)));
        const ref = spawnSync(process.execPath, [CHILD, c.experiment, refOut, configFile, 'tiny'], {
          env: { ...CHILD_ENV, ...ENV },
          encoding: 'utf8',
        });
        expect(ref.status, ref.stderr).to.equal(0);
        const refPlan = planRun(findExperiment(c.experiment)!, c.config(factor), { out: refOut, scale: 'tiny' });
        workMs = 1000 * readJson<RunSummary>(path.join(refPlan.dir, 'summary.json')).wallSeconds;
        if (workMs >= MIN_WORK_MS || factor >= 64) break;
        factor *= Math.min(8, Math.max(2, Math.ceil(MIN_WORK_MS / Math.max(workMs, 1))));
      }
      const maxDelayMs = killDelayFor(workMs, c.kills, { capMs: c.maxDelayMs, checkpointMs: CHECKPOINT_MS });

      const plan = planRun(findExperiment(c.experiment)!, c.config(factor), { out: killedOut, scale: 'tiny' });
      const r = await runWithKills(
        [CHILD, c.experiment, killedOut, configFile, 'tiny'],
        path.join(plan.dir, 'checkpoints'),
        {
          kills: c.kills,
          maxDelayMs,
          seed: 7,
          env: ENV,
          partialFirst: c.partials,
        },
      );
      if (process.env.BIGSTEP_REPORT_FIGURES)
        console.log(
          `      ${c.experiment}: work ×${factor} (${workMs.toFixed(0)} ms uninterrupted), kill delays < ${r.maxDelayMs.toFixed(0)} ms, ${r.retries} retries; ` +
            `${r.kills} kills (${r.killsWithPartial} left a partial checkpoint), ${r.filesChecked} files checked, corrupt ${r.corrupt.length}, ${r.seconds.toFixed(1)} s`,
        );
      expect(r.kills).to.equal(c.kills);
      expect(r.corrupt).to.deep.equal([]);
      if (c.partials) expect(r.killsWithPartial, 'kills that left a mid-unit checkpoint').to.be.at.least(1);

      const refDir = planRun(findExperiment(c.experiment)!, c.config(factor), { out: refOut, scale: 'tiny' }).dir;
      const a = readJson<RunSummary>(path.join(refDir, 'summary.json'));
      const b = readJson<RunSummary>(path.join(plan.dir, 'summary.json'));
      expect(b.status).to.equal(a.status);
      expect(JSON.stringify(b.headline)).to.equal(JSON.stringify(a.headline));
      expect(JSON.stringify(b.tables)).to.equal(JSON.stringify(a.tables));
      expect(resultWithoutTiming(path.join(plan.dir, 'result.json'))).to.equal(
        resultWithoutTiming(path.join(refDir, 'result.json')),
      );
      const ma = lines(path.join(refDir, 'metrics.jsonl'));
      const mb = lines(path.join(plan.dir, 'metrics.jsonl'));
      if (c.ordered) expect(mb).to.deep.equal(ma);
      else expect([...mb].sort()).to.deep.equal([...ma].sort());
      expect(b.metricsLines).to.equal(a.metricsLines);

      // The summary says it resumed; the reference did not.
      expect(a.restarts).to.equal(0);
      expect(a.resumed).to.equal(null);
      expect(b.restarts).to.equal(c.kills);
      expect(b.resumed, 'the finishing life loaded earlier work').to.not.equal(null);
      expect(b.resumed!.units).to.be.above(0);
      if (r.lastKillLeftPartial) expect(b.resumed!.partial, 'continued a half-done unit').to.be.above(0);
      // Complete: checkpoints are gone and the directory is valid.
      expect(fs.existsSync(path.join(plan.dir, 'checkpoints'))).to.equal(false);
      expect(await validateRunDir(plan.dir)).to.deep.equal([]);
    });
  }
});
