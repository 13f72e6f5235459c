/**
 * A proven upper bound on the windows any schedule can bring in band on a run's arrivals, at a
 * latency budget B (the most ticks any execution is added) and, optionally, a mean added latency L.
 * Computed exactly on a relaxation that keeps only how many executions run in each tick.
 *
 * The model (docs/simulation.md): an execution queued at tick τ runs at τ + d (d = default delay)
 * unless moved; a move can bring it to τ + 1 at the earliest and, within the budget, to τ + d + B at
 * the latest; its added latency is (run tick − τ − d). Window w is ticks [wW, wW + W). The run has T
 * ticks; an execution whose latest tick is ≥ T may still be queued at the end (unfinished, not in
 * the latency mean — as the lab scores it).
 *
 * Relaxation. Any schedule S gives per-tick counts x_t and cumulative counts X(t) = Σ_{s≤t} x_s with
 *   (1) D(t) ≤ X(t) ≤ A(t) for every tick t < T, where A(t) = executions queued before t (may have
 *       run by t) and D(t) = executions whose latest tick is ≤ t (must have run by t);
 *   (2) every in-band scored window has counts in [k, ⌊λ·k⌋] for some k ≥ 1 (count-ratio.ts), so
 *       per window one "mode" k; modes above `exactModes` are merged in groups [a, b'] that allow
 *       counts in [a, ⌊λ·b'⌋] — a superset, so still a relaxation;
 *   (3) its mean added latency L_S over the E executions it ran (Ex) satisfies Σ_Ex (ℓ_j − L_S) = 0.
 *       Ex holds the M "must" executions (latest tick < T) and E − M others. Σ_Ex ℓ_j =
 *       Σ_t t·x_t − Σ_Ex n_j (n_j = τ_j + d, its nominal tick), and Σ_Ex n_j ≤ Σ_must n_j + (the
 *       E − M largest n_j of the others). Summing by parts, Σ_t t·x_t − Σ_must n_j =
 *       Σ_{t<T} (Nm(t) − X(t)) + T·(E − M) with Nm(t) = must executions with n_j ≤ t. So
 *       κ_L(x) := Σ_{t<T} (Nm(t) − X(t)) + S(E − M) − L·E ≤ Σ_Ex (ℓ_j − L), S(k) = Σ of T − n_j over
 *       the k largest n_j of the others; hence κ_{L_S}(x) ≤ 0, and κ_L(x) ≤ 0 for every L ≥ L_S.
 * So g(S) ≤ G(L) := max { good(x) : x satisfies (1), (2), κ_L(x) ≤ 0 } for any L ≥ L_S.
 *
 * Computation. For μ ≥ 0, h_L(μ) = max_x [good(x) − μ·κ_L(x)] over (1), (2) is an exact dynamic
 * programme over (tick, X(t), window mode): every term of κ is a function of one X(t) (or of the
 * final E), so each tick is a sliding-window maximum, O(states × modes) per tick, and L enters only
 * at the final state (one programme per μ serves every L). Weak duality: G(L) ≤ h_L(μ) for EVERY
 * μ ≥ 0, so the minimum over any set of μ is a bound (a better μ search only tightens it); μ = 0
 * gives the bound at budget B alone. Over several runs (seeds pooled, as the lab pools them) the
 * constraint is Σ_runs κ ≤ 0 and the same μ serves all. Windows are whole, so the bound is floored
 * (after a 1e-6 allowance for rounding, in the safe direction; the terms are kept small, of the
 * order of μ × the latency added, to keep rounding far below that).
 *
 * What it is not: a bound against the p99 of latency (only against the budget, i.e. the maximum,
 * and the mean), and it ignores which queries run (costs enter only through λ), which is why it
 * sits well above what policies reach.
 */
import { maxCount } from './count-ratio.js';

export interface BoundRun {
  /** Executions queued at each tick 0..T−1 (the run's arrivals; scheduling never changes them). */
  arrivals: Int32Array;
  windowTicks: number;
  defaultDelay: number;
  /** Windows before this one are not scored (the lab's warm-up). */
  firstScoredWindow: number;
  /** count-ratio.ts's ratio for the costs that occur in this run (null: no limit). */
  ratio: number | null;
}

export interface BoundOptions {
  /** Modes 1..exactModes are kept apart; larger ones are merged in groups spanning a factor `groupFactor`. */
  exactModes: number;
  groupFactor: number;
}

export const DEFAULT_BOUND_OPTIONS: BoundOptions = { exactModes: 12, groupFactor: 1.25 };

/** One run at one budget: its scored windows, and what the latency terms need. */
export interface BudgetProblem {
  run: BoundRun;
  budget: number;
  /** Scored windows. */
  windows: number;
  /** All executions N, and the M that must run within the run. */
  executions: number;
  mustRun: number;
  /** S(k) of the header, k = 0..N − M. */
  othersSlack: Float64Array;
}

