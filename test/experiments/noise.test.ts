import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  budgetVerdict,
  noiseExperiment,
  noisePresets,
  noiseTable,
  noiseVerdicts,
  validateNoiseConfig,
} from '../../src/experiments/noise-experiment.js';
import {
  checkArmsSplit,
  compareToLarge,
  matchedIsotropicStd,
  planArms,
  runNoise,
  type NoiseArm,
  type NoiseConfig,
  type NoiseResult,
} from '../../src/experiments/noise.js';
import { Model } from '../../src/model/model.js';
import { mlp } from '../../src/model/spec.js';
import { amplifyCoefficient, sgd, svagAmplification } from '../../src/optim/optimizer.js';
import { ResumeStore } from '../../src/run/resume.js';
import { Trainer } from '../../src/train/trainer.js';
import { separableBlobs } from '../engine/helpers.js';
import {
  abortedRunError,
  expectRenderedFigure,
  itRejects,
  testContext,
  withoutTiming,
  type RejectCase,
} from './helpers.js';

const tiny = (): NoiseConfig => structuredClone(noisePresets.tiny);
const byId = (r: NoiseResult): Record<string, NoiseArm> => Object.fromEntries(r.arms.map((a) => [a.id, a]));

describe('checkArmsSplit(): E3 arms under --data-parallel', () => {
  // k = 4: B = 32 and B' = round(32/4) = 8; n = 256 = 8·32, so no epoch has a shorter last batch.
  const rates = { etaSmall: 0.1, etaLarge: 0.4, n: 256 };

  it('passes every arm of the tiny preset over 2, 4 and 8 ranks', () => {
    const { plans } = planArms(tiny(), rates);
    for (const ranks of [2, 4, 8]) checkArmsSplit(tiny(), plans, 256, ranks);
  });

  it("names the arm whose batch leaves a rank without examples: B' = 8 over 16 ranks, an epoch's last batch", () => {
    const { plans } = planArms(tiny(), rates);
    expect(() => checkArmsSplit(tiny(), plans, 256, 16)).to.throw(
      RangeError,
      /^E3 arm small-batch: batch B' = round\(B\/k\) = 8: 8 examples do not split over 16 ranks/,
    );
    // n = 250: batches of 32 end an epoch with 250 mod 32 = 26 (13 + 13 over 2 ranks), of 8 with 2 (1 + 1);
    // over 4 ranks the 2 leave two ranks none.
    const { plans: p250 } = planArms(tiny(), { ...rates, n: 250 });
    checkArmsSplit(tiny(), p250, 250, 2);
    expect(() => checkArmsSplit(tiny(), p250, 250, 4)).to.throw(
      RangeError,
      /^E3 arm small-batch: an epoch's last batch \(n mod 8 of n = 250\): 2 examples do not split over 4 ranks/,
    );
  });

  it('refuses config.shards other than null or the number of ranks', () => {
    const { plans } = planArms(tiny(), rates);
    checkArmsSplit({ ...tiny(), shards: 2 }, plans, 256, 2);
    expect(() => checkArmsSplit({ ...tiny(), shards: 3 }, plans, 256, 2)).to.throw(
      RangeError,
      /^config\.shards = 3 but the run is split over 2 data-parallel ranks: set it to 2 or null/,
    );
  });
});

