import { expect } from 'chai';

import { landscapeFigures } from '../../src/experiments/landscape-figures.js';
import {
  landscapePresets,
  runLandscape,
  validateLandscapeConfig,
  type LandscapeConfig,
  type LandscapeResult,
} from '../../src/experiments/landscape.js';
import { native } from '../../src/native/binding.js';
import { expectError, type ErrorClass } from '../engine/helpers.js';
import { abortedRunError, expectRenderedFigure, itRejects, rejectionOf, withoutTiming, type RejectCase } from './helpers.js';

const tiny = (): LandscapeConfig => structuredClone(landscapePresets.tiny);

describe('runLandscape() (E1, tiny preset)', function () {
  this.timeout(60000);
  let result: LandscapeResult;
  let wallMs = 0;

  before(async () => {
    const t0 = performance.now();
    result = await runLandscape(tiny());
    wallMs = performance.now() - t0;
  });

  it('finishes in seconds', () => {
    expect(wallMs).to.be.below(15000);
    expect(result.instances.map((r) => r.name)).to.deep.equal(['1d', '2d']);
  });

  it('finds sharp local minima and a verified global minimum at the bottom of the bowl', () => {
    for (const r of result.instances) {
      const t = r.thresholds;
      expect(r.minima.verified, r.name).to.equal(true);
      expect(r.minima.gap, r.name).to.be.above(0);
      expect(r.minima.points.length, r.name).to.equal(r.instance.dips + 1);
      expect(Math.hypot(...r.minima.points[r.minima.globalIndex]), r.name).to.be.below(1e-3);
      expect(t.lLocMin / t.mu, r.name).to.be.above(10);
      expect(t.etaSharp).to.be.at.most(t.etaLocal);
      expect(t.etaLocal).to.be.below(t.etaGlobal);
      expect(t.etaGlobal).to.be.closeTo(2 / t.mu, 1e-6);
    }
  });

  it('sweeps a log grid from below 2/max L_loc to above 2/μ', () => {
    for (const r of result.instances) {
      const etas = r.sweep.map((c) => c.eta);
      expect(etas[0]).to.be.below(r.thresholds.etaSharp);
      expect(etas[etas.length - 1]).to.be.above(r.thresholds.etaMu);
      for (const c of r.sweep) {
        const n = c.counts.global + c.counts.local + c.counts.oscillating + c.counts.diverged;
        expect(n).to.equal(result.config.points);
      }
    }
  });

  // The law measured on these instances: below 2/max L_loc every local minimum is stable and GD ends
  // wherever its start's basin is (success = a constant fraction < 1); well inside (2/L_loc, 2/μ)
  // every start reaches x*; above 2/μ every run diverges.
  it('small steps (< 2/max L_loc) end in local minima from a fixed share of starts', () => {
    for (const r of result.instances) {
      const small = r.sweep.filter((c) => c.eta < r.thresholds.etaSharp);
      expect(small.length, r.name).to.be.at.least(2);
      expect(small[0].counts.local, r.name).to.be.above(0);
      expect(small[0].success, r.name).to.be.below(0.95);
      for (const c of small) expect(c.success, r.name).to.be.closeTo(small[0].success, 0.02);
    }
  });

  it('large steps in [2·(2/min L_loc), 0.75·(2/μ)] reach the global minimum from (almost) every start', () => {
    for (const r of result.instances) {
      const large = r.sweep.filter((c) => c.eta >= 2 * r.thresholds.etaLocal && c.eta <= 0.75 * r.thresholds.etaMu);
      expect(large.length, r.name).to.be.at.least(2);
      const small = r.sweep[0].success;
      for (const c of large) {
        expect(c.success, `${r.name} η=${c.eta}`).to.be.at.least(0.95);
        expect(c.success).to.be.above(small);
      }
    }
  });

  it('steps above 2/μ diverge', () => {
    for (const r of result.instances)
      for (const c of r.sweep.filter((c) => c.eta > 1.05 * r.thresholds.etaMu)) expect(c.counts.diverged).to.equal(result.config.points);
  });

  it('reports the noise arm and headline numbers', () => {
    const cfg = result.config;
    for (const r of result.instances) {
      expect(r.noise.length).to.equal(cfg.noise.etaFactors.length * cfg.noise.stdCount * cfg.noise.anneal.length);
      for (const c of r.noise) expect(c.eta).to.be.below(r.thresholds.etaSharp);
    }
    expect(result.headline).to.have.length(2);
    for (const h of result.headline) {
      expect(h.smallEta).to.not.equal(null);
      expect(h.largestStable!.success).to.be.at.least(0.95);
      expect(h.bestNoise).to.not.equal(null);
    }
  });

  it('records 1-D and 2-D example trajectories at a small and a large step', () => {
    for (const r of result.instances) {
      const labels = new Set(r.trajectories.map((t) => t.label));
      expect([...labels].sort()).to.deep.equal(['large', 'small']);
      for (const t of r.trajectories) {
        expect(t.points[0]).to.have.length(r.instance.dim);
        expect(t.points.length).to.be.at.least(2);
      }
    }
  });

  it('is deterministic for a given config (bitwise, except timing)', async () => {
    const again = await runLandscape(tiny());
    expect(withoutTiming(again)).to.deep.equal(withoutTiming(result));
  });

  it('changes with the seeds', async () => {
    const cfg = tiny();
    cfg.instances = [cfg.instances[0]];
    cfg.noise.enabled = false;
    cfg.trajectories.count = 0;
    const a = await runLandscape(cfg);
    cfg.instances[0].seed = 77;
    const b = await runLandscape(cfg);
    expect(a.instances[0].instance.centers).to.not.deep.equal(b.instances[0].instance.centers);
  });

  it('honours an aborted signal', async () => {
    await abortedRunError((signal) => runLandscape(tiny(), { signal }));
  });

  describe('landscapeFigures()', () => {
    it('renders every figure as SVG and PNG with a caption stating scale and seeds', async () => {
      const figs = await landscapeFigures(result);
      const ids = figs.map((f) => f.id);
      expect(new Set(ids).size).to.equal(ids.length);
      for (const name of ['1d', '2d']) {
        for (const kind of ['success', 'classes', 'noise-none', 'noise-linear', 'trajectories'])
          expect(ids).to.include(`e1-${name}-${kind}`);
      }
      for (const f of figs) expectRenderedFigure(f, ['Scale: tiny', 'seed']);
    });
  });
});

