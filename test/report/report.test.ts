import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { findExperiment } from '../../src/experiments/registry.js';
import { formatNumber, headlineTables, inlineSvg, writeReport, type ReportOutcome } from '../../src/report/report.js';
import { runExperiment } from '../../src/run/run.js';
import { fakeExperiment, fakeRegistered, tempDir } from '../run/helpers.js';
import { findChromium, inspectPage } from './chromium.js';

describe('writeReport()', function () {
  this.timeout(30000);
  const out = tempDir('bigstep-report-');
  let report: ReportOutcome;
  let html: string;

  before(async () => {
    await runExperiment(findExperiment('landscape')!, 'tiny', { out });
    await runExperiment(
      fakeRegistered('noise'),
      {
        ...fakeExperiment('noise').presets.tiny,
        fallback: 'fake-set was not found; install it with: apt-get install fake-set',
      },
      { out },
    );
    const ac = new AbortController();
    ac.abort();
    await runExperiment(fakeExperiment('escape'), 'quick', { out, signal: ac.signal });
    fs.mkdirSync(path.join(out, 'broken'));
    fs.writeFileSync(path.join(out, 'broken', 'summary.json'), '{"schema":"nope"}');
    report = await writeReport(out);
    html = fs.readFileSync(report.file, 'utf8');
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('writes report.html next to the runs, with every run in PROTOCOL order and broken directories skipped', () => {
    expect(report.file).to.equal(path.join(out, 'report.html'));
    expect(report.runs.map((r) => `${r.experiment}:${r.status}`)).to.deep.equal([
      'landscape:finished',
      'noise:finished',
      'escape:aborted',
    ]);
    expect(report.skipped.map((s) => path.basename(s.dir))).to.deep.equal(['broken']);
    expect(html).to.contain('Skipped directories');
  });

  it('opens with the fallback banner and the verdict table, before any figure', () => {
    const firstFigure = html.indexOf('<figure');
    const banner = html.indexOf('id="fallback-banner"');
    const verdicts = html.indexOf('id="verdicts"');
    expect(banner).to.be.above(-1);
    expect(verdicts).to.be.above(banner);
    expect(firstFigure).to.be.above(verdicts);
    const top = html.slice(0, firstFigure);
    expect(top).to.contain('test nothing about the paper');
    expect(top).to.contain('install it with: apt-get install fake-set');
    // the fake run on fallback data: its own verdict is overridden
    expect(top).to.match(/the fake loss falls<\/td><td><span class="verdict verdict-uninformative">uninformative/);
    // E1's verdicts are in the table; an aborted run says it has none
    expect(top).to.match(/Theorem 1 on paper-1d[^<]*<\/td><td><span class="verdict verdict-supported">supported/);
    expect(top).to.contain('the run is aborted');
    expect(top).to.contain('no verdict</span> the run is aborted');
  });

  it('is self-contained: inline SVG and CSS, no scripts, no external resources', () => {
    expect(html).to.not.match(/<script/i);
    expect(html).to.not.match(/<link\b/i);
    expect(html).to.not.match(/<(img|iframe|object|embed)\b/i);
    expect(html).to.not.match(/(src|href)="(https?:)?\/\//i);
    expect(html).to.not.match(/url\((['"])?(https?:)?\/\//i);
    expect(html).to.not.match(/@import/i);
    expect((html.match(/<svg\b/g) ?? []).length).to.equal(report.figures);
  });

  it('states the claim, scale, data, model and seeds of each run', () => {
    expect(html).to.contain(findExperiment('landscape')!.claim);
    expect(html).to.contain('<dt>Scale</dt><dd>tiny</dd>');
    expect(html).to.contain('<dt>Seeds</dt><dd>starts 1, noise 2, minima 3</dd>');
    expect(html).to.contain('<dt>Data set</dt><dd>fake data</dd>');
    expect(html).to.contain('This run was aborted');
  });

  it('shows headline numbers and tables with mean ± std', () => {
    expect(html).to.contain('Headline numbers');
    expect(html).to.contain('midSuccessMedian');
    expect(html).to.contain('Arms (fake)');
    expect(html).to.match(/0\.2 ± 0\.1 <span class="n">\(n=3\)<\/span>/);
  });

  it('captions every figure and copies its PNG into report-figures/', () => {
    const captions = html.match(/<figcaption>/g) ?? [];
    expect(captions.length).to.equal(report.figures);
    const links = [...html.matchAll(/<a href="(report-figures\/[^"]+\.png)">PNG<\/a>/g)].map((m) => m[1]);
    expect(links.length).to.equal(report.figures);
    for (const l of links) expect(fs.readFileSync(path.join(out, l)).subarray(1, 4).toString()).to.equal('PNG');
  });

  it('keeps element ids unique across inlined figures', () => {
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('loads in headless Chromium with no console errors, no requests and a visible box for every SVG figure', async function () {
    const chromium = findChromium();
    if (!chromium) {
      console.log('      (skipped: Chromium not found at /usr/bin/chromium; apt-get install chromium)');
      this.skip();
    }
    const page = await inspectPage(chromium!, report.file);
    expect(page.errors).to.deep.equal([]);
    expect(page.network).to.deep.equal([]);
    expect(page.title).to.equal('bigstep — reproduction report');
    expect(page.figures).to.equal(report.figures);
    expect(page.svgBoxes.length).to.equal(report.figures);
    for (const b of page.svgBoxes) {
      expect(b.figure, 'every svg sits in a <figure>').to.be.a('string');
      expect(b.width, b.figure ?? '').to.be.above(0);
      expect(b.height, b.figure ?? '').to.be.above(0);
    }
  });
});

describe('report helpers', () => {
  it('headlineTables() puts plain keys in a key/value table and "row.column" keys in a grid (split at the last dot)', () => {
    expect(headlineTables({ '1d.a': 1, '1d.b': 2, '1d.c': 3, '2d.a': 4, '2d.b': 5, '2d.c': null })).to.deep.equal([
      {
        columns: ['', '1d', '2d'],
        rows: [
          ['a', 1, 4],
          ['b', 2, 5],
          ['c', 3, null],
        ],
      },
    ]);
    expect(
      headlineTables({
        k: 2,
        'amp-0.5k.acc': 0.5,
        'amp-0.5k.loss': 1,
        'amp-1k.acc': 0.6,
        'amp-1k.loss': 2,
        'sgd.acc': 0.7,
        'sgd.loss': 3,
      }),
    ).to.deep.equal([
      { columns: ['headline', 'value'], rows: [['k', 2]] },
      {
        columns: ['', 'acc', 'loss'],
        rows: [
          ['amp-0.5k', 0.5, 1],
          ['amp-1k', 0.6, 2],
          ['sgd', 0.7, 3],
        ],
      },
    ]);
  });

  it('inlineSvg() prefixes ids and their references and drops scripts', () => {
    const s = inlineSvg(
      '<?xml version="1.0"?><svg><defs><linearGradient id="g"/></defs><rect fill="url(#g)"/><use href="#g"/><script>x()</script></svg>',
      'p-',
    );
    expect(s).to.equal(
      '<svg role="img" class="figure-svg"><defs><linearGradient id="p-g"/></defs><rect fill="url(#p-g)"/><use href="#p-g"/></svg>',
    );
  });

  it('formatNumber() keeps integers and rounds to 4 significant digits', () => {
    expect(formatNumber(3)).to.equal('3');
    expect(formatNumber(0.123456)).to.equal('0.1235');
    expect(formatNumber(0.00001234)).to.equal('1.234e-5');
  });
});
