/** Option parsing for the CLI: node:util parseArgs (strict), with one-line errors naming the option. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { parse as parseYaml } from 'yaml';

import { getPath, setPath } from '../sweep/spec.js';

/** Misuse of the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

function optionList(options: Options): string {
  return Object.keys(options)
    .map((k) => `--${k}`)
    .join(', ');
}

/**
 * Parses `args` for `command` strictly; unknown options, missing values and unexpected arguments
 * become a `UsageError` like `bigstep run: unknown option --foo (options: --preset, --out)`.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number; names: string },
): { values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string }; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals.max > 0, tokens: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
    const name = quoted.split(' ')[0];
    switch (err.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`bigstep ${command}: unknown option ${name} (options: ${optionList(options) || 'none'})`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        throw new UsageError(
          /does not take an argument/.test(err.message)
            ? `bigstep ${command}: option ${name} takes no value`
            : /ambiguous/.test(err.message)
              ? `bigstep ${command}: option ${name} needs a value (write ${name}=VALUE for a value starting with "-")`
              : `bigstep ${command}: option ${name} needs a value`,
        );
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`bigstep ${command}: unexpected argument "${quoted}"`);
      default:
        throw new UsageError(`bigstep ${command}: ${err.message.split('\n')[0]}`);
    }
  }
  // parseArgs keeps the last of a repeated single-valued option; a repeat is misuse instead.
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || options[t.name]?.multiple) continue;
    if (seen.has(t.name))
      throw new UsageError(`bigstep ${command}: option --${t.name} given more than once (it takes one value)`);
    seen.add(t.name);
  }
  const pos = parsed.positionals;
  if (pos.length < positionals.min) throw new UsageError(`bigstep ${command}: missing ${positionals.names}`);
  if (pos.length > positionals.max)
    throw new UsageError(`bigstep ${command}: unexpected argument "${pos[positionals.max]}"`);
  return { values: parsed.values, positionals: parsed.positionals } as never;
}

/** `--name` as a non-negative integer, or undefined if absent. */
export function intOption(command: string, name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`bigstep ${command}: --${name} must be an integer >= ${min} (got "${value}")`);
  return n;
}

/** `--name` as one of `choices`. */
export function choiceOption<T extends string>(command: string, name: string, value: string, choices: readonly T[]): T {
  if (!choices.includes(value as T))
    throw new UsageError(`bigstep ${command}: --${name} must be one of ${choices.join(', ')} (got "${value}")`);
  return value as T;
}

/**
 * A copy of `config` with `--set PATH=VALUE` overrides applied: PATH is a dotted path to a field
 * that exists (array elements by index), VALUE is parsed as YAML (numbers, booleans, null, flow
 * lists and maps; anything else stays a string). A typo in PATH is a usage error listing the
 * fields there, so a misspelt override never runs silently as the preset.
 */
export function withOverrides(command: string, config: unknown, sets: string[]): unknown {
  const out = structuredClone(config) as Record<string, unknown>;
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq <= 0) throw new UsageError(`bigstep ${command}: --set needs PATH=VALUE (got "${set}")`);
    const field = set.slice(0, eq).trim();
    let value: unknown;
    try {
      value = parseYaml(set.slice(eq + 1));
    } catch (e) {
      throw new UsageError(
        `bigstep ${command}: --set ${field}: VALUE is not valid YAML (${(e as Error).message.split('\n')[0]})`,
      );
    }
    try {
      setPath(out, field, value === undefined ? null : value, `--set ${field}`, () => {
        const parent = field.includes('.') ? getPath(out, field.slice(0, field.lastIndexOf('.'))) : out;
        const fields =
          parent && typeof parent === 'object'
            ? Object.keys(parent).filter((k) => k !== field.slice(field.lastIndexOf('.') + 1))
            : [];
        throw new UsageError(
          `bigstep ${command}: --set ${field}: the config has no field "${field}"` +
            (fields.length ? ` (fields there: ${fields.join(', ')})` : ''),
        );
      });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`bigstep ${command}: ${(e as Error).message}`);
    }
  }
  return out;
}
