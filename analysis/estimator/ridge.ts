/**
 * The ridge system H = XᵀX + λI as the solve uses it, and its dense implementation (n×n Cholesky).
 * low-rank.ts implements the same interface through the rank of XᵀX for large catalogs; the solve
 * (solve.ts) does not know which one it holds.
 *
 * The marginal likelihood needs only bilinear forms vᵢᵀ·H⁻¹·vⱼ of a few fixed vectors (XᵀX·1 and
 * Xᵀy per resource), at many λ: a factorizer is made with those vectors, so that an implementation
 * can prepare them once (the low-rank one then needs no n-sized work per λ).
 */
import {
  cholesky,
  choleskySolve,
  denseFromSparse,
  dot,
  inverseDiagonal,
  logDeterminant,
  submatrix,
  type SparseSymmetric,
} from './linear-algebra.js';
import type { Pause } from './pause.js';

/** H = XᵀX + λI factored at one λ. */
export interface RidgeFactor {
  logDeterminant: number;
  /** H⁻¹·v. */
  solve(v: Float64Array): Float64Array;
  /** vᵢᵀ·H⁻¹·vⱼ for the factorizer's vectors i and j. */
  form(i: number, j: number): number;
  /** diag(H⁻¹). */
  inverseDiagonal(): Promise<Float64Array>;
}

export interface RidgeFactorizer {
  factor(lambda: number): Promise<RidgeFactor>;
  /** Solves H_FF·x_F = v_F with x = 0 outside the `free` coordinates (the active set's subproblems). */
  solveFree(lambda: number, free: Uint8Array, v: Float64Array): Promise<Float64Array>;
}

export function denseRidge(gram: SparseSymmetric, vectors: readonly Float64Array[], pause: Pause): RidgeFactorizer {
  return {
    async factor(lambda) {
      const l = await cholesky(denseFromSparse(gram, lambda), pause);
      const solved = new Map<number, Float64Array>();
      const solvedVector = (j: number) => {
        if (!solved.has(j)) solved.set(j, choleskySolve(l, vectors[j]!));
        return solved.get(j)!;
      };
      return {
        logDeterminant: logDeterminant(l),
        solve: (v) => choleskySolve(l, v),
        form: (i, j) => dot(vectors[i]!, solvedVector(j)),
        inverseDiagonal: () => inverseDiagonal(l, pause),
      };
    },
    async solveFree(lambda, free, v) {
      const { m, index } = submatrix(denseFromSparse(gram, lambda), free);
      const x = new Float64Array(gram.n);
      if (m.n === 0) return x;
      const sub = choleskySolve(
        await cholesky(m, pause),
        Float64Array.from(index, (i) => v[i]!),
      );
      index.forEach((i, k) => (x[i] = sub[k]!));
      return x;
    },
  };
}
