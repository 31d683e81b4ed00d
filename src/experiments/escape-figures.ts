/**
 * Figures of E2 (escape), built from an `EscapeResult` alone (no native calls):
 *  - train loss vs step for the η grid from θ₀;
 *  - ‖θ_t − θ₀‖ and the distance to the η_small trajectory at the same step;
 *  - sharpness λ_max vs step with a horizontal 2/η rule per arm;
 *  - the escape: phase A at η_small, then (a) η_small and (b) η_large from θ_s — loss, distance
 *    from θ_s, test accuracy and λ_max against 2/η;
 *  - the train loss on the straight lines between the end points.
 * Every caption states the scale, data set, model, seed and what was measured.
 */
import type { TopLevelSpec } from 'vega-lite';

import { renderChart, type Figure } from '../report/plot.js';
import { fmt } from './escape-setup.js';
import type { EscapeArm, EscapeResult } from './escape.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Indices 0..n−1 thinned to about `max` (always keeps the first and the last). */
export function thinIndices(n: number, max = 400): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const stride = Math.ceil(n / max);
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

function armLabel(a: EscapeArm, r: EscapeResult): string {
  const tag = a.eta === r.etaSmall ? ' (small)' : a.eta === r.etaLarge ? ' (large)' : '';
  return `η = ${fmt(a.eta)}${tag}${a.diverged ? ' — diverged' : ''}`;
}

function describe(r: EscapeResult): string {
  const fb = r.data.fallback ? ` FALLBACK: ${r.data.fallback}.` : '';
  return (
    `Scale: ${r.scale}. Data: ${r.data.description}; inputs standardised with train statistics.${fb} Model: ${r.model.description}, ` +
    `init seed ${r.config.seed} (the same θ₀ for every arm). Full-batch GD (no momentum, no weight decay). ` +
    `λ_max = top Hessian eigenvalue of the mean train loss on a fixed ${r.data.sharpnessSubset}-example train subset ` +
    `(power iteration on finite-difference Hessian-vector products, ≤ ${r.config.sharpness.iterations} iterations). ` +
    `Rule: ${r.rule}: λ_max(θ₀) = ${fmt(r.lambda0.value)}, η_small = ${fmt(r.etaSmall)}, λ_max(θ_s) = ${fmt(r.lambdaS.value)}, ` +
    `η_large = ${fmt(r.etaLarge)}${r.probeHalvings ? ` (after ${r.probeHalvings} halving(s) of ${fmt(r.etaLargeRule)} by the divergence probe)` : ''}.`
  );
}

function etaColor(r: EscapeResult): object {
  const labels = r.grid.map((a) => armLabel(a, r));
  return { field: 'arm', type: 'nominal', title: null, sort: labels, scale: { domain: labels, scheme: 'viridis' }, legend: { orient: 'bottom', columns: 3, labelLimit: 300 } };
}

function lossSpec(r: EscapeResult): TopLevelSpec {
  const values = r.grid.flatMap((a) =>
    thinIndices(a.loss.length)
      .filter((t) => Number.isFinite(a.loss[t]) && a.loss[t] > 0)
      .map((t) => ({ step: t, loss: a.loss[t], arm: armLabel(a, r) })),
  );
  return {
    $schema: SCHEMA,
    title: `E2: full-batch train loss from the same θ₀, η grid (${r.scale})`,
    width: 520,
    height: 300,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'GD step t' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'train loss L(θ_t)' },
      color: etaColor(r),
    },
  } as unknown as TopLevelSpec;
}

function distanceSpec(r: EscapeResult): TopLevelSpec {
  const rows = (field: 'distStart' | 'distRef') =>
    r.grid.flatMap((a) =>
      thinIndices(a.recordSteps.length)
        .filter((i) => a[field][i] !== null && Number.isFinite(a[field][i] as number) && !(field === 'distRef' && a.eta === r.etaSmall))
        .map((i) => ({ step: a.recordSteps[i], d: a[field][i], arm: armLabel(a, r) })),
    );
  const panel = (title: string, values: object[], ytitle: string): object => ({
    title,
    width: 380,
    height: 280,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'GD step t' },
      y: { field: 'd', type: 'quantitative', title: ytitle },
      color: etaColor(r),
    },
  });
  return {
    $schema: SCHEMA,
    title: `E2: how far the trajectories go, and how far apart (${r.scale})`,
    hconcat: [
      panel('distance from the start ‖θ_t − θ₀‖', rows('distStart'), '‖θ_t − θ₀‖'),
      panel('distance to the η_small trajectory at the same step', rows('distRef'), '‖θ_t − θ_t(η_small)‖'),
    ],
  } as unknown as TopLevelSpec;
}

