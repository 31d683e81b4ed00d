import { expect } from 'chai';

import {
  escapeExperiment,
  escapePresets,
  validateEscapeConfig,
  type EscapeConfig,
  type EscapeResult,
} from '../../src/experiments/escape-experiment.js';
import { runEscape } from '../../src/experiments/escape.js';
import { CURVATURE_METHOD_BOTTOM, CURVATURE_METHOD_TOP, lambdaMin } from '../../src/experiments/escape-curvature.js';
import {
  catapultRegime,
  escapeDecision,
  isMinimum,
  type CatapultRule,
  type EscapeRule,
} from '../../src/experiments/escape-rules.js';
import { escapeVerdicts } from '../../src/experiments/escape-summary.js';
import { Model } from '../../src/model/model.js';
import { mlp } from '../../src/model/spec.js';
import { symmetricEigenvalues } from '../../src/measure/sharpness.js';
import { expectError } from '../engine/helpers.js';
import {
  abortedRunError,
  expectRenderedFigure,
  itRejects,
  testContext,
  withoutTiming,
  type RejectCase,
} from './helpers.js';

const tiny = (): EscapeConfig => structuredClone(escapePresets.tiny);

describe('escapeExperiment (E2, tiny preset)', function () {
  this.timeout(120000);
  let result: EscapeResult;
  let ctx: ReturnType<typeof testContext>;

  before(async () => {
    ctx = testContext();
    result = await escapeExperiment.run(escapeExperiment.validate(tiny()), ctx);
  });

  it('runs every configured seed (at least 5) and logs progress', () => {
    expect(result.seeds.map((s) => s.seed)).to.deep.equal(tiny().seeds);
    expect(result.seeds.length).to.be.at.least(5);
    expect(ctx.progressCalls).to.be.above(0);
    expect(ctx.lines.some((l) => l.phase === 'thetaS')).to.equal(true);
  });

  it('accepts θ_s as a minimum only when ‖∇L(θ_s)‖ ≤ gradTol·‖∇L(θ₀)‖ and λ_min ≥ −negativeCurvatureTol·λ_max', () => {
    const c = tiny().converge;
    for (const s of result.seeds) {
      const t = s.thetaS;
      expect(t.gradTol).to.be.closeTo(c.gradTol * t.gradNorm0, 1e-15);
      expect(t.isMinimum).to.equal(
        t.gradNorm <= t.gradTol && t.lambdaMin.value >= -c.negativeCurvatureTol * t.lambdaMax.value,
      );
      expect(t.lambdaMax.value).to.be.above(0);
      expect(t.lambdaMin.value).to.be.at.most(t.lambdaMax.value);
      // GD stopped at the first check that passed both tests (curvature is measured only where the gradient test passed)
      const passed = t.checks.filter((k) => k.gradNorm <= t.gradTol);
      for (const k of passed) expect(k.lambdaMin).to.be.a('number');
      for (const k of t.checks.filter((x) => x.gradNorm > t.gradTol)) expect(k.lambdaMin).to.equal(null);
      const first = passed.find((k) => k.lambdaMin! >= -c.negativeCurvatureTol * k.lambdaMax!);
      expect(t.steps).to.equal(first ? first.step : c.maxSteps);
    }
    // On this instance both tests pass in every seed (the test would fail if minima stopped being found).
    expect(result.seeds.every((s) => s.thetaS.isMinimum)).to.equal(true);
  });

  it('records which curvature method measured λ', () => {
    expect(result.curvatureMethod).to.deep.equal({ top: CURVATURE_METHOD_TOP, bottom: CURVATURE_METHOD_BOTTOM });
    for (const s of result.seeds) {
      expect(s.lambda0.method).to.equal(CURVATURE_METHOD_TOP);
      expect(s.thetaS.lambdaMin.method).to.equal(CURVATURE_METHOD_BOTTOM);
    }
    expect(escapeExperiment.headline(result).curvatureMethod).to.equal(CURVATURE_METHOD_TOP);
  });

  it('has ≥ 10 catapult cells per seed from η·λ₀ = 0.5 to past divergence, each classified by the stated rule', () => {
    for (const s of result.seeds) {
      expect(s.catapult.length).to.be.at.least(10);
      expect(s.catapult[0].etaLambda).to.equal(0.5);
      expect(s.catapult[s.catapult.length - 1].regime).to.equal('divergent');
      for (const c of s.catapult) {
        expect(c.eta).to.be.closeTo(c.etaLambda / s.lambda0.value, 1e-12 * c.eta);
        expect(c.loss[0]).to.equal(s.loss0);
        const again = catapultRegime(c.loss, c.diverged, tiny().catapult);
        expect(c.regime).to.equal(again.regime);
        expect(c.lambdaEnd === null).to.equal(c.regime === 'divergent');
      }
    }
    const regimes = new Set(result.seeds.flatMap((s) => s.catapult.map((c) => c.regime)));
    expect([...regimes].sort()).to.deep.equal(['catapult', 'divergent', 'stable']);
  });

  it('follows λ_max every ≤ 10 steps in ≥ 3 edge-of-stability arms', () => {
    for (const s of result.seeds) {
      expect(s.eos.length).to.be.at.least(3);
      for (const a of s.eos) {
        expect(a.lambda[0].step).to.equal(0);
        expect(a.twoOverEta).to.be.closeTo(2 / a.eta, 1e-12 * a.twoOverEta);
        for (let i = 1; i < a.lambda.length; i++) expect(a.lambda[i].step - a.lambda[i - 1].step).to.be.within(1, 10);
        if (!a.diverged) expect(a.lambda[a.lambda.length - 1].step).to.equal(tiny().eos.steps);
      }
    }
  });

  it('switches at η = m·2/λ_max(θ_s) and compares with the small arm at equal steps and at equal ηt', () => {
    const c = tiny();
    for (const s of result.seeds) {
      const sw = s.switch!;
      const large = sw.arms.filter((a) => a.factor !== null);
      expect(large.map((a) => a.factor)).to.deep.equal(c.switch.largeFactors);
      for (const a of large) expect(a.eta).to.be.closeTo((a.factor! * 2) / s.thetaS.lambdaMax.value, 1e-12 * a.eta);
      const matched = large.map((a) => Math.round((c.switch.steps * a.eta) / s.etaSmall));
      expect(sw.arms[0].steps).to.equal(Math.max(c.switch.steps, ...matched));
      expect(sw.snapshots.map((x) => x.step)).to.deep.equal([c.switch.steps, ...matched]);
      for (const [i, x] of sw.snapshots.slice(1).entries())
        expect(x.step * s.etaSmall).to.be.closeTo(c.switch.steps * large[i].eta, s.etaSmall);
    }
  });

  it('decides escape from the barrier and the return test, and the η_small control never escapes', () => {
    const rule = tiny().escape;
    for (const s of result.seeds) {
      for (const t of s.tests) {
        if (t.diverged) {
          expect(t.escaped).to.equal(false);
          continue;
        }
        expect(t.alpha).to.have.length(tiny().interpolationPoints);
        expect(t.barrier).to.be.at.least(0);
        expect(t.escaped).to.equal(
          t.barrier > rule.barrierMin && t.distanceReturn > rule.returnFraction * t.distanceEnd,
        );
      }
      const control = s.tests.find((t) => t.factor === null)!;
      expect(control.escaped).to.equal(false);
    }
  });

  it('writes one verdict per large factor whose rule names the barrier and the return test', () => {
    const vs = escapeVerdicts(result);
    expect(vs).to.have.length(tiny().switch.largeFactors.length);
    for (const v of vs) {
      expect(['supported', 'not-reproduced', 'inconclusive', 'uninformative']).to.include(v.verdict);
      expect(v.rule)
        .to.contain('loss barrier')
        .and.contain('return test')
        .and.contain(String(tiny().escape.barrierMin));
      expect(v.evidence).to.match(/\d+\/\d+ seeds escaped/);
    }
    expect(escapeExperiment.verdicts!(result, tiny())).to.deep.equal(vs);
  });

  it('gives a JSON-able headline without NaN', () => {
    const h = escapeExperiment.headline(result);
    expect(h.seeds).to.equal(5);
    expect(h['thetaS.minima']).to.equal(5);
    for (const [k, v] of Object.entries(h)) if (typeof v === 'number') expect(Number.isNaN(v), k).to.equal(false);
    expect(JSON.parse(JSON.stringify(h))).to.deep.equal(h);
  });

  it('is deterministic (bitwise, except timing)', async () => {
    const c = tiny();
    c.seeds = [1];
    const a = await runEscape(c, testContext());
    expect(withoutTiming(a)).to.deep.equal(
      withoutTiming({ ...result, config: c, seeds: [result.seeds[0]] } as EscapeResult),
    );
  });

  it('honours an aborted signal', async () => {
    const e = await abortedRunError((signal) => runEscape(tiny(), testContext(signal)));
    expect(e.name).to.equal('AbortError');
  });

  it('compares GD at every eos arm’s η and at η_small with the gradient flow from θ₀ at matched times t = η·k', () => {
    const c = tiny();
    const withFlow = result.seeds.filter((s) => s.flow !== null);
    expect(withFlow.map((s) => s.seed)).to.deep.equal(c.seeds.slice(0, c.flow.seeds));
    for (const s of withFlow) {
      const f = s.flow!;
      expect(f.batchNorm).to.equal('none');
      expect(f.arms.map((a) => a.etaLambda)).to.deep.equal([...c.eos.etaLambda, null]);
      expect(f.horizon).to.be.closeTo((Math.max(...c.eos.etaLambda) / s.lambda0.value) * c.eos.steps, 1e-12);
      for (const a of f.arms) {
        expect(a.points[0]).to.include({ step: 0, distance: 0 });
        for (const p of a.points) expect(p.t).to.equal(a.eta * p.step);
        if (!a.diverged) expect(a.points[a.points.length - 1].t).to.be.closeTo(f.horizon, a.eta);
      }
      // GD's distance from the flow grows with η (its error is O(η) per unit time while stable).
      const end = (a: (typeof f.arms)[number]) => a.points[a.points.length - 1].distance;
      const small = f.arms[f.arms.length - 1];
      const fastest = f.arms[c.eos.etaLambda.length - 1];
      expect(end(small)).to.be.below(end(fastest));
      expect(end(small) / small.points[small.points.length - 1].flowTravel).to.be.below(0.05);
    }
  });

  it('measures the Hessian eigenvalue density at θ_s and after the switch, consistent with the λ probes', () => {
    const c = tiny();
    const withSpectrum = result.seeds.filter((s) => s.spectrum.length > 0);
    expect(withSpectrum.map((s) => s.seed)).to.deep.equal(c.seeds.slice(0, c.spectrum.seeds));
    expect(result.batchNorm).to.equal('none');
    for (const s of withSpectrum) {
      const [at, after] = s.spectrum;
      expect(at.at).to.equal('thetaS');
      // The density's λ_max (Lanczos) is the θ_s probe's (restarted Lanczos), on the same subset.
      expect(at.lambdaMax).to.be.closeTo(s.thetaS.lambdaMax.value, 1e-2 * s.thetaS.lambdaMax.value);
      expect(at.lambdaMin).to.be.at.most(at.lambdaMax);
      expect(Math.abs(at.traceAgreement), 'density trace vs Hutchinson (standard errors)').to.be.below(4);
      expect(at.batchNorm).to.equal('none');
      if (after) {
        const arm = s.switch!.arms.find((a) => a.id === after.at)!;
        expect(arm.factor).to.be.a('number');
        expect(after.lambdaMax).to.be.closeTo(arm.end!.lambdaMax.value, 2e-2 * arm.end!.lambdaMax.value);
      }
    }
  });

  it('renders every figure as SVG and PNG with a caption stating scale, data, model and seeds', async () => {
    const figs = await escapeExperiment.figures(result, tiny());
    expect(figs.map((f) => f.id)).to.deep.equal([
      'e2-catapult',
      'e2-eos',
      'e2-switch',
      'e2-escape-test',
      'e2-interpolation',
      'e2-flow',
      'e2-spectrum',
    ]);
    for (const f of figs)
      expectRenderedFigure(f, ['Scale: tiny', 'gaussian-mixture', 'MLP', 'seeds 1, 2, 3, 4, 5', 'MSE']);
  });
});

