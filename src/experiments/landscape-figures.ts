/**
 * Figures of E1 (landscape), built from a `LandscapeResult` alone (no native calls):
 *  - paper-1d: the function with M, P(M), x† and x* marked, and GD iterates at a small and a large γ;
 *  - per family: success against γ with the window shaded and the median/IQR band over instances
 *    (starts in W at x*, starts in M at their x†);
 *  - per noise-arm instance: a heatmap of the settled fraction near x* over σ × (arm, γ).
 * Every caption states the scale, the family, the instances, the starts and what was measured.
 */
import type { TopLevelSpec } from 'vega-lite';

import { renderChart, type Figure } from '../report/plot.js';
import type { LandscapeInstanceResult, LandscapeResult } from './landscape.js';
import { medianIqr, summarizeFamilies } from './landscape-verdicts.js';

export type { Figure } from '../report/plot.js';

const fmt = (x: number | null, p = 3): string =>
  x === null ? '—' : Number.isFinite(x) ? Number(x.toPrecision(p)).toString() : String(x);
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The paper's 1-D illustration (native/landscape.cpp paper1d_eval), for drawing. */
export function paper1dValue(x: number): number {
  if (x < 6 || x > 7) return 20 * x * x;
  const t = x - 6.5;
  return t * t * (6780 + t * (2080 + t * (-13520 + t * -4160)));
}

function paperSpec(result: LandscapeResult, r: LandscapeInstanceResult): { spec: TopLevelSpec; caption: string } {
  const K = r.constants;
  const c = K.dips[0];
  const xd = c.xDagger[0];
  const curve = Array.from({ length: 801 }, (_, k) => {
    const x = 4.5 + (4 * k) / 800;
    return { x, f: paper1dValue(x) };
  });
  const regions = [
    { a: xd - c.rM, b: xd + c.rM, region: `M (μ† = ${fmt(c.muDagger)})` },
    {
      a: xd - 2 * c.supportRadius,
      b: xd - c.supportRadius,
      region: `P(M) (L = ${fmt(c.ring.L)}, μ* = ${fmt(c.ring.muStar)})`,
    },
    {
      a: xd + c.supportRadius,
      b: xd + 2 * c.supportRadius,
      region: `P(M) (L = ${fmt(c.ring.L)}, μ* = ${fmt(c.ring.muStar)})`,
    },
  ];
  const iterates = r.trajectories.flatMap(
    (t) =>
      t.points
        .slice(0, 60)
        .map((p, k) => ({
          x: p[0],
          f: paper1dValue(p[0]),
          step: k * t.every,
          run: `${t.label} γ = ${fmt(t.eta)}`,
          start: t.startIndex,
        }))
        .filter((p) => p.x >= 4.5 && p.x <= 8.5), // later iterates leave the drawn window towards x* = 0
  );
  const marks = [
    { x: xd, f: 0, label: 'x†' },
    {
      x: Math.min(8.4, Math.max(4.6, r.minima.points[r.minima.globalIndex][0])),
      f: 0,
      label: 'x* = 0 (off the left edge)',
    },
  ];
  const spec = {
    $schema: SCHEMA,
    title: `E1 paper-1d: f(x) = 20x² with the quintic dip on [6, 7] (${result.scale})`,
    width: 560,
    height: 300,
    layer: [
      {
        data: { values: regions },
        mark: { type: 'rect', opacity: 0.18 },
        encoding: {
          x: { field: 'a', type: 'quantitative', scale: { domain: [4.5, 8.5] }, title: 'x' },
          x2: { field: 'b' },
          color: { field: 'region', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
        },
      },
      {
        data: { values: curve },
        mark: { type: 'line', color: '#222' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'f', type: 'quantitative', title: 'f(x)' } },
      },
      {
        data: { values: iterates },
        mark: { type: 'point', filled: true, size: 30, opacity: 0.8, clip: true },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'f', type: 'quantitative' },
          shape: {
            field: 'run',
            type: 'nominal',
            title: 'iterates from M (first 60 steps)',
            legend: { orient: 'bottom', labelLimit: 300 },
          },
        },
      },
      {
        data: { values: marks },
        mark: { type: 'text', dy: -8, fontSize: 11 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'f', type: 'quantitative' },
          text: { field: 'label' },
        },
      },
    ],
  } as unknown as TopLevelSpec;
  const caption =
    `Scale ${result.scale}. The paper's 1-D illustration (measured, not assumed: ${K.method}). M = [${fmt(xd - c.rM)}, ${fmt(xd + c.rM)}] (half-strength rule; ` +
    `the gradient pulls towards x† up to ${fmt(c.rOpsc)} from it), μ† = ${fmt(c.muDagger)}; P(M) = the rings of width 0.5 outside [6, 7]; L_global = ${fmt(K.lGlobal)}. ` +
    `Window (2/μ†, μ*/L²] = (${fmt(K.lower)}, ${fmt(K.upper)}], small-step bound μ†/L_global² = ${fmt(K.smallBound)}. ` +
    `Iterates from ${r.trajectories.length / 2} starts in M at γ = ${fmt(r.trajectories[0]?.eta ?? null)} (small) and γ = ${fmt(r.trajectories.at(-1)?.eta ?? null)} (window middle).`;
  return { spec, caption };
}