function sharpnessLayers(
  arms: Array<{ label: string; eta: number; measures: Array<{ step: number; lambdaMax: number }>; offset?: number; rule?: boolean }>,
  colorEnc: object,
  xTitle = 'GD step',
): object[] {
  const pts = arms.flatMap((a) =>
    a.measures.filter((m) => Number.isFinite(m.lambdaMax) && m.lambdaMax > 0).map((m) => ({ step: m.step + (a.offset ?? 0), lambda: m.lambdaMax, arm: a.label })),
  );
  const rules = arms.filter((a) => a.rule !== false).map((a) => ({ arm: a.label, y: 2 / a.eta, text: `2/η = ${fmt(2 / a.eta)}` }));
  return [
    { data: { values: pts }, mark: { type: 'line', point: true }, encoding: { x: { field: 'step', type: 'quantitative', title: xTitle }, y: { field: 'lambda', type: 'quantitative', scale: { type: 'log' }, title: 'λ_max (log)' }, color: colorEnc } },
    { data: { values: rules }, mark: { type: 'rule', strokeDash: [5, 3] }, encoding: { y: { field: 'y', type: 'quantitative' }, color: colorEnc } },
    { data: { values: rules }, mark: { type: 'text', align: 'left', dx: 4, dy: -5, fontSize: 9, x: 0 }, encoding: { y: { field: 'y', type: 'quantitative' }, text: { field: 'text' }, color: colorEnc } },
  ];
}

function sharpnessSpec(r: EscapeResult): TopLevelSpec {
  const arms = r.grid.map((a) => ({ label: armLabel(a, r), eta: a.eta, measures: a.measures }));
  return {
    $schema: SCHEMA,
    title: `E2: sharpness λ_max along GD from θ₀ vs the stability threshold 2/η (${r.scale})`,
    width: 520,
    height: 300,
    layer: sharpnessLayers(arms, etaColor(r)),
  } as unknown as TopLevelSpec;
}

function escapeSpec(r: EscapeResult): TopLevelSpec {
  const T = r.converge.steps;
  const a = r.escape.small;
  const b = r.escape.large;
  const labA = `(a) continue at η_small = ${fmt(a.eta)}`;
  const labB = `(b) switch to η_large = ${fmt(b.eta)}${b.diverged ? ' — diverged' : ''}`;
  const labC = `phase A: GD at η_small from θ₀`;
  const domain = [labC, labA, labB];
  const color = { field: 'arm', type: 'nominal', title: null, scale: { domain, range: ['#888888', '#1f77b4', '#d62728'] }, legend: { orient: 'bottom', labelLimit: 400 } };
  const lossVals = [
    ...thinIndices(r.converge.loss.length).map((t) => ({ step: t, loss: r.converge.loss[t], arm: labC })),
    ...[a, b].flatMap((x, j) => thinIndices(x.loss.length).map((t) => ({ step: T + t, loss: x.loss[t], arm: j ? labB : labA }))),
  ].filter((v) => Number.isFinite(v.loss) && v.loss > 0);
  const distVals = [a, b].flatMap((x, j) =>
    thinIndices(x.recordSteps.length).map((i) => ({ step: T + x.recordSteps[i], d: x.distStart[i], arm: j ? labB : labA })),
  );
  const accVals = [
    ...r.converge.measures.map((m) => ({ step: m.step, acc: m.testAccuracy, arm: labC })),
    ...[a, b].flatMap((x, j) => x.measures.map((m) => ({ step: T + m.step, acc: m.testAccuracy, arm: j ? labB : labA }))),
  ];
  const x = { field: 'step', type: 'quantitative', title: 'GD step (switch at the dotted line = θ_s)', scale: { domain: [0, T + Math.max(a.steps, b.steps)], nice: false } };
  const switchRule = { data: { values: [{ step: T }] }, mark: { type: 'rule', color: '#444', strokeDash: [2, 2] }, encoding: { x } };
  const panel = (title: string, values: object[], y: object, extra: object[] = []): object => ({
    title,
    width: 560,
    height: 170,
    layer: [{ data: { values }, mark: { type: 'line', strokeWidth: 1.2 }, encoding: { x, y, color } }, switchRule, ...extra],
  });
  const sharp = sharpnessLayers(
    [
      { label: labC, eta: r.converge.eta, measures: r.converge.measures, rule: false },
      { label: labA, eta: a.eta, measures: a.measures, offset: T },
      { label: labB, eta: b.eta, measures: b.measures, offset: T },
    ],
    color,
    x.title,
  );
  return {
    $schema: SCHEMA,
    title: `E2: escape from θ_s (${r.scale})`,
    vconcat: [
      panel('train loss (log)', lossVals, { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'train loss' }),
      panel('distance from θ_s', distVals, { field: 'd', type: 'quantitative', title: '‖θ_t − θ_s‖' }),
      panel('test accuracy', accVals, { field: 'acc', type: 'quantitative', scale: { zero: false }, title: 'test accuracy' }),
      { title: 'sharpness λ_max vs 2/η (dashed)', width: 560, height: 170, layer: [...sharp, switchRule] },
    ],
  } as unknown as TopLevelSpec;
}

