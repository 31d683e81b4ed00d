/**
 * Copying user-supplied configs and specs before they are validated. `structuredClone` fails on a
 * Proxy with a DataCloneError, recurses without bound (stack overflow at ~10⁴ levels) and keeps an
 * own `__proto__` key that a later assignment turns into a prototype change; `plainCopy` instead
 * names the offending path in a TypeError/RangeError.
 */
import { types } from 'node:util';

import { formatValue } from './format.js';

/** Nesting deeper than this is refused (the deepest shipped config has 5 levels). */
export const MAX_DEPTH = 64;

/** Keys that would reach or replace an object's prototype when assigned. */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A deep copy of `value` as JSON-like data: plain objects (copied onto `Object.prototype`),
 * arrays, typed arrays (copied), strings, numbers (NaN and ±Infinity kept for the validator to
 * name), booleans, null and undefined. Throws a TypeError naming the path (`where.a[2].b`) for a
 * Proxy, function, symbol, BigInt, class instance, cycle or a `__proto__` / `constructor` /
 * `prototype` key, and a RangeError for nesting deeper than {@link MAX_DEPTH}.
 */
export function plainCopy<T>(value: T, where: string): T {
  const stack = new Set<object>();
  const copy = (v: unknown, at: string, depth: number): unknown => {
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      return v;
    if (typeof v !== 'object')
      throw new TypeError(`${at} must be plain data (got ${typeof v === 'function' ? 'a function' : formatValue(v)})`);
    if (types.isProxy(v)) throw new TypeError(`${at} must be plain data, not a Proxy`);
    if (depth > MAX_DEPTH) throw new RangeError(`${at} is nested more than ${MAX_DEPTH} levels deep`);
    if (ArrayBuffer.isView(v)) {
      if (v instanceof DataView) throw new TypeError(`${at} must be plain data (got a DataView)`);
      return (v as unknown as { slice(): unknown }).slice();
    }
    if (stack.has(v)) throw new TypeError(`${at} refers back to itself (a cycle)`);
    stack.add(v);
    try {
      if (Array.isArray(v)) return v.map((x, i) => copy(x, `${at}[${i}]`, depth + 1));
      if (!isPlainObject(v))
        throw new TypeError(`${at} must be a plain object (got ${v.constructor?.name ?? 'an object'})`);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        if (FORBIDDEN_KEYS.includes(k))
          throw new TypeError(`${at}: key "${k}" is not allowed (it would reach the object's prototype)`);
        out[k] = copy((v as Record<string, unknown>)[k], `${at}.${k}`, depth + 1);
      }
      return out;
    } finally {
      stack.delete(v);
    }
  };
  return copy(value, where, 0) as T;
}
