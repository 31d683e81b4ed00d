/**
 * The only module that loads the C++ addon. Everything else in src/ reaches native code through
 * the `native` object exported here.
 *
 * Before the addon (and with it OpenBLAS) is loaded, this picks OpenBLAS kernels that match the
 * CPU when the user has not chosen: Debian's OpenBLAS 0.3.21 misdetects some CPUs (e.g. as
 * "Prescott") and runs several times slower. An explicit OPENBLAS_CORETYPE is never overridden.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { BatchModeName, OptionKinds, ScheduleKindName, TransformKindName } from './kind-names.js';

import type { LandscapeNative } from './landscape-types.js';

/** One named parameter (or state) tensor in the flat layout: `params.subarray(offset, offset + size)`. */
export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  fanIn: number;
  fanOut: number;
  init: string;
}

/**
 * Flat layout of a model (from {@link describe} or `model.layout`): every parameter tensor's name,
 * shape and offset in the one Float32Array of parameters, the same for the non-trainable state,
 * and the input/output sizes.
 */
export interface NativeLayout {
  params: TensorEntry[];
  paramCount: number;
  state: TensorEntry[];
  stateCount: number;
  outputShape: number[];
  inputSize: number;
  outputSize: number;
  layerOutputShapes: number[][];
}

/** What the native addon was built with: BLAS vendor (`portable` = bigstep's own GEMM, no BLAS), OpenBLAS kernel family, BLAS threads, the instruction-set path of bigstep's own kernels, N-API version. */
export interface NativeInfo {
  blasVendor: 'openblas' | 'portable';
  blasCore: string;
  blasThreads: number;
  /** Instruction-set path of bigstep's own kernels, chosen at load from the CPU (BIGSTEP_ISA forces one). */
  simd: 'avx512' | 'avx2' | 'baseline';
  /**
   * Whether plain-SGD chunks may fold the update into the dense weight-gradient GEMMs at the
   * current thread count (bitwise the unfused step, which is measured once per thread count).
   */
  fusedGemmUpdate: boolean;
  napiVersion: number;
}

export interface NativeModelHandle {
  layout(): NativeLayout;
  init(params: Float32Array, state: Float32Array | null, seed: number): void;
  lossAndGrad(
    params: Float32Array,
    state: Float32Array | null,
    x: Float32Array,
    y: Int32Array | Float32Array,
    batch: number,
    grads: Float32Array,
    training?: boolean,
  ): { loss: number; correct: number };
  /** lossAndGrad on the thread pool: the same bits, written when the promise settles (binding/gradient.cpp). */
  lossAndGradAsync(
    params: Float32Array,
    state: Float32Array | null,
    x: Float32Array,
    y: Int32Array | Float32Array,
    batch: number,
    grads: Float32Array,
    training?: boolean,
  ): Promise<{ loss: number; correct: number }>;
  /**
   * [lossSum, correct] of each chunk g in [first, end) of the pass over all of x in chunks of
   * min(batchSize, n): chunk g is examples [g·c, min(n, (g+1)·c)). Eval mode, no gradient.
   */
  lossSums(
    params: Float32Array,
    state: Float32Array | null,
    x: Float32Array,
    y: Int32Array | Float32Array,
    batchSize: number,
    first: number,
    end: number,
  ): Float64Array;
  /**
   * lossSums on the thread pool: the same bits. The model is busy (ERR_BIGSTEP_BUSY) until the
   * promise settles; the arrays are kept alive and pinned (binding/job.h).
   */
  lossSumsAsync(
    params: Float32Array,
    state: Float32Array | null,
    x: Float32Array,
    y: Int32Array | Float32Array,
    batchSize: number,
    first: number,
    end: number,
  ): Promise<Float64Array>;
  forward(params: Float32Array, state: Float32Array | null, x: Float32Array, batch: number, out: Float32Array): void;
  /**
   * out ← H·v, H the Hessian of the mean loss over the n examples at `params`, exact
   * (forward-over-reverse, native/hvp.h), in float per chunk of `batchSize` examples and summed in
   * double. Reads everything else, writes only `out`. Returns the mean loss. With `dataParallel`
   * a collective call over the MPI ranks (native/data_parallel_hvp.h), bitwise the one-process product.
   */
  hvp(
    params: Float32Array,
    state: Float32Array | null,
    x: Float32Array,
    y: Int32Array | Float32Array,
    n: number,
    batchSize: number,
    v: Float64Array,
    out: Float64Array,
    training: boolean,
    dataParallel?: boolean,
  ): number;
  workspaceBytes(): number;
  close(): void;
  isBusy(): boolean;
}

/**
 * Plain-data training job: every persistent buffer is owned by TS (checkpointable). A
 * {@link NativeTrainJobHandle} reads it once, when it is made, and keeps every array it names.
 */
