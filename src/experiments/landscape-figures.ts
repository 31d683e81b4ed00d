/**
 * Figures of E1 (landscape), built from a `LandscapeResult` alone (no native calls): per instance
 *  - success rate vs step size η (log x) with the thresholds 2/max L_loc, 2/min L_loc and 2/μ,
 *  - the class mix (global / local / oscillating / diverged) vs η, stacked,
 *  - the noise-arm heatmaps over (η, noise std), one per annealing setting,
 *  - example trajectories: over the curve (1-D) or over a heatmap of f (2-D).
 * Every caption states the scale, the instance, the seeds and what was measured.
 */
import type { TopLevelSpec } from 'vega-lite';

import { renderChart, type Figure } from '../report/plot.js';
import type { LandscapeInstanceResult, LandscapeResult } from './landscape.js';

export type { Figure } from '../report/plot.js';

const fmt = (x: number, p = 3): string => (Number.isFinite(x) ? Number(x.toPrecision(p)).toString() : String(x));
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** f(x) = μ/2‖x‖² − Σ aᵢ exp(−‖x − cᵢ‖²/(2σᵢ²)) from the saved instance parameters. */
export function landscapeValue(inst: LandscapeInstanceResult['instance'], x: number[]): number {
  const d = inst.dim;
  let f = 0;
  for (let j = 0; j < d; j++) f += x[j] * x[j];
  f *= 0.5 * inst.mu;
  for (let i = 0; i < inst.dips; i++) {
    let r2 = 0;
    for (let j = 0; j < d; j++) {
      const t = x[j] - inst.centers[i * d + j];
      r2 += t * t;
    }
    f -= inst.depths[i] * Math.exp(-r2 / (2 * inst.widths[i] * inst.widths[i]));
  }
  return f;
}

function describe(result: LandscapeResult, r: LandscapeInstanceResult): string {
  const c = result.config;
  const t = r.thresholds;
  return (
    `Scale: ${result.scale}. Instance "${r.name}": d = ${r.instance.dim}, ${r.instance.dips} dips, generator seed ${r.config.seed}, ` +
    `μ = ${fmt(t.mu)}; ${r.minima.points.length - 1} local minima with L_loc/μ in [${fmt(t.lLocMin / t.mu)}, ${fmt(t.lLocMax / t.mu)}]; ` +
    `x* verified global: ${r.minima.verified} (gap ${fmt(r.minima.gap)}). ` +
    `Thresholds: 2/max L_loc = ${fmt(t.etaSharp)}, 2/min L_loc = ${fmt(t.etaLocal)}, 2/λmax(x*) = ${fmt(t.etaGlobal)}, 2/μ = ${fmt(t.etaMu)}. ` +
    `N = ${c.points} starts uniform in ‖x‖ ≤ ${fmt(r.initRadius)} (seed ${c.seeds.starts}), T = ${c.steps} steps` +
    `, noise seed ${c.seeds.noise}. "Success" = x_T within ${fmt(r.classifyRadius)} (${c.classifyRadiusFactor}·min σ) of x*; ` +
    `"basin" = gradient flow from x_T reaches x*.`
  );
}

function thresholdRules(r: LandscapeInstanceResult): Array<{ eta: number; label: string }> {
  const t = r.thresholds;
  const rules = [
    { eta: t.etaSharp, label: '2/max L_loc' },
    { eta: t.etaLocal, label: '2/min L_loc' },
    { eta: t.etaMu, label: '2/μ' },
  ];
  if (Math.abs(t.etaGlobal - t.etaMu) > 1e-3 * t.etaMu) rules.push({ eta: t.etaGlobal, label: '2/λmax(x*)' });
  return rules;
}

function ruleLayers(r: LandscapeInstanceResult, yTop: number): object[] {
  const data = { values: thresholdRules(r).map((q, i) => ({ ...q, y: yTop - 0.07 * i })) };
  return [
    { data, mark: { type: 'rule', strokeDash: [4, 3], color: '#444' }, encoding: { x: { field: 'eta', type: 'quantitative' } } },
    {
      data,
      mark: { type: 'text', align: 'left', dx: 3, fontSize: 10, color: '#222' },
      encoding: { x: { field: 'eta', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, text: { field: 'label' } },
    },
  ];
}

function successSpec(result: LandscapeResult, r: LandscapeInstanceResult): TopLevelSpec {
  const values = r.sweep.flatMap((c) => [
    { eta: c.eta, rate: c.success, metric: 'success (ends at x*)' },
    { eta: c.eta, rate: c.basinSuccess, metric: 'in basin of x* (flow from x_T)' },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `E1 ${r.name}: success rate vs step size (${result.scale})`,
    width: 520,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'eta', type: 'quantitative', scale: etaScale(r), title: 'step size η' },
          y: { field: 'rate', type: 'quantitative', scale: { domain: [0, 1.05] }, title: 'fraction of starts' },
          color: { field: 'metric', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
          strokeDash: { field: 'metric', type: 'nominal' },
        },
      },
      ...ruleLayers(r, 1.02),
    ],
  } as unknown as TopLevelSpec;
}

