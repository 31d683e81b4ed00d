/**
 * The fields of a sweep spec, defined once: the runtime validator (./spec.ts) takes its key list
 * from here, and `sweepSpecJsonSchema()` turns the same table into the JSON Schema shipped as
 * schemas/sweep-spec.schema.json (written by scripts/write-schemas.cjs), which editors use to check and complete YAML/JSON sweep specs
 * (e.g. `# yaml-language-server: $schema=<path>/sweep-spec.schema.json` on the spec's first line).
 * test/sweep/spec-schema.test.ts checks that the shipped file is this output and that the schema
 * and the validator agree on a set of good and bad specs.
 */

import { SCALES } from '../run/experiment.js';

/** A JSON Schema fragment (draft-07). */
export type JsonSchema = Record<string, unknown>;

/** A dotted path into a config: segments are identifiers or array indices; never a prototype key. */
const DOTTED_PATH: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z_$][\\w$]*(\\.([A-Za-z_$][\\w$-]*|\\d+))*$',
  not: { pattern: '(^|\\.)(__proto__|constructor|prototype)(\\.|$)' },
};

/** One row per spec field: its schema and what it means (the schema's description). */
export const SWEEP_SPEC_FIELDS = {
  experiment: {
    required: true,
    schema: { type: 'string' },
    description: 'A registered experiment (bigstep run --help lists them).',
  },
  preset: {
    schema: { enum: [...SCALES] },
    description: 'The preset config the overrides apply to (default quick).',
  },
  name: {
    schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    description: "The sweep's name (default: the spec file's base name).",
  },
  base: {
    schema: { type: 'object', propertyNames: DOTTED_PATH },
    description: 'Dotted path → value, applied in order to the preset config (a value replaces the field).',
  },
  grid: {
    schema: {
      anyOf: [{ $ref: '#/definitions/grid' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/grid' } }],
    },
    description:
      'Dotted path → list of values; the tasks are the product (first key slowest). A list of grids concatenates their products.',
  },
  seeds: {
    schema: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 0 } },
    description: 'Base seeds (as bigstep run --seed N), the innermost loop.',
  },
  figures: { schema: { type: 'boolean' }, description: 'false: tasks write no figures (default true).' },
  columns: {
    schema: {
      type: 'object',
      additionalProperties: { anyOf: [DOTTED_PATH, { type: 'array', minItems: 1, items: DOTTED_PATH }] },
    },
    description: 'Extra CSV columns: name → dotted path(s) into result.json (the first path that exists).',
  },
} as const satisfies Record<string, { required?: boolean; schema: JsonSchema; description: string }>;

/** The spec's field names, in documentation order. */
export const SWEEP_SPEC_KEYS = Object.keys(SWEEP_SPEC_FIELDS) as Array<keyof typeof SWEEP_SPEC_FIELDS>;

/** The JSON Schema (draft-07) of a sweep spec, generated from {@link SWEEP_SPEC_FIELDS}. */
export function sweepSpecJsonSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [key, field] of Object.entries(SWEEP_SPEC_FIELDS) as Array<
    [string, { required?: boolean; schema: JsonSchema; description: string }]
  >) {
    properties[key] = { description: field.description, ...field.schema };
    if (field.required) required.push(key);
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'bigstep sweep spec',
    description:
      'A sweep over one experiment: bigstep sweep plan SPEC --out DIR (docs/cluster.md). Configs are checked per task by the experiment.',
    type: 'object',
    additionalProperties: false,
    required,
    properties,
    definitions: {
      grid: {
        type: 'object',
        propertyNames: DOTTED_PATH,
        additionalProperties: { type: 'array', minItems: 1 },
      },
    },
  };
}