export function budgetProblem(run: BoundRun, budget: number): BudgetProblem {
  const T = run.arrivals.length;
  const d = run.defaultDelay;
  const windows = Math.max(0, Math.floor(T / run.windowTicks) - run.firstScoredWindow);
  const lastMust = T - 1 - d - budget;
  let executions = 0;
  let mustRun = 0;
  for (let t = 0; t < T; t++) {
    executions += run.arrivals[t]!;
    if (t <= lastMust) mustRun += run.arrivals[t]!;
  }
  // The others, latest first: S(k) = Σ (T − n_j) over the k latest.
  const othersSlack = new Float64Array(executions - mustRun + 1);
  let k = 0;
  for (let t = T - 1; t > lastMust && t >= 0; t--) {
    for (let j = 0; j < run.arrivals[t]!; j++, k++) othersSlack[k + 1] = othersSlack[k]! + (T - (t + d));
  }
  return { run, budget, windows, executions, mustRun, othersSlack };
}

/** The programme's values over the final state E = X(T − 1), for one μ: E = lo + index. */
export interface FinalValues {
  mu: number;
  lo: number;
  values: Float64Array;
}

/**
 * The dynamic programme of the header for one μ: for every final count E, the most scored windows
 * satisfying (2) minus μ·Σ_{t<T} (Nm(t) − X(t)), over every count sequence satisfying (1). The
 * E-dependent part of κ is added by `valueAt`.
 */
export function finalValues(p: BudgetProblem, mu: number, options: BoundOptions = DEFAULT_BOUND_OPTIONS): FinalValues {
  const { run, budget } = p;
  const T = run.arrivals.length;
  const W = run.windowTicks;
  const d = run.defaultDelay;
  // cum[τ] = executions queued before tick τ.
  const cum = new Int32Array(T + 1);
  for (let t = 0; t < T; t++) cum[t + 1] = cum[t]! + run.arrivals[t]!;
  const N = cum[T]!;
  const M = p.mustRun;
  const A = (t: number) => cum[Math.min(Math.max(t, 0), T)]!;
  const D = (t: number) => cum[Math.min(Math.max(t - d - budget + 1, 0), T)]!;
  // Must executions with nominal tick τ + d ≤ t.
  const Nm = (t: number) => Math.min(M, cum[Math.min(Math.max(t - d + 1, 0), T)]!);

  let maxStates = 1;
  for (let t = 0; t < T; t++) maxStates = Math.max(maxStates, A(t) - D(t) + 1);
  const modes = modeList(run.ratio, Math.ceil(N / W) + 1, options);
  const lanes = modes.length + 1;
  let cur = Array.from({ length: lanes }, () => new Float64Array(maxStates));
  let nxt = Array.from({ length: lanes }, () => new Float64Array(maxStates));
  const dq = new Int32Array(maxStates + 1);
  const dv = new Float64Array(maxStates + 1);
  const NEG = Number.NEGATIVE_INFINITY;

  // The value before tick 0: nothing ran (X = 0, range [0, 0]).
  let base = new Float64Array(maxStates);
  let lo = 0;
  let hi = 0;

  /** One tick for one lane, counts in [a, b]: out(X') = max_{X' − b ≤ X ≤ X' − a} prev(X) + μ·(X' − Nm(t)). */
  const step = (prev: Float64Array, out: Float64Array, nlo: number, nhi: number, a: number, b: number, t: number) => {
    let head = 0;
    let tail = 0;
    let r = lo;
    const shift = mu * Nm(t);
    for (let x = nlo; x <= nhi; x++) {
      const right = Math.min(hi, x - a);
      for (; r <= right; r++) {
        const v = prev[r - lo]!;
        if (v === NEG) continue;
        while (tail > head && dv[tail - 1]! <= v) tail--;
        dq[tail] = r;
        dv[tail] = v;
        tail++;
      }
      const left = x - b;
      while (head < tail && dq[head]! < left) head++;
      out[x - nlo] = head < tail ? dv[head]! + (mu * x - shift) : NEG;
    }
  };

  const windowsTotal = Math.ceil(T / W);
  for (let w = 0; w < windowsTotal; w++) {
    const first = w * W;
    const last = Math.min(T, first + W) - 1;
    const scored = w >= run.firstScoredWindow && first + W <= T;
    // A mode needs W·a executions in the window; at most A(last) − D(first − 1) are available.
    const cap = Math.floor((A(last) - D(first - 1)) / W);
    const active = scored ? modes.filter((m) => m.a <= cap) : [];
    for (let l = 0; l <= active.length; l++) cur[l]!.set(base.subarray(0, hi - lo + 1));
    for (let t = first; t <= last; t++) {
      const nlo = D(t);
      const nhi = A(t);
      step(cur[0]!, nxt[0]!, nlo, nhi, 0, Number.POSITIVE_INFINITY, t);
      for (let l = 0; l < active.length; l++) step(cur[l + 1]!, nxt[l + 1]!, nlo, nhi, active[l]!.a, active[l]!.b, t);
      [cur, nxt] = [nxt, cur];
      lo = nlo;
      hi = nhi;
    }
    base = new Float64Array(maxStates);
    for (let x = 0; x <= hi - lo; x++) {
      let v = cur[0]![x]!;
      for (let l = 1; l <= active.length; l++) {
        const g = cur[l]![x]! + 1;
        if (g > v) v = g;
      }
      base[x] = v;
    }
  }
  return { mu, lo, values: base.slice(0, hi - lo + 1) };
}

