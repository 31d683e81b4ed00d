/**
 * The training data a trainer hands to the native loop, in SharedArrayBuffer-backed arrays.
 *
 * An async chunk reads the data set on a worker thread while JS keeps running, and JS could detach
 * an ordinary ArrayBuffer meanwhile (`structuredClone(buf, { transfer })`, `postMessage`,
 * `ArrayBuffer.prototype.transfer`), which frees its memory. A SharedArrayBuffer cannot be
 * detached, so the binding borrows it without copying (binding/job.h); an ordinary ArrayBuffer it
 * would have to copy for every chunk. A trainer therefore takes the data set in shared memory once,
 * at construction: arrays already backed by a SharedArrayBuffer are used as they are (no copy, and
 * later writes to them are seen by the trainer); others are copied (a snapshot: the trainer does
 * not see later writes to the original, which the caller may drop or detach freely).
 */
import type { Examples } from '../model/model.js';

/** `a` itself if a SharedArrayBuffer backs it, else a copy in a new SharedArrayBuffer. Other values pass through (the binding names them). */
export function inSharedMemory<T>(a: T): T {
  if (!(a instanceof Float32Array || a instanceof Int32Array)) return a;
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const buffer = new SharedArrayBuffer(a.byteLength);
  const out = a instanceof Float32Array ? new Float32Array(buffer) : new Int32Array(buffer);
  out.set(a);
  return out as T;
}

/** The data set with x and y in shared memory (see the module comment). */
export function sharedExamples(data: Examples): Examples {
  return { x: inSharedMemory(data.x), y: inSharedMemory(data.y) };
}
