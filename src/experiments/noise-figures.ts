/**
 * Figures of E3 (noise), built from a `NoiseResult` alone: learning curves per arm (mean over
 * seeds, band = ± std) of train loss and test accuracy, and a bar chart of the final test accuracy
 * with ± std error bars and the sgd-large mean as a reference rule.
 */
import type { TopLevelSpec } from 'vega-lite';

import { renderChart, type Figure } from '../report/plot.js';
import { fmt, mean, std } from './escape-setup.js';
import type { NoiseArm, NoiseResult } from './noise.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

function describe(r: NoiseResult): string {
  const fb = r.data.fallback ? ` FALLBACK: ${r.data.fallback}.` : '';
  const est = r.noiseEstimate.map((e) => `${fmt(e.sigmaB)}`).join(', ');
  return (
    `Scale: ${r.scale}. Data: ${r.data.description}; inputs standardised with train statistics.${fb} Model: ${r.model.description}. ` +
    `Seeds ${r.config.seeds.join(', ')} (each seed fixes θ₀ and the data order, shared by all arms). Budget: ${r.config.epochs} epochs ` +
    `(GD: ${r.config.fullBatchBudget === 'steps' ? 'as many steps as SGD with batch B' : 'one step per epoch'}). Plain SGD (no momentum, no weight decay). ` +
    `Rule: ${r.rule}: λ_max(θ₀) = ${fmt(r.lambda0.value)}, η_small = ${fmt(r.etaSmall)}, η_large = ${fmt(r.etaLarge)}, k = ${fmt(r.k)}, ` +
    `B = ${r.config.batchSize}, B' = ${r.smallBatch}; σ_B at θ₀ per seed = ${est}.` +
    (r.skipped.length ? ` Skipped: ${r.skipped.join('; ')}.` : '')
  );
}

function armDomain(r: NoiseResult): string[] {
  return r.arms.map((a) => a.label);
}

function colorEnc(r: NoiseResult): object {
  return { field: 'arm', type: 'nominal', title: null, sort: armDomain(r), scale: { domain: armDomain(r), scheme: 'category10' }, legend: { orient: 'bottom', columns: 3, labelLimit: 320 } };
}

/** Mean and std over seeds at each evaluation point (only points every seed reached). */
function curveStats(a: NoiseArm, field: 'trainLoss' | 'testAccuracy'): Array<{ epoch: number; mean: number; lo: number; hi: number }> {
  const out: Array<{ epoch: number; mean: number; lo: number; hi: number }> = [];
  const len = Math.min(...a.runs.map((r) => r.curve.length));
  for (let i = 0; i < len; i++) {
    const xs = a.runs.map((r) => r.curve[i][field]).filter((x) => Number.isFinite(x));
    if (xs.length === 0) continue;
    const m = mean(xs);
    const s = std(xs);
    out.push({ epoch: a.runs[0].curve[i].epoch, mean: m, lo: m - s, hi: m + s });
  }
  return out;
}

function curvesSpec(r: NoiseResult): TopLevelSpec {
  const panel = (field: 'trainLoss' | 'testAccuracy', title: string, log: boolean): object => {
    const values = r.arms.flatMap((a) =>
      curveStats(a, field).map((p) => ({
        arm: a.label,
        epoch: p.epoch,
        mean: p.mean,
        lo: log ? Math.max(p.lo, p.mean * 0.05) : p.lo,
        hi: p.hi,
      })),
    );
    const y = { field: 'mean', type: 'quantitative', title, scale: log ? { type: 'log' } : { zero: false } };
    return {
      title,
      width: 400,
      height: 280,
      data: { values },
      layer: [
        { mark: { type: 'area', opacity: 0.15 }, encoding: { x: { field: 'epoch', type: 'quantitative', title: 'epoch (share of the budget)' }, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: colorEnc(r) } },
        { mark: { type: 'line', point: { size: 16 } }, encoding: { x: { field: 'epoch', type: 'quantitative' }, y, color: colorEnc(r) } },
      ],
    };
  };
  return {
    $schema: SCHEMA,
    title: `E3: learning curves, mean over seeds ± std (${r.scale})`,
    hconcat: [panel('trainLoss', 'train loss (full train set, log)', true), panel('testAccuracy', 'test accuracy', false)],
  } as unknown as TopLevelSpec;
}

