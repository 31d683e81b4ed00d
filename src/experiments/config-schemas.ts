/**
 * The JSON Schemas of the experiment configs, generated from their zod definitions (the same
 * schemas the runtime checks use) and shipped in schemas/ (written by scripts/write-schemas.cjs;
 * test/experiments/config-schemas.test.ts fails while a shipped file is stale). A config file
 * (a preset with a user's changes) validates against its schema in an editor; `--set` overrides
 * and sweep `base`/`grid` paths are checked by the same zod schema once applied.
 */
import { jsonSchemaOf } from '../util/schema.js';
import { escapeConfigSchema } from './escape-experiment.js';
import { landscapeConfigSchema } from './landscape-config.js';
import { noiseConfigSchema } from './noise-experiment.js';

/** File name in schemas/ → JSON Schema (draft-07). */
export function experimentConfigJsonSchemas(): Record<string, Record<string, unknown>> {
  return {
    'landscape-config.schema.json': jsonSchemaOf(landscapeConfigSchema, {
      title: 'bigstep E1 (landscape) experiment config',
      description:
        'A config of experiment E1 (landscape): a preset (bigstep run landscape --preset …) with any changes. Generated from landscapeConfigSchema (src/experiments/landscape-config.ts).',
    }),
    'escape-config.schema.json': jsonSchemaOf(escapeConfigSchema, {
      title: 'bigstep E2 (escape) experiment config',
      description:
        'A config of experiment E2 (escape): a preset (bigstep run escape --preset …) with any changes. Generated from escapeConfigSchema (src/experiments/escape-experiment.ts).',
    }),
    'noise-config.schema.json': jsonSchemaOf(noiseConfigSchema, {
      title: 'bigstep E3 (noise) experiment config',
      description:
        'A config of experiment E3 (noise): a preset (bigstep run noise --preset …) with any changes. Generated from noiseConfigSchema (src/experiments/noise-experiment.ts).',
    }),
  };
}
