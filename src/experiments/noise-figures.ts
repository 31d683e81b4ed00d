/**
 * Figures of E3 (noise), built from a `NoiseResult` alone: a forest plot of every arm's paired
 * difference to SGD η_large (interval and equivalence margin), the learning-rate sweep with 95 %
 * confidence bands, and learning curves at equal epochs and at equal gradient-flow time.
 */
import type { TopLevelSpec } from 'vega-lite';

import { renderChart, type Figure } from '../report/plot.js';
import { tQuantile } from '../util/stats.js';
import { fmt, mean, std } from './escape-setup.js';
import type { NoiseArm, NoiseResult } from './noise.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const VERDICT_COLORS = {
  domain: ['reaches', 'better', 'inconclusive', 'worse'],
  range: ['#2ca02c', '#1f77b4', '#7f7f7f', '#d62728'],
};

function describe(r: NoiseResult): string {
  const fb = r.data.fallback ? ` FALLBACK: ${r.data.fallback}.` : '';
  const est = r.noiseEstimate.map((e) => fmt(e.sigmaB)).join(', ');
  return (
    `Scale: ${r.scale}. Data: ${r.data.description}; inputs standardised with train statistics.${fb} Model: ${r.model.description}. ` +
    `Seeds ${r.config.seeds.join(', ')} (each seed fixes θ₀ and the data order, shared by all arms). Large arms: ${r.config.epochs} epochs of B = ${r.config.batchSize}; ` +
    `small-η arms also at k times the steps (same ηT). Plain SGD (no momentum, no weight decay). ` +
    `Rule: ${r.rule}: λ_max(θ₀) = ${fmt(r.lambda0.value)}, η_small = ${fmt(r.etaSmall)}, η_large = ${fmt(r.etaLarge)}, k = ${fmt(r.k)}, ` +
    `B' = ${r.smallBatch}; σ_B at θ₀ per seed = ${est}.` +
    (r.skipped.length ? ` Skipped: ${r.skipped.join('; ')}.` : '')
  );
}

function forestSpec(r: NoiseResult): TopLevelSpec {
  const arms = r.arms.filter((a) => a.vsLarge && Number.isFinite(a.vsLarge.lo));
  const values = arms.map((a) => ({
    arm: a.label,
    mean: 100 * a.vsLarge!.meanDiff,
    lo: 100 * a.vsLarge!.lo,
    hi: 100 * a.vsLarge!.hi,
    verdict: a.vsLarge!.verdict,
  }));
  const m = 100 * r.config.equivalenceMargin;
  const order = arms.map((a) => a.label);
  const x = {
    type: 'quantitative',
    title: `test accuracy − SGD η_large (points), ${Math.round(100 * (1 - r.config.alpha))} % paired t-interval`,
  };
  const y = { field: 'arm', type: 'nominal', sort: order, title: null, axis: { labelLimit: 560 } };
  return {
    $schema: SCHEMA,
    title: `E3: each arm against SGD η_large, ${r.config.seeds.length} seeds (${r.scale})`,
    width: 460,
    height: { step: 16 },
    layer: [
      {
        data: { values: [{ lo: -m, hi: m }] },
        mark: { type: 'rect', color: '#2ca02c', opacity: 0.12 },
        encoding: { x: { field: 'lo', ...x }, x2: { field: 'hi' } },
      },
      { data: { values: [{ x: 0 }] }, mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'x', ...x } } },
      {
        data: { values },
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: {
          y,
          x: { field: 'lo', ...x },
          x2: { field: 'hi' },
          color: {
            field: 'verdict',
            type: 'nominal',
            scale: VERDICT_COLORS,
            legend: { orient: 'bottom', title: 'verdict' },
          },
        },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 40 },
        encoding: {
          y,
          x: { field: 'mean', ...x },
          color: { field: 'verdict', type: 'nominal', scale: VERDICT_COLORS },
        },
      },
    ],
  } as unknown as TopLevelSpec;
}

/** Mean and 95 % t-interval over seeds of the final test accuracy of an arm (finite runs only). */
function accBand(a: NoiseArm): { mean: number; lo: number; hi: number; n: number } | null {
  const xs = a.runs.map((r) => r.final?.testAccuracy ?? NaN).filter(Number.isFinite);
  if (xs.length === 0) return null;
  const m = mean(xs);
  const h = xs.length > 1 ? (tQuantile(0.975, xs.length - 1) * std(xs)) / Math.sqrt(xs.length) : 0;
  return { mean: m, lo: m - h, hi: m + h, n: xs.length };
}

