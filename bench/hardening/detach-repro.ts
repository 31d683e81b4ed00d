/**
 * Former KNOWN GAP reproducer (test/hardening/gaps.test.ts is the test): detaching a borrowed
 * buffer while an async chunk runs used to free memory the worker thread still used (ASan:
 * heap-use-after-free in bigstep::Trainer::run; release addon: silent corruption or SIGSEGV).
 * Now the worker runs on copies of ArrayBuffer-backed arrays (binding/job.h) and the chunk
 * settles with "TypeError: job.params must be kept attached while a chunk runs ...".
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
// The Trainer keeps its data set and parameters in SharedArrayBuffers, which cannot be detached:
// pass ordinary ArrayBuffer-backed copies, as a direct binding user might.
const job = { ...t.job, x: t.job.x.slice(), params: t.job.params.slice() };
const p = new native.TrainJob(m.handle, job).runAsync(20000);
// Detach the data set and the parameters while the chunk runs, drop the new owners, collect.
structuredClone(job.x.buffer, { transfer: [job.x.buffer] });
structuredClone(job.params.buffer, { transfer: [job.params.buffer] });
for (let i = 0; i < 20; i++) {
  gc();
  new Float32Array(1 << 16).fill(1);
}
console.log(
  'chunk settled:',
  await p.then(
    (v) => v,
    (e: unknown) => e,
  ),
);
