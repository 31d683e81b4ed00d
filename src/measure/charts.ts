/**
 * Vega-Lite specifications of the measurement figures (data inline, no network): sharpness over
 * training against 2/η, distance between GD and the flow over time, the eigenvalue density, and a
 * loss surface as a heat map with contour-like bands and an optional projected path. Render them
 * with `renderChart` (report/plot.ts) to SVG/PNG.
 */
import type { TopLevelSpec } from 'vega-lite';

/** λ_1..λ_k against training step, with the stability threshold 2/η as a dashed rule. */
export function sharpnessChart(
  series: Array<{ label: string; step: number; value: number }>,
  thresholds: Array<{ label: string; value: number }>,
  title: string,
  options: { zero?: boolean } = {},
): TopLevelSpec {
  // zero: false lets the y axis start near the data (a zoom on values far from 0).
  const scale = options.zero === false ? { scale: { zero: false } } : {};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: series },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'GD step' },
          y: { field: 'value', type: 'quantitative', title: 'Hessian eigenvalue', ...scale },
          color: { field: 'label', type: 'nominal', title: null },
        },
      },
      {
        data: { values: thresholds },
        mark: { type: 'rule', strokeDash: [6, 4] },
        encoding: { y: { field: 'value', type: 'quantitative' }, color: { field: 'label', type: 'nominal' } },
      },
    ],
  } as TopLevelSpec;
}

/** ‖θ_GD(k) − θ_flow(ηk)‖ against time t = ηk, one line per run. */
export function distanceChart(
  rows: Array<{ label: string; t: number; distance: number }>,
  title: string,
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 520,
    height: 300,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'time t = η·k' },
      y: { field: 'distance', type: 'quantitative', title: '‖θ_GD − θ_flow‖' },
      color: { field: 'label', type: 'nominal', title: null },
    },
  } as TopLevelSpec;
}

/** Eigenvalue density on a grid (log-scaled y, as PyHessian plots it; floored at 1e-8). */
export function densityChart(grid: number[], density: number[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 520,
    height: 300,
    data: { values: grid.map((x, i) => ({ lambda: x, density: Math.max(density[i], 1e-8) })) },
    mark: 'line',
    encoding: {
      x: { field: 'lambda', type: 'quantitative', title: 'eigenvalue' },
      y: { field: 'density', type: 'quantitative', scale: { type: 'log' }, title: 'density' },
    },
  } as TopLevelSpec;
}

/**
 * Loss surface loss[j][i] at (x[i], y[j]) as a heat map (log10 loss binned into `bands` colour
 * bands, which reads as filled contours) with an optional path (e.g. a projected trajectory) on top,
 * on shared quantitative axes so the path lands on its contours.
 */
export function surfaceChart(
  surface: { x: number[]; y: number[]; loss: number[][] },
  title: string,
  path?: Array<[number, number]>,
  bands = 12,
): TopLevelSpec {
  const dx = (surface.x[surface.x.length - 1] - surface.x[0]) / Math.max(surface.x.length - 1, 1);
  const dy = (surface.y[surface.y.length - 1] - surface.y[0]) / Math.max(surface.y.length - 1, 1);
  const cells = surface.loss.flatMap((row, j) =>
    row.map((l, i) => ({
      x1: surface.x[i] - dx / 2,
      x2: surface.x[i] + dx / 2,
      y1: surface.y[j] - dy / 2,
      y2: surface.y[j] + dy / 2,
      logLoss: Number.isFinite(l) && l > 0 ? Math.log10(l) : null,
    })),
  );
  const domain = (a: number[], h: number) => [a[0] - h / 2, a[a.length - 1] + h / 2];
  const layer: object[] = [
    {
      data: { values: cells },
      mark: { type: 'rect' },
      encoding: {
        x: {
          field: 'x1',
          type: 'quantitative',
          title: 'direction 1',
          scale: { domain: domain(surface.x, dx), nice: false },
        },
        x2: { field: 'x2' },
        y: {
          field: 'y1',
          type: 'quantitative',
          title: 'direction 2',
          scale: { domain: domain(surface.y, dy), nice: false },
        },
        y2: { field: 'y2' },
        color: {
          field: 'logLoss',
          type: 'quantitative',
          bin: { maxbins: bands },
          scale: { scheme: 'viridis' },
          title: 'log10 loss',
        },
      },
    },
  ];
  if (path && path.length > 0) {
    layer.push({
      data: { values: path.map(([x, y], k) => ({ x, y, k })) },
      mark: { type: 'line', point: true, color: 'white' },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { field: 'y', type: 'quantitative' },
        order: { field: 'k' },
      },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 400,
    height: 400,
    layer,
  } as unknown as TopLevelSpec;
}
