/**
 * Non-negativity: minimizes ½·θᵀHθ − gᵀθ subject to θ ≥ 0 (H symmetric positive definite), the
 * posterior mode of the ridge regression under the constraint that no cost is negative.
 *
 * Lawson–Hanson active set, warm-started from the unconstrained solution: with data this clean and
 * a positive prior mean the constraint rarely binds, so the usual case is one solve. When it binds,
 * the coordinates that came out negative are held at 0, the rest re-solved on their subspace with a
 * step that keeps every coordinate feasible, and a held coordinate is released again while the
 * gradient says the objective would fall by raising it (KKT). Each iteration is one subspace solve.
 */

export interface ActiveSetProblem {
  n: number;
  /** g (the right-hand side). */
  rhs: Float64Array;
  /** Solves H_FF·x_F = rhs_F with x = 0 outside the free set (returns a length-n vector). */
  solveFree: (free: Uint8Array, rhs: Float64Array) => Promise<Float64Array>;
  /** H·x. */
  multiply: (x: Float64Array) => Float64Array;
}

export interface ActiveSetResult {
  x: Float64Array;
  /** Coordinates held at 0 by the constraint. */
  clamped: number;
  iterations: number;
}

export async function solveNonNegative(p: ActiveSetProblem, maxIterations = 3 * p.n + 10): Promise<ActiveSetResult> {
  const { n, rhs } = p;
  const free = new Uint8Array(n).fill(1);
  let s = await p.solveFree(free, rhs);
  if (s.every((v) => v >= 0)) return { x: s, clamped: 0, iterations: 1 };

  // Warm start: the unconstrained solution clipped at 0 is feasible; its negatives start held.
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (s[i]! > 0) x[i] = s[i]!;
    else free[i] = 0;
  }
  const scale = Math.max(1e-300, ...Array.from(rhs, Math.abs));
  const tolerance = 1e-10 * scale;
  let iterations = 1;
  for (; iterations < maxIterations; iterations++) {
    s = await p.solveFree(free, rhs);
    let feasible = true;
    for (let i = 0; i < n; i++) if (free[i] && s[i]! <= 0) feasible = false;
    if (feasible) {
      x.set(s);
      // KKT: a held coordinate whose gradient g − Hx is positive would lower the objective if raised.
      const w = p.multiply(x);
      let best = -1;
      let bestValue = tolerance;
      for (let i = 0; i < n; i++) {
        if (free[i]) continue;
        const gi = rhs[i]! - w[i]!;
        if (gi > bestValue) {
          bestValue = gi;
          best = i;
        }
      }
      if (best < 0) break;
      free[best] = 1;
      continue;
    }
    // Step from x toward s as far as feasibility allows, then hold the coordinates that hit 0.
    let alpha = 1;
    for (let i = 0; i < n; i++) {
      if (free[i] && s[i]! <= 0) alpha = Math.min(alpha, x[i]! / (x[i]! - s[i]!));
    }
    for (let i = 0; i < n; i++) {
      if (!free[i]) continue;
      x[i] = x[i]! + alpha * (s[i]! - x[i]!);
      if (x[i]! <= 1e-12 * Math.max(1, Math.abs(s[i]!))) {
        x[i] = 0;
        free[i] = 0;
      }
    }
  }
  let clamped = 0;
  for (let i = 0; i < n; i++) if (!free[i]) clamped++;
  return { x, clamped, iterations };
}