describe('validateLandscapeConfig()', () => {
  const cases: RejectCase[] = [
    ['steps 0', (c) => (c.steps = 0), RangeError, 'config.steps must be a positive integer'],
    ['steps fractional', (c) => (c.steps = 10.5), RangeError, 'config.steps'],
    ['steps string', (c) => (c.steps = '10'), TypeError, 'config.steps'],
    ['points negative', (c) => (c.points = -1), RangeError, 'config.points'],
    ['scale unknown', (c) => (c.scale = 'huge'), RangeError, 'config.scale'],
    ['instances empty', (c) => (c.instances = []), RangeError, 'config.instances'],
    ['instance dim 0', (c) => (c.instances[0].dim = 0), RangeError, 'config.instances[0].dim'],
    ['instance name repeats', (c) => (c.instances[1].name = c.instances[0].name), RangeError, 'config.instances[1].name'],
    ['instance mu negative', (c) => (c.instances[0].mu = -1), RangeError, 'config.instances[0].mu'],
    ['etaGrid.count 1', (c) => (c.etaGrid.count = 1), RangeError, 'config.etaGrid.count'],
    ['etaGrid missing', (c) => delete c.etaGrid, TypeError, 'config.etaGrid'],
    ['noise eta factor >= 1', (c) => (c.noise.etaFactors = [0.5, 1.2]), RangeError, 'config.noise.etaFactors[1]'],
    ['noise anneal unknown', (c) => (c.noise.anneal = ['cosine']), RangeError, 'config.noise.anneal[0]'],
    ['noise instances unknown', (c) => (c.noise.instances = ['3d']), RangeError, 'config.noise.instances[0]'],
    ['noise std range reversed', (c) => ((c.noise.stdMinFactor = 5), (c.noise.stdMaxFactor = 1)), RangeError, 'config.noise.stdMaxFactor'],
    ['seeds.noise NaN', (c) => (c.seeds.noise = NaN), RangeError, 'config.seeds.noise'],
    ['concurrency 0', (c) => (c.concurrency = 0), RangeError, 'config.concurrency'],
  ];
  itRejects(cases, tiny, validateLandscapeConfig);
  it('accepts every preset', () => {
    for (const p of Object.values(landscapePresets)) validateLandscapeConfig(structuredClone(p));
  });
  it('runLandscape rejects a bad config before doing any work', async () => {
    const c = tiny();
    c.steps = -5;
    const caught = await rejectionOf(runLandscape(c));
    expect(caught).to.be.instanceOf(RangeError);
    expect((caught as Error).message).to.contain('config.steps');
  });
});

