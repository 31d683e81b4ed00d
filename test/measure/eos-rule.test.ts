import { expect } from 'chai';

import { edgeOfStabilityVerdict } from '../../src/measure/eos-rule.js';

const E = 200;
/** Measurements every 50 steps from `from` to `to` (inclusive), starting at step `at`. */
const ramp = (from: number, to: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => from + ((to - from) * i) / (count - 1));
const series = (values: number[]) => values.map((value, i) => ({ step: 50 * i, value }));
const ended = { ended: true, diverged: false };
const running = { ended: false, diverged: false };

describe('edge-of-stability rule', () => {
  it('a rise like the 2026-12-02 run (41.6 → 194.7 by step 18,300): unfinished when stopped by hand, inconclusive had it ended', () => {
    const run = series(ramp(41.6, 194.7, 367));
    const j = edgeOfStabilityVerdict(run, E, ended);
    expect(j.verdict).to.equal('inconclusive');
    expect(j.sharpened).to.be.above(0);
    expect(j.arrived).to.equal(355); // first value ≥ 190
    expect(j.late).to.equal(12);
    expect(edgeOfStabilityVerdict(run, E, running).verdict).to.equal('unfinished');
  });

  it('a steady rise through the band is not hovering, however long it stays inside: inconclusive', () => {
    // 40 → 218 at one rate: 40 late measurements, all within ±10 % of 2/η, slope = the sharpening rate.
    const j = edgeOfStabilityVerdict(series(ramp(40, 218, 400)), E, ended);
    expect(j.late).to.be.at.least(20);
    expect(j.inBand).to.equal(1);
    expect(j.lateSlope / j.sharpeningRate).to.be.closeTo(1, 1e-6);
    expect(j.verdict).to.equal('inconclusive');
  });

  it('sharpening, then hovering within ±10 % of 2/η with no trend, is supported; a short late window is not', () => {
    const hover = Array.from({ length: 40 }, (_, i) => E * (1 + 0.05 * Math.sin(i)));
    const j = edgeOfStabilityVerdict(series([...ramp(40, 195, 50), ...hover]), E, ended);
    expect(j.verdict).to.equal('supported');
    expect(j.arrived).to.equal(48); // 191.8 ≥ 0.95·200
    expect(j.late).to.equal(42);
    expect(j.inBand).to.equal(1);
    expect(Math.abs(j.lateSlope / j.sharpeningRate)).to.be.below(0.25);
    const short = edgeOfStabilityVerdict(series([...ramp(40, 195, 50), ...hover.slice(0, 10)]), E, ended);
    expect(short.verdict).to.equal('inconclusive');
  });

  it('λ that keeps rising past the edge, or falls back, does not hover: not-reproduced', () => {
    expect(edgeOfStabilityVerdict(series([...ramp(40, 195, 50), ...ramp(200, 400, 40)]), E, ended).verdict).to.equal(
      'not-reproduced',
    );
    const back = series([...ramp(40, 195, 50), ...ramp(150, 100, 40)]);
    const j = edgeOfStabilityVerdict(back, E, ended);
    expect(j.verdict).to.equal('not-reproduced');
    expect(j.inBand).to.be.below(0.8);
    expect(edgeOfStabilityVerdict(back, E, running).verdict).to.equal('unfinished');
  });

  it('no sharpening, a start above the edge, divergence, and bad input', () => {
    expect(edgeOfStabilityVerdict(series(ramp(40, 120, 100)), E, ended).verdict).to.equal('not-reproduced');
    expect(edgeOfStabilityVerdict(series(ramp(40, 120, 100)), E, running).verdict).to.equal('unfinished');
    expect(edgeOfStabilityVerdict(series([190, 200, 201]), E, ended).verdict).to.equal('uninformative');
    expect(edgeOfStabilityVerdict(series([40, 80]), E, { ended: false, diverged: true }).verdict).to.equal(
      'not-reproduced',
    );
    expect(() => edgeOfStabilityVerdict([], E, ended)).to.throw(RangeError, /points/);
    expect(() => edgeOfStabilityVerdict(series([1]), 0, ended)).to.throw(RangeError, /threshold/);
    expect(() => edgeOfStabilityVerdict(series([1]), E, ended, { band: 2 })).to.throw(RangeError, /options.band/);
  });
});
