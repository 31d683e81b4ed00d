/**
 * Figures of E2 (escape), built from an `EscapeResult` alone (no native calls):
 *  - the catapult phase diagram: spike max L(θ_t)/L(θ₀) and λ_max(end)·η/2 against η·λ₀, per
 *    seed, coloured by regime;
 *  - edge of stability: λ_max every few steps against 2/η for each η, every seed;
 *  - the switch: train loss from θ_s at η_small and at each η_large (first seed);
 *  - the escape test: barrier against the return ratio, per seed and arm, with the thresholds;
 *  - the train loss along θ_s → θ_end (first seed);
 *  - the gradient-flow reference: ‖θ_GD(k) − θ_flow(ηk)‖ against time for every eos arm and η_small;
 *  - the Hessian eigenvalue density (SLQ) at θ_s and after the switch, with λ_max, λ_min and trace.
 * Every caption states the scale, data set, model, seeds and what was measured.
 */
import type { TopLevelSpec } from 'vega-lite';

import { renderChart, type Figure } from '../report/plot.js';
import type { EscapeResult } from './escape.js';
import { catapultRuleText, escapeRuleText, minimumRuleText } from './escape-rules.js';
import { fmt } from './escape-setup.js';
import { spreadText } from './escape-summary.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const REGIME_COLORS = { domain: ['stable', 'catapult', 'divergent'], range: ['#2b8cbe', '#e6550d', '#636363'] };

/** Indices 0..n−1 thinned to about `max` (always keeps the first and the last). */
export function thinIndices(n: number, max = 400): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const stride = Math.ceil(n / max);
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

function describe(r: EscapeResult): string {
  const fb = r.data.fallback ? ` FALLBACK DATA: ${r.data.fallback}.` : '';
  return (
    `Scale: ${r.scale}. Data: ${r.data.description}; inputs standardised with train statistics.${fb} Model: ${r.model.description}, ` +
    `MSE loss on one-hot targets, full-batch GD (no momentum, no weight decay), init seeds ${r.config.seeds.join(', ')} (n = ${r.seeds.length}). ` +
    `λ_max on a fixed ${r.data.sharpnessSubset}-example train subset by ${r.curvatureMethod.top}.`
  );
}

const spec = (s: object): TopLevelSpec => ({ $schema: SCHEMA, ...s }) as unknown as TopLevelSpec;

function catapultSpec(r: EscapeResult): TopLevelSpec {
  const values = r.seeds.flatMap((s) =>
    s.catapult.map((c) => ({
      etaLambda: c.etaLambda,
      spike: Number.isFinite(c.spike)
        ? Math.min(c.spike, r.config.catapult.divergeRatio)
        : r.config.catapult.divergeRatio,
      ratio: c.lambdaEnd ? (c.lambdaEnd.value * c.eta) / 2 : null,
      regime: c.regime,
      seed: `seed ${s.seed}`,
    })),
  );
  const x = { field: 'etaLambda', type: 'quantitative', scale: { type: 'log' }, title: 'η·λ_max(θ₀)' };
  const color = { field: 'regime', type: 'nominal', scale: REGIME_COLORS, title: 'regime' };
  const rule2 = {
    mark: { type: 'rule', strokeDash: [4, 3], color: '#999' },
    data: { values: [{ x: 2 }] },
    encoding: { x: { field: 'x', type: 'quantitative' } },
  };
  return spec({
    title: `E2: catapult phase diagram from θ₀ (${r.scale})`,
    hconcat: [
      {
        width: 300,
        height: 240,
        layer: [
          {
            data: { values },
            mark: { type: 'point', filled: true, size: 50, opacity: 0.75 },
            encoding: {
              x,
              y: {
                field: 'spike',
                type: 'quantitative',
                scale: { type: 'log' },
                title: `max L(θ_t)/L(θ₀), first ${r.config.catapult.spikeWindow} steps`,
              },
              color,
            },
          },
          rule2,
        ],
      },
      {
        width: 300,
        height: 240,
        layer: [
          {
            data: { values: values.filter((v) => v.ratio !== null) },
            mark: { type: 'point', filled: true, size: 50, opacity: 0.75 },
            encoding: { x, y: { field: 'ratio', type: 'quantitative', title: 'λ_max(end)·η/2  (1 = at 2/η)' }, color },
          },
          {
            data: { values: [{ y: 1 }] },
            mark: { type: 'rule', strokeDash: [4, 3], color: '#999' },
            encoding: { y: { field: 'y', type: 'quantitative' } },
          },
          rule2,
        ],
      },
    ],
  });
}

