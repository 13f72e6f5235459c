/**
 * The estimator's SQL. All of the aggregation over history happens here, in ClickHouse: the design
 * matrix X (executions per query per window) is never materialized outside ClickHouse, only its
 * sufficient statistics XᵀX, Xᵀy, yᵀy and counts leave it (≈ q²/2 numbers, whatever the history).
 *
 * Every read goes through the FINAL views (`executions_dedup`, `windows_dedup`), so a row delivered
 * twice counts once. An execution belongs to the window whose [first_tick, last_tick] holds its
 * executed tick (an ASOF join; ClickHouse's hash ASOF join needs one equality, so both sides carry a
 * coarse tick bucket — a window is repeated in each bucket it overlaps — and the ASOF condition picks
 * the window). That is exact for any window length, even one that changed between runs.
 *
 * A window's total per resource is reconstructed as an interval [L, U] (see `totalInterval`) and
 * used as its midpoint y = (L + U)/2, with variance ((U − L + 1)² − 1)/12. Midpoints are multiples
 * of ½ and every statistic is a sum of products of integers and such halves, so the sums are exact in
 * Float64 whatever the summation order: incremental and from-scratch statistics are bit-identical.
 */
import { KIND_PAIR, KIND_QUERY, KIND_TOTAL, STAT_COLUMNS } from './stats.js';

/** How a window's total is reconstructed from its (truncated) average, min and max. */
export type TotalMethod = 'midpoint' | 'bounds';

export const TOTAL_METHODS: readonly TotalMethod[] = ['midpoint', 'bounds'];

/** Tick bucket of the ASOF join's equality key (a window spans at most a few buckets). */
const BUCKET = 65_536;
const NIL = "toUUID('00000000-0000-0000-0000-000000000000')";
const RESOURCES = ['cpu', 'io', 'memory'] as const;

/**
 * [L, U] per resource, from n samples, the truncated average a, max M, min m, and k = ticks of the
 * window in which something ran (every other tick's sample is 0):
 *   midpoint: [a·n, a·n + n − 1] (the truncation alone);
 *   bounds:   that ∩ [M, k·M] (at least the largest sample, at most k samples of M; k = 1 pins the
 *             total to M exactly) ∩, when every tick ran something, [M + (n−1)·m, m + (n−1)·M].
 * Consistency (for both methods): the full intersection is not empty, and a window with an idle
 * tick has min 0. A window that fails it has executions missing (or extra), so it is left out.
 */
function totalInterval(r: (typeof RESOURCES)[number], method: TotalMethod): string {
  const a = `toInt64(${r}_avg)`;
  const mx = `toInt64(${r}_max)`;
  const mn = `toInt64(${r}_min)`;
  return `${a} * n AS ${r}_l0, ${r}_l0 + n - 1 AS ${r}_u0,
    greatest(${r}_l0, ${mx}, if(k = n, ${mx} + (n - 1) * ${mn}, 0)) AS ${r}_l1,
    least(${r}_u0, k * ${mx}, if(k = n, ${mn} + (n - 1) * ${mx}, ${r}_u0)) AS ${r}_u1,
    ${r}_l1 <= ${r}_u1 AND (k = n OR ${mn} = 0) AS ${r}_ok,
    ${method === 'bounds' ? `${r}_l1` : `${r}_l0`} AS ${r}_lo,
    ${method === 'bounds' ? `${r}_u1` : `${r}_u0`} AS ${r}_hi,
    (${r}_lo + ${r}_hi) / 2 AS ${r}_y,
    toFloat64((${r}_hi - ${r}_lo + 1) * (${r}_hi - ${r}_lo + 1) - 1) AS ${r}_nz`;
}

export { STAT_COLUMNS };

/**
 * One row per window of window ids [{from}, {to}] (Int64 params; {fromTick}, {toTick} bound their
 * ticks, so the executions scan reads only that range) that has executions: its block (param
 * blockWindows UInt32), `xs` = [(query, executions)], k = ticks with executions, the reconstructed
 * totals `<r>_y`, their noise `<r>_nz` (12 × variance) and `bad` (inconsistent). The window's
 * columns ride along the ASOF join (`any()`), so the windows are read once.
 */
export function perWindowSql(database: string, method: TotalMethod): string {
  const windowColumns = ['samples', ...RESOURCES.flatMap((r) => [`${r}_avg`, `${r}_min`, `${r}_max`])];
  return `SELECT intDiv(window_id, {blockWindows:UInt32}) AS block, executions, xs,
    ${RESOURCES.map((r) => totalInterval(r, method)).join(',\n    ')},
    NOT (cpu_ok AND io_ok AND memory_ok) AS bad
  FROM (
    SELECT window_id, toInt64(any(samples)) AS n, ${windowColumns
      .slice(1)
      .map((c) => `any(${c}) AS ${c}`)
      .join(', ')},
      toInt64(length(groupUniqArrayArray(ticks))) AS k, sum(c) AS executions, groupArray((query_id, c)) AS xs
    FROM (
      SELECT w.window_id AS window_id, e.query_id AS query_id, count() AS c, groupUniqArray(e.executed_tick) AS ticks,
        ${windowColumns.map((c) => `any(w.${c}) AS ${c}`).join(', ')}
      FROM (
        SELECT query_id, executed_tick FROM ${database}.executions_dedup
        WHERE executed_tick BETWEEN {fromTick:Int64} AND {toTick:Int64}
      ) AS e
      ASOF INNER JOIN (
        SELECT window_id, first_tick, last_tick, ${windowColumns.join(', ')}, bucket
        FROM ${database}.windows_dedup
        ARRAY JOIN range(intDiv(first_tick, ${BUCKET}), intDiv(last_tick, ${BUCKET}) + 1) AS bucket
        WHERE window_id BETWEEN {from:Int64} AND {to:Int64} AND samples > 0
      ) AS w
      ON intDiv(e.executed_tick, ${BUCKET}) = w.bucket AND e.executed_tick >= w.first_tick
      WHERE e.executed_tick <= w.last_tick
      GROUP BY window_id, query_id
    )
    GROUP BY window_id
  )`;
}