/** x-extent [lo, hi] of each grid cell on a log axis: geometric midpoints between neighbours. */
function logCellEdges(etas: number[]): Array<[number, number]> {
  return etas.map((e, k) => {
    const prev = k > 0 ? etas[k - 1] : (e * e) / etas[1];
    const next = k < etas.length - 1 ? etas[k + 1] : (e * e) / etas[k - 1];
    return [Math.sqrt(prev * e), Math.sqrt(e * next)];
  });
}

function etaScale(r: LandscapeInstanceResult): object {
  const edges = logCellEdges(r.sweep.map((c) => c.eta));
  return { type: 'log', domain: [edges[0][0], edges[edges.length - 1][1]], nice: false };
}

function mixSpec(result: LandscapeResult, r: LandscapeInstanceResult): TopLevelSpec {
  const order = ['global', 'local', 'oscillating', 'diverged'] as const;
  const N = result.config.points;
  const edges = logCellEdges(r.sweep.map((c) => c.eta));
  const values = r.sweep.flatMap((c, k) => {
    let acc = 0;
    return order.map((cls) => {
      const y = acc;
      acc += c.counts[cls] / N;
      return { eta: c.eta, lo: edges[k][0], hi: edges[k][1], cls, y, y2: acc, fraction: c.counts[cls] / N };
    });
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `E1 ${r.name}: where GD ends, by step size (${result.scale})`,
    width: 520,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'rect', opacity: 0.9 },
        encoding: {
          x: { field: 'lo', type: 'quantitative', scale: etaScale(r), title: 'step size η (one column per grid value)' },
          x2: { field: 'hi' },
          y: { field: 'y', type: 'quantitative', title: 'fraction of starts', scale: { domain: [0, 1] } },
          y2: { field: 'y2' },
          color: {
            field: 'cls',
            type: 'nominal',
            title: 'end state',
            scale: { domain: [...order], range: ['#2ca02c', '#d62728', '#ff7f0e', '#7f7f7f'] },
            legend: { orient: 'bottom' },
          },
          tooltip: [{ field: 'eta' }, { field: 'cls' }, { field: 'fraction' }],
        },
      },
      ...ruleLayers(r, 0.98),
    ],
  } as unknown as TopLevelSpec;
}

function noiseSpec(result: LandscapeResult, r: LandscapeInstanceResult, anneal: string): TopLevelSpec {
  const cells = r.noise.filter((c) => c.anneal === anneal);
  const values = cells.flatMap((c) => {
    const etaLabel = `${fmt(c.etaFactor, 2)}·2/maxL (${fmt(c.eta)})`;
    const stdLabel = `${fmt(c.stdFactor, 2)}·s_ref (${fmt(c.std)})`;
    return [
      { etaLabel, eta: c.eta, stdLabel, std: c.std, rate: c.success, metric: 'success: ends at x*' },
      { etaLabel, eta: c.eta, stdLabel, std: c.std, rate: c.basinSuccess, metric: 'in basin of x*' },
    ];
  });
  const panel = (metric: string): object => ({
    title: metric,
    width: 60 * new Set(cells.map((c) => c.eta)).size + 40,
    height: 26 * new Set(cells.map((c) => c.std)).size,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    encoding: {
      x: { field: 'etaLabel', type: 'ordinal', sort: { field: 'eta' }, title: 'step size η', axis: { labelAngle: -30 } },
      y: { field: 'stdLabel', type: 'ordinal', sort: { field: 'std', order: 'descending' }, title: 'gradient-noise std s' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'rate', type: 'quantitative', scale: { domain: [0, 1], scheme: 'viridis' }, title: 'fraction' } } },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'rate', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'datum.rate > 0.6', value: 'black' }, value: 'white' },
        },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `E1 ${r.name}: small steps + gradient noise, anneal = ${anneal} (${result.scale})`,
    data: { values },
    hconcat: [panel('success: ends at x*'), panel('in basin of x*')],
    resolve: { scale: { color: 'shared' } },
  } as unknown as TopLevelSpec;
}