function eosSpec(r: EscapeResult): TopLevelSpec {
  const first = r.seeds[0];
  const arm = (c: number): string => `η·λ₀ = ${c}`;
  const raw = first.eos.flatMap((a) => a.lambda.map((m) => ({ step: m.step, lambda: m.value, arm: arm(a.etaLambda) })));
  const rules = first.eos.map((a) => ({ y: a.twoOverEta, arm: arm(a.etaLambda) }));
  const ratio = r.seeds.flatMap((s) =>
    s.eos.flatMap((a) =>
      a.lambda.map((m) => ({
        step: m.step,
        ratio: (m.value * a.eta) / 2,
        arm: arm(a.etaLambda),
        line: `${a.etaLambda}-${s.seed}`,
      })),
    ),
  );
  const color = { field: 'arm', type: 'nominal', title: null };
  const x = { field: 'step', type: 'quantitative', title: 'GD step t' };
  return spec({
    title: `E2: edge of stability — λ_max against 2/η (${r.scale})`,
    hconcat: [
      {
        title: `seed ${first.seed}: λ_max and 2/η (dashed)`,
        width: 300,
        height: 240,
        layer: [
          {
            data: { values: raw },
            mark: { type: 'line', strokeWidth: 1.2 },
            encoding: { x, y: { field: 'lambda', type: 'quantitative', title: 'λ_max(θ_t)' }, color },
          },
          {
            data: { values: rules },
            mark: { type: 'rule', strokeDash: [5, 3] },
            encoding: { y: { field: 'y', type: 'quantitative' }, color },
          },
        ],
      },
      {
        title: `all ${r.seeds.length} seeds: λ_max·η/2 (1 = at 2/η)`,
        width: 300,
        height: 240,
        layer: [
          {
            data: { values: ratio },
            mark: { type: 'line', strokeWidth: 1, opacity: 0.7 },
            encoding: {
              x,
              y: { field: 'ratio', type: 'quantitative', title: 'λ_max(θ_t)·η/2' },
              color,
              detail: { field: 'line' },
            },
          },
          {
            data: { values: [{ y: 1 }] },
            mark: { type: 'rule', strokeDash: [5, 3], color: '#999' },
            encoding: { y: { field: 'y', type: 'quantitative' } },
          },
        ],
      },
    ],
  });
}

function switchSpec(r: EscapeResult): TopLevelSpec | null {
  const s = r.seeds.find((x) => x.switch);
  if (!s || !s.switch) return null;
  const values = s.switch.arms.flatMap((a) =>
    thinIndices(a.loss.length)
      .filter((t) => Number.isFinite(a.loss[t]) && a.loss[t] > 0)
      .map((t) => ({
        step: t,
        etaT: t * a.eta,
        loss: a.loss[t],
        arm:
          a.factor === null
            ? `η_small = ${fmt(a.eta)}`
            : `η = ${a.factor}·2/λ(θ_s) = ${fmt(a.eta)}${a.diverged ? ' (diverged)' : ''}`,
      })),
  );
  const panel = (field: string, title: string): object => ({
    width: 300,
    height: 240,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field, type: 'quantitative', title },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'train loss' },
      color: { field: 'arm', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 300 } },
    },
  });
  return spec({
    title: `E2: the switch from θ_s, seed ${s.seed} (${r.scale})`,
    hconcat: [panel('step', 'steps after the switch'), panel('etaT', 'gradient-flow time ηt')],
  });
}

function testSpec(r: EscapeResult): TopLevelSpec {
  const values = r.seeds.flatMap((s) =>
    s.tests
      .filter((t) => !t.diverged)
      .map((t) => ({
        barrier: Math.max(t.barrier, 1e-8),
        ratio: t.distanceReturn / t.distanceEnd,
        arm: t.factor === null ? 'η_small (control)' : `η = ${t.factor}·2/λ(θ_s)`,
        escaped: t.escaped ? 'escaped' : 'not escaped',
        seed: s.seed,
      })),
  );
  const e = r.config.escape;
  return spec({
    title: `E2: the escape test — barrier and return (${r.scale})`,
    width: 420,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'barrier', type: 'quantitative', scale: { type: 'log' }, title: 'loss barrier on θ_s → θ_end' },
          y: { field: 'ratio', type: 'quantitative', title: '‖θ_return − θ_s‖ / ‖θ_end − θ_s‖' },
          color: { field: 'arm', type: 'nominal', title: null },
          shape: { field: 'escaped', type: 'nominal', title: null },
        },
      },
      {
        data: { values: [{ x: e.barrierMin }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#c00' },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        data: { values: [{ y: e.returnFraction }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#c00' },
        encoding: { y: { field: 'y', type: 'quantitative' } },
      },
    ],
  });
}

