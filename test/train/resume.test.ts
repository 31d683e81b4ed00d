import { expect } from 'chai';

import { killResumeRun } from './resume-harness.js';

describe('resume after SIGKILL at random moments', () => {
  it('ends bitwise identical to an uninterrupted run after ≥ 20 kills, with 0 corrupt checkpoints', async function () {
    // A hang guard, not a time limit: ≥ 21 child processes each load node and the addon (~45 s in
    // all with the suite's other worker busy on 2 cores, over 60 s at load 11).
    this.timeout(240000);
    // Each life trains ~20 steps (kill 0–60 ms after restart); 20 kills cover about half the run.
    const r = await killResumeRun({ targetKills: 20, total: 1000, every: 5, maxDelayMs: 60, seed: 1 });
    if (process.env.BIGSTEP_REPORT_FIGURES) {
      console.log(
        `      kills ${r.kills} (${r.killsDuringWrite} during a write), corrupt ${r.corrupt}, identical ${r.identical}, resume points ${r.resumeSteps.length}, leftover temps ${r.leftoverTemps}, ${r.seconds.toFixed(1)} s`,
      );
    }
    expect(r.kills).to.be.at.least(20);
    expect(r.corrupt).to.equal(0);
    expect(r.identical).to.equal(true);
    expect(r.resumeSteps.length, 'distinct resume points').to.be.at.least(5);
  });
});
