/**
 * Renders a Vega-Lite spec headlessly: vega-lite compiles it to Vega, vega renders SVG without a
 * browser (renderer 'none'), and resvg rasterises the SVG to PNG. No network access: data must be
 * inline (`data.values`).
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A rendered chart: SVG text and a PNG image. */
export interface RenderedChart {
  svg: string;
  png: Buffer;
}

export type { Figure } from '../run/experiment.js';

/** Options of {@link renderChart}: PNG scale and background. */
export interface RenderOptions {
  /** PNG pixel scale relative to the SVG size (default 2). */
  pngScale?: number;
  /** Background colour of the PNG (default white; the SVG keeps the spec's background). */
  background?: string;
}

/** Compiles and renders a Vega-Lite spec to SVG text and a PNG buffer. */
export async function renderChart(spec: TopLevelSpec, options: RenderOptions = {}): Promise<RenderedChart> {
  if (typeof spec !== 'object' || spec === null) throw new TypeError('spec must be a Vega-Lite spec object');
  const pngScale = options.pngScale ?? 2;
  if (!(typeof pngScale === 'number' && pngScale > 0 && pngScale <= 16))
    throw new RangeError('options.pngScale must be a number in (0, 16]');
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const resvg = new Resvg(svg, {
      background: options.background ?? 'white',
      fitTo: { mode: 'zoom', value: pngScale },
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    });
    const png = resvg.render().asPng();
    return { svg, png };
  } finally {
    view.finalize();
  }
}
