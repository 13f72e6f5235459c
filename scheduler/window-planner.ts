/**
 * Whole-window planning, for latency targets of a window or more: at a window's first tick, choose
 * how many executions each of its ticks runs (k, the same for every tick) and which ones, so that
 * every tick's summed cost vector lies within a small tolerance of one template. A window whose
 * ticks all match is in band; a window with any tick off is not, so a plan is all or nothing: it
 * either fills all W ticks or it is refused (the caller then falls back to tick-by-tick filling).
 *
 * Why groups of equal vectors: at one or two executions per tick a tick's load moves in steps of a
 * whole execution (≈ 30–70 per resource), so only ticks of the same count with near-equal vectors
 * can be flat. The same query always costs the same, so executions of one query are grouped first:
 * ticks made of the same queries are equal whatever the estimates say. Different queries are
 * matched on their estimated means, and the estimates' uncertainty widens the miss: a group is
 * accepted when |mean miss| + z·sd(miss) ≤ tolerance·template per resource, where the variance of
 * the miss counts only the queries the group does not share with the template (shared queries
 * cancel out exactly).
 *
 * The search is greedy and bounded (no I/O, no clock): for each k tried and each candidate template
 * (the most urgent executions' best groups, k repeats of the most frequent queries, k times the
 * backlog's centre; for one execution per tick also the costs the most held executions fit),
 * anchors are taken in priority order (deadline first) and each is completed by the k − 1
 * partners that bring the sum nearest the template; an anchor whose query cannot be
 * completed is not retried, and a template gives up after a bounded number of failed anchors. All
 * executions of one query are interchangeable, so the partner scan runs over distinct queries, not
 * executions: the work grows with the number of queries held, not with the backlog.
 */
import type { Vec3 } from './arrival-rate.js';

/** The cost belief of one query (all its executions share it). */
export interface PlanType {
  mean: Readonly<Vec3>;
  variance: Readonly<Vec3>;
}

export interface WindowPlanInput {
  types: readonly PlanType[];
  /** Executions in priority order (most urgent first): their query's index in `types`… */
  itemType: readonly number[];
  /** …and the last tick offset in the window (0 … W − 1) they may run at; ≥ W for no constraint. */
  itemLatest: readonly number[];
  /** Ticks in the window (W). */
  ticks: number;
  /** Executions per tick to try, in order of preference. */
  counts: readonly number[];
  /** Largest accepted miss of a tick's sum from the template, as a fraction of it. */
  tolerance: number;
  /** Weight of the miss's standard deviation (0 trusts estimates blindly). */
  z: number;
  /** Anchors that may fail per template before it is given up (bounds the work). */
  maxFailures: number;
  /** Partner evaluations allowed in all (bounds the work whatever the load): beyond, no plan. */
  maxWork: number;
  /**
   * Repeats are banked: a query with at least this many executions held is kept out of groups of
   * two or more (except its executions due within `bankUrgent` ticks), so that it gathers the W
   * executions of a window of one execution per tick that all cost the same. 0 banks nothing.
   */
  bankMin: number;
  bankUrgent: number;
}

export interface WindowGroups {
  k: number;
  /** Per tick offset, the item indices (into `itemType`) to run there. */
  ticks: number[][];
  /** Expected sum of one tick (the template). */
  template: Vec3;
}

interface Template {
  sum: Vec3;
  /** The template's queries (with multiplicity), or undefined when it is not made of queries. */
  comp: number[] | undefined;
  /** 1 for the queries in `comp`. */
  member: Uint8Array;
  /** 1 / sum², per resource: misses count relative to the template. */
  weight: Vec3;
}

/** The input with flat arrays (mean and variance, 3 per query) for the inner loops. */
interface Flat {
  x: WindowPlanInput;
  mean: Float64Array;
  variance: Float64Array;
  /** Work left (partner evaluations). */
  work: number;
}

