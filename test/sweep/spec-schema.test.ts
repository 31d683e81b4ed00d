// The shipped JSON Schema of sweep specs is generated from the same field table as the runtime
// validator, and the two agree: every example below is accepted by both or rejected by both.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Ajv } from 'ajv';

import { SWEEP_SPEC_KEYS, sweepSpecJsonSchema } from '../../src/sweep/spec-schema.js';
import { validateSweepSpec } from '../../src/sweep/spec.js';

const shipped = fileURLToPath(new URL('../../../schemas/sweep-spec.schema.json', import.meta.url));

// Shape-level examples (task count and per-task configs are checked by the validator only).
const good: unknown[] = [
  { experiment: 'landscape' },
  { experiment: 'landscape', preset: 'tiny', name: 'e1-grid', figures: false },
  { experiment: 'noise', base: { 'trajectories.count': 0, 'noise.anneal': ['none'] } },
  { experiment: 'landscape', grid: { 'noise.etaFactors': [[0.25], [0.9]], seed: [1, 2] }, seeds: [1, 2, 3] },
  { experiment: 'landscape', grid: [{ seed: [1] }, { seed: [2], 'instances.0.dim': [2, 3] }] },
  {
    experiment: 'escape',
    columns: { success: ['instances.0.noise.0.success', 'instances.0.sweep.0.success'], acc: 'final.accuracy' },
  },
];
const bad: unknown[] = [
  {},
  [],
  'landscape',
  { experiment: 42 },
  { experiment: 'landscape', preset: 'huge' },
  { experiment: 'landscape', seed: [1] },
  { experiment: 'landscape', name: '-x' },
  { experiment: 'landscape', name: 'a b' },
  { experiment: 'landscape', base: [] },
  { experiment: 'landscape', base: { 'a..b': 1 } },
  { experiment: 'landscape', base: { '__proto__.toString': 1 } },
  { experiment: 'landscape', base: { 'a.constructor': 1 } },
  { experiment: 'landscape', grid: { seed: 1 } },
  { experiment: 'landscape', grid: { seed: [] } },
  { experiment: 'landscape', grid: [] },
  { experiment: 'landscape', grid: [{ seed: 1 }] },
  { experiment: 'landscape', grid: { 'x.prototype': [1] } },
  { experiment: 'landscape', seeds: [] },
  { experiment: 'landscape', seeds: [1, 1] },
  { experiment: 'landscape', seeds: [-1] },
  { experiment: 'landscape', seeds: [1.5] },
  { experiment: 'landscape', figures: 'no' },
  { experiment: 'landscape', columns: { a: [] } },
  { experiment: 'landscape', columns: { a: 3 } },
  { experiment: 'landscape', columns: [] },
];

describe('sweep spec JSON Schema (schemas/sweep-spec.schema.json)', () => {
  const ajv = new Ajv({ strict: true, allErrors: true });
  const check = ajv.compile(sweepSpecJsonSchema());
  const runtime = (spec: unknown): boolean => {
    try {
      validateSweepSpec(spec);
      return true;
    } catch {
      return false;
    }
  };

  it('the shipped file is the generated schema (regenerate: node scripts/write-schemas.cjs)', () => {
    expect(JSON.parse(fs.readFileSync(shipped, 'utf8'))).to.deep.equal(sweepSpecJsonSchema());
  });

  it('lists exactly the fields the validator accepts', () => {
    expect(Object.keys(sweepSpecJsonSchema().properties as object)).to.deep.equal(SWEEP_SPEC_KEYS);
  });

  for (const spec of good) {
    it(`accepts ${JSON.stringify(spec)} like the validator`, () => {
      expect(runtime(spec), 'validator').to.equal(true);
      expect(check(spec), JSON.stringify(check.errors)).to.equal(true);
    });
  }
  for (const spec of bad) {
    it(`rejects ${JSON.stringify(spec)} like the validator`, () => {
      expect(runtime(spec), 'validator').to.equal(false);
      expect(check(spec), 'schema').to.equal(false);
    });
  }
});
