/**
 * Picks which candidates run at the next tick: the subset whose summed expected cost vector best
 * matches the tick's target vector on all three resources at once, with the mandatory ones (at
 * their latency deadline) always in.
 *
 * Objective (smaller is better), per resource r with target T_r:
 *   ((M_r − T_r)² + κ·V_r) / T_r²  −  Σ_{i ∈ S} u_i
 *   + ρ · Σ_r (max(0, T_r − (P_r − M_r)))² / T_r²
 * where M_r is the sum of the chosen candidates' means, P_r that of all candidates, and
 * V_r = Σ_q (n_q − share_q)² σ²_q,r over queries q, n_q the chosen executions of q and σ²_q,r its
 * estimate's variance. A query's estimate errs by the same amount in every tick, so what matters is
 * the error of this tick against the window's ticks already placed: a query they ran share_q times
 * per tick cancels when this tick runs it as often, and two executions of one query count four
 * times one's variance, not twice (with no share and one execution per query, V is the plain sum
 * of variances). At scale 10 this took the learned run from 97.9 to 98.4 % in band (seeds 1–3;
 * 98.0 to 98.7 % on seeds 4–6). The last term looks one tick ahead: with probability ρ the next
 * tick brings no new arrival (ρ = e^−λ at λ arrivals per tick; negligible at high load) and must
 * make do with what is left, so draining the pool to fit this tick slightly better is not worth an empty next tick. (M − T)² + V is the
 * expected squared miss when costs are uncertain, so uncertain candidates are taken cautiously:
 * one at a time and preferably when they are needed. u_i is a small bonus for waiting longer, so
 * that between equally good fits the older execution goes first and latency stays low.
 *
 * Subset selection is NP-hard in general; a greedy fill followed by best-improvement local search
 * (add, remove, swap one for one) gets within a few percent of the target at pools of tens of
 * candidates in tens of microseconds. A few percent is much of a ±10 % band, though: one-for-one
 * swaps stop at a subset no single swap improves while a two-for-two exchange would. So the search
 * restarts from the best subset with two random swaps made (iterated local search) and keeps the
 * best it finds, within the same bound on moves: at scale 5 that turned about a fifth of the
 * windows a single tick put out of band into windows in band (SOLUTION.md, "Scheduling").
 */
import { BAND } from './band.js';

export interface Candidates {
  /** Number of candidates; every array below has at least this length. */
  count: number;
  /** Expected cost per resource (cpu, io, memory), and its variance. */
  mean: [Float64Array, Float64Array, Float64Array];
  variance: [Float64Array, Float64Array, Float64Array];
  /** Bonus for choosing it now (≥ 0, in objective units). */
  bonus: Float64Array;
  mandatory: Uint8Array;
  /**
   * Which query each candidate runs (indices below `count`; executions of one query share one),
   * and how many executions of that query the window's ticks placed so far ran on average: the
   * estimates' errors of one query are the same in every tick, so matching its count in every tick
   * cancels them (see the objective's variance term).
   */
  group: Int32Array;
  share: Float64Array;
}

export interface SelectionParams {
  /** Target load per resource for the tick (cpu, io, memory). */
  target: readonly [number, number, number];
  /** ρ: weight of the next tick's shortfall if it had only the leftover candidates. */
  reserve: number;
  /** κ: weight of the summed variance. */
  uncertaintyWeight: number;
  /** Upper bound on local-search rounds (each round applies the best improving move). */
  maxRounds: number;
  /** Upper bound on the moves local search evaluates in all (a round costs about chosen × candidates). */
  maxMoves?: number;
  /**
   * Run exactly this many (or all the mandatory ones, if more): the greedy fill adds until the count
   * is reached, and local search only swaps. Undefined: as many as improve the objective.
   */
  count?: number;
  /**
   * Restarts of the local search, each from the best subset so far with two random swaps made
   * (a generator seeded the same on every call: the same candidates give the same choice). 0: none.
   */
  restarts?: number;
}

export function createCandidates(capacity: number): Candidates {
  const f = () => new Float64Array(capacity);
  return {
    count: 0,
    mean: [f(), f(), f()],
    variance: [f(), f(), f()],
    bonus: f(),
    mandatory: new Uint8Array(capacity),
    group: Int32Array.from({ length: capacity }, (_, i) => i),
    share: f(),
  };
}