describe('planArms(): noise units and budgets of the E3 arms', () => {
  // k = 4, n = 1000, B = 50 (20 steps per epoch), 10 epochs
  const c = (): NoiseConfig => ({
    ...tiny(),
    batchSize: 50,
    epochs: 10,
    amplifyPowers: [0.25, 0.5, 1, 1.5],
    lrSweep: [0.125, 0.25, 0.5, 1, 2, 4],
  });
  const { plans, sweep, smallBatch } = planArms(c(), { etaSmall: 0.1, etaLarge: 0.4, n: 1000 });
  const p = Object.fromEntries(plans.map((x) => [x.id, x]));

  it('states the amplified arms in both units: k^p has temperature k^(2p−1) and per-step covariance k^(2p−2) of the large arm', () => {
    expect(p['amp-k0.5'].amplify).to.be.closeTo(2, 1e-12); // √k
    expect(p['amp-k0.5'].noise.temperature).to.be.closeTo(1, 1e-12);
    expect(p['amp-k0.5'].noise.perStep).to.be.closeTo(0.25, 1e-12);
    expect(p['amp-k1'].amplify).to.be.closeTo(4, 1e-12); // k
    expect(p['amp-k1'].noise.temperature).to.be.closeTo(4, 1e-12);
    expect(p['amp-k1'].noise.perStep).to.be.closeTo(1, 1e-12);
    expect(p['amp-k0.25'].noise.temperature).to.be.closeTo(0.5, 1e-12);
    expect(p['amp-k1.5'].noise.temperature).to.be.closeTo(16, 1e-12);
    expect(p['amp-k1.5'].noise.perStep).to.be.closeTo(4, 1e-12);
    expect(p['sgd-small'].noise).to.deep.equal({ temperature: 0.25, perStep: 0.0625 });
    expect(p['sgd-large'].noise).to.deep.equal({ temperature: 1, perStep: 1 });
    expect(p['gd-small'].noise).to.deep.equal({ temperature: 0, perStep: 0 });
    expect(p['isotropic'].noise).to.deep.equal({ temperature: 1, perStep: 0.25 });
    expect(smallBatch).to.equal(13); // round(50/4)
    expect(p['small-batch'].noise.temperature).to.be.closeTo(50 / 13 / 4, 1e-12);
  });

  it("gives every small-η arm the large arm's epochs and, as <id>-flow, its gradient-flow time ηT (k times the steps)", () => {
    const large = p['sgd-large'];
    expect(large.steps).to.equal(200);
    expect(large.flowTime).to.be.closeTo(80, 1e-9);
    for (const id of ['sgd-small', 'amp-k0.5', 'amp-k1', 'isotropic']) {
      expect(p[id].steps, id).to.equal(200);
      expect(p[`${id}-flow`].steps, id).to.equal(800);
      expect(p[`${id}-flow`].flowTime, id).to.be.closeTo(large.flowTime, 1e-9);
      expect(p[`${id}-flow`].budget, id).to.equal('flow');
    }
    expect(p['amp-k1'].exampleGrads).to.equal(2 * p['sgd-small'].exampleGrads); // two batches per step
    expect(p['gd-small-flow'].steps).to.equal(4 * p['gd-small'].steps);
    // the small batch already has k times the steps at the same epochs: one run, ηT ≈ the large arm's
    expect(p['small-batch'].steps).to.equal(10 * Math.ceil(1000 / 13));
    expect(p['small-batch-flow']).to.equal(undefined);
  });

  it('decays the decay arm ×0.1 at 50 % and 75 % of the budget and counts its ηT', () => {
    const d = p['decay'];
    expect(d.flowTime).to.be.closeTo(0.4 * (100 + 50 * 0.1 + 50 * 0.01), 1e-9);
    expect(d.flowAt(100)).to.be.closeTo(40, 1e-9);
    expect(d.flowAt(150)).to.be.closeTo(42, 1e-9);
  });

  it('sweeps η over the configured multiples, reusing sgd-small and sgd-large where they fall on the grid', () => {
    expect(sweep.map((s) => s.armId)).to.deep.equal([
      'lr-x0.125',
      'sgd-small',
      'lr-x0.5',
      'sgd-large',
      'lr-x2',
      'lr-x4',
    ]);
    expect(sweep.map((s) => s.eta)).to.deep.equal([0.05, 0.1, 0.2, 0.4, 0.8, 1.6]);
  });

  it('matches the isotropic temperature: η_small·(σ_B² + σ_iso²) = η_large·σ_B²', () => {
    const sigmaB = 0.37;
    const s = matchedIsotropicStd(sigmaB, 4);
    expect(0.1 * (sigmaB ** 2 + s ** 2)).to.be.closeTo(0.4 * sigmaB ** 2, 1e-15);
  });
});