describe('E2 on a convex quadratic (a linear model with MSE loss)', function () {
  this.timeout(60000);

  it('reports no escape for any arm and the verdict "not-reproduced"', async () => {
    const c = tiny();
    c.model = { kind: 'mlp', hidden: [] };
    const r = await runEscape(c, testContext());
    for (const s of r.seeds) {
      expect(s.thetaS.isMinimum).to.equal(true);
      // a convex function lies below its chords: no barrier on any segment (up to float32 rounding)
      for (const t of s.tests) {
        expect(t.escaped, t.arm).to.equal(false);
        if (!t.diverged) expect(t.barrier, t.arm).to.be.below(1e-6);
      }
      expect(
        s.tests.some((t) => !t.diverged),
        'the control arm did not diverge',
      ).to.equal(true);
    }
    for (const v of escapeVerdicts(r)) expect(v.verdict).to.equal('not-reproduced');
  });
});

describe('escapeDecision()', () => {
  const rule: EscapeRule = { barrierMin: 0.01, returnSteps: 100, returnFraction: 0.5 };
  it('is an escape only with a barrier above the threshold AND no return', () => {
    expect(
      escapeDecision({ diverged: false, barrier: 0.02, distanceEnd: 10, distanceReturn: 9 }, rule).escaped,
    ).to.equal(true);
  });
  it('is no escape when GD from the end point comes back to θ_s', () => {
    const d = escapeDecision({ diverged: false, barrier: 0.02, distanceEnd: 10, distanceReturn: 5 }, rule);
    expect(d).to.deep.equal({ escaped: false, barrierAbove: true, returned: true });
  });
  it('is no escape without a barrier, however far the end point is', () => {
    const d = escapeDecision({ diverged: false, barrier: 0.01, distanceEnd: 100, distanceReturn: 100 }, rule);
    expect(d).to.deep.equal({ escaped: false, barrierAbove: false, returned: false });
  });
  it('is no escape when the arm diverged', () => {
    expect(escapeDecision({ diverged: true, barrier: 1, distanceEnd: 10, distanceReturn: 10 }, rule).escaped).to.equal(
      false,
    );
  });
});