/** At most ~maxPoints frames of a trajectory for drawing: the first 60 all, then evenly spaced, plus the last. */
function thin(points: number[][], maxPoints = 300): Array<[number[], number]> {
  const out: Array<[number[], number]> = [];
  const head = Math.min(60, points.length);
  for (let i = 0; i < head; i++) out.push([points[i], i]);
  const rest = points.length - head;
  if (rest > 0) {
    const stride = Math.max(1, Math.ceil(rest / (maxPoints - head)));
    for (let i = head; i < points.length; i += stride) out.push([points[i], i]);
    if (out[out.length - 1][1] !== points.length - 1) out.push([points[points.length - 1], points.length - 1]);
  }
  return out;
}

function trajectoryLabel(label: string, eta: number, r: LandscapeInstanceResult): string {
  return `${label} step η = ${fmt(eta)} (${fmt(eta / r.thresholds.etaLocal, 2)} × 2/min L_loc)`;
}

function traj1dSpec(result: LandscapeResult, r: LandscapeInstanceResult): TopLevelSpec {
  const R = r.initRadius * 1.1;
  const n = 2000;
  const curve = Array.from({ length: n }, (_, i) => {
    const x = -R + (2 * R * i) / (n - 1);
    return { x, f: landscapeValue(r.instance, [x]) };
  });
  const panels = (['small', 'large'] as const).map((label) => {
    const ts = r.trajectories.filter((t) => t.label === label);
    if (ts.length === 0) return null;
    const pts = ts.flatMap((t, j) =>
      thin(t.points)
        .filter(([p]) => Math.abs(p[0]) <= R)
        .map(([p, step]) => ({ x: p[0], f: landscapeValue(r.instance, p), run: `start #${t.startIndex} → ${t.cls}`, step, j })),
    );
    return {
      title: trajectoryLabel(label, ts[0].eta, r),
      width: 400,
      height: 260,
      layer: [
        {
          data: { values: curve },
          mark: { type: 'line', color: '#999' },
          encoding: { x: { field: 'x', type: 'quantitative', title: 'x' }, y: { field: 'f', type: 'quantitative', title: 'f(x)' } },
        },
        {
          data: { values: pts },
          mark: { type: 'line', point: { size: 18 }, strokeWidth: 0.8 },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { field: 'f', type: 'quantitative' },
            color: { field: 'run', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1 } },
            order: { field: 'step', type: 'quantitative' },
          },
        },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `E1 ${r.name}: GD trajectories over f (${result.scale})`,
    hconcat: panels.filter((p) => p !== null),
    resolve: { scale: { color: 'independent' } },
  } as unknown as TopLevelSpec;
}

function traj2dSpec(result: LandscapeResult, r: LandscapeInstanceResult): TopLevelSpec {
  const R = r.initRadius * 1.05;
  const n = 64; // 64 x 64 cells per panel keeps the SVG near 1.5 MB
  const h = (2 * R) / n;
  const grid: Array<{ x: number; y: number; x2: number; y2: number; f: number }> = [];
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      const x = -R + a * h,
        y = -R + b * h;
      grid.push({ x, y, x2: x + h, y2: y + h, f: landscapeValue(r.instance, [x + h / 2, y + h / 2]) });
    }
  const fs = grid.map((g) => g.f).sort((p, q) => p - q);
  const fDomain = [fs[0], fs[Math.floor(0.98 * (fs.length - 1))]];
  const minima = r.minima.points.map((p, i) => ({ x: p[0], y: p[1], kind: i === r.minima.globalIndex ? 'x*' : 'local min' }));
  const panels = (['small', 'large'] as const).map((label) => {
    const ts = r.trajectories.filter((t) => t.label === label);
    if (ts.length === 0) return null;
    const pts = ts.flatMap((t) =>
      thin(t.points).map(([p, step]) => ({ x: Math.max(-R, Math.min(R, p[0])), y: Math.max(-R, Math.min(R, p[1])), run: `start #${t.startIndex} → ${t.cls}`, step })),
    );
    const scaleXY = { domain: [-R, R], nice: false };
    return {
      title: trajectoryLabel(label, ts[0].eta, r),
      width: 340,
      height: 340,
      layer: [
        {
          data: { values: grid },
          mark: { type: 'rect' },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: scaleXY, title: 'x₁' },
            x2: { field: 'x2' },
            y: { field: 'y', type: 'quantitative', scale: scaleXY, title: 'x₂' },
            y2: { field: 'y2' },
            fill: { field: 'f', type: 'quantitative', scale: { scheme: 'greys', domain: fDomain, clamp: true, reverse: true }, title: 'f(x)' },
          },
        },
        {
          data: { values: pts },
          mark: { type: 'line', point: { size: 12 }, strokeWidth: 1 },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { field: 'y', type: 'quantitative' },
            stroke: { field: 'run', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1 }, scale: { scheme: 'category10' } },
            detail: { field: 'run' },
            order: { field: 'step', type: 'quantitative' },
          },
        },
        {
          data: { values: minima },
          mark: { type: 'point', shape: 'cross', size: 70, filled: true, opacity: 1 },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { field: 'y', type: 'quantitative' },
            color: { field: 'kind', type: 'nominal', scale: { domain: ['x*', 'local min'], range: ['#2ca02c', '#d62728'] }, title: null },
          },
        },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `E1 ${r.name}: GD trajectories over f (darker = lower) (${result.scale})`,
    hconcat: panels.filter((p) => p !== null),
    resolve: { scale: { stroke: 'independent' } },
  } as unknown as TopLevelSpec;
}

