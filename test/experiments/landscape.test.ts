import { expect } from 'chai';

import { landscapeExperiment } from '../../src/experiments/landscape-experiment.js';
import { landscapeFigures, paper1dValue } from '../../src/experiments/landscape-figures.js';
import { measureConstants } from '../../src/experiments/landscape-constants.js';
import { landscapeVerdicts } from '../../src/experiments/landscape-verdicts.js';
import {
  landscapePresets,
  runLandscape,
  validateLandscapeConfig,
  type LandscapeConfig,
  type LandscapeResult,
} from '../../src/experiments/landscape.js';
import { native } from '../../src/native/binding.js';
import { expectRenderedFigure, testContext, withoutTiming } from './helpers.js';

const tiny = (): LandscapeConfig => structuredClone(landscapePresets.tiny);

/** An independent GD on the paper's 1-D function, in plain JS (the formula written out again). */
function gd1d(x0: number, eta: number, steps: number): number {
  const grad = (x: number): number => {
    if (x < 6 || x > 7) return 40 * x;
    const t = x - 6.5;
    return -20800 * t ** 4 - 54080 * t ** 3 + 6240 * t ** 2 + 13560 * t;
  };
  let x = x0;
  for (let t = 0; t < steps && Math.abs(x) < 1e6; t++) x -= eta * grad(x);
  return x;
}

describe("paper-1d (the paper's 1-D illustration)", () => {
  const inst = native.landscapePaper1d();

  it('matches 20x² in value and slope at 6 and 7 (the patch is C¹), with f(6.5) = 0', () => {
    const r = native.landscapeEval(inst, Float64Array.from([6, 7, 6.5]));
    expect(r.value[0]).to.be.closeTo(720, 1e-9);
    expect(r.value[1]).to.be.closeTo(980, 1e-9);
    expect(r.value[2]).to.equal(0);
    expect(r.grad[0]).to.be.closeTo(240, 1e-9);
    expect(r.grad[1]).to.be.closeTo(280, 1e-9);
    expect(r.grad[2]).to.equal(0);
    for (const x of [5.999999, 6.000001, 6.999999, 7.000001]) expect(paper1dValue(x)).to.be.closeTo(20 * x * x, 1e-3);
  });

  it('has analytic gradients and curvatures that match central differences', () => {
    const xs = Float64Array.from({ length: 41 }, (_, k) => 5.9 + k * 0.03);
    const h = 1e-6;
    const r = native.landscapeEval(inst, xs, { hessian: true });
    const p = native.landscapeEval(
      inst,
      xs.map((x) => x + h),
      {},
    );
    const m = native.landscapeEval(
      inst,
      xs.map((x) => x - h),
      {},
    );
    for (let k = 0; k < xs.length; k++) {
      if (Math.abs(xs[k] - 6) < 2 * h || Math.abs(xs[k] - 7) < 2 * h) continue;
      expect((p.value[k] - m.value[k]) / (2 * h)).to.be.closeTo(r.grad[k], 1e-4 * (1 + Math.abs(r.grad[k])));
      expect((p.grad[k] - m.grad[k]) / (2 * h)).to.be.closeTo(r.hessian![k], 1e-4 * (1 + Math.abs(r.hessian![k])));
    }
  });

  it('measures the constants checked by hand: μ†₀ = p″(0) = 13560, M by the half-strength rule, μ* = L = 40 on P(M), L_global ≈ |p″(0.5)| = 31160', () => {
    const K = measureConstants(
      inst,
      { points: [[0], [6.5]], values: [0, 0], nearestDip: [-1, 0], globalIndex: 0 },
      { grid1d: 200001, grid2d: 3, samples: 1, directions: 1, radial: 4000, seed: 1 },
    );
    const c = K.dips[0];
    expect(c.muDagger0).to.equal(13560);
    // the barrier (p′ = 0 left of 6.5) is at x = 6.0108 (t = −0.48921, root of p′(t)/t)
    expect(c.rOpsc).to.be.closeTo(0.4892, 5e-4);
    // p′(t)/t = 13560 + 6240t − 54080t² − 20800t³ reaches 6780 at t = −0.3179 (the ball's left edge)
    expect(c.rM).to.be.closeTo(0.3179, 5e-4);
    expect(c.muDagger).to.be.within(6780, 6800);
    expect(c.ring.muStar).to.be.closeTo(40, 1e-9);
    expect(c.ring.L).to.equal(40);
    expect(K.outside.muStar).to.be.closeTo(40, 1e-9);
    expect(K.lGlobal).to.be.within(31100, 31160);
    expect(K.lGlobalBound).to.equal(31160);
    expect(K.lower).to.be.closeTo(2 / c.muDagger, 1e-15);
    expect(K.upper).to.be.closeTo(40 / 1600, 1e-12);
    expect(K.inClass).to.equal(true);
    expect(K.failing).to.equal(null);
  });

  it('an independent simulation agrees: from starts in M, γ = 1e-4 stays at x†; γ from 3e-4 to 0.02 reaches x*', async () => {
    const starts = Float64Array.from({ length: 41 }, (_, k) => 6.5 - 0.3 + (0.6 * k) / 40).filter((x) => x !== 6.5);
    const minima = { points: Float64Array.from([0, 6.5]), globalIndex: 0 };
    for (const eta of [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2]) {
      const r = await native.landscapeRun(inst, minima, starts, {
        eta,
        steps: 20000,
        classifyRadius: 0.05,
        basin: false,
      });
      const want = eta === 1e-4 ? 6.5 : 0;
      starts.forEach((x0, k) => {
        const ours = gd1d(x0, eta, 20000);
        expect(Math.abs(ours - want), `JS γ=${eta} from ${x0}`).to.be.below(0.05);
        expect(r.minimum[k], `native γ=${eta} from ${x0}`).to.equal(want === 0 ? 0 : 1);
      });
    }
  });
});

