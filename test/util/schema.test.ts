// parseNamed: a zod issue becomes the project's TypeError / RangeError, naming the parameter's path.
import { expect } from 'chai';
import { z } from 'zod';

import {
  finiteAtLeast,
  instanceOf,
  intBelow,
  kindName,
  kindUnionError,
  learningRateNumber,
  parseNamed,
} from '../../src/util/schema.js';

type Cls = typeof TypeError | typeof RangeError;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('nothing was thrown');
}

const schedule = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('constant'), lr: learningRateNumber() }),
    z.strictObject({ kind: z.literal('step'), lr: learningRateNumber(), stepSize: intBelow(1, 2 ** 52, '2^52') }),
  ],
  { error: kindUnionError('a schedule object', ['constant', 'step']) },
);
const options = z.strictObject(
  {
    lr: z.union([learningRateNumber(), schedule], { error: 'must be a number or a schedule' }),
    mode: kindName(['full', 'shuffle']).optional(),
    size: intBelow(1, 2 ** 53, '2^53').optional(),
    decay: finiteAtLeast(0).optional(),
    signal: instanceOf(AbortSignal, 'an AbortSignal').optional(),
    shape: z
      .union([intBelow(1, 2 ** 31, '2^31'), z.array(intBelow(1, 2 ** 31, '2^31'))], {
        error: 'must be a number or an array of integers',
      })
      .optional(),
  },
  { error: 'must be an object' },
);

describe('parseNamed (src/util/schema.ts)', () => {
  const cases: Array<[string, unknown, Cls, string]> = [
    ['not an object', null, TypeError, 'opts must be an object'],
    [
      'an unknown key, with the nearest known one',
      { lr: 1, sise: 2 },
      TypeError,
      'opts: unknown option "sise" (did you mean "size"?)',
    ],
    ['an unknown key before a bad value', { lr: -1, sise: 2 }, TypeError, 'opts: unknown option "sise"'],
    ['a missing field', {}, TypeError, 'opts.lr must be a number or a schedule'],
    ['a number out of range', { lr: 1, size: 0 }, RangeError, 'opts.size must be an integer in [1, 2^53) (got 0)'],
    [
      'NaN: a number of a wrong value',
      { lr: 1, decay: NaN },
      RangeError,
      'opts.decay must be a finite number >= 0 (got NaN)',
    ],
    ['-Infinity', { lr: 1, decay: -Infinity }, RangeError, 'opts.decay must be a finite number >= 0 (got -Infinity)'],
    ['a string for a number', { lr: 1, decay: '1' }, TypeError, 'opts.decay must be a number (got "1")'],
    [
      'a name not among the kinds',
      { lr: 1, mode: 'random' },
      RangeError,
      'opts.mode must be one of full, shuffle (got "random")',
    ],
    ['a name that is not a string', { lr: 1, mode: 3 }, TypeError, 'opts.mode must be one of full, shuffle (got 3)'],
    [
      'an instance of the wrong class',
      { lr: 1, signal: {} },
      TypeError,
      'opts.signal must be an AbortSignal (got an object)',
    ],
    // A union is reported through the branch whose type the value has.
    ['a union: the number branch', { lr: -0.5 }, RangeError, 'opts.lr must be a finite number >= 0 (got -0.5'],
    [
      'a union: the object branch',
      { lr: { kind: 'step', lr: 0.1, stepSize: 1.5 } },
      RangeError,
      'opts.lr.stepSize must be an integer in [1, 2^52) (got 1.5)',
    ],
    [
      'a union: an unknown key in the object branch',
      { lr: { kind: 'constant', lr: 0.1, warmup: 3 } },
      TypeError,
      'opts.lr: unknown option "warmup"',
    ],
    [
      'a union: an unknown kind',
      { lr: { kind: 'exp' } },
      RangeError,
      'opts.lr.kind must be one of constant, step (got "exp")',
    ],
    [
      'a union: a kind that is not a string',
      { lr: { kind: 5n } },
      TypeError,
      'opts.lr.kind must be one of constant, step (got 5n)',
    ],
    ['a union: no branch of its type', { lr: 'fast' }, TypeError, 'opts.lr must be a number or a schedule'],
    ['a union: NaN', { lr: NaN }, RangeError, 'opts.lr must be a number or a schedule'],
    [
      'a union: a fraction for the integer branch',
      { lr: 1, shape: 1.5 },
      RangeError,
      'opts.shape must be an integer in [1, 2^31) (got 1.5)',
    ],
    ['a union: a string for a number or a list', { lr: 1, shape: '2' }, TypeError, 'opts.shape must be a number or'],
  ];
  for (const [what, value, cls, message] of cases)
    it(`${what} → ${cls.name} "${message}"`, () => {
      const e = thrown(() => parseNamed(options, value, 'opts'));
      expect(e).to.be.instanceOf(cls);
      expect(e.message.startsWith(message), e.message).to.equal(true);
    });

  it('a refinement reports a RangeError, or a TypeError when it says so (params.typeError)', () => {
    const s = z
      .strictObject({ mode: z.string().optional(), size: z.number().optional(), min: z.number(), max: z.number() })
      .superRefine((o, ctx) => {
        if (o.max < o.min) ctx.addIssue({ code: 'custom', path: ['max'], message: 'must be >= opts.min' });
        if (o.mode === 'shuffle' && o.size === undefined)
          ctx.addIssue({ code: 'custom', path: ['size'], message: 'must be given', params: { typeError: true } });
      });
    expect(() => parseNamed(s, { min: 2, max: 1 }, 'opts')).to.throw(RangeError, 'opts.max must be >= opts.min');
    expect(() => parseNamed(s, { min: 1, max: 1, mode: 'shuffle' }, 'opts')).to.throw(
      TypeError,
      'opts.size must be given',
    );
  });

  it('returns the checked value (a copy of the plain data, the same typed arrays and functions)', () => {
    const signal = new AbortController().signal;
    const input = { lr: { kind: 'constant', lr: 0.1 }, signal };
    const out = parseNamed(options, input, 'opts');
    expect(out).to.deep.equal(input);
    expect(out.lr).to.not.equal(input.lr);
    expect(out.signal).to.equal(signal);
  });
});
