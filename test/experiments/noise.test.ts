import { expect } from 'chai';

import { noiseExperiment, noisePresets, noiseTable, runNoise, validateNoiseConfig, type NoiseConfig, type NoiseResult } from '../../src/experiments/noise.js';
import { abortedRunError, expectRenderedFigure, itRejects, testContext, withoutTiming, type RejectCase } from './helpers.js';

const tiny = (): NoiseConfig => structuredClone(noisePresets.tiny);

describe('noiseExperiment (E3, tiny preset)', function () {
  this.timeout(60000);
  let result: NoiseResult;
  let ctx: ReturnType<typeof testContext>;
  let wallMs = 0;

  before(async () => {
    ctx = testContext();
    const t0 = performance.now();
    result = await noiseExperiment.run(noiseExperiment.validate(tiny()), ctx);
    wallMs = performance.now() - t0;
  });

  it('finishes in seconds', () => {
    expect(wallMs).to.be.below(5000);
  });

  it('runs every arm for every seed', () => {
    expect(result.arms.map((a) => a.id)).to.deep.equal([
      'sgd-small',
      'sgd-large',
      'amp-0.5k',
      'amp-1k',
      'amp-2k',
      'small-batch',
      'isotropic',
      'gd-small',
      'gd-large',
    ]);
    for (const a of result.arms) {
      expect(a.runs.map((r) => r.seed), a.id).to.deep.equal(tiny().seeds);
      for (const r of a.runs) {
        expect(r.curve[0].epoch, a.id).to.equal(0);
        if (!r.diverged) expect(r.curve[r.curve.length - 1].epoch, a.id).to.equal(tiny().epochs);
      }
    }
    expect(ctx.lines.some((l) => l.phase === 'train')).to.equal(true);
  });

  it('applies the stated rule: k = η_large/η_small, B′ = round(B/k), σ = √(k²−1)·σ_B', () => {
    const c = tiny();
    expect(result.etaSmall).to.be.closeTo(1 / result.lambda0.value, 1e-12 * result.etaSmall);
    expect(result.k).to.be.closeTo(c.lrRatio, 1e-12);
    expect(result.smallBatch).to.equal(Math.round(c.batchSize / c.lrRatio));
    for (const e of result.noiseEstimate) {
      expect(e.sigmaB).to.be.above(0);
      expect(e.isotropicStd).to.be.closeTo(Math.sqrt(result.k ** 2 - 1) * e.sigmaB, 1e-12);
    }
    const byId = Object.fromEntries(result.arms.map((a) => [a.id, a]));
    expect(byId['amp-1k'].amplify).to.be.closeTo(result.k, 1e-12);
    expect(byId['amp-2k'].amplify).to.be.closeTo(2 * result.k, 1e-12);
    expect(byId['isotropic'].runs[0].noiseStd).to.equal(result.noiseEstimate[0].isotropicStd);
  });

  it('keeps the epoch budget: same steps for SGD arms at batch B, B/B′ times more for the small batch, 2× gradients when amplified', () => {
    const byId = Object.fromEntries(result.arms.map((a) => [a.id, a]));
    const base = byId['sgd-small'];
    expect(byId['sgd-large'].stepsPerRun).to.equal(base.stepsPerRun);
    expect(byId['amp-1k'].stepsPerRun).to.equal(base.stepsPerRun);
    expect(byId['amp-1k'].exampleGradsPerRun).to.equal(2 * base.exampleGradsPerRun);
    expect(byId['isotropic'].stepsPerRun).to.equal(base.stepsPerRun);
    expect(byId['gd-small'].stepsPerRun).to.equal(base.stepsPerRun); // fullBatchBudget 'steps'
    const n = result.data.nTrain;
    expect(byId['small-batch'].stepsPerRun).to.equal(tiny().epochs * Math.ceil(n / result.smallBatch));
    for (const a of result.arms) for (const r of a.runs) if (!r.diverged) expect(r.steps, a.id).to.equal(a.stepsPerRun);
  });

  // Measured: amplifying the mini-batch noise at η_small hurts training more the larger the factor.
  it('more amplified noise gives a higher final train loss', () => {
    const byId = Object.fromEntries(result.arms.map((a) => [a.id, a]));
    expect(byId['amp-2k'].trainLoss.mean!).to.be.above(byId['amp-0.5k'].trainLoss.mean!);
  });

  it('summarises per arm (mean ± std over seeds) and compares with sgd-large in the headline', () => {
    const h = noiseExperiment.headline(result);
    for (const a of result.arms) {
      expect(h[`${a.id}.testAcc`], a.id).to.be.a('number');
      expect(h[`${a.id}.testAccStd`], a.id).to.be.a('number');
      expect(h[`${a.id}.trainLoss`], a.id).to.be.a('number');
      if (a.id !== 'sgd-large') expect(h[`${a.id}.reachesLarge`], a.id).to.be.a('boolean');
    }
    expect(h.reachLarge).to.equal(result.reachLarge.join(','));
    for (const id of result.reachLarge) expect(h[`${id}.reachesLarge`]).to.equal(true);
    const t = noiseTable(result);
    expect(t.rows).to.have.length(result.arms.length);
    expect(t.columns).to.include('test accuracy');
  });

  it('is deterministic for the seeds (bitwise, except timing)', async () => {
    const again = await runNoise(tiny(), testContext());
    expect(withoutTiming(again)).to.deep.equal(withoutTiming(result));
  });

  it('changes with the seeds', async () => {
    const c = tiny();
    c.seeds = [5, 6];
    c.arms = ['sgd-small'];
    const other = await runNoise(c, testContext());
    expect(other.arms[0].runs[0].final!.trainLoss).to.not.equal(result.arms[0].runs[0].final!.trainLoss);
  });

  it('skips amplification factors with k·f ≤ 1 and records why', async () => {
    const c = tiny();
    c.arms = ['amplified'];
    c.amplifyFactors = [0.1, 1];
    c.epochs = 1;
    c.evalEvery = 1;
    const r = await runNoise(c, testContext());
    expect(r.arms.map((a) => a.id)).to.deep.equal(['amp-1k']);
    expect(r.skipped).to.have.length(1);
    expect(r.skipped[0]).to.contain('amp-0.1k');
  });

  it('honours an aborted signal', async () => {
    const e = await abortedRunError((signal) => runNoise(tiny(), testContext(signal)));
    expect(e.name).to.equal('AbortError');
  });

  it('renders the learning curves and the bar chart as SVG and PNG with captions', async () => {
    const figs = await noiseExperiment.figures(result, tiny());
    expect(figs.map((f) => f.id)).to.deep.equal(['e3-curves', 'e3-final']);
    for (const f of figs) expectRenderedFigure(f, ['Scale: tiny', 'Seeds 1, 2', 'MLP']);
  });
});

