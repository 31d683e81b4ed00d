import { expect } from 'chai';

import { escapeExperiment, escapePresets, runEscape, validateEscapeConfig, type EscapeConfig, type EscapeResult } from '../../src/experiments/escape.js';
import { expectError } from '../engine/helpers.js';
import { abortedRunError, expectRenderedFigure, itRejects, testContext, withoutTiming, type RejectCase } from './helpers.js';

const tiny = (): EscapeConfig => structuredClone(escapePresets.tiny);
const last = <T>(xs: T[]): T => xs[xs.length - 1];

describe('escapeExperiment (E2, tiny preset)', function () {
  this.timeout(60000);
  let result: EscapeResult;
  let ctx: ReturnType<typeof testContext>;
  let wallMs = 0;

  before(async () => {
    ctx = testContext();
    const t0 = performance.now();
    result = await escapeExperiment.run(escapeExperiment.validate(tiny()), ctx);
    wallMs = performance.now() - t0;
  });

  it('finishes in seconds', () => {
    expect(wallMs).to.be.below(5000);
  });

  it('returns the result structure: rule, grid arms, escape arms, interpolation', () => {
    expect(result.experiment).to.equal('E2-escape');
    expect(result.scale).to.equal('tiny');
    expect(result.grid).to.have.length(tiny().grid.count);
    expect(result.grid[0].eta).to.equal(result.etaSmall);
    expect(last(result.grid).eta).to.equal(result.etaLarge);
    for (const a of result.grid) {
      expect(a.loss).to.have.length(a.steps);
      expect(a.recordSteps[0]).to.equal(0);
      expect(a.distStart[0]).to.equal(0);
      expect(a.measures[0].step).to.equal(0);
      expect(last(a.measures).step).to.equal(a.steps);
    }
    expect(result.escape.small.steps).to.equal(tiny().escapeSteps);
    expect(result.interpolation).to.have.length(2);
    expect(result.interpolation[0].alpha).to.have.length(tiny().interpolationPoints);
    expect(result.interpolation[0].testAccuracy).to.have.length(tiny().interpolationPoints);
    expect(result.data.fallback).to.equal(null);
    expect(ctx.lines.length).to.be.above(100);
    expect(ctx.lines.some((l) => l.phase === 'grid' && l.kind === 'measure')).to.equal(true);
    expect(ctx.progressCalls).to.be.above(0);
  });

  it('applies the stated rule: η_small = 0.5·2/λ₀ and η_large = 2·2/λ_s / 2^halvings', () => {
    expect(result.etaSmall).to.be.closeTo(1 / result.lambda0.value, 1e-12 * result.etaSmall);
    expect(result.etaLargeRule).to.be.closeTo(4 / result.lambdaS.value, 1e-12 * result.etaLargeRule);
    expect(result.etaLarge).to.be.closeTo(result.etaLargeRule / 2 ** result.probeHalvings, 1e-12 * result.etaLarge);
    expect(result.probes.length).to.equal(2 * (result.probeHalvings + 1));
  });

  it('phase A stops once the train loss reaches the target', () => {
    expect(result.converge.converged).to.equal(true);
    expect(result.converge.steps).to.be.below(tiny().converge.maxSteps);
    expect(last(result.converge.measures).trainLoss).to.be.at.most(tiny().converge.loss);
  });

  it('the η_small grid arm retraces phase A bit for bit', () => {
    expect(result.smallRerunIdentical).to.equal(true);
  });

  // Measured on this instance: the large-η trajectory travels further from θ₀ than the small one,
  // and the two end up far apart compared with how far the small one moved.
  it('the large-η trajectory from θ₀ travels further than the small one', () => {
    const small = result.grid[0];
    const large = last(result.grid);
    expect(large.diverged).to.equal(false);
    expect(last(large.distStart)).to.be.above(last(small.distStart));
    expect(last(large.distRef) as number).to.be.above(0);
    expect(small.distRef.every((d) => d === 0)).to.equal(true);
  });

  it('switching to η_large at θ_s leaves θ_s (further than continuing at η_small), and the headline says so', () => {
    const h = escapeExperiment.headline(result);
    for (const key of [
      'distanceAfterSwitch',
      'lambdaMaxBefore',
      'lambdaMaxAfter',
      'twoOverEtaLarge',
      'barrier',
      'trainLossSmall',
      'trainLossLarge',
      'testAccSmall',
      'testAccLarge',
      'escaped',
    ])
      expect(h, key).to.have.property(key);
    expect(h.largeDiverged).to.equal(false);
    expect(h.distanceAfterSwitch as number).to.be.above(h.distanceAfterSwitchSmall as number);
    expect(h.escaped).to.equal((h.distanceAfterSwitch as number) >= 2 * (h.distanceAfterSwitchSmall as number));
    expect(h.twoOverEtaLarge).to.be.closeTo(2 / result.etaLarge, 1e-12);
    // θ_s is an unstable point for GD at η_large by the rule: λ_max(θ_s) > 2/η_large
    expect(h.lambdaMaxBefore as number).to.be.above(h.twoOverEtaLarge as number);
    expect(h.barrier as number).to.be.at.least(0);
    expect(JSON.parse(JSON.stringify(h))).to.deep.equal(h);
  });

  it('is deterministic for a seed (bitwise, except timing)', async () => {
    const again = await runEscape(tiny(), testContext());
    expect(withoutTiming(again)).to.deep.equal(withoutTiming(result));
  });

  it('changes with the seed', async () => {
    const c = tiny();
    c.seed = 2;
    const other = await runEscape(c, testContext());
    expect(other.lambda0.value).to.not.equal(result.lambda0.value);
  });

  it('honours an aborted signal', async () => {
    const e = await abortedRunError((signal) => runEscape(tiny(), testContext(signal)));
    expect(e.name).to.equal('AbortError');
  });

  it('renders every figure as SVG and PNG with a caption stating scale, data, model and seed', async () => {
    const figs = await escapeExperiment.figures(result, tiny());
    expect(figs.map((f) => f.id)).to.deep.equal(['e2-loss', 'e2-distance', 'e2-sharpness', 'e2-escape', 'e2-interpolation']);
    for (const f of figs) expectRenderedFigure(f, ['Scale: tiny', 'gaussian-mixture', 'MLP', 'init seed 1']);
  });
});