describe('isMinimum()', () => {
  const rule = { gradTol: 0.01, negativeCurvatureTol: 0.01 };
  it('needs a small gradient and no negative curvature beyond the tolerance', () => {
    expect(isMinimum({ gradNorm: 0.005, lambdaMax: 10, lambdaMin: -0.05 }, rule)).to.equal(true);
    expect(isMinimum({ gradNorm: 0.02, lambdaMax: 10, lambdaMin: 0.1 }, rule)).to.equal(false);
    expect(isMinimum({ gradNorm: 0.005, lambdaMax: 10, lambdaMin: -0.2 }, rule)).to.equal(false);
    expect(isMinimum({ gradNorm: NaN, lambdaMax: 10, lambdaMin: 0 }, rule)).to.equal(false);
  });
});

describe('catapultRegime()', () => {
  const rule: CatapultRule = { spikeWindow: 5, catapultRatio: 1.2, divergeRatio: 100 };
  it('is stable when the loss falls', () => {
    expect(catapultRegime([1, 0.8, 0.6, 0.5], false, rule).regime).to.equal('stable');
  });
  it('is a catapult when the loss spikes within the window and comes back below the start', () => {
    const r = catapultRegime([1, 3, 9, 2, 0.5, 0.4], false, rule);
    expect(r).to.deep.equal({ regime: 'catapult', spike: 9, finalRatio: 0.4 });
  });
  it('is divergent when the loss passes the bound, goes non-finite, or ends above the start', () => {
    expect(catapultRegime([1, 50, 200], false, rule).regime).to.equal('divergent');
    expect(catapultRegime([1, 2, Infinity], false, rule).regime).to.equal('divergent');
    expect(catapultRegime([1, 3, 1.1], false, rule).regime).to.equal('divergent');
    expect(catapultRegime([1, 0.9], true, rule).regime).to.equal('divergent');
  });
  it('ignores spikes after the window', () => {
    expect(catapultRegime([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.9, 0.4], false, rule).regime).to.equal('stable');
  });
});