function sweepSpec(r: NoiseResult): TopLevelSpec {
  const values = r.lrSweep.flatMap((s) => {
    const a = r.arms.find((x) => x.id === s.armId)!;
    const b = accBand(a);
    return b ? [{ eta: s.eta, ...b, diverged: a.diverged }] : [];
  });
  const x = {
    field: 'eta',
    type: 'quantitative',
    title: 'learning rate η (log)',
    scale: { type: 'log', nice: false, padding: 20 },
  };
  const y = { type: 'quantitative', title: 'final test accuracy', scale: { zero: false } };
  return {
    $schema: SCHEMA,
    title: `E3: SGD test accuracy against η, mean and 95 % t-band over seeds (${r.scale})`,
    width: 460,
    height: 280,
    layer: [
      {
        data: { values },
        mark: { type: 'area', opacity: 0.2 },
        encoding: { x, y: { field: 'lo', ...y }, y2: { field: 'hi' } },
      },
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'mean', ...y },
          tooltip: [{ field: 'eta' }, { field: 'mean' }, { field: 'n', title: 'finite runs' }, { field: 'diverged' }],
        },
      },
      {
        data: {
          values: [
            { eta: r.etaSmall, name: 'η_small' },
            { eta: r.etaLarge, name: 'η_large' },
          ],
        },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
        encoding: { x },
      },
      {
        data: {
          values: [
            { eta: r.etaSmall, name: 'η_small' },
            { eta: r.etaLarge, name: 'η_large' },
          ],
        },
        mark: { type: 'text', dy: -130, dx: 4, align: 'left' },
        encoding: { x, text: { field: 'name' } },
      },
    ],
  } as unknown as TopLevelSpec;
}

/** Mean and ± std over seeds of test accuracy at each evaluation point every seed reached. */
function curveRows(a: NoiseArm, axis: 'epoch' | 'flowTime'): Array<Record<string, number | string>> {
  const len = Math.min(...a.runs.map((r) => r.curve.length));
  const out: Array<Record<string, number | string>> = [];
  for (let i = 0; i < len; i++) {
    const xs = a.runs.map((r) => r.curve[i].testAccuracy).filter(Number.isFinite);
    if (xs.length === 0) continue;
    const m = mean(xs);
    const s = std(xs);
    out.push({ arm: a.label, x: a.runs[0].curve[i][axis], mean: m, lo: m - s, hi: m + s });
  }
  return out;
}

function curvesSpec(r: NoiseResult): TopLevelSpec {
  const panel = (arms: NoiseArm[], axis: 'epoch' | 'flowTime', title: string, xTitle: string): object => {
    const values = arms.flatMap((a) => curveRows(a, axis));
    const labels = arms.map((a) => a.label);
    const color = {
      field: 'arm',
      type: 'nominal',
      title: null,
      sort: labels,
      scale: { domain: labels, scheme: 'tableau20' },
      legend: { orient: 'right', labelLimit: 420, symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
    };
    const y = { type: 'quantitative', title: 'test accuracy', scale: { zero: false } };
    return {
      title,
      width: 380,
      height: 260,
      data: { values },
      layer: [
        {
          mark: { type: 'area', opacity: 0.12 },
          encoding: {
            x: { field: 'x', type: 'quantitative', title: xTitle },
            y: { field: 'lo', ...y },
            y2: { field: 'hi' },
            color,
          },
        },
        {
          mark: { type: 'line', point: { size: 12 } },
          encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'mean', ...y }, color },
        },
      ],
    };
  };
  const epochsArms = r.arms.filter((a) => a.budget === 'epochs' && a.kind !== 'lr-sweep');
  const flowArms = r.arms.filter((a) => a.budget === 'flow' || a.kind === 'sgd-large' || a.kind === 'decay');
  const panels = [panel(epochsArms, 'epoch', 'same epochs', "epochs of the arm's batch size")];
  if (flowArms.some((a) => a.budget === 'flow'))
    panels.push(panel(flowArms, 'flowTime', 'same gradient-flow time', 'gradient-flow time ηt'));
  return {
    $schema: SCHEMA,
    title: `E3: test accuracy during training, mean over seeds ± std (${r.scale})`,
    vconcat: panels,
    resolve: { scale: { color: 'independent' } },
  } as unknown as TopLevelSpec;
}

/** The E3 figures (SVG + PNG) with captions. */
export async function noiseFigures(r: NoiseResult): Promise<Figure[]> {
  const base = describe(r);
  const figures: Figure[] = [
    {
      id: 'e3-forest',
      title: 'E3: every arm against SGD η_large',
      caption:
        `Mean paired per-seed difference of final test accuracy to SGD at η_large (points; a diverged run counts as accuracy 0) with its ` +
        `${Math.round(100 * (1 - r.config.alpha))} % t-interval; the green band is the TOST equivalence margin ±${fmt(100 * r.config.equivalenceMargin)} points. ` +
        `Colour = the arm's verdict (reaches: equivalence shown; worse/better: interval below/above 0; else inconclusive). ${base}`,
      ...(await renderChart(forestSpec(r))),
    },
  ];
  if (r.lrSweep.length)
    figures.push({
      id: 'e3-lr-sweep',
      title: 'E3: the learning-rate sweep',
      caption: `Final test accuracy of plain SGD against η (same epochs and batch as the large arm), mean over the finite runs with a 95 % t-band over seeds; dashed: η_small and η_large. ${base}`,
      ...(await renderChart(sweepSpec(r))),
    });
  figures.push({
    id: 'e3-curves',
    title: 'E3: learning curves',
    caption:
      `Test accuracy every ${r.config.evalEvery} epoch(s) of each arm, mean over seeds, band ± one standard deviation. Top: arms at the large arm's epochs; ` +
      `below: small-η arms at the large arm's gradient-flow time, against ηt, with SGD η_large and the decay arm for reference. ${base}`,
    ...(await renderChart(curvesSpec(r))),
  });
  return figures;
}
