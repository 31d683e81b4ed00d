import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { armGroups, noiseExperiment, noisePresets, noiseTable, runNoise, validateNoiseConfig, type NoiseArmKind, type NoiseConfig, type NoiseResult } from '../../src/experiments/noise.js';
import { ResumeStore } from '../../src/run/resume.js';
import { readAnyCheckpoint } from '../../src/train/checkpoint.js';
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

describe('noiseExperiment: arms that share one batch stream train in one MultiTrainer (config.batchArms)', function () {
  this.timeout(60000);

  const kinds = (groups: Array<Array<{ kind: NoiseArmKind }>>): string[][] => groups.map((g) => g.map((p) => p.kind));
  const plans = (['sgd-small', 'sgd-large', 'amplified', 'amplified', 'small-batch', 'isotropic', 'gd-small', 'gd-large'] as const).map((kind) => ({
    kind,
    steps: kind === 'small-batch' ? 64 : 48,
  }));

  it('groups sgd-small, sgd-large and isotropic, and gd-small and gd-large; amplified and small-batch arms stay alone', () => {
    const flags = { batchArms: true, augment: null, microBatch: null };
    expect(kinds(armGroups(plans, flags))).to.deep.equal([
      ['sgd-small', 'sgd-large', 'isotropic'],
      ['amplified'],
      ['amplified'],
      ['small-batch'],
      ['gd-small', 'gd-large'],
    ]);
    // MultiTrainer has no augmentation (mini-batch arms alone) and no micro-batches (GD arms alone)
    expect(kinds(armGroups(plans, { ...flags, augment: { cropPadding: 4, flip: true } }))).to.deep.include.members([['sgd-small'], ['sgd-large'], ['isotropic'], ['gd-small', 'gd-large']]);
    expect(kinds(armGroups(plans, { ...flags, microBatch: 500 }))).to.deep.include.members([['sgd-small', 'sgd-large', 'isotropic'], ['gd-small'], ['gd-large']]);
    expect(armGroups(plans, { ...flags, batchArms: false }).every((g) => g.length === 1)).to.equal(true);
    expect(armGroups(plans.filter((p) => p.kind !== 'gd-large' && p.kind !== 'sgd-small'), flags).map((g) => g.length)).to.deep.equal([2, 1, 1, 1, 1]);
  });

  /** Runs E3 with a context that also keeps the progress messages. */
  async function run(c: NoiseConfig): Promise<{ result: NoiseResult; lines: Array<Record<string, unknown>>; messages: string[] }> {
    const ctx = testContext();
    const messages: string[] = [];
    ctx.progress = (_done: number, _total: number, message?: string) => void (message && messages.push(message));
    const result = await runNoise(c, ctx);
    return { result, lines: ctx.lines, messages };
  }
  const sortedJson = (lines: unknown[]): string[] => lines.map((l) => JSON.stringify(l)).sort();

  const cases: Array<[string, (c: NoiseConfig) => void, string[]]> = [
    ['tiny preset', () => undefined, ['E3 sgd-small+sgd-large+isotropic seed 1', 'E3 gd-small+gd-large seed 2']],
    // η_large = 50: sgd-large and gd-large diverge (in the middle of a segment for one seed), the other members continue
    ['tiny preset, sgd-large and gd-large diverging', (c) => (c.lrLarge = 50), ['E3 sgd-small+sgd-large+isotropic seed 2', 'E3 gd-small+gd-large seed 1']],
    // micro-batched full-batch steps: the GD arms train alone, the mini-batch group stays
    ['tiny preset with microBatch = 100', (c) => (c.microBatch = 100), ['E3 sgd-small+sgd-large+isotropic seed 1', 'E3 gd-small seed 1']],
  ];
  for (const [title, mutate, groupMessages] of cases) {
    it(`${title}: batched and solo give the same runs (curves, final, diverged) and result.json, bit for bit`, async () => {
      const c = tiny();
      mutate(c);
      const batched = await run(c);
      const solo = await run({ ...c, batchArms: false });
      for (const m of groupMessages) expect(batched.messages.some((x) => x.startsWith(m)), `progress names the group: ${m}`).to.equal(true);
      expect(solo.messages.some((x) => x.includes('+')), 'no groups without batchArms').to.equal(false);
      const a = batched.result;
      const b = solo.result;
      expect(a.arms.map((x) => x.id)).to.deep.equal(b.arms.map((x) => x.id));
      let compared = 0;
      for (let i = 0; i < a.arms.length; i++) {
        for (let si = 0; si < c.seeds.length; si++) {
          const ra = a.arms[i].runs[si];
          const rb = b.arms[i].runs[si];
          const id = `${a.arms[i].id} seed ${c.seeds[si]}`;
          expect(ra.curve, id).to.deep.equal(rb.curve);
          expect(ra.final, id).to.deep.equal(rb.final);
          expect([ra.diverged, ra.divergedAt, ra.steps], id).to.deep.equal([rb.diverged, rb.divergedAt, rb.steps]);
          expect(JSON.stringify(ra), id).to.equal(JSON.stringify(rb));
          compared++;
        }
      }
      expect(compared).to.equal(9 * 2);
      // The whole result as result.json holds it (but timing and the flag itself) …
      const json = (r: NoiseResult): string => JSON.stringify(withoutTiming({ ...r, config: { ...r.config, batchArms: true } } as NoiseResult));
      expect(json(a)).to.equal(json(b));
      // … and the same metrics records (a group logs its members' records interleaved).
      expect(sortedJson(batched.lines)).to.deep.equal(sortedJson(solo.lines));
      if (c.lrLarge === 50) {
        const byId = Object.fromEntries(a.arms.map((x) => [x.id, x]));
        expect(byId['sgd-large'].diverged, 'sgd-large runs diverged').to.equal(2);
        expect(byId['gd-large'].diverged, 'gd-large runs diverged').to.equal(2);
        for (const id of ['sgd-small', 'isotropic', 'gd-small']) expect(byId[id].diverged, id).to.equal(0);
        expect(byId['sgd-large'].runs.map((r) => r.divergedAt)).to.deep.equal([16, 17]);
        expect(batched.lines.filter((l) => l.kind === 'diverged').length).to.equal(solo.lines.filter((l) => l.kind === 'diverged').length);
      }
    });
  }
});

