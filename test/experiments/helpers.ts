/** Shared by the experiment tests (E1 landscape, E2 escape, E3 noise). */
import { expect } from 'chai';

import type { RunContext } from '../../src/experiments/types.js';
import type { Figure } from '../../src/report/plot.js';
import { expectError, type ErrorClass } from '../engine/helpers.js';

/** A run context that keeps the metrics lines and counts the progress calls. */
export function testContext(
  signal?: AbortSignal,
): RunContext & { lines: Array<Record<string, unknown>>; progressCalls: number } {
  const lines: Array<Record<string, unknown>> = [];
  const ctx = {
    dir: '/nonexistent',
    lines,
    progressCalls: 0,
    log(record: Record<string, unknown>) {
      lines.push(record);
    },
    progress() {
      ctx.progressCalls++;
    },
    signal,
  };
  return ctx;
}

/** A result as plain JSON without its `timing` (non-finite numbers kept as strings), for bitwise comparison. */
export function withoutTiming(r: { timing: unknown }): unknown {
  const { timing: _t, ...rest } = r;
  void _t;
  return JSON.parse(JSON.stringify(rest, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));
}

/** What `run` rejects with when its signal is aborted before it starts (asserts that it rejects with an Error). */
export async function abortedRunError(run: (signal: AbortSignal) => Promise<unknown>): Promise<Error> {
  const ac = new AbortController();
  ac.abort();
  const caught = await rejectionOf(run(ac.signal));
  expect(caught).to.be.instanceOf(Error);
  return caught as Error;
}

/** What `p` rejects with (undefined when it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

/** A figure has an SVG, a PNG, and a caption containing every one of `captionParts`. */
export function expectRenderedFigure(f: Figure, captionParts: string[]): void {
  expect(f.svg, f.id).to.contain('<svg');
  expect([...f.png.subarray(0, 8)], f.id).to.deep.equal([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (const part of captionParts) expect(f.caption, f.id).to.contain(part);
}

/** A config mutation and the error it must cause: [title, mutate, error class, text the message contains]. */
export type RejectCase = [string, (c: Record<string, any>) => void, ErrorClass, string];

/** One test per case: `validate` rejects a fresh config changed by `mutate`, naming the field. */
export function itRejects(
  cases: RejectCase[],
  freshConfig: () => unknown,
  validate: (config: unknown) => unknown,
): void {
  for (const [name, mutate, cls, param] of cases) {
    it(`rejects ${name} with a ${cls.name} naming ${param.split(' ')[0]}`, () => {
      const c = freshConfig() as Record<string, any>;
      mutate(c);
      expectError(() => validate(c), cls, param);
    });
  }
}
