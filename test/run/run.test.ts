import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { findExperiment } from '../../src/experiments/registry.js';
import { RunFailedError, applySeed, planRun, runExperiment, type RunOutcome } from '../../src/run/run.js';
import { validateRunDir, type RunSummary } from '../../src/run/schema.js';
import { fakeExperiment, fakeRegistered, snapshot, tempDir, tempFiles, type FakeConfig } from './helpers.js';

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

describe('runExperiment() with E1 landscape (tiny preset)', function () {
  this.timeout(90000); // ~5 s alone; over 30 s was seen on a 2-core machine shared with other test runs
  const out = tempDir();
  const landscape = findExperiment('landscape')!;
  let first: RunOutcome;
  const progress: Array<[number, number]> = [];

  before(async () => {
    first = await runExperiment(landscape, 'tiny', { out, progress: (d, t) => progress.push([d, t]) });
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('finishes in a directory named <name>-<scale>-<id>', () => {
    expect(first.status).to.equal('finished');
    expect(first.skipped).to.equal(false);
    expect(first.id).to.match(/^[0-9a-f]{12}$/);
    expect(path.basename(first.dir)).to.equal(`landscape-tiny-${first.id}`);
    expect(path.dirname(first.dir)).to.equal(out);
  });

  it('writes a run directory that matches the schema (config, env, metrics, result, figures, summary)', async () => {
    expect(await validateRunDir(first.dir)).to.deep.equal([]);
    const summary = readJson<RunSummary>(path.join(first.dir, 'summary.json'));
    expect(summary.figures.length).to.be.above(0);
    expect(summary.scale).to.equal('tiny');
    expect(summary.seeds).to.deep.equal({ starts: 1, noise: 2, minima: 3 });
    expect(summary.headline).to.have.property('paper-1d.theorem', 'supported');
    expect(summary.verdicts?.[0]?.verdict).to.equal('supported');
    expect(summary.metricsLines).to.be.above(0);
    expect(readJson(path.join(first.dir, 'config.json'))).to.deep.equal(
      JSON.parse(JSON.stringify(landscape.definition.presets.tiny)),
    );
  });

  it('writes summary.json last', () => {
    const times = [...snapshot(first.dir).entries()].map(([f, s]) => [f, BigInt(s.split(':')[0])] as const);
    const summaryTime = times.find(([f]) => f === 'summary.json')![1];
    for (const [f, t] of times) expect(t <= summaryTime, `${f} written after summary.json`).to.equal(true);
  });

  it('reports progress up to the total', () => {
    expect(progress.length).to.be.above(2);
    const [done, total] = progress[progress.length - 1];
    expect(done).to.equal(total);
  });

  it('is a no-op when rerun: same directory, no file touched', async () => {
    const before = snapshot(first.dir);
    const again = await runExperiment(landscape, 'tiny', { out });
    expect(again.skipped).to.equal(true);
    expect(again.status).to.equal('finished');
    expect(again.dir).to.equal(first.dir);
    expect(snapshot(first.dir)).to.deep.equal(before);
  });

  it('gives the same id for the same config and a different one for another seed', () => {
    expect(planRun(landscape, 'tiny', { out }).id).to.equal(first.id);
    expect(planRun(landscape, structuredClone(landscape.definition.presets.tiny), { out }).id).to.equal(first.id);
    expect(planRun(landscape, 'tiny', { out, seed: 1 }).id).to.equal(first.id);
    expect(planRun(landscape, 'tiny', { out, seed: 7 }).id).to.not.equal(first.id);
    expect(planRun(landscape, 'quick', { out }).run).to.match(/^landscape-quick-[0-9a-f]{12}$/);
  });
});

describe('runExperiment() lifecycle (fake experiment)', function () {
  this.timeout(20000);
  let out: string;
  beforeEach(() => {
    out = tempDir();
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  const config = (over: Partial<FakeConfig> = {}): FakeConfig => ({ ...fakeExperiment().presets.tiny, ...over });

  it('writes a table of the registry entry into summary.json', async () => {
    const o = await runExperiment(fakeRegistered(), config(), { out });
    expect(o.summary.tables).to.have.length(1);
    expect(o.summary.tables[0].rows[0][1]).to.include({ n: 3 });
    expect(o.summary.dataset).to.equal('fake data');
    expect(await validateRunDir(o.dir)).to.deep.equal([]);
  });

  it('writes the verdicts of the experiment into summary.json, with fallback null on real data', async () => {
    const o = await runExperiment(fakeRegistered(), config(), { out });
    expect(o.summary.fallback).to.equal(null);
    expect(o.summary.verdicts).to.deep.equal([
      { claim: 'the fake loss falls', verdict: 'supported', rule: 'final loss < 1', evidence: 'final loss 0.2' },
    ]);
    expect(readJson<RunSummary>(path.join(o.dir, 'summary.json')).verdicts).to.deep.equal(o.summary.verdicts);
  });

  it('on fallback data records why in summary.json and turns every verdict into "uninformative"', async () => {
    const o = await runExperiment(fakeRegistered(), config({ fallback: 'fake-set was not found' }), { out });
    expect(o.summary.fallback).to.equal('fake-set was not found');
    expect(o.summary.verdicts).to.have.length(1);
    const v = o.summary.verdicts![0];
    expect(v.verdict).to.equal('uninformative');
    expect(v.rule).to.contain('fallback data (fake-set was not found)');
    expect(v.evidence).to.contain('"supported"');
    expect(await validateRunDir(o.dir)).to.deep.equal([]);
  });

  it('records a failure inside the experiment as status "failed" with the message, and throws RunFailedError', async () => {
    let caught: unknown;
    try {
      await runExperiment(fakeExperiment(), config({ failAt: 2 }), { out });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(RunFailedError);
    const e = caught as RunFailedError;
    expect(e.message).to.contain('synthetic failure at step 2');
    expect(e.summary.status).to.equal('failed');
    expect(e.summary.error).to.equal('synthetic failure at step 2');
    expect(readJson<RunSummary>(path.join(e.dir, 'summary.json')).status).to.equal('failed');
    expect(fs.existsSync(path.join(e.dir, 'result.json'))).to.equal(false);
    expect(fs.readFileSync(path.join(e.dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).to.have.length(2);
    expect(await validateRunDir(e.dir)).to.deep.equal([]);
  });

  it('stops at the next safe point when aborted and writes status "aborted", no result and no temp file', async () => {
    const ac = new AbortController();
    const o = await runExperiment(fakeExperiment(), config({ steps: 50, delayMs: 10 }), {
      out,
      signal: ac.signal,
      progress: (done) => {
        if (done === 3) ac.abort();
      },
    });
    expect(o.status).to.equal('aborted');
    expect(o.summary.headline).to.equal(null);
    expect(o.summary.metricsLines).to.equal(3);
    expect(fs.existsSync(path.join(o.dir, 'result.json'))).to.equal(false);
    expect(fs.existsSync(path.join(o.dir, 'figures'))).to.equal(false);
    expect(tempFiles(o.dir)).to.deep.equal([]);
    expect(await validateRunDir(o.dir)).to.deep.equal([]);
  });

  it('runs an aborted run again from scratch', async () => {
    const ac = new AbortController();
    ac.abort();
    const aborted = await runExperiment(fakeExperiment(), config(), { out, signal: ac.signal });
    expect(aborted.status).to.equal('aborted');
    const again = await runExperiment(fakeExperiment(), config(), { out });
    expect(again.dir).to.equal(aborted.dir);
    expect(again.skipped).to.equal(false);
    expect(again.status).to.equal('finished');
    expect(again.summary.metricsLines).to.equal(5);
  });

  it('restarts an interrupted run (no summary, stale temp files) cleanly', async () => {
    const plan = planRun(fakeExperiment(), config(), { out });
    fs.mkdirSync(path.join(plan.dir, 'figures'), { recursive: true });
    fs.writeFileSync(path.join(plan.dir, 'metrics.jsonl'), '{"step":0}\n{"step":1,"lo');
    fs.writeFileSync(path.join(plan.dir, '.result.json.tmp-999999-abcdef'), '{"half');
    fs.writeFileSync(path.join(plan.dir, 'figures', 'stale.svg'), '<svg/>');
    fs.mkdirSync(path.join(plan.dir, 'checkpoints'));
    fs.writeFileSync(path.join(plan.dir, 'checkpoints', 'step-1.bin'), 'x');
    const o = await runExperiment(fakeExperiment(), config(), { out });
    expect(o.status).to.equal('finished');
    expect(tempFiles(o.dir)).to.deep.equal([]);
    expect(fs.existsSync(path.join(o.dir, 'figures', 'stale.svg'))).to.equal(false);
    expect(fs.readFileSync(path.join(o.dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).to.have.length(5);
    // checkpoints/ is kept across restarts, and removed once the run is complete
    expect(fs.existsSync(path.join(o.dir, 'checkpoints'))).to.equal(false);
    expect(o.summary.restarts).to.equal(0); // no earlier start was recorded in checkpoints/starts.json
    expect(o.summary.resumed).to.equal(null);
    expect(await validateRunDir(o.dir)).to.deep.equal([]);
  });

  it('runs a finished run again with force', async () => {
    const a = await runExperiment(fakeExperiment(), config(), { out });
    const b = await runExperiment(fakeExperiment(), config(), { out, force: true });
    expect(b.skipped).to.equal(false);
    expect(b.dir).to.equal(a.dir);
    expect(b.summary.startedAt >= a.summary.startedAt).to.equal(true);
  });

  it('marks a result with diverged: true as status "diverged" (complete: rerun is a no-op)', async () => {
    const o = await runExperiment(fakeExperiment(), config({ diverge: true }), { out });
    expect(o.status).to.equal('diverged');
    expect(await validateRunDir(o.dir)).to.deep.equal([]);
    expect((await runExperiment(fakeExperiment(), config({ diverge: true }), { out })).skipped).to.equal(true);
  });

  it('rejects an invalid config with the error naming the field, before creating anything', async () => {
    let caught: unknown;
    try {
      await runExperiment(fakeExperiment(), config({ steps: 0 }), { out });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(RangeError);
    expect((caught as Error).message).to.contain('config.steps');
    expect(fs.readdirSync(out)).to.deep.equal([]);
  });

  it('refuses a directory locked by another live process', async () => {
    const plan = planRun(fakeExperiment(), config(), { out });
    fs.mkdirSync(plan.dir, { recursive: true });
    fs.writeFileSync(path.join(plan.dir, '.lock'), `${process.ppid}\n`);
    let caught: unknown;
    try {
      await runExperiment(fakeExperiment(), config(), { out });
    } catch (e) {
      caught = e;
    }
    expect((caught as Error)?.message).to.match(/in use by process/);
    fs.writeFileSync(path.join(plan.dir, '.lock'), '2147483646\n'); // no such process: stale
    expect((await runExperiment(fakeExperiment(), config(), { out })).status).to.equal('finished');
    expect(fs.existsSync(path.join(plan.dir, '.lock'))).to.equal(false);
  });
});

describe('applySeed()', () => {
  it('sets a numeric seed, numbers a seeds array and the numeric fields of a seeds object from N', () => {
    expect(applySeed({ seed: 1, x: 2 }, 9)).to.deep.equal({ seed: 9, x: 2 });
    expect(applySeed({ seeds: [1, 2, 3] }, 10)).to.deep.equal({ seeds: [10, 11, 12] });
    expect(applySeed({ seeds: { starts: 1, noise: 2, minima: 3 } }, 5)).to.deep.equal({
      seeds: { starts: 5, noise: 6, minima: 7 },
    });
  });

  it('leaves the landscape tiny preset unchanged with seed 1', () => {
    const tiny = findExperiment('landscape')!.definition.presets.tiny;
    expect(applySeed(tiny, 1)).to.deep.equal(tiny);
  });

  it('throws RangeError for a negative seed or a config without seeds', () => {
    expect(() => applySeed({ seed: 1 }, -1)).to.throw(RangeError, /seed/);
    expect(() => applySeed({ steps: 1 }, 1)).to.throw(RangeError, /no "seed" or "seeds"/);
  });
});