describe('noiseExperiment: a batched group resumes from its MultiTrainer checkpoint', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-e3-group-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('stopped after a partial checkpoint of a group with a diverged member, then continued: the uninterrupted result', async () => {
    const c = tiny();
    c.lrLarge = 50; // sgd-large diverges at step 16 or 17, before the epoch-4 point (step 32)
    c.concurrency = 1;
    const ref = await runNoise(c, testContext());
    const group = 'train-sgd-small.sgd-large.isotropic-seed1';

    // Life 1: stop once the group has logged its epoch-4 points (a partial is written right after).
    const ac = new AbortController();
    const ctx1 = testContext(ac.signal);
    const log1 = ctx1.log.bind(ctx1);
    ctx1.log = (r) => {
      log1(r);
      if (r.arm === 'isotropic' && r.seed === 1 && r.epoch === 4) ac.abort();
    };
    ctx1.resume = new ResumeStore({ dir, configHash: 'e3-test', log: (r) => ctx1.log(r), intervalSeconds: 0 });
    const stopped = await runNoise(c, ctx1).then(
      () => null,
      (e: Error) => e,
    );
    expect(stopped?.name).to.equal('AbortError');
    const ckpts = fs.readdirSync(dir).filter((n) => n.startsWith(`partial-${group}.`) && n.endsWith('.ckpt'));
    expect(ckpts).to.have.length(1);
    const saved = readAnyCheckpoint(path.join(dir, ckpts[0]));
    expect(saved.kind).to.equal('multi');
    if (saved.kind === 'multi') {
      expect(saved.header.count).to.equal(3);
      expect(saved.header.step).to.equal(32);
      expect(saved.header.divergedAt[1], 'sgd-large (model 1) diverged before the checkpoint').to.be.a('number');
    }

    // Life 2: the same store continues the group from that checkpoint.
    const ctx2 = testContext();
    ctx2.resume = new ResumeStore({ dir, configHash: 'e3-test', log: (r) => ctx2.log(r), intervalSeconds: 0 });
    const resumed = await runNoise(c, ctx2);
    expect(ctx2.resume.stats.partialsResumed).to.equal(1);
    expect(withoutTiming(resumed)).to.deep.equal(withoutTiming(ref));
    expect(resumed.arms.find((a) => a.id === 'sgd-large')!.runs[0].diverged).to.equal(true);
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
    ['batchArms = "yes"', (c) => (c.batchArms = 'yes'), TypeError, 'config.batchArms'],
    ['batchArms missing', (c) => delete c.batchArms, TypeError, 'config.batchArms'],
  ];
  itRejects(cases, tiny, (c) => noiseExperiment.validate(c));
});