describe('SVAG mixing (svagAmplification): the estimator E3 amplifies with', () => {
  it("has SVAG's weights (1 ± √(2l − 1))/2 on the two batch gradients", () => {
    for (const l of [1, 2, 4, 10]) {
      const c = amplifyCoefficient(svagAmplification(l));
      expect(1 + c, `l = ${l}`).to.be.closeTo((1 + Math.sqrt(2 * l - 1)) / 2, 1e-12);
      expect(-c, `l = ${l}`).to.be.closeTo((1 - Math.sqrt(2 * l - 1)) / 2, 1e-12);
    }
    expect(() => svagAmplification(0.5)).to.throw(RangeError, /l must be/);
  });

  it('keeps the mean gradient and multiplies the covariance by l = 4 with shuffled batches (3000 draws, fixed seeds)', function () {
    this.timeout(30000);
    // At fixed θ (lr = 0), model.grads after a step is the estimator. g₁ comes from the epoch's
    // permutation and g₂ is a uniform subset: both without replacement, Cov = Σ/b·(n − b)/(n − 1).
    const n = 96;
    const b = 8;
    const l = 4;
    const draws = 3000;
    const data = separableBlobs(n, 6, 3, 11);
    const spec = mlp({ input: 6, hidden: [8], outputs: 3, activation: 'tanh' });
    const model = new Model(spec, { seed: 5 });
    const d = model.params.length;
    const perExample: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      model.lossAndGrad({ x: data.x.subarray(i * 6, (i + 1) * 6), y: data.y.subarray(i, i + 1) });
      perExample.push(Float64Array.from(model.grads));
    }
    const full = new Float64Array(d);
    for (const g of perExample) for (let j = 0; j < d; j++) full[j] += g[j] / n;
    let sigma = 0; // tr Σ, the per-example covariance
    for (const g of perExample) for (let j = 0; j < d; j++) sigma += (g[j] - full[j]) ** 2 / (n - 1);
    const theory = (l * sigma * (n - b)) / (b * n);
    const trainer = new Trainer(model, {
      data,
      optimizer: sgd({ lr: 0 }),
      batch: { mode: 'shuffle', size: b, amplify: svagAmplification(l) },
      seed: 3,
    });
    const sum = new Float64Array(d);
    let sq = 0;
    for (let s = 0; s < draws; s++) {
      trainer.step();
      for (let j = 0; j < d; j++) {
        sum[j] += model.grads[j];
        sq += (model.grads[j] - full[j]) ** 2;
      }
    }
    const trace = sq / draws; // E‖g − ∇L‖² = tr Cov(g) for an unbiased g
    expect(
      trace / theory,
      `tr Cov(g) = ${trace.toPrecision(4)} vs l·tr Σ/b·(n−b)/n = ${theory.toPrecision(4)}`,
    ).to.be.closeTo(1, 0.1);
    const err = Math.hypot(...Array.from(sum, (v, j) => v / draws - full[j]));
    expect(err, 'mean within 4 standard errors of ∇L').to.be.lessThan(4 * Math.sqrt(trace / draws));
    model.close();
  });
});

describe('compareToLarge(): per-arm verdicts from paired differences', () => {
  const margin = 0.005;
  it('"reaches" only when TOST shows equivalence within the margin', () => {
    const d = [0.0005, -0.0008, 0.0002, -0.0003, 0.0006, -0.0001];
    const v = compareToLarge(d, margin, 0.05);
    expect(v.verdict).to.equal('reaches');
    expect(v.tost.equivalent).to.equal(true);
    expect(v.lo).to.be.below(0);
    expect(v.hi).to.be.above(0);
  });
  it('"worse" when the interval lies below 0 (and not equivalent)', () => {
    const v = compareToLarge([-0.02, -0.015, -0.025, -0.018, -0.022], margin, 0.05);
    expect(v.verdict).to.equal('worse');
    expect(v.hi).to.be.below(0);
  });
  it('"better" when the interval lies above 0 (and not equivalent)', () => {
    expect(compareToLarge([0.02, 0.015, 0.025, 0.018, 0.022], margin, 0.05).verdict).to.equal('better');
  });
  it('"inconclusive" when the differences are too noisy to tell either way', () => {
    const v = compareToLarge([0.01, -0.012, 0.004, -0.006, 0.002], margin, 0.05);
    expect(v.verdict).to.equal('inconclusive');
    expect(v.tost.equivalent).to.equal(false);
  });
  it('"inconclusive" with a single seed (no interval)', () => {
    expect(compareToLarge([0], margin, 0.05).verdict).to.equal('inconclusive');
  });
  it('a mean difference inside the margin is not enough: the 90 % interval must be inside too', () => {
    const v = compareToLarge([0.008, -0.006, 0.009, -0.004, 0], margin, 0.05); // mean 0.0014, 90 % interval ≈ ±0.0063
    expect(Math.abs(v.meanDiff)).to.be.below(margin);
    expect(v.tost.equivalent).to.equal(false);
  });
});