function barsSpec(r: NoiseResult): TopLevelSpec {
  const values = r.arms.map((a) => {
    const m = a.testAccuracy.mean;
    const s = a.testAccuracy.std ?? 0;
    return { arm: a.label, mean: m, lo: m === null ? null : m - s, hi: m === null ? null : m + s, reaches: a.vsLarge ? (a.vsLarge.reaches ? 'yes' : 'no') : 'reference' };
  }).filter((v) => v.mean !== null);
  const accs = values.flatMap((v) => [v.lo as number, v.hi as number]);
  const lo = Math.min(...accs);
  const hi = Math.max(...accs);
  const pad = Math.max(0.005, 0.1 * (hi - lo));
  const large = r.arms.find((a) => a.id === 'sgd-large')?.testAccuracy.mean;
  const YT = 'final test accuracy (axis does not start at 0)';
  const yScale = { domain: [Math.max(0, lo - pad), Math.min(1, hi + pad)], nice: false };
  const layers: object[] = [
    {
      mark: { type: 'bar', clip: true },
      encoding: {
        x: { field: 'arm', type: 'nominal', sort: armDomain(r), title: null, axis: { labelAngle: -30, labelLimit: 400 } },
        y: { field: 'mean', type: 'quantitative', title: YT, scale: yScale },
        color: { field: 'reaches', type: 'nominal', title: 'reaches SGD η_large?', scale: { domain: ['reference', 'yes', 'no'], range: ['#444444', '#2ca02c', '#d62728'] }, legend: { orient: 'bottom' } },
      },
    },
    { mark: { type: 'rule', color: 'black', strokeWidth: 1.5 }, encoding: { x: { field: 'arm', type: 'nominal', sort: armDomain(r) }, y: { field: 'lo', type: 'quantitative', scale: yScale, title: YT }, y2: { field: 'hi' } } },
    { mark: { type: 'tick', color: 'black', thickness: 1.5, size: 14 }, encoding: { x: { field: 'arm', type: 'nominal', sort: armDomain(r) }, y: { field: 'lo', type: 'quantitative', scale: yScale, title: YT } } },
    { mark: { type: 'tick', color: 'black', thickness: 1.5, size: 14 }, encoding: { x: { field: 'arm', type: 'nominal', sort: armDomain(r) }, y: { field: 'hi', type: 'quantitative', scale: yScale, title: YT } } },
    { mark: { type: 'text', dy: -8, fontSize: 9 }, encoding: { x: { field: 'arm', type: 'nominal', sort: armDomain(r) }, y: { field: 'hi', type: 'quantitative', scale: yScale, title: YT }, text: { field: 'mean', type: 'quantitative', format: '.4f' } } },
  ];
  if (large !== null && large !== undefined)
    layers.push({ data: { values: [{ y: large }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#444' }, encoding: { y: { field: 'y', type: 'quantitative', scale: yScale, title: YT } } });
  return {
    $schema: SCHEMA,
    title: `E3: final test accuracy per arm, mean ± std over ${r.config.seeds.length} seeds (${r.scale})`,
    width: 560,
    height: 300,
    data: { values },
    layer: layers,
  } as unknown as TopLevelSpec;
}

/** The E3 figures (SVG + PNG) with captions. */
export async function noiseFigures(r: NoiseResult): Promise<Figure[]> {
  const base = describe(r);
  const reach = r.reachLarge.length ? r.reachLarge.join(', ') : 'none';
  return [
    {
      id: 'e3-curves',
      title: 'E3: learning curves per arm',
      caption:
        `Train loss on the full train set (left, log) and test accuracy (right) every ${r.config.evalEvery} epoch(s), mean over seeds; ` +
        `the band is ± one standard deviation over seeds. ${base}`,
      ...(await renderChart(curvesSpec(r))),
    },
    {
      id: 'e3-final',
      title: 'E3: final test accuracy per arm',
      caption:
        `Final test accuracy, mean over seeds with ± std error bars (the y axis is cut to the range of the data; it does not start at 0); the dashed rule is SGD at η_large. Green: the arm reaches SGD η_large ` +
        `(paired mean difference ≥ −2 standard errors over seeds); red: it does not. Arms that reach it: ${reach}. ${base}`,
      ...(await renderChart(barsSpec(r))),
    },
  ];
}