function lineSpec(r: EscapeResult): TopLevelSpec | null {
  const s = r.seeds.find((x) => x.tests.some((t) => !t.diverged));
  if (!s) return null;
  const values = s.tests
    .filter((t) => !t.diverged)
    .flatMap((t) =>
      t.alpha.map((a, i) => ({
        alpha: a,
        loss: t.line[i],
        arm: t.factor === null ? 'η_small end (control)' : `η = ${t.factor}·2/λ(θ_s) end`,
      })),
    );
  return spec({
    title: `E2: train loss on the segment θ_s → θ_end, seed ${s.seed} (${r.scale})`,
    width: 420,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'alpha', type: 'quantitative', title: 'α  (θ = (1−α)θ_s + α·θ_end)' },
      y: { field: 'loss', type: 'quantitative', title: 'train loss' },
      color: { field: 'arm', type: 'nominal', title: null },
    },
  });
}

function flowSpec(r: EscapeResult): TopLevelSpec | null {
  const flows = r.seeds.filter((s) => s.flow !== null);
  if (flows.length === 0) return null;
  const first = flows[0];
  const raw = first.flow!.arms.flatMap((a) =>
    a.points.map((p) => ({ tl: p.t * first.lambda0.value, distance: p.distance, arm: a.label })),
  );
  const rel = flows.flatMap((s) =>
    s.flow!.arms.flatMap((a) =>
      a.points
        .filter((p) => p.flowTravel > 0)
        .map((p) => ({
          tl: p.t * s.lambda0.value,
          ratio: p.distance / p.flowTravel,
          arm: a.label,
          line: `${a.label}-${s.seed}`,
        })),
    ),
  );
  const x = { field: 'tl', type: 'quantitative', title: 'time t·λ₀  (t = η·k)' };
  const color = { field: 'arm', type: 'nominal', title: null };
  return spec({
    title: `E2: GD against the gradient flow from θ₀ (${r.scale})`,
    hconcat: [
      {
        title: `seed ${first.seed}`,
        width: 320,
        height: 240,
        data: { values: raw },
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'distance', type: 'quantitative', title: '‖θ_GD(k) − θ_flow(ηk)‖' }, color },
      },
      {
        title: `every seed with the flow (n = ${flows.length})`,
        width: 320,
        height: 240,
        data: { values: rel },
        mark: { type: 'line', opacity: 0.7 },
        encoding: {
          x,
          y: {
            field: 'ratio',
            type: 'quantitative',
            scale: { type: 'log' },
            title: '‖θ_GD − θ_flow‖ / ‖θ_flow(t) − θ₀‖',
          },
          color,
          detail: { field: 'line' },
        },
      },
    ],
  });
}

function spectrumSpec(r: EscapeResult): TopLevelSpec | null {
  const s = r.seeds.find((x) => x.spectrum.length > 0);
  if (!s) return null;
  const name = (at: string): string => (at === 'thetaS' ? 'θ_s' : `end of ${at}`);
  const values = s.spectrum.flatMap((x) =>
    x.grid.map((g, i) => ({ lambda: g, density: Math.max(x.density[i], 1e-8), at: name(x.at) })),
  );
  const rules = s.spectrum.flatMap((x) => [
    { lambda: x.lambdaMax, at: name(x.at) },
    { lambda: x.lambdaMin, at: name(x.at) },
  ]);
  return spec({
    title: `E2: Hessian eigenvalue density at θ_s and after the switch, seed ${s.seed} (${r.scale})`,
    width: 520,
    height: 280,
    layer: [
      {
        data: { values },
        mark: { type: 'line' },
        encoding: {
          x: { field: 'lambda', type: 'quantitative', title: 'Hessian eigenvalue' },
          y: { field: 'density', type: 'quantitative', scale: { type: 'log' }, title: 'density (floored at 1e-8)' },
          color: { field: 'at', type: 'nominal', title: null },
        },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [4, 3] },
        encoding: { x: { field: 'lambda', type: 'quantitative' }, color: { field: 'at', type: 'nominal' } },
      },
    ],
  });
}

