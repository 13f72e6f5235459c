/**
 * The regression's sufficient statistics computed in memory, from executed and window events as
 * they happen: the same `SufficientStats` the SQL path (sql.ts `perWindowSql` + `statRowsSql`,
 * blocks.ts) computes from the stored rows, number for number. For tools that have the events in
 * hand and no ClickHouse — the scheduling lab runs the product's estimator this way — and as a
 * second, independent statement of what the SQL computes (test/analysis/estimator/window-stats.test.ts
 * checks that the two agree on a simulated run).
 *
 * The rules, as in sql.ts:
 *  - an execution belongs to the window whose [firstTick, lastTick] holds its executed tick;
 *  - only windows with samples > 0 and at least one execution count;
 *  - a window's total per resource is the interval [L, U] of `totalInterval` (per `TotalMethod`),
 *    used as its midpoint y = (L + U)/2 with noise (U − L + 1)² − 1 (12 × its variance);
 *  - an inconsistent window (empty interval, or an idle tick and a non-zero min) only counts in
 *    `inconsistent`.
 * Every statistic is a sum of products of integers and halves, exact in Float64, so the order of
 * summation does not matter: the numbers equal ClickHouse's exactly (below 2⁵³).
 *
 * Events must arrive in tick order per kind, as the simulated database emits them: an execution
 * may arrive before its window (it waits), never after it (it is then counted in `late`, unused).
 * Pure: no I/O, no clock.
 */
import type { ResourceStats, WindowEvent } from '../../common/contracts.js';
import type { TotalMethod } from './sql.js';
import { gramFromPairs, type SufficientStats, type Triple } from './stats.js';

/** What the accumulator reads of a window. */
export type WindowAggregate = Pick<WindowEvent, 'firstTick' | 'lastTick' | 'samples' | 'cpu' | 'io' | 'memory'>;

/** One window's reconstructed total of one resource. */
export interface WindowTotal {
  /** Midpoint of the interval. */
  y: number;
  /** (U − L + 1)² − 1: twelve times the variance of a uniform total on [L, U]. */
  noise12: number;
  /** The interval is not empty and an idle tick goes with a zero min. */
  consistent: boolean;
}

/**
 * [L, U] of a window's total from n samples, the truncated average a, max M, min m, and k = ticks
 * with an execution (sql.ts `totalInterval`, the same formulas):
 *   midpoint: [a·n, a·n + n − 1];  bounds: that ∩ [M, k·M] ∩ (k = n: [M + (n−1)·m, m + (n−1)·M]).
 */
export function windowTotal(r: ResourceStats, n: number, k: number, method: TotalMethod): WindowTotal {
  const a = Math.trunc(r.average);
  const mx = Math.trunc(r.max);
  const mn = Math.trunc(r.min);
  const l0 = a * n;
  const u0 = l0 + n - 1;
  const l1 = Math.max(l0, mx, k === n ? mx + (n - 1) * mn : 0);
  const u1 = Math.min(u0, k * mx, k === n ? mn + (n - 1) * mx : u0);
  const consistent = l1 <= u1 && (k === n || mn === 0);
  const lo = method === 'bounds' ? l1 : l0;
  const hi = method === 'bounds' ? u1 : u0;
  return { y: (lo + hi) / 2, noise12: (hi - lo + 1) * (hi - lo + 1) - 1, consistent };
}

const RESOURCES = ['cpu', 'io', 'memory'] as const;

export class WindowStatsAccumulator {
  /** Query id → internal index (order of first appearance in a consistent window). */
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly diag: number[] = [];
  private readonly x: number[] = [];
  private readonly windowCount: number[] = [];
  private readonly xy: [number[], number[], number[]] = [[], [], []];
  /** Off-diagonal XᵀX: pairs[i].get(j) for internal indices i < j. */
  private readonly pairs: Map<number, number>[] = [];
  private readonly totals = {
    windows: 0,
    executions: 0,
    sumY: [0, 0, 0] as Triple,
    yy: [0, 0, 0] as Triple,
    noise12: [0, 0, 0] as Triple,
    inconsistent: 0,
  };
  /** Executions waiting for their window, in arrival (tick) order. */
  private readonly pending: { queryId: string; tick: number }[] = [];
  private lastWindowTick = Number.NEGATIVE_INFINITY;
  /** Executions that belong to no window (before a window's first tick when it closed, or in an empty one). */
  unassigned = 0;
  /** Executions that arrived after their window had closed: not used. */
  late = 0;