describe('runLandscape() (E1, tiny preset)', function () {
  this.timeout(120000);
  let result: LandscapeResult;

  before(async () => {
    result = await runLandscape(tiny());
  });

  it('runs paper-1d and two compact-2d instances, with a sweep cell per grid γ, start set and the mid-window cell', () => {
    expect(result.instances.map((r) => r.name)).to.deep.equal(['paper-1d', 'compact-2d#0', 'compact-2d#1']);
    for (const r of result.instances) {
      expect(r.sweep.filter((c) => c.startSet === 'W')).to.have.length(11);
      expect(r.sweep.filter((c) => c.startSet === 'M')).to.have.length(11);
      for (const c of r.sweep) {
        const n = c.counts.global + c.counts.own + c.counts.otherLocal + c.counts.oscillating + c.counts.diverged;
        expect(n).to.equal(100);
      }
    }
  });

  it('the grid spans both bounds of every instance', () => {
    for (const r of result.instances) {
      const etas = r.sweep.map((c) => c.eta);
      expect(Math.min(...etas)).to.be.below(r.constants.smallBound!);
      expect(Math.max(...etas)).to.be.above(r.constants.upper!);
    }
  });

  it('gives the verdict "supported" for Theorem 1 on paper-1d', () => {
    const v = landscapeVerdicts(result).find((x) => x.claim.startsWith('Theorem 1 on paper-1d'))!;
    expect(v.verdict, v.evidence).to.equal('supported');
  });

  it('writes one verdict per family and one per noise-arm instance, each with its rule and evidence', () => {
    const v = landscapeExperiment.verdicts(result, result.config);
    expect(v.map((x) => x.claim.split(':')[0])).to.deep.equal([
      'Theorem 1 on paper-1d',
      'Theorem 1 on compact-2d',
      'Noise proposition on paper-1d',
      'Noise proposition on compact-2d#0',
    ]);
    for (const x of v) {
      expect(['supported', 'not-reproduced', 'inconclusive', 'uninformative']).to.include(x.verdict);
      expect(x.rule.length).to.be.above(20);
      expect(x.evidence.length).to.be.above(20);
    }
  });

  it('scores the noise arm against an ε no smaller than 3× the stationary jitter (or flags the cap)', () => {
    const r = result.instances[0];
    expect(r.noise.length).to.equal(5 * 5);
    for (const c of r.noise) {
      expect(c.epsilon).to.be.at.least(r.classifyRadius - 1e-15 > 3 ? 3 : Math.min(r.classifyRadius, 3));
      if (!c.epsilonCapped) expect(c.epsilon).to.be.at.least(r.classifyRadius);
    }
    // equal γT: the small-γ budget is (mid γ · T) / γ steps, up to the cap
    const gT = r.noise.filter((c) => c.arm === 'small-gammaT');
    for (const c of gT)
      expect(c.steps).to.equal(
        Math.min(
          result.config.noise.maxSteps,
          Math.round((r.noise.find((x) => x.arm === 'large')!.eta * result.config.steps) / c.eta),
        ),
      );
  });

  it('logs one metrics record per sweep cell with instance, arm, startSet, eta and success', async () => {
    const ctx = testContext();
    const cfg = tiny();
    cfg.instances = [cfg.instances[0]];
    cfg.noise.enabled = false;
    await landscapeExperiment.run(cfg, ctx);
    const sweep = ctx.lines.filter((l) => l.arm === 'sweep');
    expect(sweep).to.have.length(22);
    for (const l of sweep) {
      expect(l).to.include.keys('instance', 'arm', 'startSet', 'eta', 'success');
      expect(['W', 'M']).to.include(l.startSet);
    }
  });

  it('is deterministic', async () => {
    const cfg = tiny();
    cfg.instances = [cfg.instances[1]];
    cfg.instances[0].count = 1;
    const a = await runLandscape(cfg);
    const b = await runLandscape(cfg);
    expect(withoutTiming(a)).to.deep.equal(withoutTiming(b));
  });

  it('draws the function figure, one success figure per family and the noise heatmap', async () => {
    const figs = await landscapeFigures(result);
    expect(figs.map((f) => f.id)).to.deep.equal([
      'e1-paper-1d-function',
      'e1-paper-1d-success',
      'e1-compact-2d-success',
      'e1-paper-1d-noise',
      'e1-compact-2d-0-noise',
    ]);
    for (const f of figs) expectRenderedFigure(f, ['Scale tiny']);
  });
});

