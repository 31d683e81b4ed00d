// Former known gaps of docs/hardening.md, each in a child process (test/hardening/gaps-child.ts) so
// that a crash fails the test instead of the suite: detaching buffers while an async chunk runs,
// out-of-range indices written into a borrowed permutation mid-chunk, and C++ exceptions other than
// Napi::Error escaping a binding call.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';

import { runNodeChild } from './spawn-child.js';

const child = fileURLToPath(new URL('./gaps-child.js', import.meta.url));

interface Run {
  signal: NodeJS.Signals | null;
  status: number | null;
  stderr: string;
  result?: Record<string, unknown>;
}

async function runScenario(name: string): Promise<Run> {
  const r = await runNodeChild(['--expose-gc', child, name], 100000);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return { ...r, result: line ? (JSON.parse(line.slice(7)) as Record<string, unknown>) : undefined };
}

function expectSurvived(r: Run): Record<string, unknown> {
  expect(r.signal, `child killed by ${r.signal}\n${r.stderr.slice(-3000)}`).to.equal(null);
  expect(r.status, r.stderr.slice(-3000)).to.equal(0);
  expect(r.result, r.stderr.slice(-3000)).to.not.equal(undefined);
  return r.result!;
}

// ASan's allocator reports a failed huge allocation and aborts (even allocator_may_return_null=1
// does not make a throwing operator new throw), so that one case only runs on a normal build.
const underAsan = /libasan/.test(process.env.LD_PRELOAD ?? '');

describe('hardening: former known gaps (child processes)', function () {
  this.timeout(120000);

  it('detaching job.x and job.params while a raw trainAsync chunk runs: no use-after-free, a TypeError naming job.params', async () => {
    const r = expectSurvived(await runScenario('detach-raw'));
    expect(r.settled).to.equal('rejected');
    const error = r.error as { cls: string; message: string; code: string };
    expect(error.cls).to.equal('TypeError');
    expect(error.message).to.match(/^job\.params must be kept attached while a chunk runs/);
    expect(error.code).to.equal('ERR_INVALID_ARG_TYPE');
    expect(r.intact, 'memory reused after the detach was written by the worker').to.equal(true);
    expect(r.busyAfter).to.equal(false);
    expect(r.againSettled).to.equal('resolved');
  });

  it("Trainer.run: data and parameters in shared memory (detaching the caller's arrays changes nothing; the parameters cannot be detached)", async () => {
    const r = expectSurvived(await runScenario('detach-trainer'));
    expect(r.shared).to.equal(true);
    expect(r.first).to.equal('resolved');
    expect(r.sameAsUndisturbed, 'trajectory differs from the run whose data was left alone').to.equal(true);
    expect(r.paramsDetach, 'a SharedArrayBuffer is not transferable').to.be.oneOf(['TypeError', 'DataCloneError']);
    expect(r.second).to.equal('resolved');
    expect(r.busyAfter).to.equal(false);
    expect(r.stepAfter).to.equal((r.stepBefore as number) + 300);
  });

  it('out-of-range indices written into a shared job.perm mid-chunk: RangeError naming job.perm[i], no out-of-bounds read', async () => {
    const r = expectSurvived(await runScenario('perm-race'));
    expect(r.settled).to.equal('rejected');
    const error = r.error as { cls: string; message: string; code: string };
    expect(error.cls).to.equal('RangeError');
    expect(error.message).to.match(/^job\.perm\[\d+\]: must be an example index in \[0, 64\) \(got 1073741824/);
    expect(error.code).to.equal('ERR_OUT_OF_RANGE');
    expect(r.busyAfter).to.equal(false);
  });

  it('std::bad_alloc in a binding call becomes a JS Error, the process lives on', async function () {
    if (underAsan) this.skip();
    const r = expectSurvived(await runScenario('bad-alloc'));
    const error = r.error as { cls: string; message: string } | undefined;
    expect(error, 'the 128 GiB workspace was allocated?').to.not.equal(undefined);
    expect(error!.cls).to.equal('Error');
    expect(error!.message).to.match(/bad_alloc/);
    expect(r.afterwardsFinite).to.equal(true);
  });
});