/** Plans a window, or returns undefined when no count and template fill all its ticks. */
export function planWindowGroups(x: WindowPlanInput): WindowGroups | undefined {
  const n = x.itemType.length;
  if (n === 0) return undefined;
  const q = x.types.length;
  const f: Flat = { x, mean: new Float64Array(3 * q), variance: new Float64Array(3 * q), work: x.maxWork };
  x.types.forEach((t, i) => {
    for (let r = 0; r < 3; r++) {
      f.mean[3 * i + r] = t.mean[r]!;
      f.variance[3 * i + r] = t.variance[r]!;
    }
  });
  const stock = new Int32Array(q);
  for (const t of x.itemType) stock[t]!++;
  const centre: Vec3 = [0, 0, 0];
  for (const t of x.itemType) for (let r = 0; r < 3; r++) centre[r]! += x.types[t]!.mean[r]! / n;
  // The most repeated queries, and the first few distinct queries in priority order.
  const frequent = [...stock.keys()].filter((t) => stock[t]! > 0).sort((a, b) => stock[b]! - stock[a]! || a - b);
  const urgent: number[] = [];
  for (const t of x.itemType) {
    if (urgent.length >= 3) break;
    if (!urgent.includes(t)) urgent.push(t);
  }
  const byType: number[][] = x.types.map(() => []);
  x.itemType.forEach((t, i) => byType[t]!.push(i));
  // Windows of exact repeats first when a query has gathered a window's worth.
  const full = frequent.filter((t) => stock[t]! >= x.ticks);
  const counts = full.length > 0 && !x.counts.includes(1) ? [1, ...x.counts] : x.counts;
  const banked = Int32Array.from(stock);
  if (x.bankMin > 0) {
    for (let t = 0; t < q; t++) {
      if (stock[t]! < x.bankMin) continue;
      banked[t] = byType[t]!.filter((i) => x.itemLatest[i]! <= x.bankUrgent).length;
    }
  }
  for (const k of counts) {
    if (k < 1 || k * x.ticks > n) continue;
    const pool = k === 1 ? stock : banked;
    // Templates in order of preference: the most urgent executions' own groups first (they serve the
    // oldest), then k repeats of the most frequent queries (exact whatever the estimates), then the
    // centre. The first that fills the window is taken.
    const loose = template(q, scale(centre, k), undefined);
    const templates: Template[] = [];
    if (k === 1) {
      const centres = clusters(f, stock).filter((t) => !full.includes(t));
      for (const t of [...full, ...centres]) templates.push(template(q, [...x.types[t]!.mean], [t]));
    }
    for (const a of urgent) {
      const comp = complete(f, a, k, loose, Int32Array.from(pool), false);
      if (comp) templates.push(template(q, sumOf(x, comp), comp));
    }
    for (const t of frequent.slice(0, 3)) {
      templates.push(template(q, scale(x.types[t]!.mean, k), Array<number>(k).fill(t)));
    }
    templates.push(loose);
    for (const t of templates) {
      const groups = build(f, k, t, pool, byType);
      if (groups) return { k, ticks: assignTicks(x, groups), template: t.sum };
      if (f.work <= 0) return undefined;
    }
  }
  return undefined;
}

/**
 * Queries whose own cost, taken as a one-execution template, the most held executions fit (at
 * least a window's worth), best first, at most three: the centres of the tightest clusters of
 * near-equal costs, from which a window of one execution per tick can be made of different queries.
 */
function clusters(f: Flat, stock: Int32Array): number[] {
  const { mean, variance } = f;
  const { z, tolerance } = f.x;
  const q = stock.length;
  const found: { t: number; n: number }[] = [];
  // Quadratic in the queries held: with many distinct queries (few repeats) it is skipped, not allowed to eat the plan's work.
  if (q * q > f.work / 2) return [];
  f.work -= q * q;
  for (let t = 0; t < q; t++) {
    if (stock[t]! <= 0) continue;
    let n = stock[t]!;
    for (let u = 0; u < q; u++) {
      if (u === t || stock[u]! <= 0) continue;
      // As `fits` for a group of one against the template [t]: neither query is shared.
      let ok = true;
      for (let r = 0; r < 3 && ok; r++) {
        const T = mean[3 * t + r]!;
        const miss = Math.abs(mean[3 * u + r]! - T) + z * Math.sqrt(variance[3 * u + r]! + variance[3 * t + r]!);
        ok = miss <= tolerance * T;
      }
      if (ok) n += stock[u]!;
    }
    if (n >= f.x.ticks) found.push({ t, n });
  }
  return found
    .sort((a, b) => b.n - a.n || a.t - b.t)
    .slice(0, 3)
    .map((c) => c.t);
}

function template(queries: number, sum: Vec3, comp: number[] | undefined): Template {
  const member = new Uint8Array(queries);
  if (comp) for (const t of comp) member[t] = 1;
  return { sum, comp, member, weight: sum.map((v) => 1 / Math.max(v, 1) ** 2) as Vec3 };
}