/** Returns the chosen flags (1 = run at the next tick), indexed like the candidates. */
export function selectSubset(c: Candidates, p: SelectionParams): Uint8Array {
  const n = c.count;
  const chosen = new Uint8Array(n);
  // Normalise by T² so each resource counts by its relative miss; a zero target (nothing to aim
  // for) falls back to 1 so that any load is a miss measured in cost units.
  const w = p.target.map((t) => 1 / Math.max(t, 1) ** 2) as [number, number, number];
  const [m0, m1, m2] = c.mean;
  const [v0, v1, v2] = c.variance;
  const [t0, t1, t2] = p.target;
  const [w0, w1, w2] = w;
  const k = p.uncertaintyWeight;
  const rho = p.reserve;
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  for (let i = 0; i < n; i++) {
    p0 += m0[i]!;
    p1 += m1[i]!;
    p2 += m2[i]!;
  }
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let u0 = 0;
  let u1 = 0;
  let u2 = 0;
  const score = (a0: number, a1: number, a2: number, b0: number, b1: number, b2: number): number =>
    ((a0 - t0) ** 2 + k * b0 + rho * Math.max(0, t0 - p0 + a0) ** 2) * w0 +
    ((a1 - t1) ** 2 + k * b1 + rho * Math.max(0, t1 - p1 + a1) ** 2) * w1 +
    ((a2 - t2) ** 2 + k * b2 + rho * Math.max(0, t2 - p2 + a2) ** 2) * w2;

  // Takes `out` out of the subset and `into` into it (−1: none), keeping the sums.
  // The variance term is Σ over queries of (chosen − share)² × the query's variance: one more
  // execution of query q changes it by (2·(chosen_q − share_q) + 1) × its variance, one fewer by
  // (−2·(chosen_q − share_q) + 1) × it.
  const group = c.group;
  const share = c.share;
  const chosenOf = new Int32Array(n);
  const added = (j: number, less: number) => 2 * (chosenOf[group[j]!]! - less - share[j]!) + 1;
  const removed = (i: number) => -2 * (chosenOf[group[i]!]! - share[i]!) + 1;
  const move = (out: number, into: number) => {
    if (out >= 0) {
      const f = removed(out);
      chosen[out] = 0;
      chosenOf[group[out]!]!--;
      s0 -= m0[out]!;
      s1 -= m1[out]!;
      s2 -= m2[out]!;
      u0 += f * v0[out]!;
      u1 += f * v1[out]!;
      u2 += f * v2[out]!;
    }
    if (into >= 0) {
      const f = added(into, 0);
      chosen[into] = 1;
      chosenOf[group[into]!]!++;
      s0 += m0[into]!;
      s1 += m1[into]!;
      s2 += m2[into]!;
      u0 += f * v0[into]!;
      u1 += f * v1[into]!;
      u2 += f * v2[into]!;
    }
  };

  for (let i = 0; i < n; i++) if (c.mandatory[i]) move(-1, i);
  let current = score(s0, s1, s2, u0, u1, u2);
  let size = 0;
  for (let i = 0; i < n; i++) size += chosen[i]!;
  const fixed = p.count !== undefined;

  // Greedy fill: add the candidate that improves the objective most, while one does. With a fixed
  // count, add the best one, improving or not, until the count is reached, each judged against its
  // share of the target (the j-th of k brings the sum nearest j/k of it): judged against the whole
  // target, the first pick would take the largest candidate and leave the rest nothing to fit.
  for (;;) {
    if (fixed && size >= p.count!) break;
    const part = fixed ? (size + 1) / Math.max(p.count!, 1) : 1;
    let best = -1;
    let bestDelta = fixed ? Number.POSITIVE_INFINITY : -1e-12;
    for (let j = 0; j < n; j++) {
      if (chosen[j]) continue;
      const f = added(j, 0);
      const d = fixed
        ? ((s0 + m0[j]! - part * t0) ** 2 + k * (u0 + f * v0[j]!)) * w0 +
          ((s1 + m1[j]! - part * t1) ** 2 + k * (u1 + f * v1[j]!)) * w1 +
          ((s2 + m2[j]! - part * t2) ** 2 + k * (u2 + f * v2[j]!)) * w2 -
          c.bonus[j]!
        : score(s0 + m0[j]!, s1 + m1[j]!, s2 + m2[j]!, u0 + f * v0[j]!, u1 + f * v1[j]!, u2 + f * v2[j]!) -
          c.bonus[j]! -
          current;
      if (d < bestDelta) {
        bestDelta = d;
        best = j;
      }
    }
    if (best < 0) break;
    move(-1, best);
    size++;
    // Fixed: the greedy's deltas are against shares, so the objective is recomputed (without the
    // bonuses: the swaps below then weigh exactly what they gain and lose).
    current = fixed ? score(s0, s1, s2, u0, u1, u2) : current + bestDelta;
  }

  // Local search: best single move among remove i, add j, swap i for j.
  let moves = p.maxMoves ?? Number.POSITIVE_INFINITY;
  const localSearch = () => {
    for (let round = 0; round < p.maxRounds && moves > 0; round++) {
      let bestDelta = -1e-12;
      let bestOut = -1;
      let bestIn = -1;
      // With a fixed count only swaps keep it: i = −1 (add only) and j = none (remove only) are skipped.
      for (let i = fixed ? 0 : -1; i < n; i++) {
        // i = −1 means "remove nothing"; otherwise i must be chosen and not mandatory.
        if (i >= 0 && (!chosen[i] || c.mandatory[i])) continue;
        moves -= n;
        const a0 = i >= 0 ? s0 - m0[i]! : s0;
        const a1 = i >= 0 ? s1 - m1[i]! : s1;
        const a2 = i >= 0 ? s2 - m2[i]! : s2;
        const r = i >= 0 ? removed(i) : 0;
        const b0 = i >= 0 ? u0 + r * v0[i]! : u0;
        const b1 = i >= 0 ? u1 + r * v1[i]! : u1;
        const b2 = i >= 0 ? u2 + r * v2[i]! : u2;
        const gi = i >= 0 ? group[i]! : -1;
        const lost = i >= 0 ? c.bonus[i]! : 0;
        if (i >= 0 && !fixed) {
          const d = score(a0, a1, a2, b0, b1, b2) + lost - current;
          if (d < bestDelta) {
            bestDelta = d;
            bestOut = i;
            bestIn = -1;
          }
        }
        for (let j = 0; j < n; j++) {
          if (chosen[j]) continue;
          const f = added(j, group[j] === gi ? 1 : 0);
          const d =
            score(a0 + m0[j]!, a1 + m1[j]!, a2 + m2[j]!, b0 + f * v0[j]!, b1 + f * v1[j]!, b2 + f * v2[j]!) +
            lost -
            c.bonus[j]! -
            current;
          if (d < bestDelta) {
            bestDelta = d;
            bestOut = i;
            bestIn = j;
          }
        }
      }
      if (bestOut < 0 && bestIn < 0) break;
      move(bestOut, bestIn);
      current += bestDelta;
    }
  };
  // The objective of the current subset, bonuses included (`current` is only right up to a constant).
  const value = () => {
    let v = score(s0, s1, s2, u0, u1, u2);
    for (let i = 0; i < n; i++) if (chosen[i]) v -= c.bonus[i]!;
    return v;
  };

  localSearch();
  const restarts = p.restarts ?? 0;
  if (restarts > 0) {
    const best = chosen.slice();
    let bestValue = value();
    const random = xorshift32(0x9e3779b9);
    const outs: number[] = [];
    const ins: number[] = [];
    for (let r = 0; r < restarts && moves > 0; r++) {
      for (let kick = 0; kick < 2; kick++) {
        outs.length = 0;
        ins.length = 0;
        for (let i = 0; i < n; i++) {
          if (!chosen[i]) ins.push(i);
          else if (!c.mandatory[i]) outs.push(i);
        }
        if (!outs.length || !ins.length) break;
        move(outs[Math.floor(random() * outs.length)]!, ins[Math.floor(random() * ins.length)]!);
      }
      current = value();
      localSearch();
      const v = value();
      if (v < bestValue - 1e-12) {
        best.set(chosen);
        bestValue = v;
      } else {
        // Back to the best: the next restart perturbs it, not a worse subset.
        for (let i = 0; i < n; i++) if (chosen[i] !== best[i]) move(chosen[i] ? i : -1, chosen[i] ? -1 : i);
      }
    }
  }
  return chosen;
}