  constructor(readonly method: TotalMethod) {}

  addExecution(queryId: string, executedTick: number): void {
    if (executedTick <= this.lastWindowTick) {
      this.late++;
      return;
    }
    this.pending.push({ queryId, tick: executedTick });
  }

  /** Closes a window: takes the waiting executions of its ticks and adds its statistics. */
  addWindow(w: WindowAggregate): void {
    const counts = new Map<string, number>();
    const ticks = new Set<number>();
    let keep = 0;
    for (const e of this.pending) {
      if (e.tick > w.lastTick) this.pending[keep++] = e;
      else if (e.tick < w.firstTick || w.samples <= 0) this.unassigned++;
      else {
        counts.set(e.queryId, (counts.get(e.queryId) ?? 0) + 1);
        ticks.add(e.tick);
      }
    }
    this.pending.length = keep;
    this.lastWindowTick = Math.max(this.lastWindowTick, w.lastTick);
    if (counts.size === 0) return;
    const n = w.samples;
    const k = ticks.size;
    const totals = RESOURCES.map((r) => windowTotal(w[r], n, k, this.method));
    if (!totals.every((t) => t.consistent)) {
      this.totals.inconsistent++;
      return;
    }
    const xs = [...counts].map(([q, c]) => [this.columnOf(q), c] as const);
    let executions = 0;
    for (let a = 0; a < xs.length; a++) {
      const [i, ci] = xs[a]!;
      executions += ci;
      this.diag[i]! += ci * ci;
      this.x[i]! += ci;
      this.windowCount[i]!++;
      for (let r = 0; r < 3; r++) this.xy[r]![i]! += ci * totals[r]!.y;
      for (let b = a + 1; b < xs.length; b++) {
        const [j, cj] = xs[b]!;
        const row = this.pairs[Math.min(i, j)]!;
        const col = Math.max(i, j);
        row.set(col, (row.get(col) ?? 0) + ci * cj);
      }
    }
    const t = this.totals;
    t.windows++;
    t.executions += executions;
    for (let r = 0; r < 3; r++) {
      const { y, noise12 } = totals[r]!;
      t.sumY[r]! += y;
      t.yy[r]! += y * y;
      t.noise12[r]! += noise12;
    }
  }

  /** The last tick of the windows added so far (−∞: none). */
  get lastTick(): number {
    return this.lastWindowTick;
  }

  /** Queries that ran but are in no window yet (waiting for theirs), with their executions. */
  waitingQueries(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.pending) out.set(e.queryId, (out.get(e.queryId) ?? 0) + 1);
    return out;
  }

  /** The statistics of every window added so far (a snapshot: later windows do not change it). */
  stats(): SufficientStats {
    const queries = [...this.ids].sort();
    const n = queries.length;
    // Internal index → sorted position.
    const position = new Int32Array(n);
    queries.forEach((q, p) => (position[this.index.get(q)!] = p));
    const diag = new Float64Array(n);
    const executions = new Float64Array(n);
    const windows = new Float64Array(n);
    const xty: [Float64Array, Float64Array, Float64Array] = [
      new Float64Array(n),
      new Float64Array(n),
      new Float64Array(n),
    ];
    const entries: [number, number, number][] = [];
    for (let i = 0; i < n; i++) {
      const p = position[i]!;
      diag[p] = this.diag[i]!;
      executions[p] = this.x[i]!;
      windows[p] = this.windowCount[i]!;
      for (let r = 0; r < 3; r++) xty[r]![p] = this.xy[r]![i]!;
      for (const [j, v] of this.pairs[i]!) entries.push([p, position[j]!, v]);
    }
    const t = this.totals;
    return {
      queries,
      gram: gramFromPairs(diag, entries),
      executions,
      windows,
      xty,
      totals: {
        windows: t.windows,
        executions: t.executions,
        sumY: [...t.sumY],
        yy: [...t.yy],
        noise12: [...t.noise12],
        inconsistent: t.inconsistent,
      },
    };
  }

  private columnOf(queryId: string): number {
    const known = this.index.get(queryId);
    if (known !== undefined) return known;
    const i = this.ids.length;
    this.index.set(queryId, i);
    this.ids.push(queryId);
    this.diag.push(0);
    this.x.push(0);
    this.windowCount.push(0);
    for (let r = 0; r < 3; r++) this.xy[r]!.push(0);
    this.pairs.push(new Map());
    return i;
  }
}