function successSpec(result: LandscapeResult, family: string): { spec: TopLevelSpec; caption: string } {
  const rs = result.instances.filter((r) => r.family === family);
  const single = rs.length === 1;
  const inC = rs.filter((r) => r.constants.inClass);
  const use = inC.length > 0 ? inC : rs;
  // normalise γ by each instance's window upper end μ*/L² (absolute γ for a single instance)
  const norm = (r: LandscapeInstanceResult): number => (single ? 1 : (r.constants.upper ?? 1));
  const values: object[] = [];
  const count = Math.max(...use.map((r) => r.sweep.filter((c) => c.index >= 0 && c.startSet === 'W').length));
  for (const set of ['W', 'M'] as const)
    for (let i = 0; i < count; i++) {
      const cells = use
        .map((r) => ({ r, c: r.sweep.filter((c) => c.startSet === set && c.index >= 0)[i] }))
        .filter((x) => x.c);
      if (cells.length === 0) continue;
      const ys = cells.map(({ c }) => (set === 'W' ? c.success : c.stay));
      const xs = medianIqr(cells.map(({ r, c }) => c.eta / norm(r)));
      const s = medianIqr(ys);
      values.push({
        eta: xs.median,
        median: s.median,
        q1: s.q1,
        q3: s.q3,
        metric: set === 'W' ? 'starts in W: share at x*' : 'starts in M: share at x†',
      });
    }
  const lows = medianIqr(use.map((r) => (r.constants.lower ?? NaN) / norm(r)).filter(Number.isFinite));
  const ups = medianIqr(use.map((r) => (r.constants.upper ?? NaN) / norm(r)).filter(Number.isFinite));
  const smalls = medianIqr(use.map((r) => (r.constants.smallBound ?? NaN) / norm(r)).filter(Number.isFinite));
  const windowRect =
    Number.isFinite(lows.median) && Number.isFinite(ups.median) && lows.median < ups.median
      ? [{ a: lows.median, b: ups.median }]
      : [];
  const rules = Number.isFinite(smalls.median) ? [{ x: smalls.median, label: 'μ†/L_global²' }] : [];
  const xTitle = single ? 'step size γ' : 'γ / (μ*/L²) of each instance';
  const spec = {
    $schema: SCHEMA,
    title: `E1 ${family}: outcome vs step size (${result.scale}, ${use.length} instance${use.length > 1 ? 's' : ''})`,
    width: 560,
    height: 300,
    layer: [
      {
        data: { values: windowRect },
        mark: { type: 'rect', color: '#2a9d8f', opacity: 0.15 },
        encoding: { x: { field: 'a', type: 'quantitative', scale: { type: 'log' } }, x2: { field: 'b' } },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        data: { values },
        mark: { type: 'area', opacity: 0.25 },
        encoding: {
          x: { field: 'eta', type: 'quantitative', scale: { type: 'log' }, title: xTitle },
          y: { field: 'q1', type: 'quantitative' },
          y2: { field: 'q3' },
          color: { field: 'metric', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
        },
      },
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'eta', type: 'quantitative', scale: { type: 'log' } },
          y: {
            field: 'median',
            type: 'quantitative',
            scale: { domain: [0, 1.02] },
            title: 'share of starts (median over instances, IQR band)',
          },
          color: { field: 'metric', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
        },
      },
    ],
  } as unknown as TopLevelSpec;
  const caption =
    `Scale ${result.scale}. Family ${family} (${rs[0].kind}, d = ${rs[0].instance.dim}, ${rs[0].instance.dips} dip(s)): ${use.length} of ${rs.length} instances ` +
    `(${inC.length > 0 ? 'those in C_l' : 'none is in C_l; all shown'}), generator seeds ${rs[0].config.seed}…${rs[0].config.seed + rs.length - 1}. ` +
    `N = ${result.config.points} starts per set (seed ${result.config.seeds.starts}), T = ${result.config.steps} steps. Shaded: the window (2/μ†, μ*/L²]` +
    `${single ? '' : ' at the median over instances of each bound'}; dashed: the small-step bound μ†/L_global². Line: median over instances; band: IQR. ` +
    `"At x*" = x_T within ${fmt(rs[0].classifyRadius)} of x*.`;
  return { spec, caption };
}

