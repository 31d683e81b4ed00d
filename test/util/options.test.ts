import { expect } from 'chai';

import { checkKnownKeys, editDistance, nearestKey } from '../../src/util/options.js';

describe('util/options', () => {
  it('editDistance counts insertions, deletions and substitutions', () => {
    expect(editDistance('momentun', 'momentum')).to.equal(1);
    expect(editDistance('seeed', 'seed')).to.equal(1);
    expect(editDistance('', 'abc')).to.equal(3);
    expect(editDistance('kitten', 'sitting')).to.equal(3);
  });

  it('nearestKey finds a close name and refuses a far one', () => {
    expect(nearestKey('droplast', ['dropLast', 'size', 'mode'])).to.equal('dropLast');
    expect(nearestKey('zzzzzz', ['lr', 'momentum'])).to.equal(undefined);
  });

  it('checkKnownKeys throws a TypeError naming the key, the place and the nearest key', () => {
    expect(() => checkKnownKeys({ lr: 0.1, momentun: 0.9 }, ['lr', 'momentum'], 'sgd()')).to.throw(
      TypeError,
      'sgd(): unknown option "momentun" (did you mean "momentum"?)',
    );
    expect(() => checkKnownKeys({ qqq: 1 }, ['lr'], 'x')).to.throw(TypeError, 'x: unknown option "qqq" (known: "lr")');
  });

  it('checkKnownKeys accepts known keys and ignores non-objects', () => {
    expect(() => checkKnownKeys({ lr: 1 }, ['lr', 'momentum'], 'sgd()')).not.to.throw();
    expect(() => checkKnownKeys(null, ['lr'], 'sgd()')).not.to.throw();
  });
});
