/**
 * Option and config schemas in zod, with the project's errors. One zod schema per option kind
 * gives the runtime check ({@link parseNamed}), the TS type (`z.infer`, or a compile-time check
 * against the documented interface) and, for config files, the JSON Schema shipped in schemas/
 * ({@link jsonSchemaOf}). Errors keep the project's template, naming the parameter's path:
 *   - a wrong type (or a missing field) → TypeError `<path> must be <what>`; a name (a kind, a
 *     mode) that is not a string is a TypeError too;
 *   - a fraction where an integer belongs, NaN or ±Infinity → RangeError (a number of a wrong value);
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
      // The branch the value belongs to, through nested unions (a number-or-schedule option).
      const options = ((s as z.ZodUnion).options as z.ZodType[]).map((o) => unwrap(o, v));
      s =
        options.find((o) => o?.safeParse(v).success) ??
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
  const issue = reportedIssue(r.error.issues);
  const path = pathOf(root, issue.path);
  if (issue.code === 'unrecognized_keys') {
    const at = schemaAt(schema, issue.path, value);
    const known = at instanceof z.ZodObject ? Object.keys(at.shape) : [];
    checkKnownKeys(valueAt(value, issue.path), known, path); // throws, with the nearest known key
    throw new TypeError(`${path}: unknown option "${issue.keys[0]}"`);
  }
  const message = `${path} ${issue.message}`;
  throw isTypeIssue(issue, valueAt(value, issue.path)) ? new TypeError(message) : new RangeError(message);
}

type Issue = z.core.$ZodIssue;

/**
 * The issue to report: an unknown key first, else the first issue. A union that failed is reported
 * through the one branch whose type the value has (`lr: -1` as the number branch's range error), or
 * as a type error when the value has none of the branches' types.
 */
function reportedIssue(issues: readonly Issue[]): Issue {
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  // A branch the value has the type of: no type issue at its root, except zod's "expected int" for a
  // fraction (the value is a number, of the wrong value: `input: 1.5` in a number-or-list union).
  const typed = issue.errors.filter(
    (branch) =>
      !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0 && (i.expected as string) !== 'int'),
  );
  if (typed.length === 1) {
    const inner = reportedIssue(typed[0]!);
    return { ...inner, path: [...issue.path, ...inner.path] } as Issue;
  }
  return typed.length === 0 ? ({ ...issue, code: 'invalid_type', expected: 'union' } as unknown as Issue) : issue;
}

/**
 * A TypeError: a value of the wrong type, including a name (an enum value, a union's `kind`) that
 * is not a string, and a refinement that reports a type error (`params: { typeError: true }`: a
 * missing or empty required value). A fraction where an integer belongs, NaN and ±Infinity are
 * numbers of a wrong value: a RangeError (zod calls them the wrong type).
 */
function isTypeIssue(issue: Issue, input: unknown): boolean {
  // zod reports a fraction where an integer belongs (`expected: 'int'`), NaN and ±Infinity as a
  // wrong type; they are numbers of a wrong value.
  if (issue.code === 'invalid_type')
    return !(
      typeof input === 'number' &&
      (issue.expected === 'number' || (issue.expected as string) === 'int' || !Number.isFinite(input))
    );
  // A refinement's type error (a missing batch size the batch mode needs, an empty path).
  if (issue.code === 'custom' && issue.params?.typeError === true) return true;
  if (issue.code === 'invalid_value' || (issue.code === 'invalid_union' && 'discriminator' in issue))
    return typeof input !== 'string';
  return false;
}

/** The value at `path` inside `value` (undefined where the path leaves the data). */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

/** A discriminated union's error: `must be an object` for a non-object, else the discriminator's allowed values. */
export function unionError(what: string, kinds: readonly string[]) {
  return (i: { code: string; input?: unknown }): string =>
    i.code === 'invalid_type'
      ? `must be ${what}`
      : `must be one of ${kinds.map((k) => `'${k}'`).join(', ')} ${got((i.input as { kind?: unknown } | undefined)?.kind)}`;
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

/** One of `values` (a RangeError names them; a value that is not a string is a TypeError). */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> =>
  z.enum(values as unknown as [T[number], ...T[number][]], {
    error: (i) => `must be one of ${values.map((s) => `'${s}'`).join(', ')} ${got(i.input)}`,
  }) as never;

/** A non-empty array of `element`, without repeats when `distinct` names what repeats. */
export const nonEmptyArray = <T extends z.ZodType>(element: T, what: string, distinct?: string) => {
  const a = z
    .array(element, { error: `must be a non-empty array of ${what}` })
    .min(1, { error: `must be a non-empty array of ${what}` });
  return distinct ? a.refine((v) => new Set(v).size === v.length, { error: `must not repeat ${distinct}` }) : a;
};

// ---- builders for the library's options (the templates of the former hand-written checks) ---------

/** A finite number >= `min`; NaN and ±Infinity are RangeErrors (`note` is appended to the range message). */
export const finiteAtLeast = (min: number, note = ''): z.ZodNumber => {
  const range = (v: unknown) => `must be a finite number >= ${min} (got ${formatValue(v)}${note})`;
  return z
    .number({ error: (i) => (typeof i.input === 'number' ? range(i.input) : `must be a number ${got(i.input)}`) })
    .min(min, { error: (i) => range(i.input) });
};

/** A learning rate: finite and >= 0. 0 is allowed (a frozen control run); a negative rate would ascend the loss. */
export const learningRateNumber = (): z.ZodNumber =>
  finiteAtLeast(0, '; 0 is allowed, a negative rate would ascend the loss');

/** An integer in [min, limit) (`limitText` names the limit in the message, e.g. '2^52'). */
export const intBelow = (min: number, limit: number, limitText: string): z.ZodNumber => {
  const range = (v: unknown) => `must be an integer in [${min}, ${limitText}) ${got(v)}`;
  return z
    .number({ error: (i) => (typeof i.input === 'number' ? range(i.input) : `must be a number ${got(i.input)}`) })
    .int({ error: (i) => range(i.input) })
    .min(min, { error: (i) => range(i.input) })
    .lt(limit, { error: (i) => range(i.input) });
};

/**
 * One of the names of an option kind (`kinds.batchModes`, …), in the template the binding uses too
 * (binding/kinds.h): `must be one of a, b, c (got "x")`; a value that is not a string is a TypeError.
 */
export const kindName = <const T extends string>(names: readonly T[]): z.ZodType<T> =>
  z.enum(names as unknown as [T, ...T[]], {
    error: (i) => `must be one of ${names.join(', ')} ${got(i.input)}`,
  }) as unknown as z.ZodType<T>;

/** The error of a union discriminated by `kind` whose names are `names` (the template of {@link kindName}). */
export const kindUnionError =
  (what: string, names: readonly string[]) =>
  (i: { code: string; input?: unknown }): string =>
    i.code === 'invalid_type'
      ? `must be ${what} ${got(i.input)}`
      : `must be one of ${names.join(', ')} ${got((i.input as { kind?: unknown } | undefined)?.kind)}`;

/** An instance of `type` (a typed array, AbortSignal, Function …); anything else is a TypeError. */
export const instanceOf = <T extends abstract new (...args: never[]) => unknown>(
  type: T,
  what: string,
): z.ZodType<InstanceType<T>> =>
  z.instanceof(type as never, { error: (i) => `must be ${what} ${got(i.input)}` }) as unknown as z.ZodType<
    InstanceType<T>
  >;
