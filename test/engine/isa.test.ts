/**
 * Runtime ISA dispatch (native/isa.h): info().simd names the path, BIGSTEP_ISA forces one (or
 * fails the load with a RangeError naming the variable), each path is bitwise deterministic and
 * all paths agree with each other to float rounding.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { info } from '../../src/index.js';
import { collectEnvironment } from '../../src/run/env.js';

const child = fileURLToPath(new URL('./isa-child.js', import.meta.url));
const ORDER = ['baseline', 'avx2', 'avx512'] as const;

interface ChildResult {
  simd: string;
  loss: number;
  grads: number[];
}

function runChild(isa: string): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env, BIGSTEP_ISA: isa };
  return spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 60000, env });
}

function result(isa: string): ChildResult {
  const r = runChild(isa);
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as ChildResult;
}

describe('ISA dispatch', function () {
  this.timeout(120000);
  // Paths this CPU runs: the default path and every narrower one (x86-64 builds have all three).
  const best = info().simd;
  const available = ORDER.slice(0, ORDER.indexOf(best) + 1);

  it('info().simd and env.json name the same path', () => {
    expect(ORDER).to.include(best);
    expect(collectEnvironment(new Date()).simd).to.equal(best);
  });

  it('BIGSTEP_ISA forces each available path; runs on one path are bitwise identical', () => {
    for (const isa of available) {
      const a = result(isa);
      const b = result(isa);
      expect(a.simd).to.equal(isa);
      expect(Number.isFinite(a.loss)).to.equal(true);
      expect(b.loss).to.equal(a.loss);
      expect(b.grads).to.deep.equal(a.grads);
    }
  });

  it('all paths agree to float rounding (loss and gradient)', () => {
    const ref = result('baseline');
    const gmax = Math.max(...ref.grads.map(Math.abs));
    for (const isa of available.slice(1)) {
      const r = result(isa);
      expect(Math.abs(r.loss - ref.loss)).to.be.below(1e-5 * Math.abs(ref.loss));
      let worst = 0;
      r.grads.forEach((g, i) => (worst = Math.max(worst, Math.abs(g - ref.grads[i]))));
      expect(worst, `${isa}: max |Δgrad| vs baseline`).to.be.below(1e-4 * gmax);
    }
  });

  it('avx2 and avx512 give identical bits (same tiles and per-element order, docs/performance.md)', function () {
    if (!available.includes('avx512')) this.skip();
    const a = result('avx2');
    const b = result('avx512');
    expect(b.loss).to.equal(a.loss);
    expect(b.grads).to.deep.equal(a.grads);
  });

  it('an unknown BIGSTEP_ISA value fails the load with a RangeError naming the variable', () => {
    const r = runChild('sse9');
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain('RangeError');
    expect(r.stderr).to.contain('BIGSTEP_ISA: unknown value "sse9"');
  });

  it('a path wider than the CPU has fails the load naming BIGSTEP_ISA', function () {
    const wider = ORDER.slice(ORDER.indexOf(best) + 1);
    if (wider.length === 0) this.skip(); // this CPU runs the widest path
    const r = runChild(wider[0]);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain(`BIGSTEP_ISA=${wider[0]}`);
  });
});