describe('budgetVerdict(): the claim verdict at a budget', () => {
  /** A result whose arms have the given per-arm verdicts (only what the rule reads). */
  const result = (verdicts: Record<string, string>): NoiseResult => {
    const arms = Object.entries(verdicts).map(([id, verdict]) => ({
      id,
      kind: id.startsWith('amp') ? 'amplified' : id.replace(/-flow$/, ''),
      budget: id.endsWith('-flow') ? 'flow' : 'epochs',
      vsLarge: { verdict, meanDiff: -0.01, lo: -0.02, hi: 0, tost: { p: 0.5 } },
    }));
    return { arms, config: { ...tiny(), equivalenceMargin: 0.005 } } as unknown as NoiseResult;
  };
  it('supported when sgd-small is worse and every noise arm is worse', () => {
    const v = budgetVerdict(
      result({
        'sgd-small': 'worse',
        'amp-k0.5': 'worse',
        'amp-k1': 'worse',
        isotropic: 'worse',
        'small-batch': 'worse',
      }),
      'epochs',
    );
    expect(v.verdict).to.equal('supported');
    expect(v.rule).to.contain('TOST');
    expect(v.evidence).to.contain('amp-k0.5 worse');
  });
  it('not-reproduced when a noise arm reaches (or beats) the large arm', () => {
    expect(
      budgetVerdict(result({ 'sgd-small': 'worse', 'amp-k0.5': 'reaches', isotropic: 'worse' }), 'epochs').verdict,
    ).to.equal('not-reproduced');
    expect(
      budgetVerdict(result({ 'sgd-small': 'worse', 'amp-k0.5': 'worse', isotropic: 'better' }), 'epochs').verdict,
    ).to.equal('not-reproduced');
  });
  it('inconclusive when sgd-small is not shown worse (no large-rate advantage to explain)', () => {
    const v = budgetVerdict(result({ 'sgd-small': 'inconclusive', 'amp-k0.5': 'worse' }), 'epochs');
    expect(v.verdict).to.equal('inconclusive');
    expect(v.evidence).to.contain('not shown worse');
  });
  it('inconclusive when a noise arm is neither worse nor equivalent', () => {
    expect(
      budgetVerdict(result({ 'sgd-small': 'worse', 'amp-k0.5': 'inconclusive', isotropic: 'worse' }), 'epochs').verdict,
    ).to.equal('inconclusive');
  });
  it('judges each budget on its own arms (small-batch counts for both)', () => {
    const r = result({
      'sgd-small': 'worse',
      'sgd-small-flow': 'worse',
      'amp-k0.5': 'worse',
      'amp-k0.5-flow': 'reaches',
      'small-batch': 'worse',
    });
    expect(budgetVerdict(r, 'epochs').verdict).to.equal('supported');
    expect(budgetVerdict(r, 'flow').verdict).to.equal('not-reproduced');
  });
});