function noiseSpec(result: LandscapeResult, r: LandscapeInstanceResult): { spec: TopLevelSpec; caption: string } {
  const values = r.noise.map((c) => ({
    std: c.stdFactor,
    row:
      c.arm === 'large'
        ? `large γ = ${fmt(c.eta)} (T = ${c.steps})`
        : `γ = ${fmt(c.eta)}, ${c.arm === 'small-T' ? 'equal T' : 'equal γT'} (T = ${c.steps})`,
    settled: c.settled,
    label: fmt(c.settled, 2),
  }));
  const spec = {
    $schema: SCHEMA,
    title: `E1 ${r.name}: settled fraction near x* under uniform noise (${result.scale})`,
    width: 460,
    height: 240,
    layer: [
      {
        data: { values },
        mark: 'rect',
        encoding: {
          x: { field: 'std', type: 'ordinal', title: 'σ / sup‖∇f‖ on M', axis: { format: '.0e' } },
          y: { field: 'row', type: 'nominal', title: null, axis: { labelLimit: 400 } },
          color: {
            field: 'settled',
            type: 'quantitative',
            scale: { domain: [0, 1], scheme: 'viridis' },
            title: 'settled',
          },
        },
      },
      {
        data: { values },
        mark: { type: 'text', fontSize: 9, color: 'white' },
        encoding: {
          x: { field: 'std', type: 'ordinal' },
          y: { field: 'row', type: 'nominal' },
          text: { field: 'label' },
        },
      },
    ],
  } as unknown as TopLevelSpec;
  const capped = r.noise.filter((c) => c.epsilonCapped).length;
  const caption =
    `Scale ${result.scale}. ${r.name}: ${result.config.noise.points} starts uniform in M; x_{t+1} = x_t − γ(∇f(x_t) + ξ_t), ξ_t uniform on [−σ, σ]^d (noise seed ${result.config.seeds.noise}). ` +
    `Settled = mean over starts of the share of the last 10 % of iterates within ε of x*, ε = max(classify radius, ${result.config.noise.jitterFactor} × the stationary jitter at x*), ` +
    `capped at half the distance from x* to the dip (${capped} of ${r.noise.length} cells capped: there the jitter fills the basin). Small γ = ${result.config.noise.etaFactors.join(', ')} × μ†/L_global², ` +
    `equal T = ${result.config.steps} and equal γT to the window-middle γ (steps capped at ${result.config.noise.maxSteps}).`;
  return { spec, caption };
}

export async function landscapeFigures(result: LandscapeResult): Promise<Figure[]> {
  const out: Figure[] = [];
  const paper = result.instances.find(
    (r) => r.kind === 'paper-1d' && r.trajectories.length > 0 && r.constants.dips.length > 0,
  );
  if (paper) {
    const { spec, caption } = paperSpec(result, paper);
    out.push({
      id: 'e1-paper-1d-function',
      title: 'E1 paper-1d: the function, M, P(M) and GD iterates',
      caption,
      ...(await renderChart(spec)),
    });
  }
  for (const f of summarizeFamilies(result).families) {
    const { spec, caption } = successSpec(result, f.family);
    out.push({
      id: `e1-${f.family}-success`,
      title: `E1 ${f.family}: outcome vs step size with the window`,
      caption,
      ...(await renderChart(spec)),
    });
  }
  for (const r of result.instances.filter((x) => x.noise.length > 0)) {
    const { spec, caption } = noiseSpec(result, r);
    out.push({
      id: `e1-${r.name.replace(/#/g, '-')}-noise`,
      title: `E1 ${r.name}: noise heatmap`,
      caption,
      ...(await renderChart(spec)),
    });
  }
  return out;
}
