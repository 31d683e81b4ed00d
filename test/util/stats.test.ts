import { expect } from 'chai';

import { iqr, mean, median, pairedInterval, quantile, sd, tCdf, tost, tQuantile } from '../../src/util/stats.js';

describe('util/stats', () => {
  describe('tQuantile()', () => {
    // Two-sided critical values from published t tables (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
    const table: Array<[number, number, number]> = [
      [0.975, 1, 12.706],
      [0.975, 2, 4.303],
      [0.975, 4, 2.776],
      [0.975, 9, 2.262],
      [0.975, 30, 2.042],
      [0.95, 4, 2.132],
      [0.95, 10, 1.812],
      [0.995, 10, 3.169],
      [0.9, 5, 1.476],
      [0.999, 20, 3.552],
    ];
    for (const [p, df, t] of table)
      it(`t(${p}, ${df}) = ${t} (table, 3 decimals)`, () => {
        expect(tQuantile(p, df)).to.be.closeTo(t, 6e-4);
        expect(tQuantile(1 - p, df)).to.be.closeTo(-t, 6e-4);
      });

    it('approaches the normal quantile for large df', () => {
      expect(tQuantile(0.975, 1e6)).to.be.closeTo(1.959964, 1e-5);
    });

    it('inverts tCdf to 1e-12', () => {
      for (const df of [1, 3, 7.5, 50])
        for (const p of [0.01, 0.2, 0.6, 0.99]) expect(tCdf(tQuantile(p, df), df)).to.be.closeTo(p, 1e-12);
    });

    it('rejects p outside (0, 1) and bad df', () => {
      expect(() => tQuantile(1, 3)).to.throw(RangeError, /p must be/);
      expect(() => tQuantile(0.5, 0)).to.throw(RangeError, /degrees of freedom/);
    });
  });

  describe('tCdf()', () => {
    it('matches closed forms: df = 1 is Cauchy, df = 2 has F(t) = 1/2 + t/(2√(2 + t²))', () => {
      for (const t of [-3, -0.5, 0, 0.7, 4]) {
        expect(tCdf(t, 1)).to.be.closeTo(0.5 + Math.atan(t) / Math.PI, 1e-13);
        expect(tCdf(t, 2)).to.be.closeTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-13);
      }
    });
  });

  describe('summaries', () => {
    it('mean, sd (n − 1), quantiles as numpy computes them', () => {
      const xs = [2, 4, 4, 4, 5, 5, 7, 9];
      expect(mean(xs)).to.equal(5);
      expect(sd(xs)).to.be.closeTo(Math.sqrt(32 / 7), 1e-15);
      expect(median([3, 1, 2])).to.equal(2);
      expect(quantile([1, 2, 3, 4], 0.25)).to.equal(1.75); // numpy.quantile([1,2,3,4], 0.25)
      expect(iqr([1, 2, 3, 4, 5])).to.deep.equal({ median: 3, q1: 2, q3: 4 });
    });

    it('rejects empty and non-finite samples, naming the function', () => {
      expect(() => mean([])).to.throw(RangeError, /mean: needs at least 1/);
      expect(() => sd([1, NaN])).to.throw(RangeError, /sd: value \[1\]/);
    });
  });

  describe('pairedInterval()', () => {
    it('is mean ± t(0.975, n − 1)·sd/√n', () => {
      const d = [0.5, 1.2, -0.3, 0.8, 1.0];
      const ci = pairedInterval(d);
      const half = 2.776445 * (sd(d) / Math.sqrt(5));
      expect(ci.mean).to.be.closeTo(0.64, 1e-12);
      expect(ci.lo).to.be.closeTo(0.64 - half, 1e-5);
      expect(ci.hi).to.be.closeTo(0.64 + half, 1e-5);
      expect(ci.df).to.equal(4);
    });

    it('needs two differences', () => {
      expect(() => pairedInterval([1])).to.throw(RangeError, /at least 2/);
    });
  });

  describe('tost()', () => {
    it('shows equivalence for small, tight differences and not for wide ones', () => {
      expect(tost([0.01, -0.02, 0.0, 0.015, -0.01], 0.5).equivalent).to.equal(true);
      expect(tost([2, -2, 1.5, -1.8, 0.3], 0.5).equivalent).to.equal(false);
      expect(tost([1, 1.1, 0.9, 1.05, 0.95], 0.5).equivalent).to.equal(false); // tight but outside the margin
    });

    it('p equals the larger one-sided p, and equivalence ⇔ the 90 % interval inside ±margin', () => {
      const d = [0.1, 0.3, -0.2, 0.25, 0.05, 0.15];
      const r = tost(d, 0.4);
      expect(r.p).to.equal(Math.max(r.pLower, r.pUpper));
      const inside = r.lo > -0.4 && r.hi < 0.4;
      expect(r.equivalent).to.equal(inside);
      const ci90 = pairedInterval(d, 0.9);
      expect(r.lo).to.be.closeTo(ci90.lo, 1e-15);
    });

    it('is exact with zero spread', () => {
      expect(tost([0.1, 0.1, 0.1], 0.5).equivalent).to.equal(true);
      expect(tost([0.6, 0.6, 0.6], 0.5).equivalent).to.equal(false);
    });

    it('rejects a margin ≤ 0', () => {
      expect(() => tost([1, 2], 0)).to.throw(RangeError, /margin/);
    });
  });
});