describe('validateLandscapeConfig()', () => {
  const cases: Array<[string, (c: any) => void, ErrorConstructor, RegExp]> = [
    ['an unknown key', (c) => (c.stpes = 3), TypeError, /config: unknown option "stpes"/],
    [
      'an unknown instance key',
      (c) => (c.instances[1].dipz = 3),
      TypeError,
      /config\.instances\[1\]: unknown option "dipz" \(did you mean "dips"\?\)/,
    ],
    [
      'an empty γ grid',
      (c) => (c.etaGrid.count = 0),
      RangeError,
      /config\.etaGrid\.count must be >= 1: the γ grid is empty/,
    ],
    [
      'σ ≤ 0',
      (c) => (c.noise.stdMinFactor = 0),
      RangeError,
      /config\.noise\.stdMinFactor must be a finite σ factor > 0/,
    ],
    [
      'dips that can overlap the global minimum',
      (c) => (c.instances[1].sharpnessMin = 5),
      RangeError,
      /config\.instances\[1\]\.sharpnessMin must be >= .*overlap the global minimum/,
    ],
    [
      'a small-γ factor ≥ 1',
      (c) => (c.noise.etaFactors = [1.5]),
      RangeError,
      /config\.noise\.etaFactors\[0\] must be < 1/,
    ],
    [
      'a paper-1d family of two',
      (c) => (c.instances[0].count = 2),
      RangeError,
      /config\.instances\[0\]\.count must be 1/,
    ],
    ['an unknown kind', (c) => (c.instances[1].kind = 'cubic'), RangeError, /config\.instances\[1\]\.kind must be/],
    [
      'a verdict threshold > 1',
      (c) => (c.verdict.success = 1.5),
      RangeError,
      /config\.verdict\.success must be in \[0, 1\]/,
    ],
  ];
  for (const [what, mutate, cls, re] of cases)
    it(`rejects ${what}`, () => {
      const c = tiny();
      mutate(c);
      expect(() => validateLandscapeConfig(c)).to.throw(cls, re);
    });

  it('accepts every preset', () => {
    for (const p of Object.values(landscapePresets))
      expect(() => validateLandscapeConfig(structuredClone(p))).to.not.throw();
  });

  it('the native generator rejects compact dips that would overlap the global minimum, naming the option', () => {
    expect(() => native.landscapeCreate({ kind: 'compact', dim: 2, dips: 2, sharpnessMin: 5 })).to.throw(
      RangeError,
      /options\.sharpnessMin/,
    );
    const inst = native.landscapeCreate({ kind: 'compact', dim: 1, dips: 1, seed: 1 });
    inst.widths[0] = Math.abs(inst.centers[0]) * 1.1;
    expect(() => native.landscapeEval(inst, new Float64Array(1))).to.throw(
      RangeError,
      /instance\.widths.*overlaps the global minimum/,
    );
  });
});
