/**
 * The ridge system H = XᵀX + λI for large catalogs (the `RidgeFactorizer` of ridge.ts), exact,
 * through the rank of XᵀX.
 *
 * XᵀX is a sum of one outer product per window, so its rank r is at most the number of windows W.
 * Ten minutes of history give W = 600 while a large catalog has thousands of queries seen: r ≪ n.
 * A pivoted Cholesky of XᵀX stops at its rank and gives XᵀX = G·Gᵀ with G n×r, and then
 * everything the solve needs lives in r dimensions (Woodbury), with C = λI_r + GᵀG:
 *   H⁻¹ = (I − G·C⁻¹·Gᵀ)/λ,   log det H = (n − r)·log λ + log det C,
 *   diag(H⁻¹)_q = (1 − ‖L_C⁻¹·g_q‖²)/λ   (g_q the q-th row of G, L_C the Cholesky factor of C).
 * The same exact posterior as the dense path — the marginal variances, not a bound. Cost: n·r²/2
 * for G, n·r²/2 for GᵀG, r³/6 per λ of the likelihood's grid, n·r²/2 per resource for the
 * variances; against (grid + 4)·n³/6 densely. As r nears n the dense path is cheaper again, and
 * solve.ts takes it.
 *
 * Pure arithmetic on Float64Arrays; the long loops call `pause()` once per row or column.
 */
import { SolveError } from '../errors.js';
import {
  cholesky,
  choleskySolve,
  dot,
  logDeterminant,
  rowDot,
  type DenseMatrix,
  type SparseSymmetric,
} from './linear-algebra.js';
import { noPause, type Pause } from './pause.js';
import type { RidgeFactorizer } from './ridge.js';

/** XᵀX = G·Gᵀ: G is n×rank, stored row-major with row stride `stride` (≥ rank). */
export interface GramFactor {
  n: number;
  rank: number;
  stride: number;
  g: Float64Array;
  /** The row chosen at each step: row pivots[k] of G is zero beyond column k, G[pivots[k], k] > 0. */
  pivots: Int32Array;
  /** GᵀG (rank×rank, row-major, lower triangle filled). */
  gtg: Float64Array;
}

/**
 * A pivot whose remaining diagonal is below this share of the largest diagonal of XᵀX is rounding
 * noise: XᵀX has integer entries and its rank is reached exactly, after which the residual
 * diagonal drops by ten or more orders of magnitude.
 */
const RANK_TOLERANCE = 1e-10;

/**
 * Pivoted (diagonal-pivoting) Cholesky of the positive semi-definite XᵀX, stopped at its numerical
 * rank or at `maxRank` (at most min(n, windows) by construction). Each step takes the row with the
 * largest remaining diagonal, so the factor is as well conditioned as the data allows.
 */
export async function factorGram(m: SparseSymmetric, maxRank: number, pause: Pause = noPause): Promise<GramFactor> {
  const { n } = m;
  const stride = Math.max(1, Math.min(n, maxRank));
  const adjacency = columns(m);
  const g = new Float64Array(n * stride);
  const d = Float64Array.from(m.diag);
  const tolerance = RANK_TOLERANCE * Math.max(0, ...m.diag);
  const pivoted = new Uint8Array(n);
  const pivots = new Int32Array(stride);
  const column = new Float64Array(n);
  let rank = 0;
  for (; rank < stride; rank++) {
    let p = -1;
    for (let i = 0; i < n; i++) if (!pivoted[i] && (p < 0 || d[i]! > d[p]!)) p = i;
    if (p < 0 || !(d[p]! > tolerance)) break;
    const pp = pause();
    if (pp) await pp;
    // Column p of XᵀX, scattered into `column`.
    column[p] = m.diag[p]!;
    for (let k = adjacency.start[p]!; k < adjacency.start[p + 1]!; k++)
      column[adjacency.index[k]!] = adjacency.value[k]!;
    const s = Math.sqrt(d[p]!);
    const rp = p * stride;
    g[rp + rank] = s;
    pivoted[p] = 1;
    pivots[rank] = p;
    d[p] = 0;
    for (let i = 0; i < n; i++) {
      if (pivoted[i]) continue;
      const ri = i * stride;
      const v = (column[i]! - rowDot(g, ri, rp, rank)) / s;
      g[ri + rank] = v;
      d[i]! -= v * v;
    }
    column[p] = 0;
    for (let k = adjacency.start[p]!; k < adjacency.start[p + 1]!; k++) column[adjacency.index[k]!] = 0;
  }
  const factor: GramFactor = { n, rank, stride, g, pivots: pivots.slice(0, rank), gtg: new Float64Array(0) };
  factor.gtg = await outerSum(factor, null, pause);
  return factor;
}

