/**
 * A short, never-throwing rendering of any value for error messages ("got ..."): JSON.stringify
 * throws on a BigInt and String() on a symbol or an object without toString, and a validator's
 * message must not fail while it reports bad input.
 */
export function formatValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'symbol':
      return v.description !== undefined ? `Symbol(${v.description})` : 'Symbol()';
    case 'function':
      return 'a function';
    default:
      if (v === null) return 'null';
      if (Array.isArray(v)) return `an array of length ${v.length}`;
      if (ArrayBuffer.isView(v)) return `a ${v.constructor?.name ?? 'typed array'}`;
      return 'an object';
  }
}
