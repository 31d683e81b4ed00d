/** Shared helpers of the run / report / CLI tests: temp dirs, file listings, a fast fake experiment. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { RegisteredExperiment } from '../../src/experiments/registry.js';
import type { ExperimentDefinition, Scale } from '../../src/experiments/types.js';
import { renderChart } from '../../src/report/plot.js';

export function tempDir(prefix = 'bigstep-run-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every file under `dir` (relative path → mtime in ns and size). */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p, { bigint: true });
        out.set(path.relative(dir, p), `${st.mtimeNs}:${st.size}`);
      }
    }
  };
  walk(dir);
  return out;
}

/** Relative paths of temporary files (`.<name>.tmp-<pid>-<hex>`) under `dir`. */
export function tempFiles(dir: string): string[] {
  return [...snapshot(dir).keys()].filter((p) => /(^|\/)\.[^/]+\.tmp-\d+-[0-9a-f]+$/.test(p));
}

export interface FakeConfig {
  scale: Scale;
  seeds: number[];
  steps: number;
  /** throw at this step (null: never) */
  failAt: number | null;
  /** wait between steps, ms */
  delayMs: number;
  diverge: boolean;
  /** pretend the data set was missing: the result reports this fallback reason (null: real data) */
  fallback: string | null;
}

export interface FakeResult {
  losses: Float64Array;
  perSeed: Array<{ seed: number; final: number }>;
  diverged: boolean;
  data: { fallback: string | null };
}

const fakePreset = (scale: Scale): FakeConfig => ({
  scale,
  seeds: [1, 2, 3],
  steps: 5,
  failAt: null,
  delayMs: 0,
  diverge: false,
  fallback: null,
});

/** A fast experiment obeying the ExperimentDefinition contract (named `name`, default 'noise'). */
export function fakeExperiment(
  name: 'landscape' | 'escape' | 'noise' = 'noise',
): ExperimentDefinition<FakeConfig, FakeResult> {
  return {
    name,
    title: `Fake ${name} experiment for tests`,
    presets: { tiny: fakePreset('tiny'), quick: fakePreset('quick'), paper: fakePreset('paper') },
    validate(config: unknown): FakeConfig {
      const c = config as FakeConfig;
      if (typeof c !== 'object' || c === null) throw new TypeError('config must be an object');
      if (!Number.isInteger(c.steps) || c.steps < 1)
        throw new RangeError(`config.steps must be a positive integer (got ${c.steps})`);
      return { ...fakePreset(c.scale), ...c };
    },
    async run(config, ctx) {
      const losses = new Float64Array(config.steps);
      for (let step = 0; step < config.steps; step++) {
        ctx.signal?.throwIfAborted();
        if (config.failAt === step) throw new Error(`synthetic failure at step ${step}`);
        losses[step] = 1 / (step + 1);
        ctx.log({ step, loss: losses[step] });
        ctx.progress(step + 1, config.steps, 'fake');
        if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
      }
      return {
        losses,
        perSeed: config.seeds.map((seed) => ({ seed, final: 0.1 * seed })),
        diverged: config.diverge,
        data: { fallback: config.fallback },
      };
    },
    headline(result) {
      return { finalLoss: result.losses[result.losses.length - 1], steps: result.losses.length, note: 'fake' };
    },
    verdicts(result) {
      const final = result.losses[result.losses.length - 1];
      return [
        {
          claim: 'the fake loss falls',
          verdict: final < 1 ? 'supported' : 'not-reproduced',
          rule: 'final loss < 1',
          evidence: `final loss ${final}`,
        },
      ];
    },
    async figures(result, config) {
      const chart = await renderChart({
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        data: { values: Array.from(result.losses, (loss, step) => ({ step, loss })) },
        mark: 'line',
        encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } },
      });
      return [
        {
          id: 'fake-loss',
          title: 'Fake loss curve',
          caption: `Loss per step (scale ${config.scale}, seeds ${config.seeds.join(', ')}).`,
          ...chart,
        },
      ];
    },
  };
}

/** The fake experiment as a registry entry with an E3-style table of arms (mean ± std over seeds). */
export function fakeRegistered(name: 'landscape' | 'escape' | 'noise' = 'noise'): RegisteredExperiment {
  return {
    definition: fakeExperiment(name),
    protocolId: 'E3',
    claim: 'A fake claim for tests.',
    question: 'Does the fake experiment run?',
    describe: (c) => ({ dataset: 'fake data', model: 'fake model', seeds: (c as FakeConfig).seeds }),
    tables: (r) => {
      const finals = (r as FakeResult).perSeed.map((s) => s.final);
      const mean = finals.reduce((a, b) => a + b, 0) / finals.length;
      const std = Math.sqrt(finals.reduce((a, b) => a + (b - mean) ** 2, 0) / (finals.length - 1));
      return [
        {
          id: 'arms',
          title: 'Arms (fake)',
          caption: 'mean ± std over seeds',
          columns: ['arm', 'final train loss', 'test accuracy'],
          rows: [
            ['small η', { mean, std, n: finals.length }, { mean: 0.8, std: 0.01, n: 3 }],
            ['large η', { mean: mean / 2, std: std / 2, n: finals.length }, null],
          ],
        },
      ];
    },
  };
}
