/**
 * Extreme eigenpairs of a symmetric operator by the Lanczos method with full
 * reorthogonalisation, and the small dense symmetric eigensolver it needs (cyclic Jacobi).
 *
 * Convergence is judged per wanted Ritz pair (θ, y) from the Lanczos residual
 * r = ‖Ay − θy‖ = β_m·|s_m| (s the tridiagonal eigenvector): the pair is converged when the
 * eigenvalue error bound min(r, r²/gap) is at most `tolerance`·scale, where gap is the distance to
 * the nearest other Ritz value and scale = max(|θ|, 1e-2·max|Ritz|) (so an eigenvalue near 0 is
 * judged against the operator's size, not its own). r bounds the distance from θ to an eigenvalue
 * (symmetric A); r²/gap is the usual sharper estimate once the pair is isolated.
 * @internal
 */

/** Eigenvalues of a symmetric matrix (row-major m×m, destroyed) by cyclic Jacobi rotations, ascending. */
export function symmetricEigenvalues(a: Float64Array, m: number): number[] {
  return symmetricEigen(a, m, false).values;
}

/**
 * Eigen-decomposition of a symmetric matrix (row-major m×m, destroyed) by cyclic Jacobi:
 * values ascending; with `vectors`, column j of the returned row-major matrix is the eigenvector of values[j].
 */
export function symmetricEigen(
  a: Float64Array,
  m: number,
  vectors: boolean,
): { values: number[]; vectors: Float64Array | null } {
  const V = vectors ? new Float64Array(m * m) : null;
  if (V) for (let i = 0; i < m; i++) V[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < m; i++) {
      diag += a[i * m + i] * a[i * m + i];
      for (let j = i + 1; j < m; j++) off += a[i * m + j] * a[i * m + j];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (apq === 0) continue;
        const app = a[p * m + p];
        const aqq = a[q * m + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = a[k * m + p];
          const akq = a[k * m + q];
          a[k * m + p] = c * akp - s * akq;
          a[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = a[p * m + k];
          const aqk = a[q * m + k];
          a[p * m + k] = c * apk - s * aqk;
          a[q * m + k] = s * apk + c * aqk;
        }
        if (V) {
          for (let k = 0; k < m; k++) {
            const vkp = V[k * m + p];
            const vkq = V[k * m + q];
            V[k * m + p] = c * vkp - s * vkq;
            V[k * m + q] = s * vkp + c * vkq;
          }
        }
      }
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => a[i * m + i] - a[j * m + j]);
  const values = order.map((i) => a[i * m + i]);
  let vecs: Float64Array | null = null;
  if (V) {
    vecs = new Float64Array(m * m);
    for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) vecs[k * m + j] = V[k * m + order[j]];
  }
  return { values, vectors: vecs };
}

/** Which end(s) of the spectrum Lanczos converges. */
export type Which = 'largest' | 'smallest' | 'both';

export interface LanczosOptions {
  /** Eigenpairs wanted at each requested end. */
  k: number;
  which: Which;
  /** Lanczos steps at most (capped at dim). */
  maxIterations: number;
  tolerance: number;
  /** Unit start vector. */
  start: Float64Array;
  /** Also form the Ritz vectors (memory: the basis is kept either way). */
  vectors: boolean;
}

export interface RitzPair {
  value: number;
  /** Lanczos estimate of ‖Ay − θy‖ (absolute). */
  residualEstimate: number;
  converged: boolean;
  vector: Float64Array | null;
}

export interface LanczosResult {
  /** Largest first (descending), k of them; empty when which = 'smallest'. */
  largest: RitzPair[];
  /** Smallest first (ascending), k of them; empty when which = 'largest'. */
  smallest: RitzPair[];
  iterations: number;
}

// Monomorphic loops (one array type each), so V8 keeps them fast over millions of elements.
function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
function dotStored(b: Float32Array, w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += b[i] * w[i];
  return s;
}
/** w ← w − c·b */
function subtractStored(w: Float64Array, c: number, b: Float32Array): void {
  for (let i = 0; i < b.length; i++) w[i] -= c * b[i];
}
/** out ← c·a */
function scaled(out: Float64Array, c: number, a: Float64Array): void {
  for (let i = 0; i < a.length; i++) out[i] = c * a[i];
}
/** w ← w + c·b */
function axpy(w: Float64Array, c: number, b: Float64Array): void {
  for (let i = 0; i < b.length; i++) w[i] += c * b[i];
}
/** Basis vectors per block of {@link LanczosWorkspace}. */
const BLOCK_VECTORS = 8;

/**
 * Memory for {@link lanczos} that outlives one call: the float32 basis, allocated in blocks of
 * {@link BLOCK_VECTORS} vectors as steps need them and kept, and the two double work vectors. A
 * solver that restarts, or a tracker that measures again and again, passes the same workspace, so
 * its paramCount-sized buffers are allocated (and zero-filled) once, not per run: their garbage
 * collection cost more than the arithmetic around the products.
 * @internal
 */
export class LanczosWorkspace {
  readonly q: Float64Array;
  readonly w: Float64Array;
  private readonly views: Float32Array[] = [];

  constructor(readonly dim: number) {
    this.q = new Float64Array(dim);
    this.w = new Float64Array(dim);
  }

  /** Storage of basis vector j (its old contents are overwritten by the caller). */
  vector(j: number): Float32Array {
    while (this.views.length <= j) {
      const block = new Float32Array(BLOCK_VECTORS * this.dim);
      for (let i = 0; i < BLOCK_VECTORS; i++) this.views.push(block.subarray(i * this.dim, (i + 1) * this.dim));
    }
    return this.views[j];
  }
}