/** A (kind, qa, qb, column index, value) row tuple: one statistic of one row of estimate_stats. */
function cell(kind: string, qa: string, qb: string, column: (typeof STAT_COLUMNS)[number], value: string): string {
  return `tuple(toUInt8(${kind}), ${qa}, ${qb}, toUInt8(${STAT_COLUMNS.indexOf(column)}), toFloat64(${value}))`;
}

/**
 * The statistic rows of windows [{from}, {to}], one pass over the windows: each window expands to
 * cells (kind, qa, qb, column, value) that are pivoted back into the STAT_COLUMNS by the GROUP BY:
 *  - XᵀX: for every pair of queries in the window (qa ≤ qb), xx = c_a·c_b (kind 1, or 2 on the
 *    diagonal): ~k²/2 cells, the bulk, so a cell is kept narrow;
 *  - per query (kind 2): x = c, windows = 1, xy = c·y;
 *  - per window (kind 0): x = executions, windows = 1, xy = y, yy = y², noise.
 * An inconsistent window contributes only `inconsistent = 1`. Grouped by `groupBy` (e.g. block).
 */
export function statRowsSql(database: string, method: TotalMethod, groupBy: string[]): string {
  const pair = cell(`if(a.1 = b.1, ${KIND_QUERY}, ${KIND_PAIR})`, 'a.1', 'b.1', 'xx', 'a.2 * b.2');
  const q = (column: (typeof STAT_COLUMNS)[number], value: string) =>
    cell(String(KIND_QUERY), 'a.1', 'a.1', column, value);
  const perQuery = [q('x', 'a.2'), q('windows', '1'), ...RESOURCES.map((r) => q(`xy_${r}`, `a.2 * ${r}_y`))];
  const t = (column: (typeof STAT_COLUMNS)[number], value: string) => cell(String(KIND_TOTAL), NIL, NIL, column, value);
  const total = [
    t('x', 'executions'),
    t('windows', '1'),
    ...RESOURCES.map((r) => t(`xy_${r}`, `${r}_y`)),
    ...RESOURCES.map((r) => t(`yy_${r}`, `${r}_y * ${r}_y`)),
    ...RESOURCES.map((r) => t(`noise_${r}`, `${r}_nz`)),
  ];
  const cells = `if(bad, [${t('inconsistent', '1')}], arrayConcat(
      arrayFlatten(arrayMap(a -> arrayMap(b -> ${pair}, arrayFilter(b -> b.1 >= a.1, xs)), xs)),
      arrayFlatten(arrayMap(a -> [${perQuery.join(', ')}], xs)),
      [${total.join(', ')}]))`;
  const pivot = STAT_COLUMNS.map((c, i) => `sumIf(v.5, v.4 = ${i}) AS ${c}`).join(', ');
  const keys = [...groupBy, 'kind', 'qa', 'qb'];
  return `SELECT ${keys.slice(0, groupBy.length).join(', ')}${groupBy.length > 0 ? ', ' : ''}v.1 AS kind, v.2 AS qa, v.3 AS qb, ${pivot}
  FROM (${perWindowSql(database, method)}) ARRAY JOIN ${cells} AS v
  GROUP BY ${keys.join(', ')}`;
}

/**
 * Stores the statistics of window ids [{from}, {to}] (ticks [{fromTick}, {toTick}]) per block under
 * {version} and {layout}. Params: from, to, fromTick, toTick, blockWindows, layout (String),
 * version (UInt64).
 */
export function insertBlockStatsSql(database: string, method: TotalMethod): string {
  return `INSERT INTO ${database}.estimate_stats (layout, block, version, kind, qa, qb, ${STAT_COLUMNS.join(', ')})
SELECT {layout:String}, block, {version:UInt64}, kind, qa, qb, ${STAT_COLUMNS.join(', ')}
FROM (${statRowsSql(database, method, ['block'])})`;
}

/** The tick span of window ids [{from}, {to}] (`windows` = 0: no window, no span). */
export function tickSpanSql(database: string): string {
  return `SELECT count() AS windows, min(first_tick) AS from_tick, max(last_tick) AS to_tick
FROM ${database}.windows_dedup WHERE window_id BETWEEN {from:Int64} AND {to:Int64}`;
}

/**
 * Where the regression stops: windows that ended more than {settleMs} before the newest stored
 * execution (their executions have had time to arrive). Returns the last such window and its last
 * tick (`windows` = 0: none yet). Only window ids ≥ {from} are looked at (the last run's sealed end:
 * the horizon only moves forward unless rows are dropped; the caller retries from the start then).
 */
export function horizonSql(database: string): string {
  return `WITH (SELECT toUnixTimestamp64Milli(max(executed_at)) FROM ${database}.executions) AS newest
SELECT count() AS windows, max(id) AS window_id, max(tick) AS last_tick
FROM (SELECT window_id AS id, last_tick AS tick FROM ${database}.windows
  WHERE window_id >= {from:Int64} AND ts <= fromUnixTimestamp64Milli(newest - {settleMs:Int64}, 'UTC'))
WHERE (SELECT count() FROM ${database}.executions) > 0`;
}

/** Queries that ran after tick {after} (not in the regression yet), with their execution counts. */
export function recentQueriesSql(database: string): string {
  return `SELECT toString(query_id) AS query_id, count() AS executions
FROM ${database}.executions_dedup
WHERE executed_tick > {after:Int64}
GROUP BY query_id`;
}
