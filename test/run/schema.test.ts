import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  isTempName,
  validateEnvironment,
  validateMetrics,
  validateRunDir,
  validateSummary,
  type RunSummary,
} from '../../src/run/schema.js';
import { tempDir } from './helpers.js';

const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  schema: 'bigstep/run-summary@1',
  experiment: 'noise',
  title: 't',
  run: 'noise-tiny-0123456789ab',
  id: '0123456789ab',
  status: 'finished',
  scale: 'tiny',
  dataset: null,
  model: null,
  seeds: [1],
  headline: { a: 1 },
  tables: [],
  figures: [],
  packageVersion: '0.1.0',
  startedAt: '2024-01-01T00:00:00.000Z',
  endedAt: '2024-01-01T00:00:01.000Z',
  wallSeconds: 1,
  metricsLines: 0,
  error: null,
  ...over,
});

describe('validateSummary()', () => {
  it('accepts a well-formed summary', () => {
    expect(validateSummary(summary())).to.deep.equal([]);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    [
      'a missing field',
      (() => {
        const s: Partial<RunSummary> = summary();
        delete s.wallSeconds;
        return s;
      })(),
      /summary\.wallSeconds: missing/,
    ],
    ['an unknown status', summary({ status: 'done' as never }), /summary\.status/],
    ['a failed run without its error', summary({ status: 'failed', headline: null }), /summary\.error/],
    ['a finished run without headline', summary({ headline: null }), /summary\.headline: required/],
    ['an aborted run with a headline', summary({ status: 'aborted' }), /summary\.headline: must be null/],
    ['a non-scalar headline value', summary({ headline: { a: [1] as never } }), /summary\.headline\.a/],
    ['a short id', summary({ id: 'abc', run: 'noise-tiny-abc' }), /summary\.id/],
    [
      'a table row of the wrong width',
      summary({ tables: [{ id: 't', title: 'T', caption: '', columns: ['a', 'b'], rows: [[1]] }] }),
      /rows\[0\]: 1 cells for 2 columns/,
    ],
    ['an unexpected field', { ...summary(), extra: 1 }, /summary\.extra: unexpected field/],
  ];
  for (const [what, value, re] of bad)
    it(`rejects ${what}`, () => {
      const problems = validateSummary(value);
      expect(problems.join('\n')).to.match(re);
    });
});

describe('validateEnvironment() / validateMetrics() / isTempName()', () => {
  it('rejects an env.json without BLAS threads', () => {
    expect(validateEnvironment({ schema: 'bigstep/run-env@1' }).join('\n')).to.match(/env\.blas: missing/);
  });

  it('accepts JSON object lines and rejects a torn last line', () => {
    expect(validateMetrics('{"a":1}\n{"b":2}\n')).to.deep.equal([]);
    expect(validateMetrics('{"a":1}\n{"b":').join('\n')).to.match(/not terminated|line 2/);
    expect(validateMetrics('[1]\n').join('\n')).to.match(/line 1: expected a JSON object/);
  });

  it('recognises the temp files of atomic writes', () => {
    expect(isTempName('.summary.json.tmp-123-abcdef012345')).to.equal(true);
    expect(isTempName('summary.json')).to.equal(false);
  });
});

describe('validateRunDir()', () => {
  it('lists missing files and left-over temp files', async () => {
    const dir = tempDir();
    try {
      fs.writeFileSync(path.join(dir, '.config.json.tmp-1-ab'), '');
      const problems = (await validateRunDir(dir)).join('\n');
      expect(problems).to.match(/summary\.json: missing/);
      expect(problems).to.match(/metrics\.jsonl: missing/);
      expect(problems).to.match(/temporary file left behind/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