/** Fills the window's ticks with groups matching `template`, or undefined when fewer than W are found. */
function build(f: Flat, k: number, template: Template, stock: Int32Array, byType: readonly number[][]) {
  const x = f.x;
  const avail = Int32Array.from(stock);
  const failed = new Uint8Array(x.types.length);
  const used = new Uint8Array(x.itemType.length);
  // Per query, the position in `byType` of its next item not yet used (the most urgent one left).
  const next = new Int32Array(x.types.length);
  const groups: number[][] = [];
  let failures = 0;
  for (let i = 0; i < x.itemType.length && groups.length < x.ticks; i++) {
    if (used[i]) continue;
    const a = x.itemType[i]!;
    if (failed[a]) continue;
    const comp = complete(f, a, k, template, avail, true);
    if (f.work <= 0) return undefined;
    if (!comp) {
      failed[a] = 1;
      // A single fails without a partner scan: only groups of two or more are worth a limit.
      if (++failures > x.maxFailures && k > 1) return undefined;
      continue;
    }
    const group: number[] = [];
    for (const t of comp) {
      const list = byType[t]!;
      let p = next[t]!;
      while (used[list[p]!]) p++;
      const j = list[p]!;
      used[j] = 1;
      next[t] = p + 1;
      group.push(j);
    }
    groups.push(group);
  }
  return groups.length === x.ticks ? groups : undefined;
}

/**
 * Completes a group around query `a` with k − 1 partners, each bringing the partial sum nearest its
 * share of the template (an uncertain query not in the template counts its variance as a miss);
 * takes them from `avail`. With `check`, a group off the template is refused (and `avail`
 * restored); without, the best group is returned whatever its miss.
 */
function complete(f: Flat, a: number, k: number, template: Template, avail: Int32Array, check: boolean) {
  if (avail[a]! <= 0) return undefined;
  const { mean, variance } = f;
  const [T0, T1, T2] = template.sum;
  const [w0, w1, w2] = template.weight;
  const z2 = f.x.z * f.x.z;
  const comp = [a];
  avail[a]!--;
  let s0 = mean[3 * a]!;
  let s1 = mean[3 * a + 1]!;
  let s2 = mean[3 * a + 2]!;
  const q = avail.length;
  f.work -= (k - 1) * q;
  for (let j = 1; j < k; j++) {
    const share = (j + 1) / k;
    const g0 = share * T0 - s0;
    const g1 = share * T1 - s1;
    const g2 = share * T2 - s2;
    let best = -1;
    let bestErr = Number.POSITIVE_INFINITY;
    for (let t = 0; t < q; t++) {
      if (avail[t]! <= 0) continue;
      const b = 3 * t;
      const v = template.member[t] ? 0 : z2;
      const err =
        ((mean[b]! - g0) ** 2 + v * variance[b]!) * w0 +
        ((mean[b + 1]! - g1) ** 2 + v * variance[b + 1]!) * w1 +
        ((mean[b + 2]! - g2) ** 2 + v * variance[b + 2]!) * w2;
      if (err < bestErr) {
        bestErr = err;
        best = t;
      }
    }
    if (best < 0) break;
    comp.push(best);
    avail[best]!--;
    s0 += mean[3 * best]!;
    s1 += mean[3 * best + 1]!;
    s2 += mean[3 * best + 2]!;
  }
  if (comp.length === k && (!check || fits(f, comp, [s0, s1, s2], template))) return comp;
  for (const t of comp) avail[t]!++;
  return undefined;
}

/** |mean miss| + z·sd(miss) ≤ tolerance · template on every resource; shared queries cancel. */
function fits(f: Flat, comp: readonly number[], s: Readonly<Vec3>, template: Template): boolean {
  const variance: Vec3 = [0, 0, 0];
  const rest = template.comp ? [...template.comp] : [];
  for (const t of comp) {
    const at = rest.indexOf(t);
    if (at >= 0) rest.splice(at, 1);
    else for (let r = 0; r < 3; r++) variance[r]! += f.variance[3 * t + r]!;
  }
  for (const t of rest) for (let r = 0; r < 3; r++) variance[r]! += f.variance[3 * t + r]!;
  for (let r = 0; r < 3; r++) {
    const T = template.sum[r]!;
    if (Math.abs(s[r]! - T) + f.x.z * Math.sqrt(variance[r]!) > f.x.tolerance * T) return false;
  }
  return true;
}

/** Groups to ticks: the group with the earliest deadline first, so every deadline is kept where it can be. */
function assignTicks(x: WindowPlanInput, groups: number[][]): number[][] {
  const latest = (g: number[]) => Math.min(...g.map((i) => x.itemLatest[i]!));
  return groups
    .map((g) => ({ g, l: latest(g) }))
    .sort((a, b) => a.l - b.l)
    .map((e) => e.g);
}

function sumOf(x: WindowPlanInput, comp: readonly number[]): Vec3 {
  const s: Vec3 = [0, 0, 0];
  for (const t of comp) for (let r = 0; r < 3; r++) s[r]! += x.types[t]!.mean[r]!;
  return s;
}

function scale(v: Readonly<Vec3>, k: number): Vec3 {
  return [v[0] * k, v[1] * k, v[2] * k];
}
