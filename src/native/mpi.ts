/**
 * MPI as every layer above the addon reaches it: this process's place among the ranks, gathers
 * of bytes and doubles, the check that all ranks hold the same thing, and the chunk rule of
 * full-data passes split over ranks (evaluation here and in Model.evaluate, Hessian-vector
 * products in native/data_parallel_hvp.h). Training's shard rule and initMpi() are in
 * src/train/data-parallel.ts; docs/cluster.md describes both contracts.
 */
import { createHash } from 'node:crypto';

import { native, type NativeMpi } from './binding.js';

/** This process's place among the ranks of an MPI job. */
export interface MpiWorld {
  rank: number;
  size: number;
  /** The MPI library's version line. */
  library: string;
}

/** True when this build of the addon has MPI support (CMake found an MPI library). */
export function mpiBuilt(): boolean {
  return native.mpi?.info().built ?? false;
}

/** @internal The addon's MPI entry points, or an Error (code ERR_BIGSTEP_MPI) saying how to get them. */
export function mpiOrThrow(): NativeMpi {
  if (!native.mpi || !native.mpi.info().built) {
    const error = new Error(
      'bigstep: this build has no MPI support. Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) ' +
        'and build again (npm run build, or npx bigstep build).',
    ) as Error & { code: string };
    error.code = 'ERR_BIGSTEP_MPI';
    throw error;
  }
  return native.mpi;
}

/** This rank's place once initMpi() ran, else null. */
export function mpiWorld(): MpiWorld | null {
  const info = native.mpi?.info();
  if (!info || !info.initialized) return null;
  return { rank: info.rank ?? 0, size: info.size ?? 1, library: info.library };
}

/**
 * The ranks an option `param` (e.g. `options.dataParallel`) asks to split over; throws an Error
 * with code ERR_BIGSTEP_MPI naming `param` when MPI is not initialised or not built.
 */
export function requireMpiWorld(param: string): MpiWorld {
  const world = mpiWorld();
  if (world) return world;
  const how = mpiBuilt()
    ? 'start the processes with mpirun or srun and call initMpi() first'
    : 'this build has no MPI support (apt-get install openmpi-bin libopenmpi-dev, then build again)';
  const error = new Error(`${param} needs MPI: ${how}`) as Error & { code: string };
  error.code = 'ERR_BIGSTEP_MPI';
  throw error;
}