describe('noiseExperiment.validate()', () => {
  it('accepts every preset', () => {
    for (const scale of ['tiny', 'quick', 'paper'] as const) expect(() => validateNoiseConfig(structuredClone(noisePresets[scale]))).to.not.throw();
  });

  const cases: RejectCase[] = [
    ['lrSmall = 0', (c) => (c.lrSmall = 0), RangeError, 'config.lrSmall must be a positive number'],
    ['lrSmall = null', (c) => (c.lrSmall = null), TypeError, 'config.lrSmall must be a positive number'],
    ['lrLarge <= lrSmall', (c) => ((c.lrSmall = 0.1), (c.lrLarge = 0.1)), RangeError, 'config.lrLarge'],
    ['lrRatio = 1', (c) => (c.lrRatio = 1), RangeError, 'config.lrRatio'],
    ['seeds = []', (c) => (c.seeds = []), RangeError, 'config.seeds'],
    ['seeds = [1, 1]', (c) => (c.seeds = [1, 1]), RangeError, 'config.seeds'],
    ['seeds[1] = -1', (c) => (c.seeds = [1, -1]), RangeError, 'config.seeds[1]'],
    ['batchSize = 0', (c) => (c.batchSize = 0), RangeError, 'config.batchSize'],
    ['epochs = "3"', (c) => (c.epochs = '3'), TypeError, 'config.epochs'],
    ['arms[0] = "adam"', (c) => (c.arms = ['adam']), RangeError, 'config.arms[0]'],
    ['arms = []', (c) => (c.arms = []), RangeError, 'config.arms'],
    ['amplifyFactors[1] = -2', (c) => (c.amplifyFactors = [1, -2]), RangeError, 'config.amplifyFactors[1]'],
    ['fullBatchBudget = "time"', (c) => (c.fullBatchBudget = 'time'), RangeError, 'config.fullBatchBudget'],
    ['evalEvery = 0', (c) => (c.evalEvery = 0), RangeError, 'config.evalEvery'],
    ['data missing', (c) => delete c.data, TypeError, 'config.data'],
    ['data.trainPerClass = 0', (c) => (c.data.trainPerClass = 0), RangeError, 'config.data.trainPerClass'],
  ];
  itRejects(cases, tiny, (c) => noiseExperiment.validate(c));
});