describe('lambdaMin() (Lanczos)', () => {
  it('finds the smallest Hessian eigenvalue of a linear MSE model, checked against the dense Hessian', () => {
    // L(W) = mean over n·k entries of (xW − y)²: H = (2/(n·k))·(XᵀX ⊗ I_k), eigenvalues of (2/(n·k))·XᵀX (and the bias column)
    const n = 40;
    const d = 3;
    const k = 1;
    const model = new Model(mlp({ input: [d], hidden: [], outputs: k, loss: 'mse' }), { seed: 3 });
    try {
      const x = new Float32Array(n * d);
      for (let i = 0; i < x.length; i++) x[i] = Math.sin(7 * i + 1) * (1 + (i % d));
      const y = new Float32Array(n * k).map((_, i) => Math.cos(i));
      const data = { x, y };
      const m = d + 1;
      const g = new Float64Array(m * m);
      for (let i = 0; i < n; i++) {
        const row = [...x.subarray(i * d, i * d + d), 1];
        for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) g[a * m + b] += (2 / (n * k)) * row[a] * row[b];
      }
      const eig = symmetricEigenvalues(g, m);
      const r = lambdaMin(model, data, { iterations: 20, tolerance: 1e-9, seed: 1, steps: 20 });
      expect(r.converged).to.equal(true);
      expect(r.iterations).to.be.at.most(m + 1);
      expect(r.value).to.be.closeTo(eig[0], 1e-3 * eig[m - 1]);
    } finally {
      model.close();
    }
  });
});