describe('noiseExperiment (E3, tiny preset, end to end)', function () {
  this.timeout(120000);
  let result: NoiseResult;
  let ctx: ReturnType<typeof testContext>;

  before(async () => {
    ctx = testContext();
    result = await noiseExperiment.run(noiseExperiment.validate(tiny()), ctx);
  });

  it('runs every arm for every seed, at both budgets, with the LR sweep', () => {
    const ids = result.arms.map((a) => a.id);
    for (const id of [
      'sgd-small',
      'sgd-small-flow',
      'sgd-large',
      'amp-k0.5',
      'amp-k0.5-flow',
      'amp-k1',
      'amp-k1-flow',
      'small-batch',
      'isotropic',
      'isotropic-flow',
      'decay',
      'gd-small',
      'gd-small-flow',
      'gd-large',
    ])
      expect(ids).to.include(id);
    expect(result.lrSweep).to.have.length(6);
    for (const a of result.arms) {
      expect(
        a.runs.map((r) => r.seed),
        a.id,
      ).to.deep.equal(tiny().seeds);
      for (const r of a.runs) {
        expect(r.curve[0].step, a.id).to.equal(0);
        if (!r.diverged) expect(r.steps, a.id).to.equal(a.stepsPerRun);
      }
    }
  });

  it('re-measures σ_B along the isotropic arm at θ₀ and every evaluation point but the last, and sets σ_iso = √(k−1)·σ_B', () => {
    const iso = byId(result)['isotropic'];
    for (const r of iso.runs) {
      const trace = r.noiseTrace!;
      expect(trace.map((t) => t.step)).to.deep.equal(r.curve.slice(0, -1).map((p) => p.step));
      for (const t of trace) expect(t.isotropicStd).to.be.closeTo(Math.sqrt(result.k - 1) * t.sigmaB, 1e-12);
      expect(trace[0].sigmaB).to.be.closeTo(
        result.noiseEstimate.find((e) => e.seed === r.seed)!.sigmaB,
        0.5 * trace[0].sigmaB,
      );
      expect(new Set(trace.map((t) => t.sigmaB)).size, 'σ_B changes as training goes on').to.equal(trace.length);
    }
  });

  it('compares every arm with sgd-large (interval and TOST) and writes two claim verdicts', () => {
    for (const a of result.arms) {
      if (a.id === 'sgd-large') expect(a.vsLarge).to.equal(null);
      else {
        expect(a.vsLarge!.n, a.id).to.equal(3);
        expect(a.vsLarge!.lo, a.id).to.be.at.most(a.vsLarge!.meanDiff);
        expect(a.vsLarge!.tost.margin, a.id).to.equal(0.005);
      }
    }
    const v = noiseVerdicts(result);
    expect(v.map((x) => x.claim)).to.deep.equal([
      'E3 (same epochs): extra noise at η_small does not recover SGD at η_large',
      'E3 (same gradient-flow time ηT): extra noise at η_small does not recover SGD at η_large',
    ]);
    for (const x of v) expect(['supported', 'not-reproduced', 'inconclusive']).to.include(x.verdict);
    const h = noiseExperiment.headline(result);
    expect(h['verdict.epochs']).to.equal(v[0].verdict);
    expect(h['amp-k0.5.verdict']).to.equal(byId(result)['amp-k0.5'].vsLarge!.verdict);
    const t = noiseTable(result);
    expect(t.rows).to.have.length(result.arms.length);
    expect(t.columns).to.include.members(['temperature ×', 'per-step ×', 'interval (points)', 'TOST p', 'verdict']);
  });

  it('is deterministic for the seeds (bitwise, except timing)', async () => {
    const c = tiny();
    c.arms = ['sgd-large', 'isotropic', 'amplified'];
    c.amplifyPowers = [0.5];
    const a = await runNoise(c, testContext());
    const b = await runNoise(c, testContext());
    expect(withoutTiming(a)).to.deep.equal(withoutTiming(b));
    expect(byId(a)['isotropic'].runs[0].final!.testAccuracy).to.equal(
      byId(result)['isotropic'].runs[0].final!.testAccuracy,
    );
  });

  it('honours an aborted signal', async () => {
    const e = await abortedRunError((signal) => runNoise(tiny(), testContext(signal)));
    expect(e.name).to.equal('AbortError');
  });

  it('renders the forest plot, the LR sweep and the learning curves with captions', async () => {
    const figs = await noiseExperiment.figures(result, tiny());
    expect(figs.map((f) => f.id)).to.deep.equal(['e3-forest', 'e3-lr-sweep', 'e3-curves']);
    for (const f of figs) expectRenderedFigure(f, ['Scale: tiny', 'Seeds 1, 2, 3', 'MLP']);
  });
});

