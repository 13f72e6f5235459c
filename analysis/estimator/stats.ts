/**
 * The sufficient statistics of the cost regression, as ClickHouse returns them (rows of kind 0, 1
 * and 2, see migration 011) and as the solve uses them (indexed arrays). Everything the estimator
 * knows about history is in here: the solve never sees a window or an execution.
 *
 * For windows w, queries q and resources r: x[w][q] = executions of q in w, y[w][r] = the window's
 * reconstructed total of r. Then XᵀX is `gram` (sparse, symmetric), Xᵀy is `xty[r]`, yᵀy is
 * `yy[r]`; plus counts and the summed truncation noise.
 */
import { RESOURCES } from '../../common/contracts.js';
import type { SparseSymmetric } from './linear-algebra.js';

export type Triple = [number, number, number];

export interface SufficientStats {
  /** Query ids, sorted; the column order of everything below. */
  queries: string[];
  gram: SparseSymmetric;
  /** Σ_w x[w][q]: executions of each query in the regression's windows. */
  executions: Float64Array;
  /** Windows each query appeared in. */
  windows: Float64Array;
  /** Xᵀy per resource (cpu, io, memory). */
  xty: [Float64Array, Float64Array, Float64Array];
  totals: {
    /** Windows in the regression (with at least one execution and consistent). */
    windows: number;
    executions: number;
    /** Σ_w y[w][r] and Σ_w y[w][r]². */
    sumY: Triple;
    yy: Triple;
    /** Σ_w of 12·Var(total) under the uniform reconstruction: ((U − L + 1)² − 1). */
    noise12: Triple;
    /** Windows left out because their min/max contradict their executions. */
    inconsistent: number;
  };
}

/** One row of the combined statistics query (numbers may arrive as strings from a server). */
export interface StatsRow {
  kind: number | string;
  qa: string;
  qb: string;
  xx: number | string;
  x: number | string;
  windows: number | string;
  xy_cpu: number | string;
  xy_io: number | string;
  xy_memory: number | string;
  yy_cpu: number | string;
  yy_io: number | string;
  yy_memory: number | string;
  noise_cpu: number | string;
  noise_io: number | string;
  noise_memory: number | string;
  inconsistent: number | string;
}

export const KIND_TOTAL = 0;
export const KIND_PAIR = 1;
export const KIND_QUERY = 2;

const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

export function emptyStats(): SufficientStats {
  return statsFromRows([]);
}

/**
 * XᵀX from its diagonal and its off-diagonal entries (i, j, value) in any order, each pair once:
 * upper triangle, sorted by (row, column), so equal statistics compare equal however they were
 * gathered (SQL rows in any order, or the in-memory accumulator).
 */
export function gramFromPairs(diag: Float64Array, pairs: [number, number, number][]): SparseSymmetric {
  const upper = pairs.map(([i, j, v]): [number, number, number] => [Math.min(i, j), Math.max(i, j), v]);
  upper.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return {
    n: diag.length,
    diag,
    rows: Int32Array.from(upper, (e) => e[0]),
    cols: Int32Array.from(upper, (e) => e[1]),
    values: Float64Array.from(upper, (e) => e[2]),
  };
}

/** The statistics of a (kind, qa, qb) row, in the column order of estimate_stats (migration 011). */
export const STAT_COLUMNS = [
  'xx',
  'x',
  'windows',
  'xy_cpu',
  'xy_io',
  'xy_memory',
  'yy_cpu',
  'yy_io',
  'yy_memory',
  'noise_cpu',
  'noise_io',
  'noise_memory',
  'inconsistent',
] as const satisfies readonly (keyof StatsRow)[];

/**
 * Row sets summed per (kind, qa, qb): the sealed blocks' totals plus the live windows' statistics.
 * Every statistic is an exact sum in Float64 (integers and halves, see sql.ts), so the order of the
 * additions does not matter: the result is bit for bit what one GROUP BY over both would give.
 */
export function sumStatRows(...sets: readonly (readonly StatsRow[])[]): StatsRow[] {
  const out = new Map<string, StatsRow>();
  for (const rows of sets)
    for (const r of rows) {
      const key = `${num(r.kind)}/${r.qa}/${r.qb}`;
      const seen = out.get(key);
      if (!seen) {
        const copy: StatsRow = { ...r, kind: num(r.kind) };
        for (const k of STAT_COLUMNS) copy[k] = num(r[k]);
        out.set(key, copy);
      } else for (const k of STAT_COLUMNS) seen[k] = num(seen[k]) + num(r[k]);
    }
  return [...out.values()];
}

/** Builds the indexed statistics from the rows of the combine query. */
export function statsFromRows(rows: readonly StatsRow[]): SufficientStats {
  const queryRows = rows.filter((r) => num(r.kind) === KIND_QUERY);
  const queries = queryRows.map((r) => r.qa).sort();
  const index = new Map(queries.map((q, i) => [q, i]));
  const n = queries.length;
  const diag = new Float64Array(n);
  const executions = new Float64Array(n);
  const windows = new Float64Array(n);
  const xty: [Float64Array, Float64Array, Float64Array] = [
    new Float64Array(n),
    new Float64Array(n),
    new Float64Array(n),
  ];
  for (const r of queryRows) {
    const i = index.get(r.qa)!;
    diag[i] = num(r.xx);
    executions[i] = num(r.x);
    windows[i] = num(r.windows);
    xty[0][i] = num(r.xy_cpu);
    xty[1][i] = num(r.xy_io);
    xty[2][i] = num(r.xy_memory);
  }
  const pairs: [number, number, number][] = [];
  for (const r of rows) {
    if (num(r.kind) !== KIND_PAIR) continue;
    const i = index.get(r.qa);
    const j = index.get(r.qb);
    // A pair always comes with both queries' own rows (same windows); skip defensively if not.
    if (i === undefined || j === undefined || i === j) continue;
    pairs.push([i, j, num(r.xx)]);
  }
  const gram = gramFromPairs(diag, pairs);
  const total = rows.find((r) => num(r.kind) === KIND_TOTAL);
  const t = (key: 'cpu' | 'io' | 'memory', prefix: 'xy_' | 'yy_' | 'noise_'): number =>
    total ? num(total[`${prefix}${key}`]) : 0;
  return {
    queries,
    gram,
    executions,
    windows,
    xty,
    totals: {
      windows: total ? num(total.windows) : 0,
      executions: total ? num(total.x) : 0,
      sumY: RESOURCES.map((r) => t(r, 'xy_')) as Triple,
      yy: RESOURCES.map((r) => t(r, 'yy_')) as Triple,
      noise12: RESOURCES.map((r) => t(r, 'noise_')) as Triple,
      inconsistent: total ? num(total.inconsistent) : 0,
    },
  };
}
