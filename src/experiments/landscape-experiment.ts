/**
 * E1 landscape as an `ExperimentDefinition` (src/experiments/types.ts): presets, validation, run
 * with progress/log/abort through the run context, flat headline numbers, figures.
 */
import {
  landscapePresets,
  runLandscape,
  validateLandscapeConfig,
  type LandscapeConfig,
  type LandscapeResult,
} from './landscape.js';
import { validatorOf } from './common.js';
import type { ExperimentDefinition, Headline } from './types.js';

/** Work units of a run (one per minima search, GD cell and trajectory batch), for progress. */
function totalUnits(c: LandscapeConfig): number {
  const noiseCells = c.noise.etaFactors.length * c.noise.stdCount * c.noise.anneal.length;
  return c.instances.reduce((sum, ic) => {
    const noise = c.noise.enabled && (c.noise.instances === undefined || c.noise.instances.includes(ic.name)) ? noiseCells : 0;
    const traj = ic.dim <= 2 && c.trajectories.count > 0 ? 1 : 0;
    return sum + 1 + c.etaGrid.count + noise + traj;
  }, 0);
}

export const landscapeExperiment: ExperimentDefinition<LandscapeConfig, LandscapeResult> = {
  name: 'landscape',
  title: 'E1 landscape: do large GD steps avoid sharp local minima (and does gradient noise at small steps)?',
  presets: landscapePresets,
  validate: validatorOf(validateLandscapeConfig),
  async run(config, ctx) {
    const total = totalUnits(config);
    let done = 0;
    ctx.progress(0, total, 'E1');
    const result = await runLandscape(config, {
      signal: ctx.signal,
      units: ctx.resume,
      onProgress: (p) => {
        if (p.done > 0) ctx.progress(++done, total, `${p.instance} ${p.phase}`);
      },
    });
    for (const r of result.instances) {
      for (const c of r.sweep) ctx.log({ instance: r.name, arm: 'sweep', eta: c.eta, success: c.success, basinSuccess: c.basinSuccess, ...c.counts });
      for (const c of r.noise)
        ctx.log({ instance: r.name, arm: 'noise', eta: c.eta, std: c.std, anneal: c.anneal, success: c.success, basinSuccess: c.basinSuccess, ...c.counts });
    }
    return result;
  },
  headline(result): Headline {
    const h: Headline = {};
    for (const x of result.headline) {
      const k = x.instance;
      h[`${k}.etaLocal`] = x.etaLocal;
      h[`${k}.etaMu`] = x.etaMu;
      h[`${k}.smallEta`] = x.smallEta?.eta ?? null;
      h[`${k}.smallEtaSuccess`] = x.smallEta?.success ?? null;
      h[`${k}.smallestStableEta`] = x.smallestStable?.eta ?? null;
      h[`${k}.smallestStableSuccess`] = x.smallestStable?.success ?? null;
      h[`${k}.largestStableEta`] = x.largestStable?.eta ?? null;
      h[`${k}.largestStableSuccess`] = x.largestStable?.success ?? null;
      h[`${k}.bestNoiseSuccess`] = x.bestNoise?.success ?? null;
      h[`${k}.bestNoiseBasinSuccess`] = x.bestNoise?.basinSuccess ?? null;
      h[`${k}.bestNoiseEta`] = x.bestNoise?.eta ?? null;
      h[`${k}.bestNoiseStd`] = x.bestNoise?.std ?? null;
      h[`${k}.bestNoiseAnneal`] = x.bestNoise?.anneal ?? null;
    }
    return h;
  },
  async figures(result) {
    // loaded on demand (as E2 and E3 do): the plotting libraries take most of a process's start-up
    const { landscapeFigures } = await import('./landscape-figures.js');
    return landscapeFigures(result);
  },
};
