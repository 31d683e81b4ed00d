// Child process of test/hardening/gaps.test.ts: one scenario per process (argv[2]), each printing
// "RESULT <json>"; a crash (use-after-free, out-of-bounds read, std::terminate) shows up as a
// missing line and an exit signal in the parent. Run with --expose-gc.
import { Model, Trainer, mlp, sgd } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { trainAsync } from '../support/train-job.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function detach(buffer: ArrayBufferLike): void {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
}

function outcome(e: unknown): { cls: string; message: string; code?: string } {
  if (e instanceof Error) return { cls: e.constructor.name, message: e.message, code: (e as { code?: string }).code };
  return { cls: typeof e, message: String(e) };
}

async function settle(
  p: Promise<unknown>,
): Promise<{ settled: 'resolved' | 'rejected'; value?: unknown; error?: ReturnType<typeof outcome> }> {
  try {
    return { settled: 'resolved', value: await p };
  } catch (e) {
    return { settled: 'rejected', error: outcome(e) };
  }
}

// Frees what a detach released (the new owners are garbage) and reuses the memory: a worker still
// writing through a stale pointer would corrupt these arrays, reading would see them.
function churn(): Float32Array[] {
  const keep: Float32Array[] = [];
  for (let i = 0; i < 20; i++) {
    gc!();
    keep.push(new Float32Array(1 << 18).fill(1), new Float32Array(1 << 16).fill(1));
  }
  return keep;
}
const intact = (arrays: Float32Array[]): boolean => arrays.every((a) => a.every((v) => v === 1));

function blobs(n: number, d: number): { x: Float32Array; y: Int32Array } {
  return { x: new Float32Array(n * d).map((_, i) => Math.sin(i * 0.7)), y: new Int32Array(n).map((_, i) => i % 4) };
}

const scenarios: Record<string, () => Promise<unknown>> = {
  // The raw binding with ArrayBuffer-backed data and parameters (1 MiB: freed with munmap), both
  // detached while a long chunk runs.
  async 'detach-raw'() {
    const m = new Model(mlp({ input: 64, hidden: [4096], outputs: 4 }), { seed: 1 });
    const t = new Trainer(m, {
      data: blobs(2048, 64),
      optimizer: sgd({ lr: 0.01 }),
      batch: { mode: 'shuffle', size: 32 },
    });
    // Ordinary ArrayBuffers, as a direct binding user would pass (the Trainer's are shared memory).
    const job = { ...t.job, x: t.job.x.slice(), params: t.job.params.slice() };
    const p = trainAsync(m.handle, job, 400);
    detach(job.x.buffer);
    detach(job.params.buffer);
    const arrays = churn();
    const r = await settle(p);
    const busyAfter = m.handle.isBusy();
    // The model still trains, on fresh buffers.
    const t2 = new Trainer(new Model(mlp({ input: 8, hidden: [8], outputs: 4 }), { seed: 2 }), {
      data: blobs(32, 8),
      optimizer: sgd({ lr: 0.1 }),
    });
    const again = await settle(t2.run({ steps: 5 }));
    return { ...r, intact: intact(arrays), busyAfter, againSettled: again.settled };
  },

  // Trainer.run: the data set is in shared memory, so detaching the caller's arrays mid-run changes
  // nothing; the parameters are in shared memory too, so they cannot be detached at all.
  async 'detach-trainer'() {
    const spec = mlp({ input: 16, hidden: [32], outputs: 4 });
    const data = blobs(256, 16);
    const reference = new Trainer(new Model(spec, { seed: 3 }), {
      data: { x: data.x.slice(), y: data.y.slice() },
      optimizer: sgd({ lr: 0.05 }),
      batch: { mode: 'shuffle', size: 16 },
      seed: 1,
    });
    await reference.run({ steps: 300, chunkSize: 100 });

    const m = new Model(spec, { seed: 3 });
    const t = new Trainer(m, { data, optimizer: sgd({ lr: 0.05 }), batch: { mode: 'shuffle', size: 16 }, seed: 1 });
    const shared = t.job.x.buffer instanceof SharedArrayBuffer && t.job.y.buffer instanceof SharedArrayBuffer;
    const run = t.run({ steps: 300, chunkSize: 100 });
    detach(data.x.buffer);
    detach(data.y.buffer);
    churn();
    const r1 = await settle(run);
    const same = m.params.every((v, i) => Object.is(v, reference.model.params[i]));

    const stepBefore = t.stepCount;
    const run2 = t.run({ steps: 300, chunkSize: 300 });
    let paramsDetach = 'detached';
    try {
      detach(m.params.buffer);
    } catch (e) {
      paramsDetach = (e as Error).name;
    }
    const r2 = await settle(run2);
    return {
      shared,
      first: r1.settled,
      sameAsUndisturbed: same,
      paramsDetach,
      second: r2.settled,
      busyAfter: t.busy,
      stepBefore,
      stepAfter: t.stepCount,
    };
  },

  // A SharedArrayBuffer-backed perm is borrowed by the worker; JS writing out-of-range indices into
  // it while the chunk runs must end the chunk with a RangeError naming job.perm[i].
  async 'perm-race'() {
    const m = new Model(mlp({ input: 8, hidden: [16], outputs: 4 }), { seed: 1 });
    const t = new Trainer(m, {
      data: blobs(64, 8),
      optimizer: sgd({ lr: 0.01 }),
      batch: { mode: 'sequential', size: 8 },
    });
    const perm = new Int32Array(new SharedArrayBuffer(64 * 4));
    const job = { ...t.job, perm };
    const p = trainAsync(m.handle, job, 1e6);
    const until = Date.now() + 500;
    while (Date.now() < until) perm.fill(1 << 30);
    const r = await settle(p);
    return { ...r, busyAfter: m.handle.isBusy() };
  },

  // std::bad_alloc from a huge but valid workspace (a conv activation of 128 GiB) becomes a JS
  // Error (NODE_ADDON_API_CPP_EXCEPTIONS_ALL) instead of std::terminate.
  async 'bad-alloc'() {
    const spec = {
      input: [1, 1024, 1024],
      layers: [{ type: 'conv2d', units: 1024, kernel: 1 }, { type: 'globalavgpool' }, { type: 'dense', units: 2 }],
    };
    const h = new native.NativeModel(spec);
    const P = h.layout().paramCount;
    const B = 32;
    let error: ReturnType<typeof outcome> | undefined;
    try {
      h.lossAndGrad(
        new Float32Array(P),
        null,
        new Float32Array(B * 1024 * 1024),
        new Int32Array(B),
        B,
        new Float32Array(P),
      );
    } catch (e) {
      error = outcome(e);
    }
    // Still usable afterwards.
    const small = new Model(mlp({ input: 4, hidden: [4], outputs: 2 }), { seed: 1 });
    const loss = small.evaluate({ x: new Float32Array(8), y: new Int32Array(2) }).loss;
    return { error, afterwardsFinite: Number.isFinite(loss) };
  },
};

const name = process.argv[2]!;
const scenario = scenarios[name];
if (!scenario) throw new Error(`unknown scenario ${name}`);
scenario().then(
  (r) => process.stdout.write(`RESULT ${JSON.stringify(r)}\n`),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