describe('escapeExperiment.validate()', () => {
  it('accepts every preset', () => {
    for (const scale of ['tiny', 'quick', 'study', 'paper'] as const)
      expect(() => validateEscapeConfig(structuredClone(escapePresets[scale]))).to.not.throw();
  });

  it('rejects a non-object with a TypeError naming config', () => {
    expectError(() => escapeExperiment.validate(undefined), TypeError, 'config');
  });

  const cases: RejectCase[] = [
    ['an unknown key', (c) => (c.escapeSteps = 10), TypeError, 'config: unknown option "escapeSteps"'],
    [
      'an unknown nested key',
      (c) => (c.escape.barrier = 0.1),
      TypeError,
      'config.escape: unknown option "barrier" (did you mean "barrierMin"?)',
    ],
    ['loss = "cross-entropy"', (c) => (c.loss = 'cross-entropy'), RangeError, 'config.loss'],
    ['seeds = []', (c) => (c.seeds = []), RangeError, 'config.seeds'],
    ['seeds = [1, 1]', (c) => (c.seeds = [1, 1]), RangeError, 'config.seeds'],
    ['converge.gradTol = 0', (c) => (c.converge.gradTol = 0), RangeError, 'config.converge.gradTol'],
    [
      'converge.negativeCurvatureTol missing',
      (c) => delete c.converge.negativeCurvatureTol,
      TypeError,
      'config.converge.negativeCurvatureTol',
    ],
    [
      'catapult.etaLambda = [0.5, -1]',
      (c) => (c.catapult.etaLambda = [0.5, -1]),
      RangeError,
      'config.catapult.etaLambda[1]',
    ],
    ['catapult.divergeRatio = 1', (c) => (c.catapult.divergeRatio = 1), RangeError, 'config.catapult.divergeRatio'],
    ['eos.measureEvery = 20', (c) => (c.eos.measureEvery = 20), RangeError, 'config.eos.measureEvery'],
    ['switch.largeFactors = "2"', (c) => (c.switch.largeFactors = '2'), TypeError, 'config.switch.largeFactors'],
    ['escape.returnFraction = 2', (c) => (c.escape.returnFraction = 2), RangeError, 'config.escape.returnFraction'],
    [
      'verdict.rejectShare >= supportShare',
      (c) => (c.verdict.rejectShare = 0.9),
      RangeError,
      'config.verdict.rejectShare',
    ],
    ['scale = "huge"', (c) => (c.scale = 'huge'), RangeError, 'config.scale'],
    ['data.source = "imagenet"', (c) => (c.data.source = 'imagenet'), RangeError, 'config.data.source'],
    ['model.kind = "vit"', (c) => (c.model.kind = 'vit'), RangeError, 'config.model.kind'],
    ['sharpness.iterations = 0', (c) => (c.sharpness.iterations = 0), RangeError, 'config.sharpness.iterations'],
    ['interpolationPoints = 1', (c) => (c.interpolationPoints = 1), RangeError, 'config.interpolationPoints'],
  ];
  itRejects(cases, tiny, (c) => escapeExperiment.validate(c));
});

describe('escapeExperiment with a missing named data set', function () {
  this.timeout(60000);

  it('falls back to the synthetic set and says so in the result and headline', async () => {
    const c = tiny();
    c.data.source = 'cifar100';
    c.seeds = [1];
    const prev = process.env.BIGSTEP_DATA;
    process.env.BIGSTEP_DATA = '/nonexistent-bigstep-data';
    try {
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