/** h_L(μ) of one run from its final values: max over E of V(E) − μ·(S(E − M) − L·E). */
export function valueAt(p: BudgetProblem, f: FinalValues, meanLatency: number): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < f.values.length; i++) {
    const v = f.values[i]!;
    if (v === Number.NEGATIVE_INFINITY) continue;
    const E = f.lo + i;
    const k = Math.min(Math.max(E - p.mustRun, 0), p.othersSlack.length - 1);
    const total = f.mu === 0 ? v : v - f.mu * (p.othersSlack[k]! - meanLatency * E);
    if (total > best) best = total;
  }
  return best;
}

/** The window modes: [k, ⌊λk⌋] for k ≤ exactModes, then merged groups (see the header). */
export function modeList(ratio: number | null, most: number, options: BoundOptions): { a: number; b: number }[] {
  // No usable weights (some execution may cost nothing): no count condition at all.
  if (ratio === null) return [{ a: 0, b: Number.POSITIVE_INFINITY }];
  const modes: { a: number; b: number }[] = [];
  for (let k = 1; k <= most;) {
    const top = k <= options.exactModes ? k : Math.max(k, Math.floor(k * options.groupFactor));
    modes.push({ a: k, b: maxCount(ratio, Math.min(top, most)) });
    k = top + 1;
  }
  return modes;
}

/** The bound for several runs (seeds, pooled) at one budget, with the programmes solved so far. */
export class PooledBound {
  readonly windows: number;
  /** Per μ tried, the final values of each run. */
  private readonly solved = new Map<number, FinalValues[]>();
  /** Bounds found so far, by mean latency. */
  private readonly found = new Map<number, number>();

  constructor(
    readonly problems: readonly BudgetProblem[],
    private readonly options: BoundOptions = DEFAULT_BOUND_OPTIONS,
  ) {
    this.windows = problems.reduce((s, p) => s + p.windows, 0);
  }

  /** Upper bound on in-band windows at the budget alone (μ = 0). */
  atBudget(): number {
    return Math.floor(this.value(0, 0) + 1e-6);
  }

  /**
   * Upper bound on in-band windows when the pooled mean added latency is at most L: the minimum of
   * Σ h_L(μ) over the μ tried, searched by golden section in log μ over [1e-6, 1] (μ is windows
   * per tick of summed latency; convex in μ, so the search converges; every μ tried is a valid
   * bound whatever the search does), and no more than the bound already found at any larger mean.
   */
  atMeanLatency(meanLatency: number, iterations = 12): number {
    const phi = (logMu: number) => this.value(Math.exp(logMu), meanLatency);
    let a = Math.log(1e-6);
    let b = Math.log(1);
    // Warm start: φ is convex in μ, so its minimum lies between the neighbours of the best μ
    // solved so far, when that one has a solved neighbour on each side.
    const known = [...this.solved.keys()].filter((mu) => mu > 0).sort((x, y) => x - y);
    if (known.length >= 3) {
      let i = 0;
      for (let j = 1; j < known.length; j++) {
        if (this.value(known[j]!, meanLatency) < this.value(known[i]!, meanLatency)) i = j;
      }
      if (i > 0 && i < known.length - 1) {
        a = Math.log(known[i - 1]!);
        b = Math.log(known[i + 1]!);
      }
    }
    const g = (Math.sqrt(5) - 1) / 2;
    let c = b - g * (b - a);
    let e = a + g * (b - a);
    let fc = phi(c);
    let fe = phi(e);
    for (let i = 0; i < iterations && b - a > 0.05; i++) {
      if (fc <= fe) {
        b = e;
        e = c;
        fe = fc;
        c = b - g * (b - a);
        fc = phi(c);
      } else {
        a = c;
        c = e;
        fc = fe;
        e = a + g * (b - a);
        fe = phi(e);
      }
    }
    let best = Number.POSITIVE_INFINITY;
    for (const mu of this.solved.keys()) best = Math.min(best, this.value(mu, meanLatency));
    const bound = Math.max(0, Math.floor(best + 1e-6));
    // G(L) never decreases with L, so a bound found at a larger mean also holds here.
    this.found.set(meanLatency, bound);
    let result = bound;
    for (const [l, v] of this.found) if (l >= meanLatency) result = Math.min(result, v);
    return result;
  }

  /** Σ over runs of h_L(μ). */
  value(mu: number, meanLatency: number): number {
    let finals = this.solved.get(mu);
    if (!finals) {
      finals = this.problems.map((p) => finalValues(p, mu, this.options));
      this.solved.set(mu, finals);
    }
    return this.problems.reduce((s, p, i) => s + valueAt(p, finals[i]!, meanLatency), 0);
  }
}
