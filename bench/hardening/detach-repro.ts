/**
 * KNOWN GAP reproducer (not part of the test suite): detaching a borrowed buffer while an async
 * chunk runs frees memory the worker thread still uses. Under the sanitized addon this reports
 * heap-use-after-free in bigstep::Trainer::run; with the release addon it corrupts memory
 * silently or crashes. N-API cannot pin an ArrayBuffer's backing store; see docs/hardening.md
 * ("Known gaps") for the fix options.
 *
 *   BIGSTEP_ADDON=build-asan-addon/Release/bigstep.node LD_PRELOAD=$(gcc -print-file-name=libasan.so) \
 *     ASAN_OPTIONS=detect_leaks=0 node --expose-gc dist/bench/hardening/detach-repro.js
 */
import { native } from '../../src/native/binding.js';
import { Model, Trainer, mlp, sgd } from '../../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const m = new Model(mlp({ input: 32, hidden: [64], outputs: 4 }), { seed: 1 });
const n = 256;
const t = new Trainer(m, {
  data: { x: new Float32Array(n * 32).map(Math.sin), y: new Int32Array(n).map((_, i) => i % 4) },
  optimizer: sgd({ lr: 0.01 }),
  batch: { mode: 'shuffle', size: 32 },
});
const p = native.trainAsync(m.handle, t.job, 20000);
// Detach the data set and the parameters while the chunk runs, drop the new owners, collect.
structuredClone(t.job.x.buffer, { transfer: [t.job.x.buffer] });
structuredClone(t.job.params.buffer, { transfer: [t.job.params.buffer] });
for (let i = 0; i < 20; i++) {
  gc();
  new Float32Array(1 << 16).fill(1);
}
console.log('chunk settled:', await p.then((v) => v, (e: unknown) => e));