function largeStepSummary(r: LandscapeInstanceResult): string {
  const stable = r.sweep.filter((c) => c.eta > r.thresholds.etaLocal && c.eta < r.thresholds.etaGlobal);
  if (stable.length === 0) return 'No grid step size lies between 2/min L_loc and 2/λmax(x*).';
  const lo = Math.min(...stable.map((c) => c.success)),
    hi = Math.max(...stable.map((c) => c.success));
  return `For comparison, noise-free GD with η in (2/min L_loc, 2/λmax(x*)) reaches x* from ${pct(lo)}–${pct(hi)} of the starts.`;
}

/** Renders every E1 figure of `result` (SVG + PNG). */
export async function landscapeFigures(result: LandscapeResult): Promise<Figure[]> {
  const figs: Figure[] = [];
  for (const r of result.instances) {
    const base = describe(result, r);
    const small = r.sweep[0];
    figs.push({
      id: `e1-${r.name}-success`,
      title: `E1 ${r.name}: success rate vs step size`,
      caption:
        `Fraction of noise-free GD runs that end at the global minimum x* (solid) and whose end point lies in the basin of x* (dashed), ` +
        `for ${r.sweep.length} log-spaced step sizes; dashed vertical rules mark the stability thresholds. ` +
        `At the smallest η (${fmt(small.eta)}) success is ${pct(small.success)}. ${largeStepSummary(r)} ${base}`,
      ...(await renderChart(successSpec(result, r))),
    });
    figs.push({
      id: `e1-${r.name}-classes`,
      title: `E1 ${r.name}: end-state mix vs step size`,
      caption:
        `End state of each GD run after T steps, stacked: global (within the radius of x*), local (within the radius of a local minimum), ` +
        `oscillating (finite but at no minimum: still moving, in a cycle, or too slow to converge) and diverged (non-finite or beyond ` +
        `1000× the start radius). ${base}`,
      ...(await renderChart(mixSpec(result, r))),
    });
    for (const anneal of result.config.noise.enabled ? result.config.noise.anneal : []) {
      if (!r.noise.some((c) => c.anneal === anneal)) continue;
      const rule =
        anneal === 'none' ? 'constant std s' : anneal === 'linear' ? 'std s·(1 − t/T), reaching 0 at the end' : 'std s/(1 + 10t/T)';
      figs.push({
        id: `e1-${r.name}-noise-${anneal}`,
        title: `E1 ${r.name}: small step + gradient noise (${anneal})`,
        caption:
          `GD with isotropic Gaussian gradient noise (${rule}) at step sizes below 2/max L_loc, over a log grid of noise std in units of ` +
          `s_ref = max aᵢ/σᵢ·e^{-1/2} = ${fmt(r.noiseRef)} (the steepest pull of a dip), same T as the sweep. Left: fraction ending at x*; ` +
          `right: fraction whose end point lies in the basin of x*. ${largeStepSummary(r)} ${base}`,
        ...(await renderChart(noiseSpec(result, r, anneal))),
      });
    }
    if (r.trajectories.length > 0 && (r.instance.dim === 1 || r.instance.dim === 2)) {
      const spec = r.instance.dim === 1 ? traj1dSpec(result, r) : traj2dSpec(result, r);
      figs.push({
        id: `e1-${r.name}-trajectories`,
        title: `E1 ${r.name}: example GD trajectories`,
        caption:
          `Trajectories of noise-free GD from the same starts at a small step (0.5 × 2/max L_loc: every local minimum is stable) and a large ` +
          `step (min(2 × 2/min L_loc, 0.9 × 2/λmax(x*)): no local minimum is stable). Starts: the first ${Math.ceil(result.config.trajectories.count / 2)} ` +
          `of the N starts that the small step leaves at a local minimum, then the first remaining starts (chosen by this fixed rule, ` +
          `not by hand). Legend: start index → end state.${r.instance.dim === 2 ? ' Points outside the plotted square are clamped to its edge.' : ''} ${base}`,
        ...(await renderChart(spec)),
      });
    }
  }
  return figs;
}
