// The shipped JSON Schemas of the experiment configs are the output of their zod definitions, every
// preset validates against them, and the JSON Schema and the runtime check agree on bad configs.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Ajv } from 'ajv';

import { experimentConfigJsonSchemas } from '../../src/experiments/config-schemas.js';
import { escapePresets, validateEscapeConfig, type EscapeConfig } from '../../src/experiments/escape-experiment.js';
import { noisePresets, validateNoiseConfig } from '../../src/experiments/noise-experiment.js';
import type { NoiseConfig } from '../../src/experiments/noise.js';

const schemasDir = fileURLToPath(new URL('../../../schemas/', import.meta.url));
const generated = experimentConfigJsonSchemas();

describe('experiment config JSON Schemas (schemas/*-config.schema.json)', () => {
  for (const [name, schema] of Object.entries(generated)) {
    it(`${name} is the generated file (run npm run build:ts && node scripts/write-schemas.cjs when it is stale)`, () => {
      const shipped = JSON.parse(fs.readFileSync(schemasDir + name, 'utf8')) as unknown;
      expect(shipped).to.deep.equal(schema);
    });
  }

  const ajv = new Ajv({ allErrors: true, strict: false });
  const escape = ajv.compile(generated['escape-config.schema.json']!);

  it('every E2 preset validates against the JSON Schema and the runtime check', () => {
    for (const scale of ['tiny', 'quick', 'study', 'paper'] as const) {
      const config = structuredClone(escapePresets[scale]);
      expect(escape(config), `${scale}: ${ajv.errorsText(escape.errors)}`).to.equal(true);
      expect(() => validateEscapeConfig(config)).to.not.throw();
    }
  });

  // Field-level rules, which a JSON Schema can state: both must reject each.
  const bad: Array<[string, (c: EscapeConfig & Record<string, unknown>) => void, string]> = [
    ['an unknown key', (c) => (c.epochz = 1), 'config: unknown option "epochz"'],
    [
      'an unknown nested key',
      (c) => ((c.converge as unknown as Record<string, unknown>).maxStep = 1),
      'config.converge: unknown option "maxStep" (did you mean "maxSteps"?)',
    ],
    ['a scale not among the presets', (c) => (c.scale = 'huge' as never), 'config.scale'],
    ['a negative seed', (c) => (c.seeds = [1, -2]), 'config.seeds[1]'],
    ['a fractional step count', (c) => (c.eos.steps = 2.5), 'config.eos.steps'],
    ['measureEvery above its limit', (c) => (c.eos.measureEvery = 20), 'config.eos.measureEvery'],
    ['divergeRatio 1', (c) => (c.catapult.divergeRatio = 1), 'config.catapult.divergeRatio'],
    ['a model kind not known', (c) => (c.model = { kind: 'vit' } as never), 'config.model.kind'],
    [
      'a model typo',
      (c) => ((c.model as unknown as Record<string, unknown>).hiden = [8]),
      'config.model: unknown option "hiden" (did you mean "hidden"?)',
    ],
    ['microBatch 0', (c) => (c.microBatch = 0), 'config.microBatch'],
    ['download "yes"', (c) => (c.data.download = 'yes' as never), 'config.data.download'],
  ];
  for (const [what, change, message] of bad) {
    it(`rejects ${what} in both (runtime: ${message})`, () => {
      const config = structuredClone(escapePresets.tiny) as EscapeConfig & Record<string, unknown>;
      change(config);
      expect(escape(config), 'JSON Schema accepted it').to.equal(false);
      expect(() => validateEscapeConfig(config)).to.throw(message);
    });
  }

  const noise = ajv.compile(generated['noise-config.schema.json']!);

  it('every E3 preset validates against the JSON Schema and the runtime check', () => {
    for (const scale of ['tiny', 'quick', 'study', 'paper'] as const) {
      const config = structuredClone(noisePresets[scale]);
      expect(noise(config), `${scale}: ${ajv.errorsText(noise.errors)}`).to.equal(true);
      expect(() => validateNoiseConfig(config)).to.not.throw();
    }
  });

  const badNoise: Array<[string, (c: NoiseConfig & Record<string, unknown>) => void, string]> = [
    ['an unknown key', (c) => (c.epochz = 1), 'config: unknown option "epochz" (did you mean "epochs"?)'],
    ['lrSmall "fast"', (c) => (c.lrSmall = 'fast' as never), 'config.lrSmall'],
    ['an arm not known', (c) => (c.arms = ['adam' as never]), 'config.arms[0]'],
    ['a decay point at 1', (c) => (c.decay.at = [1]), 'config.decay.at[0]'],
    [
      'augment with an unknown key',
      (c) => (c.augment = { cropPadding: 4, flip: true, rotate: 1 } as never),
      'config.augment: unknown option "rotate"',
    ],
    ['alpha 0', (c) => (c.alpha = 0), 'config.alpha'],
  ];
  for (const [what, change, message] of badNoise) {
    it(`rejects ${what} in the E3 schema and check (runtime: ${message})`, () => {
      const config = structuredClone(noisePresets.tiny) as NoiseConfig & Record<string, unknown>;
      change(config);
      expect(noise(config), 'JSON Schema accepted it').to.equal(false);
      expect(() => validateNoiseConfig(config)).to.throw(message);
    });
  }

  it("a cross-field rule is the runtime check's alone (rejectShare < supportShare), and named", () => {
    const config = structuredClone(escapePresets.tiny);
    config.verdict.rejectShare = config.verdict.supportShare;
    expect(() => validateEscapeConfig(config)).to.throw(
      RangeError,
      'config.verdict.rejectShare must be < config.verdict.supportShare',
    );
  });
});