export interface NativeTrainJob {
  x: Float32Array;
  y: Int32Array | Float32Array;
  batch: {
    mode: BatchModeName;
    size?: number;
    dropLast?: boolean;
    amplify?: number;
    /** Examples per forward/backward pass (absent: the whole batch at once). */
    microBatch?: number;
    /** Pieces per batch, ⌈b/shards⌉ examples each (absent: none); exclusive with microBatch. */
    shards?: number;
    /** Split each step's gradient over the MPI ranks (native/data_parallel.h); MPI must be initialised. */
    dataParallel?: boolean;
    /** Per-batch image augmentation; `shape` is the per-example [C, H, W]. */
    augment?: { shape: [number, number, number]; cropPadding: number; flip: boolean };
  };
  optimizer: NativeOptimizerPlan;
  params: Float32Array;
  grads: Float32Array;
  modelState?: Float32Array;
  optState: Float32Array;
  dataRng: BigUint64Array;
  noiseRng: BigUint64Array;
  /** Crop/flip stream; read only when `batch.augment` is set. */
  augmentRng?: BigUint64Array;
  perm: Int32Array;
  /** [step, cursor within epoch, epoch] */
  counters: Float64Array;
}

export interface NativeSchedule {
  kind: ScheduleKindName;
  lr: number;
  stepSize?: number;
  gamma?: number;
  totalSteps?: number;
  finalLr?: number;
  boundaries?: Float64Array;
  values?: Float64Array;
  warmupSteps?: number;
}

export interface NativeTransform {
  kind: TransformKindName;
  value?: number;
  nesterov?: boolean;
  annealSteps?: number;
  stateOffset?: number;
  mask?: Uint8Array;
}

export interface NativeOptimizerPlan {
  transforms: NativeTransform[];
  schedule: NativeSchedule;
  stateCount: number;
}

export interface NativeStepLogs {
  loss?: Float64Array;
  lr?: Float64Array;
  accuracy?: Float64Array;
}

/**
 * How a chunk applied its updates: `chain` (a pass per transform), `fused-sgd` (one pass over the
 * gradient, θ and the momentum buffer, for the plans `sgd()` builds; chosen once, when the plan is
 * made) or `fused-gemm` (plain SGD: the update folded into the dense weight-gradient GEMMs for all
 * but the chunk's last step, bitwise the same θ).
 */
export type NativeUpdatePath = 'chain' | 'fused-sgd' | 'fused-gemm';

export interface NativeChunkResult {
  stepsDone: number;
  diverged: boolean;
  divergedAt: number | null;
  update: NativeUpdatePath;
}

/** What `native.mpi.info()` / `init()` report (binding/mpi.cpp). */
export interface NativeMpiInfo {
  /** This build has MPI support (CMake found an MPI library). */
  built: boolean;
  initialized: boolean;
  /** The MPI library's version line ("" without MPI). */
  library: string;
  /** This process's rank and the number of ranks (set once initialised). */
  rank?: number;
  size?: number;
}

/** The addon's MPI entry points (binding/mpi.cpp). */
export interface NativeMpi {
  info(): NativeMpiInfo;
  /** MPI_Init_thread (SERIALIZED); idempotent; finalised when the process exits. Throws ERR_BIGSTEP_MPI without MPI. */
  init(): NativeMpiInfo;
  finalize(): void;
  /** Every rank's bytes, rank r's at r·length (the same length on every rank, checked). */
  allGather(bytes: Uint8Array): Uint8Array;
}

/** One FMA-peak measurement (binding/fma_peak.cpp). */
export interface NativeFmaPeak {
  gflops: number;
  seconds: number;
  rounds: number;
  iterations: number;
  lanes: number;
  chains: number;
  isa: 'avx512' | 'avx2' | 'baseline';
  threads: number;
}

/**
 * One persistent native training job (binding/trainer.cpp): the options are converted and
 * validated when it is made; a chunk checks only the model, that the arrays are still attached,
 * and the counters and RNG states. Labels and masks are copied when it is made.
 */
export interface NativeTrainJobHandle {
  /** Runs `steps` steps on this thread. */
  runSync(steps: number, logs?: NativeStepLogs): NativeChunkResult;
  /** Runs `steps` steps on a worker thread. */
  runAsync(steps: number, logs?: NativeStepLogs): Promise<NativeChunkResult>;
}

export interface NativeAddon extends LandscapeNative {
  /** The option kinds, one list per kind (binding/kinds.h; typed in src/native/kinds.ts). */
  kinds: OptionKinds;
  info(): NativeInfo;
  setThreads(threads: number): number;
  describe(spec: unknown): NativeLayout;
  NativeModel: new (spec: unknown) => NativeModelHandle;
  TrainJob: new (model: NativeModelHandle, job: NativeTrainJob) => NativeTrainJobHandle;
  /** Best seconds per sgemm call for each [M, N, K, transA, transB, beta] shape, at the current thread count. */
  gemmBench(shapes: Float64Array, seconds: number): Float64Array;
  /** FMA peak (native/fma_peak.h) of `threads` threads on an ISA path (default: the active one), best of rounds within `seconds`. */
  fmaPeak(threads: number, seconds: number, isa?: string): NativeFmaPeak;
  /** ISA paths this CPU and build can run, widest first. */
  isaPaths(): Array<'avx512' | 'avx2' | 'baseline'>;
  /** Native SIGINT/SIGTERM backstop (native/signal_watchdog.h); absent in addons built before it. */
  armSignalWatchdog?(graceMs: number, exitCode: number): boolean;
  /** MPI for data-parallel training; absent in addons built before it. */
  mpi?: NativeMpi;
}