export interface NearCountParams extends SelectionParams {
  /**
   * With a `count`: when its best subset misses the target by more than this (`missOf`), one
   * execution fewer and one more are tried too (Infinity: never; PolicyOptions.countMiss).
   */
  countMiss: number;
}

/**
 * `selectSubset`, except that a count may give way by one. The count stands for equal ticks (at a
 * few executions per tick a tick one short is out of band), but what counts is the load: where no
 * subset of the count matches the target and one of a count one lower or higher does, that one
 * runs. "Does" means a better miss that is also within BAND² (e.g. 5.8 % on each resource): without
 * that, at one or two per tick, uncertain estimates made one fewer look better (less variance)
 * though it was no better in fact, and held executions longer.
 */
export function selectNearCount(c: Candidates, p: NearCountParams): Uint8Array {
  let chosen = selectSubset(c, p);
  if (p.count === undefined) return chosen;
  let best = missOf(c, chosen, p.target, p.uncertaintyWeight);
  if (best <= p.countMiss) return chosen;
  for (const count of [p.count - 1, p.count + 1]) {
    if (count < 1) continue;
    const other = selectSubset(c, { ...p, count });
    const miss = missOf(c, other, p.target, p.uncertaintyWeight);
    if (miss < best && miss <= BAND * BAND) {
      best = miss;
      chosen = other;
    }
  }
  return chosen;
}

/**
 * Summed squared relative miss of a choice from the target, plus κ × the plain sum of its
 * executions' variances. (Unlike the objective's variance term, repeats of one query and what the
 * placed ticks ran are not taken into account: the count alternatives were measured this way.)
 */
function missOf(c: Candidates, chosen: Uint8Array, target: readonly number[], uncertaintyWeight: number): number {
  let miss = 0;
  for (let r = 0; r < 3; r++) {
    let mean = 0;
    let variance = 0;
    for (let i = 0; i < c.count; i++) {
      if (!chosen[i]) continue;
      mean += c.mean[r]![i]!;
      variance += c.variance[r]![i]!;
    }
    const t = Math.max(target[r]!, 1);
    miss += ((mean - t) ** 2 + uncertaintyWeight * variance) / (t * t);
  }
  return miss;
}

/** xorshift32 in [0, 1): small, fast and reproducible; quality hardly matters for picking kicks. */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