/**
 * Lanczos on `apply` (out ← A v, A symmetric, dimension `dim`). The basis is stored in float32
 * (4·dim bytes per step; products and reorthogonalisation in double), which keeps orthogonality
 * to ~1e-7, below the float32 accuracy of the products themselves. `workspace` (of the same dim)
 * is reused when given.
 */
export function lanczos(
  apply: (v: Float64Array, out: Float64Array) => void,
  dim: number,
  o: LanczosOptions,
  workspace?: LanczosWorkspace,
): LanczosResult {
  const steps = Math.min(dim, o.maxIterations);
  if (workspace && workspace.dim !== dim) throw new RangeError(`workspace must have dim ${dim} (got ${workspace.dim})`);
  const ws = workspace ?? new LanczosWorkspace(dim);
  const basis: Float32Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  const { q, w } = ws;
  q.set(o.start);
  let eig: { values: number[]; vectors: Float64Array | null } = { values: [], vectors: null };
  let lastBeta = 0;
  const wantLargest = o.which !== 'smallest';
  const wantSmallest = o.which !== 'largest';
  // The wanted pair j (index into the ascending Ritz values) meets the tolerance.
  const ok = (j: number): boolean => {
    const m = alpha.length;
    const vals = eig.values;
    const S = eig.vectors!;
    const maxAbs = Math.max(...vals.map(Math.abs), 1e-300);
    const r = lastBeta * Math.abs(S[(m - 1) * m + j]);
    let gap = Infinity;
    if (j > 0) gap = Math.min(gap, vals[j] - vals[j - 1]);
    if (j < m - 1) gap = Math.min(gap, vals[j + 1] - vals[j]);
    // r²/gap only with another Ritz value to measure the gap against (none at step 1).
    const bound = Number.isFinite(gap) && gap > 0 ? Math.min(r, (r * r) / gap) : r;
    return bound <= o.tolerance * Math.max(Math.abs(vals[j]), 1e-2 * maxAbs);
  };
  // The Ritz gap can overstate the true one early on, so the wanted values must also have
  // settled: changed by at most the same tolerance since the previous step.
  let previous: number[] | null = null;
  const settled = (): boolean => {
    const { largest, smallest } = wanted();
    const now = [...largest, ...smallest].map((j) => eig.values[j]);
    const maxAbs = Math.max(...eig.values.map(Math.abs), 1e-300);
    const same =
      previous !== null &&
      previous.length === now.length &&
      now.every((v, i) => Math.abs(v - previous![i]) <= o.tolerance * Math.max(Math.abs(v), 1e-2 * maxAbs));
    previous = now;
    return same;
  };
  const wanted = (): { largest: number[]; smallest: number[] } => {
    const m = alpha.length;
    const kk = Math.min(o.k, m);
    return {
      largest: wantLargest ? Array.from({ length: kk }, (_, i) => m - 1 - i) : [],
      smallest: wantSmallest ? Array.from({ length: kk }, (_, i) => i) : [],
    };
  };
  const allConverged = (): boolean => {
    const { largest, smallest } = wanted();
    return alpha.length >= o.k && [...largest, ...smallest].every(ok);
  };
  let exhausted = false;
  let settledNow = false;
  for (let j = 0; j < steps; j++) {
    const b = ws.vector(basis.length);
    b.set(q);
    basis.push(b);
    apply(q, w);
    const a = dot(q, w);
    alpha.push(a);
    // The three-term recurrence, then full reorthogonalisation against every basis vector: once,
    // and a second time only when the first removed most of w (‖w‖ fell below 1/√2 of what it
    // was: Kahan–Parlett's "twice is enough" test).
    axpy(w, -a, q);
    if (basis.length > 1) subtractStored(w, beta[beta.length - 1], basis[basis.length - 2]);
    let before = Math.sqrt(dot(w, w));
    let bn = before;
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) subtractStored(w, dotStored(b, w), b);
      bn = Math.sqrt(dot(w, w));
      if (bn > Math.SQRT1_2 * before) break;
      before = bn;
    }
    lastBeta = bn;
    const m = alpha.length;
    const t = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      t[i * m + i] = alpha[i];
      if (i + 1 < m) t[i * m + i + 1] = t[(i + 1) * m + i] = beta[i];
    }
    eig = symmetricEigen(t, m, true);
    const scale = Math.max(...alpha.map(Math.abs), ...beta.map(Math.abs), 1e-300);
    if (bn <= 1e-10 * scale) {
      exhausted = true; // invariant subspace: the Ritz values are exact
      lastBeta = 0;
      break;
    }
    settledNow = settled();
    if (settledNow && allConverged()) break;
    beta.push(bn);
    scaled(q, 1 / bn, w); // (a loop here, inside this large function, ran unoptimised)
  }
  const m = alpha.length;
  const S = eig.vectors!;
  const { largest, smallest } = wanted();
  const pair = (j: number): RitzPair => {
    const r = exhausted ? 0 : lastBeta * Math.abs(S[(m - 1) * m + j]);
    let vector: Float64Array | null = null;
    if (o.vectors) {
      vector = new Float64Array(dim);
      for (let i = 0; i < m; i++) subtractStored(vector, -S[i * m + j], basis[i]);
      scaled(vector, 1 / Math.sqrt(dot(vector, vector)), vector);
    }
    return { value: eig.values[j], residualEstimate: r, converged: exhausted || (settledNow && ok(j)), vector };
  };
  return { largest: largest.map(pair), smallest: smallest.map(pair), iterations: m };
}
