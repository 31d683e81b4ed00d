import { expect } from 'chai';
import { fileURLToPath } from 'node:url';

import { groups } from './boundary-cases.js';
import { runNodeChild } from './spawn-child.js';

interface Outcome {
  name: string;
  threw: boolean;
  cls?: string;
  message?: string;
  code?: string;
}

interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  outcomes: Map<string, Outcome>;
  done: boolean;
}

const child = fileURLToPath(new URL('./boundary-child.js', import.meta.url));

async function runGroup(name: string): Promise<ChildResult> {
  const r = await runNodeChild([child, name], 60000);
  const outcomes = new Map<string, Outcome>();
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('CASE ')) {
      const o = JSON.parse(line.slice(5)) as Outcome;
      outcomes.set(o.name, o);
    }
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr, outcomes, done: r.stdout.includes('GROUP-DONE') };
}

describe('hardening: boundary battery (each group in a child process)', function () {
  this.timeout(120000);
  const results = new Map<string, Promise<ChildResult>>();

  before(() => {
    // Two children at a time (two cores), all groups started here; each `it` awaits its group.
    let chain: Promise<unknown> = Promise.resolve();
    let chain2: Promise<unknown> = Promise.resolve();
    groups.forEach((g, i) => {
      const run = (i % 2 === 0 ? chain : chain2).then(() => runGroup(g.name));
      results.set(g.name, run);
      if (i % 2 === 0) chain = run;
      else chain2 = run;
    });
  });

  it(`has at least 100 bad calls across every addon export (${groups.reduce((n, g) => n + g.cases.filter((c) => c.expect !== 'ok').length, 0)})`, () => {
    expect(groups.reduce((n, g) => n + g.cases.filter((c) => c.expect !== 'ok').length, 0)).to.be.at.least(100);
  });

  for (const g of groups) {
    describe(`group ${g.name}`, () => {
      it('the child exits 0, no signal, every case reported', async () => {
        const r = await results.get(g.name)!;
        expect(r.signal, `child killed by ${r.signal}\n${r.stderr}`).to.equal(null);
        expect(r.status, r.stderr).to.equal(0);
        expect(r.done, r.stderr).to.equal(true);
        expect(r.outcomes.size).to.equal(g.cases.length);
      });
      for (const c of g.cases) {
        const want =
          c.expect === 'ok' ? 'succeeds' : `→ ${c.cls}${c.code ? ` ${c.code}` : ''} naming ${String(c.param)}`;
        it(`${c.name} ${want}`, async () => {
          const r = await results.get(g.name)!;
          const o = r.outcomes.get(c.name);
          expect(o, `no outcome (child ${r.signal ?? r.status}): ${r.stderr.slice(-2000)}`).to.not.equal(undefined);
          if (c.expect === 'ok') {
            expect(o!.threw, `threw ${o!.cls}: ${o!.message}`).to.equal(false);
            return;
          }
          expect(o!.threw, 'did not throw').to.equal(true);
          expect(o!.cls, o!.message).to.equal(c.cls);
          if (typeof c.param === 'string') expect(o!.message).to.contain(c.param);
          else expect(o!.message).to.match(c.param!);
          if (c.code) expect(o!.code).to.equal(c.code);
        });
      }
    });
  }
});