describe('binding: landscape functions reject bad arguments', () => {
  const inst = native.landscapeCreate({ dim: 2, dips: 3, seed: 5 });
  const minima = { points: new Float64Array([0, 0]), globalIndex: 0 };
  const starts = new Float64Array([1, 1, -1, 0.5]);
  const run = { eta: 0.01, steps: 10, classifyRadius: 0.01 };

  const cases: Array<[string, () => unknown, ErrorClass, string]> = [
    ['create: options not an object', () => native.landscapeCreate(3 as any), TypeError, 'options'],
    ['create: dim 0', () => native.landscapeCreate({ dim: 0, dips: 1 }), RangeError, 'options.dim'],
    ['create: dim string', () => native.landscapeCreate({ dim: '2' as any, dips: 1 }), TypeError, 'options.dim'],
    ['create: dips missing', () => native.landscapeCreate({ dim: 2 } as any), TypeError, 'options.dips'],
    ['create: depthMax >= 1', () => native.landscapeCreate({ dim: 2, dips: 1, depthMax: 1.5 }), RangeError, 'options.depthMin'],
    ['create: too many dips for 1-D', () => native.landscapeCreate({ dim: 1, dips: 500 }), RangeError, 'options.dips'],
    ['sample: radius 0', () => native.landscapeSample({ dim: 2, count: 3, radius: 0 }), RangeError, 'options.radius'],
    ['sample: count fractional', () => native.landscapeSample({ dim: 2, count: 2.5, radius: 1 }), RangeError, 'options.count'],
    ['eval: instance not an object', () => native.landscapeEval(null as any, starts), TypeError, 'instance'],
    ['eval: centers wrong length', () => native.landscapeEval({ ...inst, centers: new Float64Array(5) }, starts), RangeError, 'instance.centers'],
    ['eval: widths not Float64Array', () => native.landscapeEval({ ...inst, widths: new Float32Array(3) as any }, starts), TypeError, 'instance.widths'],
    ['eval: negative width', () => native.landscapeEval({ ...inst, widths: new Float64Array([0.1, -0.1, 0.1]) }, starts), RangeError, 'instance.widths'],
    ['eval: mu 0', () => native.landscapeEval({ ...inst, mu: 0 }, starts), RangeError, 'instance.mu'],
    ['eval: points length not divisible by dim', () => native.landscapeEval(inst, new Float64Array(3)), RangeError, 'points'],
    ['eval: hessian not boolean', () => native.landscapeEval(inst, starts, { hessian: 1 as any }), TypeError, 'options.hessian'],
    ['minima: randomStarts negative', () => native.landscapeMinima(inst, { randomStarts: -1 }), RangeError, 'options.randomStarts'],
    ['run: starts Float32Array', () => native.landscapeRun(inst, minima, new Float32Array(4) as any, run), TypeError, 'starts'],
    ['run: starts length odd', () => native.landscapeRun(inst, minima, new Float64Array(3), run), RangeError, 'starts'],
    ['run: minima.globalIndex out of range', () => native.landscapeRun(inst, { ...minima, globalIndex: 1 }, starts, run), RangeError, 'minima.globalIndex'],
    ['run: minima.points missing', () => native.landscapeRun(inst, { globalIndex: 0 } as any, starts, run), TypeError, 'minima.points'],
    ['run: eta negative', () => native.landscapeRun(inst, minima, starts, { ...run, eta: -1 }), RangeError, 'options.eta'],
    ['run: eta NaN', () => native.landscapeRun(inst, minima, starts, { ...run, eta: NaN }), RangeError, 'options.eta'],
    ['run: steps fractional', () => native.landscapeRun(inst, minima, starts, { ...run, steps: 1.5 }), RangeError, 'options.steps'],
    ['run: classifyRadius missing', () => native.landscapeRun(inst, minima, starts, { eta: 0.1, steps: 1 } as any), TypeError, 'options.classifyRadius'],
    ['run: noiseStd negative', () => native.landscapeRun(inst, minima, starts, { ...run, noiseStd: -1 }), RangeError, 'options.noiseStd'],
    ['run: anneal unknown', () => native.landscapeRun(inst, minima, starts, { ...run, anneal: 'cosine' as any }), RangeError, 'options.anneal'],
    ['run: recordCount > n', () => native.landscapeRun(inst, minima, starts, { ...run, recordCount: 3 }), RangeError, 'options.recordCount'],
    ['run: seed negative', () => native.landscapeRun(inst, minima, starts, { ...run, seed: -1 }), RangeError, 'options.seed'],
  ];
  for (const [name, fn, cls, param] of cases) {
    it(`${name} -> ${cls.name} naming ${param}`, () => expectError(fn, cls, param));
  }

  it('landscapeEval matches central differences and returns the Hessian on request', () => {
    const x = new Float64Array([0.3, -1.1]);
    const r = native.landscapeEval(inst, x, { hessian: true });
    const eps = 1e-6;
    for (let j = 0; j < 2; j++) {
      const p = x.slice(),
        m = x.slice();
      p[j] += eps;
      m[j] -= eps;
      const fd = (native.landscapeEval(inst, p).value[0] - native.landscapeEval(inst, m).value[0]) / (2 * eps);
      expect(fd).to.be.closeTo(r.grad[j], 1e-6);
    }
    expect(r.hessian).to.have.length(4);
  });

  it('landscapeRun copies its inputs: mutating starts after the call does not change the result', async () => {
    const s = starts.slice();
    const p = native.landscapeRun(inst, minima, s, { ...run, steps: 50 });
    s.fill(1e9);
    const r = await p;
    expect(r.counts.diverged).to.equal(0);
    const ref = await native.landscapeRun(inst, minima, starts, { ...run, steps: 50 });
    expect([...r.finalX]).to.deep.equal([...ref.finalX]);
  });
});