/** How the OpenBLAS kernel family was chosen: by the user, by bigstep from CPU flags, or left to OpenBLAS. */
export type BlasCoreSource = 'user' | 'bigstep' | 'openblas';

function cpuFlags(): Set<string> {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.split(':')[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** OpenBLAS core type for this CPU's instruction set, or undefined to let OpenBLAS decide. */
export function openBlasCoreFor(flags: Set<string>): string | undefined {
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return undefined;
}

function selectBlasCore(): BlasCoreSource {
  if (process.env.OPENBLAS_CORETYPE) return 'user';
  if (process.arch !== 'x64') return 'openblas';
  const core = openBlasCoreFor(cpuFlags());
  if (!core) return 'openblas';
  process.env.OPENBLAS_CORETYPE = core; // read by OpenBLAS when the addon loads it
  return 'bigstep';
}

function packageRoot(): string {
  // dist/src/native/binding.js -> package root (three levels up)
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** The portable addon `npm pack` ships for this platform (scripts/prebuild.cjs). */
function prebuiltPath(): string {
  return join(packageRoot(), 'prebuilds', `${process.platform}-${process.arch}`, 'bigstep.node');
}

/** Where the addon was loaded from: a source build (build/Release) or the portable prebuilt. */
export let addonPath = '';

function loadAddon(): NativeAddon {
  const root = packageRoot();
  const prebuilt = prebuiltPath();
  // A source build is preferred: it uses the system OpenBLAS and this CPU's instruction set.
  const candidates = [
    process.env.BIGSTEP_ADDON,
    join(root, 'build', 'Release', 'bigstep.node'),
    join(root, 'build', 'Debug', 'bigstep.node'),
    prebuilt,
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `bigstep: the native addon is not built (looked for ${candidates.join(', ')}). ` +
        'Build it with `npx bigstep build` (or `npm run build` in a checkout); it needs g++ and cmake ' +
        '(Debian: apt-get install g++ cmake make) and, for full speed, libopenblas-dev pkg-config.',
    );
  }
  const require = createRequire(import.meta.url);
  const addon = require(found) as NativeAddon;
  addonPath = found;
  return addon;
}

export const blasCoreSource: BlasCoreSource = selectBlasCore();
export const native: NativeAddon = loadAddon();

/**
 * How to get full speed, when the loaded addon runs without a system BLAS (null with OpenBLAS).
 * npm hides the build's own warning, so bigstep says it again where work starts ({@link showBlasNotice}).
 */
export const blasNotice: string | null =
  addonPath === prebuiltPath()
    ? 'bigstep: using the prebuilt portable addon (no BLAS, generic x86-64). For full speed: ' +
      'apt-get install g++ cmake libopenblas-dev pkg-config, then `npx bigstep build`. (BIGSTEP_QUIET=1 hides this.)'
    : native.info().blasVendor === 'portable'
      ? 'bigstep: the addon was built without a system BLAS (portable GEMM, several times slower). For full speed: ' +
        'apt-get install libopenblas-dev pkg-config, then `npx bigstep build`. (BIGSTEP_QUIET=1 hides this.)'
      : null;

let blasNoticeShown = false;

/**
 * Writes {@link blasNotice} to stderr, once per process. Called where GEMM work starts (a new
 * `Model`, and the CLI's commands when a run starts), not at load, so that a command that only
 * parses its arguments and fails keeps its one-line error. Silent with BIGSTEP_QUIET, and for an
 * addon chosen explicitly with BIGSTEP_ADDON (tests, sanitizer builds).
 */
export function showBlasNotice(): void {
  if (blasNoticeShown || !blasNotice) return;
  blasNoticeShown = true;
  if (process.env.BIGSTEP_QUIET || addonPath === process.env.BIGSTEP_ADDON) return;
  process.stderr.write(`${blasNotice}\n`);
}

// Pin the BLAS thread count (results differ bitwise between 1 and >= 2 OpenBLAS threads).
// Default: BIGSTEP_THREADS if set, else 1 — one thread per run, several runs at once.
{
  const fromEnv = process.env.BIGSTEP_THREADS;
  const threads = fromEnv === undefined ? 1 : Number(fromEnv);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`BIGSTEP_THREADS must be a positive integer (got "${fromEnv}")`);
  }
  native.setThreads(threads);
}
