/**
 * E1 landscape as an `ExperimentDefinition` (src/experiments/types.ts): presets, validation, run
 * with progress/log/abort through the run context, verdicts and headline numbers, figures.
 */
import {
  expandInstances,
  landscapePresets,
  runLandscape,
  validateLandscapeConfig,
  type LandscapeConfig,
  type LandscapeResult,
} from './landscape.js';
import { landscapeVerdicts, noiseVerdict, summarizeFamilies } from './landscape-verdicts.js';
import { validatorOf } from './common.js';
import type { ExperimentDefinition, Headline } from './types.js';

/** Work units of a run (one per minima search, GD cell, noise cell and trajectory batch), for progress. */
function totalUnits(c: LandscapeConfig): number {
  const grid = c.etaGrid.indices?.length ?? c.etaGrid.count + 1;
  const noiseCells = (c.noise.stdIndices?.length ?? c.noise.stdCount) * (2 * c.noise.etaFactors.length + 1);
  const first = new Set<string>();
  let total = 0;
  for (const s of expandInstances(c)) {
    const isFirst = !first.has(s.family.name);
    first.add(s.family.name);
    const noise =
      c.noise.enabled && isFirst && (c.noise.instances === undefined || c.noise.instances.includes(s.family.name))
        ? noiseCells
        : 0;
    total += 1 + 2 * grid + noise + (s.family.dim === 1 && isFirst && c.trajectories.count > 0 ? 1 : 0);
  }
  return total;
}

export const landscapeExperiment: Required<Pick<ExperimentDefinition<LandscapeConfig, LandscapeResult>, 'verdicts'>> &
  ExperimentDefinition<LandscapeConfig, LandscapeResult> = {
  name: 'landscape',
  title:
    'E1 Theorem 1 on its own class: does every γ in the window (2/μ†, μ* / L²] reach x*, and does small-γ noise not?',
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
        if (p.done > 0) ctx.progress(Math.min(total, ++done), total, `${p.instance} ${p.phase}`);
      },
    });
    for (const r of result.instances) {
      for (const c of r.sweep)
        ctx.log({
          instance: r.name,
          family: r.family,
          arm: 'sweep',
          startSet: c.startSet,
          eta: c.eta,
          success: c.success,
          stay: c.stay,
          basinSuccess: c.basinSuccess,
          inWindow: c.inWindow,
          belowSmallBound: c.belowSmallBound,
          ...c.counts,
        });
      for (const c of r.noise)
        ctx.log({
          instance: r.name,
          family: r.family,
          arm: `noise-${c.arm}`,
          eta: c.eta,
          steps: c.steps,
          std: c.std,
          epsilon: c.epsilon,
          settled: c.settled,
          endAtXStar: c.endAtXStar,
          ...c.counts,
        });
    }
    return result;
  },
  verdicts(result) {
    return landscapeVerdicts(result);
  },
  headline(result): Headline {
    const h: Headline = {};
    const { instances, families } = summarizeFamilies(result);
    for (const f of families) {
      const k = f.family;
      h[`${k}.theorem`] = f.instances === 1 ? instances.find((s) => s.family === k)!.theorem : f.verdict;
      h[`${k}.instances`] = f.instances;
      h[`${k}.inClass`] = f.inClass;
      h[`${k}.supported`] = f.supported;
      h[`${k}.midSuccessMedian`] = f.midSuccess?.median ?? null;
      h[`${k}.midSuccessQ1`] = f.midSuccess?.q1 ?? null;
      h[`${k}.midSuccessQ3`] = f.midSuccess?.q3 ?? null;
      h[`${k}.windowShareMedian`] = f.windowShare?.median ?? null;
    }
    const p = instances.find((s) => s.family === 'paper-1d');
    if (p) {
      h['paper-1d.lower'] = p.lower;
      h['paper-1d.upper'] = p.upper;
      h['paper-1d.smallBound'] = p.smallBound;
    }
    for (const r of result.instances) {
      const v = noiseVerdict(r, result.config.verdict);
      if (v) h[`${r.name}.noise`] = v.verdict;
    }
    return h;
  },
  async figures(result) {
    // loaded on demand (as E2 and E3 do): the plotting libraries take most of a process's start-up
    const { landscapeFigures } = await import('./landscape-figures.js');
    return landscapeFigures(result);
  },
};
