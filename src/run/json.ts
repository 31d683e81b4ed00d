/**
 * JSON helpers for run directories: typed arrays become plain arrays, and a canonical form
 * (object keys sorted at every level) gives configs a stable hash.
 */
import { createHash } from 'node:crypto';

/** JSON replacer: typed arrays → arrays, bigint → string (non-finite numbers become null, as in JSON). */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number | bigint>, (v) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** `JSON.stringify` with {@link jsonReplacer}. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, jsonReplacer, indent);
}

/** A plain JSON value: what `JSON.parse(toJson(value))` gives. */
export function toPlain<T = unknown>(value: unknown): T {
  return JSON.parse(toJson(value) ?? 'null') as T;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** Canonical JSON: plain values (see {@link toPlain}) with object keys sorted, no whitespace. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(toPlain(value)));
}

/** Lower-case hex SHA-256 of a string (UTF-8). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