describe('escapeExperiment with a missing named data set', function () {
  this.timeout(60000);

  it('falls back to the synthetic set and says so', async () => {
    const c = tiny();
    c.data.source = 'cifar100';
    const prev = process.env.BIGSTEP_DATA;
    process.env.BIGSTEP_DATA = '/nonexistent-bigstep-data';
    try {
      c.grid = { count: 2, steps: 5 };
      c.escapeSteps = 5;
      c.converge.maxSteps = 20;
      const r = await runEscape(c, testContext());
      expect(r.data.fallback).to.be.a('string').and.contain('cifar100');
      expect(r.data.source).to.equal('synthetic:gaussian-mixture');
      expect(escapeExperiment.headline(r).fallback).to.equal(r.data.fallback);
    } finally {
      if (prev === undefined) delete process.env.BIGSTEP_DATA;
      else process.env.BIGSTEP_DATA = prev;
    }
  });
});

describe('escapeExperiment.validate()', () => {
  it('accepts every preset', () => {
    for (const scale of ['tiny', 'quick', 'paper'] as const) expect(() => validateEscapeConfig(structuredClone(escapePresets[scale]))).to.not.throw();
  });

  it('rejects a non-object with a TypeError naming config', () => {
    expectError(() => escapeExperiment.validate(undefined), TypeError, 'config');
  });

  const cases: RejectCase[] = [
    ['lrSmall = -1', (c) => (c.lrSmall = -1), RangeError, 'config.lrSmall must be a positive number'],
    ['lrSmall = "big"', (c) => (c.lrSmall = 'big'), TypeError, 'config.lrSmall must be a positive number'],
    ['lrLarge <= lrSmall', (c) => ((c.lrSmall = 0.1), (c.lrLarge = 0.05)), RangeError, 'config.lrLarge'],
    ['scale = "huge"', (c) => (c.scale = 'huge'), RangeError, 'config.scale'],
    ['seed = 1.5', (c) => (c.seed = 1.5), RangeError, 'config.seed'],
    ['grid.count = 1', (c) => (c.grid.count = 1), RangeError, 'config.grid.count'],
    ['grid.steps = 0', (c) => (c.grid.steps = 0), RangeError, 'config.grid.steps'],
    ['converge.loss = 0', (c) => (c.converge.loss = 0), RangeError, 'config.converge.loss'],
    ['escapeSteps = "10"', (c) => (c.escapeSteps = '10'), TypeError, 'config.escapeSteps'],
    ['data.source = "imagenet"', (c) => (c.data.source = 'imagenet'), RangeError, 'config.data.source'],
    ['data.synthetic.nTrain = 0', (c) => (c.data.synthetic.nTrain = 0), RangeError, 'config.data.synthetic.nTrain'],
    ['model.kind = "vit"', (c) => (c.model.kind = 'vit'), RangeError, 'config.model.kind'],
    ['model.hidden[0] = 0', (c) => (c.model.hidden = [0]), RangeError, 'config.model.hidden[0]'],
    ['sharpness.iterations = 0', (c) => (c.sharpness.iterations = 0), RangeError, 'config.sharpness.iterations'],
    ['probe missing', (c) => delete c.probe, TypeError, 'config.probe'],
    ['interpolationPoints = 1', (c) => (c.interpolationPoints = 1), RangeError, 'config.interpolationPoints'],
  ];
  itRejects(cases, tiny, (c) => escapeExperiment.validate(c));
});