/**
 * Rows of G summed together by `outerSum`: a block's rows, transposed, stay in cache while GᵀG
 * streams past once per block instead of once per row (measured: the whole factorGram ≈ 30 %
 * faster at 3 400 queries than summing row by row).
 */
const BLOCK = 32;

/**
 * Copies the rows `rows[start…start+m)` of G, transposed, into `t`: t[a·BLOCK + j] = G[rows[start+j]][a].
 */
function transposeBlock(f: GramFactor, rows: Int32Array, start: number, m: number, t: Float64Array): void {
  for (let j = 0; j < m; j++) {
    const rq = rows[start + j]! * f.stride;
    for (let a = 0; a < f.rank; a++) t[a * BLOCK + j] = f.g[rq + a]!;
  }
}

/** The rows q with `keep[q]` (all when null). */
function rowsOf(n: number, keep: Uint8Array | null): Int32Array {
  return keep === null
    ? Int32Array.from({ length: n }, (_, q) => q)
    : Int32Array.from(keep.keys()).filter((q) => keep[q]);
}

/** Σ over the rows q (those with `keep[q]`, or all) of g_q·g_qᵀ: GᵀG, lower triangle, rank×rank. */
async function outerSum(f: GramFactor, keep: Uint8Array | null, pause: Pause): Promise<Float64Array> {
  const { rank } = f;
  const rows = rowsOf(f.n, keep);
  const out = new Float64Array(rank * rank);
  const t = new Float64Array(rank * BLOCK);
  for (let start = 0; start < rows.length; start += BLOCK) {
    const pp = pause();
    if (pp) await pp;
    const m = Math.min(BLOCK, rows.length - start);
    transposeBlock(f, rows, start, m, t);
    for (let a = 0; a < rank; a++) {
      const ra = a * rank;
      for (let b = 0; b <= a; b++) out[ra + b]! += rowDot(t, a * BLOCK, b * BLOCK, m);
    }
  }
  return out;
}

/**
 * The ridge system through G. Vectors in the range of XᵀX (XᵀX·1 and Xᵀy) are split once into G·w
 * plus a remainder ρ that is zero up to rounding, because H⁻¹·G = G·C⁻¹ needs no division by λ,
 * whereas Woodbury's (v − G·C⁻¹·Gᵀ·v)/λ cancels digits as λ gets small. With Gᵀ·H⁻¹ = C⁻¹·Gᵀ:
 *   vᵢᵀ·H⁻¹·vⱼ = wᵢᵀ·C⁻¹·GᵀG·wⱼ + wᵢᵀ·C⁻¹·cⱼ + cᵢᵀ·C⁻¹·wⱼ + (ρᵢᵀρⱼ − cᵢᵀ·C⁻¹·cⱼ)/λ,  c = Gᵀ·ρ,
 * all r-dimensional: after the vectors are prepared, a λ of the likelihood's grid costs one r×r
 * Cholesky and a few r² solves, nothing of size n.
 */
export function lowRankRidge(f: GramFactor, vectors: readonly Float64Array[], pause: Pause = noPause): RidgeFactorizer {
  const { n, rank } = f;
  const parts = vectors.map((v) => split(f, v));
  const c = parts.map((p) => transposeMultiply(f, p.rest, null));
  const bw = parts.map((p) => symmetricMultiply(f.gtg, rank, p.w));
  const rr = parts.map((pi) => parts.map((pj) => dot(pi.rest, pj.rest)));
  return {
    async factor(lambda) {
      const l = await smallFactor(f.gtg, rank, lambda, pause);
      const cw = parts.map((p) => choleskySolve(l, p.w));
      const cc = c.map((x) => choleskySolve(l, x));
      return {
        logDeterminant: (n - rank) * Math.log(lambda) + logDeterminant(l),
        form: (i, j) =>
          dot(cw[i]!, bw[j]!) +
          dot(parts[i]!.w, cc[j]!) +
          dot(c[i]!, cw[j]!) +
          (rr[i]![j]! - dot(c[i]!, cc[j]!)) / lambda,
        solve(v) {
          const { w, rest } = split(f, v);
          const out = woodbury(f, l, lambda, rest, null);
          const s = choleskySolve(l, w);
          for (let q = 0; q < n; q++) out[q]! += rowDot(f.g, q * f.stride, 0, rank, s);
          return out;
        },
        inverseDiagonal: () => inverseDiagonalOf(f, l, lambda, pause),
      };
    },
    async solveFree(lambda, free, v) {
      // G_FᵀG_F = GᵀG − Σ over the held rows: cheap while few rows are held (the usual case).
      const minus = await outerSum(
        f,
        Uint8Array.from(free, (x) => 1 - x),
        pause,
      );
      const l = await smallFactor(
        Float64Array.from(f.gtg, (x, k) => x - minus[k]!),
        rank,
        lambda,
        pause,
      );
      return woodbury(f, l, lambda, v, free);
    },
  };
}