export async function escapeFigures(r: EscapeResult): Promise<Figure[]> {
  const base = describe(r);
  const c = r.config;
  const figs: Figure[] = [];
  figs.push({
    id: 'e2-catapult',
    title: 'E2: catapult phase diagram',
    caption:
      `From θ₀, GD at η = (η·λ₀)/λ_max(θ₀) for ${c.catapult.etaLambda.length} values of η·λ₀ (${c.catapult.etaLambda.join(', ')}), ${c.catapult.steps} steps each, every seed. ` +
      `Left: the spike max L(θ_t)/L(θ₀) (capped at the divergence bound). Right: λ_max at the end relative to the stability threshold 2/η. ` +
      `Dashed: η·λ₀ = 2. Regimes by the rule fixed in the config: ${catapultRuleText(c.catapult)}. ${base}`,
    ...(await renderChart(catapultSpec(r))),
  });
  figs.push({
    id: 'e2-eos',
    title: 'E2: edge of stability',
    caption: `From θ₀, GD at η·λ₀ = ${c.eos.etaLambda.join(', ')} for ${c.eos.steps} steps; λ_max every ${c.eos.measureEvery} steps. Left: the first seed, with each arm's 2/η dashed. Right: every seed as λ_max·η/2, so that 1 is the stability threshold 2/η. ${base}`,
    ...(await renderChart(eosSpec(r))),
  });
  const sw = switchSpec(r);
  if (sw)
    figs.push({
      id: 'e2-switch',
      title: 'E2: the switch from θ_s',
      caption:
        `From θ_s (GD at η_small until ${minimumRuleText(c.converge)}), GD at η = m·2/λ_max(θ_s), m = ${c.switch.largeFactors.join(', ')}, for ${c.switch.steps} steps, and at η_small for as many steps as match ` +
        `the largest arm's gradient-flow time ηt. Left against steps, right against ηt. First seed only. ${base}`,
      ...(await renderChart(sw)),
    });
  figs.push({
    id: 'e2-escape-test',
    title: 'E2: the escape test',
    caption:
      `Each point is one arm of one seed (diverged arms omitted). Escape is the upper-right region: ${escapeRuleText(c.escape)}. Red dashed lines: the thresholds; a barrier of 0 is drawn at 1e-8 (log axis). ` +
      `The η_small control is the small arm's end point at equal ηt. ${base}`,
    ...(await renderChart(testSpec(r))),
  });
  const line = lineSpec(r);
  if (line)
    figs.push({
      id: 'e2-interpolation',
      title: 'E2: loss on the segment from θ_s',
      caption: `Train loss at (1−α)θ_s + α·θ_end for ${c.interpolationPoints} values of α, for every arm's end point, first seed. The barrier is the largest excess over the straight line between the end losses. ${base}`,
      ...(await renderChart(line)),
    });
  const flow = flowSpec(r);
  if (flow) {
    const flows = r.seeds.filter((s) => s.flow !== null);
    const f = flows[0].flow!;
    figs.push({
      id: 'e2-flow',
      title: 'E2: GD against the gradient flow',
      caption:
        `From θ₀, the gradient flow θ' = −∇L(θ) (Dormand–Prince 5(4), rtol ${c.flow.rtol}, atol ${c.flow.atol}, step ≤ ${c.flow.alpha}/λ_max) and GD at η·λ₀ = ${c.eos.etaLambda.join(', ')} and at η_small, ` +
        `each run until it covers the fastest arm's time t_max = ${fmt(f.horizonLambda0, 3)}/λ₀ and compared at ${c.flow.points} matched times t = η·k (exact distances of the full parameter vectors). ` +
        `Left: first seed (flow: ${f.gradients} gradients, ${f.accepted} steps, ${f.rejected} rejected). Right: the distance relative to how far the flow has moved, every seed with the flow (the first ${flows.length}). ` +
        `Batch norm: ${f.batchNorm}. ${base}`,
      ...(await renderChart(flow)),
    });
  }
  const density = spectrumSpec(r);
  if (density) {
    const at = (i: number) => r.seeds.map((s) => s.spectrum[i]);
    const q = (i: number, k: 'lambdaMax' | 'lambdaMin' | 'trace') => spreadText(at(i).map((x) => x?.[k]));
    const first = r.seeds.find((s) => s.spectrum.length > 0)!.spectrum[0];
    figs.push({
      id: 'e2-spectrum',
      title: 'E2: Hessian eigenvalue density',
      caption:
        `Stochastic Lanczos quadrature (${c.spectrum.probes} Rademacher probes × ${c.spectrum.steps} Lanczos steps, Gaussian broadening σ = ${fmt(first.sigma, 3)}) on the ${r.data.sharpnessSubset}-example subset, ` +
        `at θ_s and at the end of the largest switch arm that escaped (else the largest that did not diverge); dashed: λ_max and λ_min of each. ` +
        `Over seeds at θ_s: λ_max ${q(0, 'lambdaMax')}; λ_min ${q(0, 'lambdaMin')}; trace ${q(0, 'trace')}. ` +
        `After the switch: λ_max ${q(1, 'lambdaMax')}; λ_min ${q(1, 'lambdaMin')}; trace ${q(1, 'trace')}. Batch norm: ${first.batchNorm}. ${base}`,
      ...(await renderChart(density)),
    });
  }
  return figs;
}
