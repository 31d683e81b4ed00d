// The shipped JSON Schemas of the experiment configs are the output of their zod definitions, every
// preset validates against them, and the JSON Schema and the runtime check agree on bad configs.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Ajv } from 'ajv';

import { experimentConfigJsonSchemas } from '../../src/experiments/config-schemas.js';
import { escapePresets, validateEscapeConfig, type EscapeConfig } from '../../src/experiments/escape-experiment.js';
import { landscapePresets, validateLandscapeConfig, type LandscapeConfig } from '../../src/experiments/landscape.js';
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

  const landscape = ajv.compile(generated['landscape-config.schema.json']!);

  it('every E1 preset validates against the JSON Schema and the runtime check', () => {
    for (const scale of ['tiny', 'quick', 'study', 'paper'] as const) {
      const config = structuredClone(landscapePresets[scale]);
      expect(landscape(config), `${scale}: ${ajv.errorsText(landscape.errors)}`).to.equal(true);
      expect(() => validateLandscapeConfig(config)).to.not.throw();
    }
  });

  const badLandscape: Array<
    [string, (c: LandscapeConfig & Record<string, unknown>) => void, ErrorConstructor, string]
  > = [
    ['an unknown key', (c) => (c.epochz = 1), TypeError, 'config: unknown option "epochz"'],
    [
      'an instance typo',
      (c) => ((c.instances[1] as unknown as Record<string, unknown>).startset = 'ball'),
      TypeError,
      'config.instances[1]: unknown option "startset" (did you mean "startSet"?)',
    ],
    [
      'a noise typo',
      (c) => ((c.noise as unknown as Record<string, unknown>).etaFactor = [0.5]),
      TypeError,
      'config.noise: unknown option "etaFactor" (did you mean "etaFactors"?)',
    ],
    ['a scale not among the presets', (c) => (c.scale = 'huge' as never), RangeError, 'config.scale'],
    ['no instances', (c) => (c.instances = []), RangeError, 'config.instances must not be empty'],
    ['an unknown kind', (c) => (c.instances[1].kind = 'cubic' as never), RangeError, 'config.instances[1].kind'],
    ['dim 0', (c) => (c.instances[1].dim = 0), RangeError, 'config.instances[1].dim'],
    ['a fractional step count', (c) => (c.steps = 2.5), RangeError, 'config.steps'],
    ['steps NaN (a RangeError, not a TypeError)', (c) => (c.steps = NaN), RangeError, 'config.steps'],
    ['steps "10"', (c) => (c.steps = '10' as never), TypeError, 'config.steps must be a positive integer'],
    ['an empty γ grid', (c) => (c.etaGrid.count = 0), RangeError, 'config.etaGrid.count must be >= 1'],
    ['grid1d 2', (c) => (c.constants.grid1d = 2), RangeError, 'config.constants.grid1d must be >= 3'],
    ['a small-γ factor of 1', (c) => (c.noise.etaFactors = [1]), RangeError, 'config.noise.etaFactors[0] must be < 1'],
    ['σ factor 0', (c) => (c.noise.stdMinFactor = 0), RangeError, 'config.noise.stdMinFactor must be a finite σ'],
    ['enabled "yes"', (c) => (c.noise.enabled = 'yes' as never), TypeError, 'config.noise.enabled must be a boolean'],
    ['a verdict share > 1', (c) => (c.verdict.stay = 1.5), RangeError, 'config.verdict.stay must be in [0, 1]'],
    ['concurrency 65', (c) => (c.concurrency = 65), RangeError, 'config.concurrency'],
  ];
  for (const [what, change, cls, message] of badLandscape) {
    it(`rejects ${what} in the E1 schema and check (runtime: ${cls.name} ${message})`, () => {
      const config = structuredClone(landscapePresets.tiny) as LandscapeConfig & Record<string, unknown>;
      change(config);
      expect(landscape(config), 'JSON Schema accepted it').to.equal(false);
      expect(() => validateLandscapeConfig(config)).to.throw(cls, message);
    });
  }

  // Rules across fields: the runtime check's alone (the JSON Schema accepts these configs).
  const crossLandscape: Array<[string, (c: LandscapeConfig) => void, string]> = [
    ['a repeated instance name', (c) => (c.instances[1].name = 'paper-1d'), 'config.instances[1].name must be unique'],
    ['a paper-1d family of two', (c) => (c.instances[0].count = 2), 'config.instances[0].count must be 1'],
    [
      'a paper-1d instance in 2-D',
      (c) => (c.instances[0].dim = 2),
      "config.instances[0] kind 'paper-1d' is the fixed 1-D illustration",
    ],
    [
      'dips that can overlap the global minimum',
      (c) => (c.instances[1].sharpnessMin = 5),
      'config.instances[1].sharpnessMin must be >= 10.6 (1 + 12 · depthMax)',
    ],
    [
      'a grid index = count',
      (c) => (c.etaGrid.indices = [10]),
      'config.etaGrid.indices[0] must be an integer in [0, 9]',
    ],
    ['a repeated σ index', (c) => (c.noise.stdIndices = [1, 1]), 'config.noise.stdIndices[1] must not repeat an index'],
    [
      'σ max < σ min',
      (c) => (c.noise.stdMaxFactor = 1e-5),
      'config.noise.stdMaxFactor must be >= config.noise.stdMinFactor',
    ],
    [
      'a noise family not among the instances',
      (c) => (c.noise.instances = ['compact-9d']),
      'config.noise.instances[0] must name an instance in config.instances (got "compact-9d")',
    ],
  ];
  for (const [what, change, message] of crossLandscape) {
    it(`rejects ${what} in the E1 check only (${message})`, () => {
      const config = structuredClone(landscapePresets.tiny);
      change(config);
      expect(landscape(config), ajv.errorsText(landscape.errors)).to.equal(true);
      expect(() => validateLandscapeConfig(config)).to.throw(RangeError, message);
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
