/**
 * The one fact about costs the count-only bound (count-bound.ts) keeps: how unequal the per-tick
 * execution counts of an in-band window may be.
 *
 * Claim. Let every execution's cost vector c_j be non-negative per resource, fix weights α ≥ 0
 * (one per resource) and let m = min_j α·c_j > 0, M = max_j α·c_j over the executions that can
 * occur. If a window is in band (every resource r has min_t s_t^r ≥ (1 − b)·avg_r and
 * max_t s_t^r ≤ (1 + b)·avg_r, avg_r truncated or not) and not idle, then its per-tick execution
 * counts k_t satisfy   k_min ≥ 1   and   (1 − b)·m·k_max ≤ (1 + b)·M·k_min.
 *
 * Proof. Per resource, (1 − b)·max_t s_t^r ≤ (1 − b)(1 + b)·avg_r ≤ (1 + b)·min_t s_t^r. Multiply by
 * α_r ≥ 0 and sum: (1 − b)·Σ_r α_r max_t s_t^r ≤ (1 + b)·Σ_r α_r min_t s_t^r. The maximum of a sum
 * is at most the sum of maxima and the minimum of a sum at least the sum of minima, so with
 * S_t = α·s_t: (1 − b)·max_t S_t ≤ (1 + b)·min_t S_t. A tick with k executions has
 * k·m ≤ S_t ≤ k·M. Hence (1 − b)·m·k_max ≤ (1 − b)·max S ≤ (1 + b)·min S ≤ (1 + b)·M·k_min. If
 * k_min = 0 the right side is 0, so k_max = 0: nothing ran, the window is idle, and idle windows
 * are scored out of band (metrics.ts). ∎
 *
 * Every α gives a valid condition; the tightest is the one with the smallest M/m, searched here on
 * a grid of the weight simplex (a coarser search only makes the bound looser, never wrong).
 */
export interface CountRatio {
  /** An in-band window's ticks hold between k_min ≥ 1 and ⌊ratio·k_min⌋ executions; null: no α with m > 0 (no limit). */
  ratio: number | null;
  /** The weights that gave it, and m, M. */
  weights: number[];
  minWeighted: number;
  maxWeighted: number;
}

/** Steps per unit of the weight grid (weights are integers summing to this). */
const GRID = 60;

/**
 * The tightest count ratio for these cost vectors (one per query that can occur; each a list of
 * per-resource costs) and band half-width `band` (0.1 for ±10 %).
 */
export function countRatio(costs: readonly (readonly number[])[], band: number): CountRatio {
  const none: CountRatio = { ratio: null, weights: [], minWeighted: 0, maxWeighted: 0 };
  if (costs.length === 0) return none;
  const dims = costs[0]!.length;
  let best = none;
  let bestQuotient = Number.POSITIVE_INFINITY;
  for (const weights of simplex(dims, GRID)) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const c of costs) {
      let s = 0;
      for (let r = 0; r < dims; r++) s += weights[r]! * c[r]!;
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    if (!(lo > 0)) continue;
    // Integer weights and integer costs: lo and hi are exact, so the comparison is exact too.
    if (hi / lo < bestQuotient) {
      bestQuotient = hi / lo;
      best = { ratio: null, weights, minWeighted: lo, maxWeighted: hi };
    }
  }
  if (best.weights.length === 0) return none;
  return { ...best, ratio: ((1 + band) * best.maxWeighted) / ((1 - band) * best.minWeighted) };
}

/**
 * The most executions a tick of an in-band window may hold when its emptiest tick holds k. Rounded
 * up by a hair before the floor, so floating-point error can only allow more (a looser, still
 * valid bound), never less.
 */
export function maxCount(ratio: number | null, k: number): number {
  if (ratio === null) return Number.POSITIVE_INFINITY;
  return Math.floor(ratio * k * (1 + 1e-12) + 1e-9);
}

/** Every vector of `dims` non-negative integers summing to `total`. */
function* simplex(dims: number, total: number): Generator<number[]> {
  if (dims === 1) {
    yield [total];
    return;
  }
  for (let first = 0; first <= total; first++) {
    for (const rest of simplex(dims - 1, total - first)) yield [first, ...rest];
  }
}