describe('noiseExperiment: an arm resumes from its partial checkpoint', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-e3-resume-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the isotropic arm stopped after a checkpoint and continued: the uninterrupted result, σ_iso trace included', async () => {
    const c = tiny();
    c.arms = ['sgd-large', 'isotropic'];
    c.budgets = ['epochs'];
    c.seeds = [1, 2];
    c.concurrency = 1;
    const ref = await runNoise(c, testContext());
    const ac = new AbortController();
    const ctx1 = testContext(ac.signal);
    const log1 = ctx1.log.bind(ctx1);
    ctx1.log = (r) => {
      log1(r);
      if (r.arm === 'isotropic' && r.seed === 1 && r.epoch === 2) ac.abort();
    };
    ctx1.resume = new ResumeStore({ dir, configHash: 'e3-test', log: (r) => ctx1.log(r), intervalSeconds: 0 });
    const stopped = await runNoise(c, ctx1).then(
      () => null,
      (e: Error) => e,
    );
    expect(stopped?.name).to.equal('AbortError');
    expect(fs.readdirSync(dir).some((n) => n.startsWith('partial-train-isotropic-seed1.'))).to.equal(true);
    const ctx2 = testContext();
    ctx2.resume = new ResumeStore({ dir, configHash: 'e3-test', log: (r) => ctx2.log(r), intervalSeconds: 0 });
    const resumed = await runNoise(c, ctx2);
    expect(ctx2.resume.stats.partialsResumed).to.equal(1);
    expect(withoutTiming(resumed)).to.deep.equal(withoutTiming(ref));
  });
});

describe('noiseExperiment.validate()', () => {
  it('accepts every preset', () => {
    for (const scale of ['tiny', 'quick', 'study', 'paper'] as const)
      expect(() => validateNoiseConfig(structuredClone(noisePresets[scale]))).to.not.throw();
  });
  it('runs ≥ 5 seeds, both budgets, the √k and k levels and ≥ 6 sweep values at quick size', () => {
    const q = noisePresets.quick;
    expect(q.seeds.length).to.be.at.least(5);
    expect(q.budgets).to.deep.equal(['epochs', 'flow']);
    expect(q.amplifyPowers).to.include.members([0.5, 1]);
    expect(q.lrSweep.length).to.be.at.least(6);
  });

  const cases: RejectCase[] = [
    ['an unknown key', (c) => (c.epochz = 3), TypeError, 'config: unknown option "epochz"'],
    ['an unknown decay key', (c) => (c.decay.gamma = 0.1), TypeError, 'config.decay: unknown option "gamma"'],
    ['lrSmall = 0', (c) => (c.lrSmall = 0), RangeError, 'config.lrSmall must be a positive number'],
    ['lrLarge <= lrSmall', (c) => ((c.lrSmall = 0.1), (c.lrLarge = 0.1)), RangeError, 'config.lrLarge'],
    ['lrRatio = 1', (c) => (c.lrRatio = 1), RangeError, 'config.lrRatio'],
    ['seeds = [1, 1]', (c) => (c.seeds = [1, 1]), RangeError, 'config.seeds'],
    ['arms[0] = "adam"', (c) => (c.arms = ['adam']), RangeError, 'config.arms[0]'],
    ['amplifyPowers[1] = -2', (c) => (c.amplifyPowers = [1, -2]), RangeError, 'config.amplifyPowers[1]'],
    ['budgets = []', (c) => (c.budgets = []), RangeError, 'config.budgets'],
    ['budgets[0] = "steps"', (c) => (c.budgets = ['steps']), RangeError, 'config.budgets[0]'],
    ['lrSweep = [1, 1]', (c) => (c.lrSweep = [1, 1]), RangeError, 'config.lrSweep'],
    ['decay.at not increasing', (c) => (c.decay.at = [0.75, 0.5]), RangeError, 'config.decay.at'],
    ['decay.factor = 2', (c) => (c.decay.factor = 2), RangeError, 'config.decay.factor'],
    ['equivalenceMargin = 0', (c) => (c.equivalenceMargin = 0), RangeError, 'config.equivalenceMargin'],
    ['equivalenceMargin = "0.5"', (c) => (c.equivalenceMargin = '0.5'), TypeError, 'config.equivalenceMargin'],
    ['alpha = 0.5', (c) => (c.alpha = 0.5), RangeError, 'config.alpha'],
    ['evalEvery = 0', (c) => (c.evalEvery = 0), RangeError, 'config.evalEvery'],
    ['data missing', (c) => delete c.data, TypeError, 'config.data'],
  ];
  itRejects(cases, tiny, (c) => noiseExperiment.validate(c));
});