function interpolationSpec(r: EscapeResult): TopLevelSpec {
  const values = r.interpolation.flatMap((line) =>
    line.alpha.map((al, i) => ({ alpha: al, loss: line.loss[i], acc: line.testAccuracy[i], line: `${line.from} → ${line.to} (barrier ${fmt(line.barrier)})` })),
  );
  const enc = (field: string, title: string, log: boolean): object => ({
    width: 380,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'alpha', type: 'quantitative', title: 'α (θ = (1−α)·from + α·to)' },
      y: { field, type: 'quantitative', title, ...(log ? { scale: { type: 'log' } } : { scale: { zero: false } }) },
      color: { field: 'line', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400, columns: 1 } },
    },
  });
  return {
    $schema: SCHEMA,
    title: `E2: train loss on the straight line between solutions (${r.scale})`,
    hconcat: [enc('loss', 'train loss (log)', true), enc('acc', 'test accuracy', false)],
  } as unknown as TopLevelSpec;
}

/** The E2 figures (SVG + PNG) with captions. */
export async function escapeFigures(r: EscapeResult): Promise<Figure[]> {
  const base = describe(r);
  const gs = r.grid[0];
  const gl = r.grid[r.grid.length - 1];
  const last = <T>(xs: T[]): T | undefined => xs[xs.length - 1];
  const figs: Figure[] = [];
  figs.push({
    id: 'e2-loss',
    title: 'E2: train loss vs step for the η grid',
    caption:
      `Full-batch train loss L(θ_t) (before update t) for ${r.grid.length} learning rates log-spaced from η_small to η_large, all from the same θ₀, ` +
      `${r.config.grid.steps} steps. ${r.grid.filter((a) => a.diverged).length} arm(s) diverged. ${base}`,
    ...(await renderChart(lossSpec(r))),
  });
  figs.push({
    id: 'e2-distance',
    title: 'E2: distance from θ₀ and between trajectories',
    caption:
      `Left: ‖θ_t − θ₀‖ per arm. Right: ‖θ_t(η) − θ_t(η_small)‖, the distance to the η_small trajectory at the same step (recorded every ` +
      `${r.config.recordEvery} step(s)). After ${r.config.grid.steps} steps: ‖θ − θ₀‖ = ${fmt(last(gs.distStart))} (η_small) vs ` +
      `${fmt(last(gl.distStart) ?? null)} (η_large); small–large distance ${fmt(last(gl.distRef) ?? null)}. ${base}`,
    ...(await renderChart(distanceSpec(r))),
  });
  figs.push({
    id: 'e2-sharpness',
    title: 'E2: sharpness vs 2/η',
    caption:
      `λ_max(θ_t) every ${r.config.measureEvery} steps for each arm from θ₀; the dashed horizontal rule of the same colour is that arm's ` +
      `stability threshold 2/η (GD at η is unstable along directions with curvature > 2/η). ${base}`,
    ...(await renderChart(sharpnessSpec(r))),
  });
  const b = r.escape.large;
  const a = r.escape.small;
  const mb = b.diverged ? undefined : last(b.measures);
  const ma = last(a.measures);
  figs.push({
    id: 'e2-escape',
    title: 'E2: escape after switching to a large learning rate',
    caption:
      `Phase A: GD at η_small from θ₀ for ${r.converge.steps} steps (${r.converge.converged ? `reached train loss ≤ ${r.config.converge.loss}` : 'did NOT reach the target loss'}) → θ_s ` +
      `(train loss ${fmt(r.escape.lossAtSwitch)}, test accuracy ${fmt(r.escape.testAccuracyAtSwitch)}, λ_max ${fmt(r.lambdaS.value)}). ` +
      `Then ${r.config.escapeSteps} steps from θ_s of (a) η_small and (b) η_large. ` +
      (b.diverged
        ? `(b) diverged at step ${b.divergedAt}. `
        : `(b): ‖θ − θ_s‖ = ${fmt(last(b.distStart))} vs ${fmt(last(a.distStart))} for (a); train loss ${fmt(mb?.trainLoss)} vs ${fmt(ma?.trainLoss)}; ` +
          `test accuracy ${fmt(mb?.testAccuracy)} vs ${fmt(ma?.testAccuracy)}; final λ_max ${fmt(mb?.lambdaMax)} vs 2/η_large = ${fmt(2 / r.etaLarge)}. `) +
      `Escaped (‖θ_b − θ_s‖ ≥ 2‖θ_a − θ_s‖, no divergence): ${r.escaped}. ${base}`,
    ...(await renderChart(escapeSpec(r))),
  });
  if (r.interpolation.length) {
    figs.push({
      id: 'e2-interpolation',
      title: 'E2: loss along the line between the solutions',
      caption:
        `Mean train loss (left) and test accuracy (right) at θ = (1−α)·from + α·to for ${r.config.interpolationPoints} values of α; barrier = ` +
        `max over α of the loss above the straight line between the end losses. ${base}`,
      ...(await renderChart(interpolationSpec(r))),
    });
  }
  return figs;
}