/** The Cholesky factor of C = λI + GᵀG (GᵀG given by its lower triangle). */
async function smallFactor(gtg: Float64Array, rank: number, lambda: number, pause: Pause): Promise<DenseMatrix> {
  if (!(lambda > 0)) throw new SolveError(`the ridge must be positive (λ = ${lambda})`);
  const c = new Float64Array(rank * rank);
  for (let a = 0; a < rank; a++) {
    for (let b = 0; b < a; b++) c[a * rank + b] = c[b * rank + a] = gtg[a * rank + b]!;
    c[a * rank + a] = gtg[a * rank + a]! + lambda;
  }
  return cholesky({ n: rank, data: c }, pause);
}

/** v = G·w + rest, w solved on the pivot rows (where G is lower triangular): rest is 0 there. */
function split(f: GramFactor, v: Float64Array): { w: Float64Array; rest: Float64Array } {
  const { rank, stride, g } = f;
  const w = new Float64Array(rank);
  for (let k = 0; k < rank; k++) {
    const rp = f.pivots[k]! * stride;
    w[k] = (v[f.pivots[k]!]! - rowDot(g, rp, 0, k, w)) / g[rp + k]!;
  }
  return { w, rest: Float64Array.from(v, (x, q) => x - rowDot(g, q * stride, 0, rank, w)) };
}

/** Gᵀ·v over the `free` rows (all when null). */
function transposeMultiply(f: GramFactor, v: Float64Array, free: Uint8Array | null): Float64Array {
  const t = new Float64Array(f.rank);
  for (let q = 0; q < f.n; q++) {
    if (free !== null && !free[q]) continue;
    const vq = v[q]!;
    const rq = q * f.stride;
    for (let a = 0; a < f.rank; a++) t[a]! += f.g[rq + a]! * vq;
  }
  return t;
}

/** B·w for a symmetric B given by its lower triangle. */
function symmetricMultiply(b: Float64Array, rank: number, w: Float64Array): Float64Array {
  const out = new Float64Array(rank);
  for (let i = 0; i < rank; i++) {
    const ri = i * rank;
    out[i]! += b[ri + i]! * w[i]!;
    for (let j = 0; j < i; j++) {
      out[i]! += b[ri + j]! * w[j]!;
      out[j]! += b[ri + j]! * w[i]!;
    }
  }
  return out;
}

/** H_FF⁻¹·v_F = (v − G·C⁻¹·Gᵀ·v)/λ on the `free` rows (all when null), C factored as `l`. */
function woodbury(
  f: GramFactor,
  l: DenseMatrix,
  lambda: number,
  v: Float64Array,
  free: Uint8Array | null,
): Float64Array {
  const s = choleskySolve(l, transposeMultiply(f, v, free));
  const out = new Float64Array(f.n);
  for (let q = 0; q < f.n; q++) {
    if (free === null || free[q]) out[q] = (v[q]! - rowDot(f.g, q * f.stride, 0, f.rank, s)) / lambda;
  }
  return out;
}

/** diag(H⁻¹)_q = (1 − ‖L⁻¹·g_q‖²)/λ, by one forward substitution per row. */
async function inverseDiagonalOf(f: GramFactor, l: DenseMatrix, lambda: number, pause: Pause): Promise<Float64Array> {
  const { n, rank, stride, g } = f;
  const out = new Float64Array(n);
  const z = new Float64Array(rank);
  const ld = l.data;
  for (let q = 0; q < n; q++) {
    const pp = pause();
    if (pp) await pp;
    const rq = q * stride;
    let norm = 0;
    for (let a = 0; a < rank; a++) {
      const v = (g[rq + a]! - rowDot(ld, a * rank, 0, a, z)) / ld[a * rank + a]!;
      z[a] = v;
      norm += v * v;
    }
    out[q] = Math.max(0, 1 - norm) / lambda;
  }
  return out;
}

/** Column access to a sparse symmetric matrix (both triangles, diagonal excluded), CSR-like. */
function columns(m: SparseSymmetric): { start: Int32Array; index: Int32Array; value: Float64Array } {
  const start = new Int32Array(m.n + 1);
  for (let k = 0; k < m.values.length; k++) {
    start[m.rows[k]! + 1]!++;
    start[m.cols[k]! + 1]!++;
  }
  for (let i = 0; i < m.n; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, m.n);
  const index = new Int32Array(2 * m.values.length);
  const value = new Float64Array(2 * m.values.length);
  for (let k = 0; k < m.values.length; k++) {
    const i = m.rows[k]!;
    const j = m.cols[k]!;
    index[fill[i]!] = j;
    value[fill[i]!++] = m.values[k]!;
    index[fill[j]!] = i;
    value[fill[j]!++] = m.values[k]!;
  }
  return { start, index, value };
}