/** Collective: every rank's `values` (the same length on every rank), rank r's at r·length. */
export function allGatherFloat64(values: Float64Array): Float64Array {
  const bytes = mpiOrThrow().allGather(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
}

/** Collective: every rank's `ok`, in rank order (also a barrier: no rank returns before all called it). */
export function everyRankOk(ok: boolean): boolean[] {
  const all = mpiOrThrow().allGather(Uint8Array.of(ok ? 1 : 0));
  return Array.from(all, (b) => b === 1);
}

/**
 * Which chunks of a full-data pass a rank computes. A pass over n examples in chunks of c =
 * min(chunk, n) has `count` = ⌈n/c⌉ chunks (the chunks one process makes); they are dealt in rank
 * order, `perRank` = ⌈count/N⌉ whole chunks per rank, so rank r computes chunks [first, end) (none
 * when first = end). Adding the chunks' results in chunk order is then the one-process arithmetic
 * (native/data_parallel_hvp.h's chunk_share, the same rule).
 */
export interface ChunkShare {
  first: number;
  end: number;
  count: number;
  perRank: number;
  /** Examples per chunk, c. */
  chunk: number;
}

export function chunkShare(n: number, chunk: number, rank: number, size: number): ChunkShare {
  const c = Math.min(chunk, n);
  const count = Math.ceil(n / c);
  const perRank = Math.ceil(count / size);
  const first = Math.min(count, rank * perRank);
  return { first, end: Math.min(count, first + perRank), count, perRank, chunk: c };
}

/** A named part of what every rank must agree on, as the byte arrays it is made of. */
export interface RankCheckPart {
  name: string;
  bytes: ArrayBufferView[];
}

/** SHA-256 of the parts' bytes, in order. */
function digest(bytes: ArrayBufferView[]): Buffer {
  const hash = createHash('sha256');
  for (const b of bytes) hash.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  return hash.digest();
}

/**
 * Compares, across all ranks, the SHA-256 of each part (e.g. config, data, initial parameters).
 * A collective call: every rank must call it with the same parts in the same order. When a part
 * differs, every rank throws the same Error (code ERR_BIGSTEP_RANKS_DIFFER) naming the parts that
 * differ and which ranks disagree with rank 0.
 */
export function checkSameOnEveryRank(parts: RankCheckPart[], param: string): void {
  const mpi = mpiOrThrow();
  const size = mpi.info().size ?? 1;
  const mine = new Uint8Array(32 * parts.length);
  parts.forEach((p, i) => mine.set(digest(p.bytes), 32 * i));
  const all = mpi.allGather(mine);
  const stride = mine.length;
  const differing: string[] = [];
  parts.forEach((p, i) => {
    const at = (r: number) => Buffer.from(all.subarray(r * stride + 32 * i, r * stride + 32 * (i + 1))).toString('hex');
    const ranks: number[] = [];
    for (let r = 1; r < size; ++r) if (at(r) !== at(0)) ranks.push(r);
    if (ranks.length > 0)
      differing.push(
        `${p.name} (rank ${ranks.join(', ')} differ${ranks.length === 1 ? 's' : ''} from rank 0: sha256 ${at(ranks[0]).slice(0, 12)}… vs ${at(0).slice(0, 12)}…)`,
      );
  });
  if (differing.length > 0) {
    const error = new Error(
      `${param}: the ranks do not train the same run: ${differing.join('; ')}. Every rank must build the same model, ` +
        'data set and trainer options (same files, seeds and configuration).',
    ) as Error & { code: string };
    error.code = 'ERR_BIGSTEP_RANKS_DIFFER';
    throw error;
  }
}

const dataDigests = new WeakMap<ArrayBufferView, string>();

/**
 * Collective check before a split full-data pass (evaluation, Hessian-vector products): every rank
 * has the same θ (SHA-256 of `params`, every call), the same data set (hashed once per array and
 * remembered: a data set is not changed between passes) and the same pass settings. Throws
 * ERR_BIGSTEP_RANKS_DIFFER naming `param` and what differs; ERR_BIGSTEP_BUSY while an async split
 * pass is in flight ({@link inOneSplitPassAtATime}).
 */
export function checkSamePass(
  params: Float32Array,
  data: { x: Float32Array; y: ArrayBufferView },
  settings: unknown,
  param: string,
): void {
  assertNoSplitPassInFlight(param);
  const dataHash = (a: ArrayBufferView): string => {
    let h = dataDigests.get(a);
    if (h === undefined) {
      h = digest([a]).toString('hex');
      dataDigests.set(a, h);
    }
    return h;
  };
  const text = (s: string) => new TextEncoder().encode(s);
  checkSameOnEveryRank(
    [
      { name: 'parameters θ', bytes: [params] },
      { name: 'data set (x, y)', bytes: [text(`${dataHash(data.x)} ${dataHash(data.y)}`)] },
      { name: 'settings', bytes: [text(JSON.stringify(settings))] },
    ],
    param,
  );
}

let splitPassInFlight: string | null = null;

/**
 * Throws an Error (code ERR_BIGSTEP_BUSY) naming `param` while an async split pass
 * ({@link inOneSplitPassAtATime}) is in flight in this process: a collective call made now could
 * pair up with that pass's on some ranks and not on others.
 */
export function assertNoSplitPassInFlight(param: string): void {
  if (splitPassInFlight === null) return;
  const error = new Error(
    `${param}: a data-parallel pass (${splitPassInFlight}) is in flight in this process; await it first, so that every rank makes its collective calls in the same order`,
  ) as Error & { code: string };
  error.code = 'ERR_BIGSTEP_BUSY';
  throw error;
}

/**
 * Runs `pass`, an async split pass (collective calls before and after an await), as the only
 * one in flight in this process. Its synchronous start (the ranks' agreement check) runs now;
 * until it settles, another split pass, a split evaluation or Hessian product and a data-parallel
 * training step throw ERR_BIGSTEP_BUSY naming their option. Otherwise two operations' collectives
 * could pair up differently on different ranks (each rank's order would depend on which of its
 * passes finished first), silently mixing their sums.
 */
export async function inOneSplitPassAtATime<T>(param: string, pass: () => Promise<T>): Promise<T> {
  assertNoSplitPassInFlight(param);
  const running = pass();
  splitPassInFlight = param;
  try {
    return await running;
  } finally {
    splitPassInFlight = null;
  }
}
