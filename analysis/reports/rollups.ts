/**
 * The reports' reads of the insert-time rollups of executions (migration 013): `execution_buckets`
 * (per 10-tick bucket: counts, added latency, its histogram, the first delayed and scheduler-moved
 * ticks) and `query_buckets` (per 600-tick bucket and query). A long range reads these instead of
 * every execution, so its cost follows the number of buckets, not of executions; the rows of the
 * range's ragged edges, and the few rows a first-delayed lookup needs, are read from
 * `executions_dedup`. Only for windows of a multiple of 10 ticks (a window is then whole buckets).
 *
 * The rollups count rows as inserted (a duplicated delivery twice), see the migration; load.ts uses
 * them only outside the report's most recent, per-window period.
 */
import type { TableNames } from '../../clickhouse/queries.js';
import { int } from './sql-literals.js';

/** Ticks per bucket of `execution_buckets` and of `query_buckets` (migration 013). */
export const BUCKET_TICKS = 10;
export const QUERY_BUCKET_TICKS = 600;
/** `first_delayed` / `first_moved` when the bucket has none (max Int64). */
const NONE = '9223372036854775807';

/** Windows and the ticks they cover (sql.ts's WindowSpan). */
interface Span {
  firstWindow: number;
  lastWindow: number;
  windowTicks: number;
}

/** Whether windows of this length are whole buckets (else the reports read executions). */
export function rollupFits(windowTicks: number): boolean {
  return windowTicks > 0 && windowTicks % BUCKET_TICKS === 0;
}

function bucketBounds(s: Span): string {
  const per = s.windowTicks / BUCKET_TICKS;
  return `${int(s.firstWindow * per)} AND ${int((s.lastWindow + 1) * per - 1)}`;
}

/** Window id of a bucket column. */
export function bucketWindow(s: Span, bucket = 'bucket'): string {
  return `intDiv(${bucket}, ${int(s.windowTicks / BUCKET_TICKS)})`;
}

/** Per window id over the span, from the buckets: the columns of sql.ts's `executionsPerWindow`. */
export function bucketsPerWindowSql(t: TableNames, s: Span): string {
  return `SELECT ${bucketWindow(s)} AS window_id, sum(executions) AS executions, sum(delayed) AS delayed,
    sum(moved) AS moved, sum(added_delay_sum) AS added_delay_sum, max(added_delay_max) AS added_delay_max
  FROM ${t.executionBuckets}
  WHERE bucket BETWEEN ${bucketBounds(s)}
  GROUP BY window_id`;
}

/**
 * Executions per query over ticks [lo, hi] (the columns of sql.ts's `queryCountsSql`): the whole
 * query buckets from `query_buckets`, the ragged edges from `executions_dedup`.
 */
export function queryCountsFromBucketsSql(t: TableNames, lo: number, hi: number): string {
  const first = Math.ceil(lo / QUERY_BUCKET_TICKS);
  const last = Math.floor((hi + 1) / QUERY_BUCKET_TICKS) - 1;
  const whole = first <= last;
  const edges = whole
    ? `executed_tick BETWEEN ${int(lo)} AND ${int(first * QUERY_BUCKET_TICKS - 1)}
      OR executed_tick BETWEEN ${int((last + 1) * QUERY_BUCKET_TICKS)} AND ${int(hi)}`
    : `executed_tick BETWEEN ${int(lo)} AND ${int(hi)}`;
  const buckets = whole
    ? `SELECT query_id, executions AS n, added_delay_sum AS added, first_at, last_at FROM ${t.queryBuckets}
    WHERE bucket BETWEEN ${int(first)} AND ${int(last)}
    UNION ALL
    `
    : '';
  return `SELECT toString(query_id) AS query_id, sum(n) AS executions,
  toUnixTimestamp64Milli(min(first_at)) AS first_seen, toUnixTimestamp64Milli(max(last_at)) AS last_seen,
  sum(added) / sum(n) AS mean_added_delay
FROM (
    ${buckets}SELECT query_id, count() AS n, sum(toInt64(added_delay)) AS added,
      min(executed_at) AS first_at, max(executed_at) AS last_at
    FROM ${t.executionsDedup}
    WHERE ${edges}
    GROUP BY query_id
)
GROUP BY query_id
ORDER BY executions DESC, query_id`;
}

/**
 * The first execution in the span that somebody delayed (sql.ts's `firstDelayedSql` columns): the
 * count and the first delayed tick from the buckets, then that tick's bucket from `executions_dedup`.
 */
export function firstDelayedFromBucketsSql(t: TableNames, s: Span): string {
  return `WITH (SELECT min(first_delayed) FROM ${t.executionBuckets} WHERE bucket BETWEEN ${bucketBounds(s)}) AS first,
  (SELECT sum(delayed) FROM ${t.executionBuckets} WHERE bucket BETWEEN ${bucketBounds(s)}) AS n
SELECT any(n) AS delayed, toUnixTimestamp64Milli(min(executed_at)) AS t,
  argMin(ifNull(delayed_by, ''), executed_tick) AS delayed_by
FROM ${t.executionsDedup}
WHERE first < ${NONE} AND executed_tick BETWEEN first AND first AND delay_count > 0`;
}

/** The first execution the scheduler moved in the span (sql.ts's `schedulingStartSql` columns). */
export function schedulingStartFromBucketsSql(t: TableNames, s: Span): string {
  return `WITH (SELECT min(first_moved) FROM ${t.executionBuckets} WHERE bucket BETWEEN ${bucketBounds(s)}) AS first,
  (SELECT sum(moved) FROM ${t.executionBuckets} WHERE bucket BETWEEN ${bucketBounds(s)}) AS n
SELECT any(n) AS moved, any(first) AS tick, toUnixTimestamp64Milli(min(executed_at)) AS t
FROM ${t.executionsDedup}
WHERE first < ${NONE} AND executed_tick = first AND delayed_by = 'scheduler'`;
}

/**
 * Per phase (`phase` is the phase expression of a window id column named `window_id`): executions,
 * moved by the scheduler, mean added latency, and the latency distribution `dist` (sorted (value,
 * count) pairs) with its cumulative counts `cum`: the columns sql.ts's `schedulingPhasesSql` reads.
 */
export function phaseLatencyFromBucketsSql(t: TableNames, s: Span, phase: string): string {
  return `SELECT phase, arraySum(h.2) AS executions, m AS moved,
    arraySum(arrayMap((v, c) -> v * c, h.1, h.2)) / executions AS added_mean,
    arrayZip(h.1, h.2) AS dist, arrayCumSum(h.2) AS cum
  FROM (
    SELECT ${phase} AS phase, sumMap(added_delays) AS h, sum(moved) AS m
    FROM (SELECT ${bucketWindow(s)} AS window_id, added_delays, moved FROM ${t.executionBuckets}
      WHERE bucket BETWEEN ${bucketBounds(s)})
    GROUP BY phase
  )`;
}
