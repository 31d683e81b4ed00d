/**
 * Config schemas in zod, with the project's errors. One zod schema per config kind gives the TS
 * type (`z.infer`), the runtime check ({@link parseNamed}) and the JSON Schema shipped in schemas/
 * ({@link jsonSchemaOf}). Errors keep the project's template, naming the parameter's path:
 *   - a wrong type (or a missing field) → TypeError `<path> must be <what>`;
 *   - an unknown key → TypeError `<path>: unknown option "<key>" (did you mean "<nearest>"?)`, as
 *     checkKnownKeys words it;
 *   - a value out of range or not among the allowed ones → RangeError `<path> <message>`.
 * The messages come from the schema's own `error` texts (the builders below write them).
 */
import { z } from 'zod';

import { formatValue } from './format.js';
import { checkKnownKeys } from './options.js';

/** `root` followed by the issue's path: `config.verdict.rejectShare`, `config.seeds[2]`. */
function pathOf(root: string, path: readonly PropertyKey[]): string {
  return root + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** The sub-schema at `path` (through objects, arrays, nullables, optionals, unions by the value). */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[], value: unknown): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  let v = value;
  for (const key of path) {
    s = unwrap(s, v);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(key)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return undefined;
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return unwrap(s, v);
}

function unwrap(s: z.ZodType | undefined, v: unknown): z.ZodType | undefined {
  for (let i = 0; i < 8 && s; i++) {
    if (s instanceof z.ZodNullable || s instanceof z.ZodOptional || s instanceof z.ZodDefault)
      s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else if (s instanceof z.ZodDiscriminatedUnion || s instanceof z.ZodUnion) {
      const options = (s as z.ZodUnion).options as z.ZodType[];
      s =
        options.find((o) => o.safeParse(v).success) ??
        options.find((o) => o instanceof z.ZodObject && discriminatorMatches(o, v));
    } else return s;
  }
  return s;
}

/** True if the object schema's literal fields (the discriminator) match `v`'s. */
function discriminatorMatches(o: z.ZodObject, v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  return Object.entries(o.shape as Record<string, z.ZodType>).every(
    ([k, f]) => !(f instanceof z.ZodLiteral) || f.values.has((v as Record<string, unknown>)[k] as never),
  );
}

/**
 * `value` checked against `schema`; on failure throws the first issue as a TypeError / RangeError
 * naming `root` + its path (see the module comment). Unknown keys are reported first, as the
 * hand-written checks did, so a typo is named before the default it failed to override.
 */
export function parseNamed<S extends z.ZodType>(schema: S, value: unknown, root: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  const path = pathOf(root, issue.path);
  if (issue.code === 'unrecognized_keys') {
    const at = schemaAt(schema, issue.path, value);
    const known = at instanceof z.ZodObject ? Object.keys(at.shape) : [];
    const target = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown>)[k], value);
    checkKnownKeys(target, known, path); // throws, with the nearest known key
    throw new TypeError(`${path}: unknown option "${issue.keys[0]}"`);
  }
  const message = `${path} ${issue.message}`;
  throw issue.code === 'invalid_type' ? new TypeError(message) : new RangeError(message);
}

/** A discriminated union's error: `must be an object` for a non-object, else the discriminator's allowed values. */
export function unionError(what: string, kinds: readonly string[]) {
  return (i: { code: string; input?: unknown }): string =>
    i.code === 'invalid_type'
      ? `must be ${what}`
      : `must be one of ${kinds.map((k) => `'${k}'`).join(', ')} (got ${JSON.stringify((i.input as { kind?: unknown } | undefined)?.kind)})`;
}

/** The JSON Schema (draft-07) of a config schema, as shipped in schemas/. */
export function jsonSchemaOf(schema: z.ZodType, meta: { title: string; description: string }): Record<string, unknown> {
  const body = z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = body;
  return { $schema, title: meta.title, description: meta.description, ...rest };
}

// ---- builders with the project's messages ---------------------------------------------------------

const got = (input: unknown): string => `(got ${formatValue(input)})`;

/** An integer in [1, max]. */
export const positiveInt = (max = 2 ** 31 - 1): z.ZodNumber =>
  z
    .number({ error: 'must be a positive integer' })
    .int({ error: (i) => `must be a positive integer <= ${max} ${got(i.input)}` })
    .min(1, { error: (i) => `must be a positive integer <= ${max} ${got(i.input)}` })
    .max(max, { error: (i) => `must be a positive integer <= ${max} ${got(i.input)}` });

/** An integer in [0, 2^53). */
export const nonNegativeInt = (): z.ZodNumber =>
  z
    .number({ error: 'must be a non-negative integer' })
    .int({ error: (i) => `must be a non-negative integer ${got(i.input)}` })
    .min(0, { error: (i) => `must be a non-negative integer ${got(i.input)}` })
    .max(Number.MAX_SAFE_INTEGER, { error: (i) => `must be a non-negative integer ${got(i.input)}` });

/** A finite number > 0. */
export const positiveNumber = (): z.ZodNumber =>
  z.number({ error: 'must be a positive number' }).gt(0, { error: (i) => `must be a positive number ${got(i.input)}` });

/** A number in (0, 1] (`closed`) or (0, 1). */
export const fraction = (closed: boolean): z.ZodNumber => {
  const range = closed ? '(0, 1]' : '(0, 1)';
  const n = z
    .number({ error: `must be a number in ${range}` })
    .gt(0, { error: (i) => `must be in ${range} ${got(i.input)}` });
  return closed
    ? n.max(1, { error: (i) => `must be in ${range} ${got(i.input)}` })
    : n.lt(1, { error: (i) => `must be in ${range} ${got(i.input)}` });
};

/** A boolean. */
export const boolean = (): z.ZodBoolean => z.boolean({ error: 'must be a boolean' });

/** One of `values` (a RangeError names them; a non-string too, as the hand-written checks did). */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> =>
  z.enum(values as unknown as [T[number], ...T[number][]], {
    error: (i) => `must be one of ${values.map((s) => `'${s}'`).join(', ')} (got ${JSON.stringify(i.input)})`,
  }) as never;

/** A non-empty array of `element`, without repeats when `distinct` names what repeats. */
export const nonEmptyArray = <T extends z.ZodType>(element: T, what: string, distinct?: string) => {
  const a = z
    .array(element, { error: `must be a non-empty array of ${what}` })
    .min(1, { error: `must be a non-empty array of ${what}` });
  return distinct ? a.refine((v) => new Set(v).size === v.length, { error: `must not repeat ${distinct}` }) : a;
};
