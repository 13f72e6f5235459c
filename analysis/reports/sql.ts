/**
 * The SQL the reports run. Every statement is one read over the dedup views (each execution and
 * window once, see clickhouse/queries.ts), so it runs through the read-only path unchanged: the
 * same text works in-process, through the embedded process's `/query` endpoint and against a
 * ClickHouse server. The read-only path takes no bound parameters, so the only values spliced in
 * are integers checked here and the database name, checked as an identifier.
 */
import { IDENTIFIER, tableNames, type TableNames } from '../../clickhouse/queries.js';
import { ConfigError } from '../../common/errors.js';
import { RESOURCES } from '../../common/contracts.js';
import {
  bucketsPerWindowSql,
  firstDelayedFromBucketsSql,
  phaseLatencyFromBucketsSql,
  queryCountsFromBucketsSql,
  schedulingStartFromBucketsSql,
} from './rollups.js';
import { int } from './sql-literals.js';

/** Windows (by id) and the execution ticks they cover. */
export interface WindowSpan {
  firstWindow: number;
  lastWindow: number;
  windowTicks: number;
}

export function reportTables(database: string): TableNames {
  if (!IDENTIFIER.test(database)) throw new ConfigError('database', database, 'must be an identifier');
  return tableNames(database);
}

/**
 * Where per-window execution figures come from: `executions` reads each execution once (the dedup
 * view; cost grows with the executions in the span), `rollups` reads the insert-time buckets
 * (rollups.ts; cost grows with the windows) — only for windows of a multiple of 10 ticks.
 */
export type ExecutionSource = 'executions' | 'rollups';

function tickBounds(s: WindowSpan): string {
  return `${int(s.firstWindow * s.windowTicks)} AND ${int((s.lastWindow + 1) * s.windowTicks - 1)}`;
}

/** Run ids as the capture makes them; checked before they are spliced into SQL as a literal. */
export const RUN_ID = /^[\w.:-]{1,64}$/;

/** `all`, or the windows of one run (`''`: rows stored before runs were recorded). */
function runFilter(run: string): string {
  if (run === 'all') return '1';
  if (run !== '' && !RUN_ID.test(run)) throw new ConfigError('run', run, 'must be all or a run id');
  return `run_id = '${run}'`;
}

/**
 * The window range to report: the windows of the run (one run's windows are one id range, since
 * runs never overlap, so no gap between runs is drawn), of the last `lastMinutes`
 * (0: all) before its newest window, and of those at most the newest `maxWindows` ids. `in_time`
 * counts the windows the time range alone would hold, so the report can say it was capped.
 */
export function rangeSql(t: TableNames, lastMinutes: number, maxWindows: number, run = 'all'): string {
  const inTime = lastMinutes > 0 ? `ts > newest_ts - toIntervalSecond(${int(lastMinutes * 60)})` : '1';
  const kept = `window_id > newest_id - ${int(maxWindows)}`;
  const inRun = runFilter(run);
  return `WITH (SELECT max(window_id) FROM ${t.windowsDedup} WHERE ${inRun}) AS newest_id,
  (SELECT max(ts) FROM ${t.windowsDedup} WHERE ${inRun}) AS newest_ts
SELECT count() AS in_time, countIf(${kept}) AS windows,
  minIf(window_id, ${kept}) AS first_window, max(window_id) AS last_window,
  max(last_tick - first_tick + 1) AS window_ticks,
  toUnixTimestamp64Milli(minIf(ts, ${kept})) AS from_time, toUnixTimestamp64Milli(max(ts)) AS to_time
FROM ${t.windowsDedup}
WHERE ${inTime} AND ${inRun}`;
}

/** Every run, newest first, with how many windows it stored (rows from before runs: run_id ''). */
export function runsSql(t: TableNames): string {
  return `SELECT w.run_id AS run_id, w.windows AS windows, toUnixTimestamp64Milli(w.first_ts) AS first_t,
  toUnixTimestamp64Milli(w.last_ts) AS last_t, toUnixTimestamp64Milli(r.started_at) AS started_at,
  toUnixTimestamp64Milli(r.scheduler_started_at) AS scheduler_started_at,
  toUnixTimestamp64Milli(r.ended_at) AS ended_at, r.seed AS seed, r.scheduler AS scheduler
FROM (SELECT run_id, count() AS windows, min(ts) AS first_ts, max(ts) AS last_ts
  FROM ${t.windowsDedup} GROUP BY run_id) AS w
LEFT JOIN ${t.runsDedup} AS r ON r.run_id = w.run_id
ORDER BY w.last_ts DESC`;
}

/**
 * Executions per window id over the span, with what was done to them: delayed by anybody, moved by
 * the scheduler, the added latency's sum and max (ticks).
 */
function executionsPerWindow(t: TableNames, s: WindowSpan, source: ExecutionSource): string {
  if (source === 'rollups') return bucketsPerWindowSql(t, s);
  return `SELECT intDiv(executed_tick, ${int(s.windowTicks)}) AS window_id, count() AS executions,
    countIf(delay_count > 0) AS delayed, countIf(delayed_by = 'scheduler') AS moved,
    sum(added_delay) AS added_delay_sum, max(added_delay) AS added_delay_max
  FROM ${t.executionsDedup}
  WHERE executed_tick BETWEEN ${tickBounds(s)}
  GROUP BY window_id`;
}

/**
 * One row per window: the resource aggregates, and the executions that ran in it. A window in which
 * nothing ran has no row on the right: its counts read as 0 (ClickHouse's default `join_use_nulls = 0`;
 * records.ts also reads NULL as 0, and no SETTINGS clause, which a read-only session may refuse).
 */
export function windowsSql(t: TableNames, s: WindowSpan, source: ExecutionSource = 'executions'): string {
  return `SELECT w.window_id AS window_id, toUnixTimestamp64Milli(w.ts) AS t, w.samples AS samples,
  w.cpu_avg AS cpu_avg, w.cpu_min AS cpu_min, w.cpu_max AS cpu_max,
  w.io_avg AS io_avg, w.io_min AS io_min, w.io_max AS io_max,
  w.memory_avg AS memory_avg, w.memory_min AS memory_min, w.memory_max AS memory_max,
  e.executions AS executions, e.delayed AS delayed, e.added_delay_sum AS added_delay_sum,
  e.added_delay_max AS added_delay_max
FROM (SELECT * FROM ${t.windowsDedup} WHERE window_id BETWEEN ${int(s.firstWindow)} AND ${int(s.lastWindow)}) AS w
LEFT JOIN (${executionsPerWindow(t, s, source)}) AS e ON e.window_id = w.window_id
ORDER BY w.window_id`;
}

/** The `k` windows with the highest maximum, per resource (ties: the earlier window). */
function topWindowsSubquery(t: TableNames, s: WindowSpan, k: number): string {
  return RESOURCES.map(
    (r) => `SELECT '${r}' AS resource, window_id, toUnixTimestamp64Milli(ts) AS t, ${r}_max AS peak, ${r}_avg AS avg
  FROM ${t.windowsDedup} WHERE window_id BETWEEN ${int(s.firstWindow)} AND ${int(s.lastWindow)}
  ORDER BY ${r}_max DESC, window_id LIMIT ${int(k)}`,
  )
    .map((q) => `SELECT * FROM (${q})`)
    .join('\nUNION ALL\n');
}

/**
 * The executions of the top windows only (their ticks, a set of at most 3k windows' ticks, which
 * the primary key finds directly): the spike sections never read the rest of the range.
 */
function topWindowsExecutions(t: TableNames, s: WindowSpan, k: number): string {
  const ticks = `SELECT arrayJoin(range(window_id * ${int(s.windowTicks)}, (window_id + 1) * ${int(s.windowTicks)}))
    FROM (${topWindowsSubquery(t, s, k)})`;
  return `SELECT intDiv(executed_tick, ${int(s.windowTicks)}) AS window_id, query_id
  FROM ${t.executionsDedup} WHERE executed_tick BETWEEN ${tickBounds(s)} AND executed_tick IN (${ticks})`;
}

/** The top windows per resource, each with its execution count. */
export function topWindowsSql(t: TableNames, s: WindowSpan, k: number): string {
  return `SELECT tw.resource AS resource, tw.window_id AS window_id, tw.t AS t, tw.peak AS peak, tw.avg AS avg,
  e.executions AS executions
FROM (${topWindowsSubquery(t, s, k)}) AS tw
LEFT JOIN (SELECT window_id, count() AS executions FROM (${topWindowsExecutions(t, s, k)}) GROUP BY window_id) AS e
  ON e.window_id = tw.window_id
ORDER BY resource, peak DESC, window_id`;
}

/** Which queries ran in each resource's top windows: executions and number of those windows. */
export function spikeQueriesSql(t: TableNames, s: WindowSpan, k: number): string {
  return `SELECT tw.resource AS resource, toString(e.query_id) AS query_id, count() AS executions,
  uniqExact(tw.window_id) AS windows
FROM (${topWindowsSubquery(t, s, k)}) AS tw
INNER JOIN (${topWindowsExecutions(t, s, k)}) AS e ON e.window_id = tw.window_id
GROUP BY resource, query_id
ORDER BY resource, executions DESC, query_id`;
}

/** Executions per query over the span, with when each query first and last ran. */
export function queryCountsSql(t: TableNames, s: WindowSpan, source: ExecutionSource = 'executions'): string {
  if (source === 'rollups')
    return queryCountsFromBucketsSql(t, s.firstWindow * s.windowTicks, (s.lastWindow + 1) * s.windowTicks - 1);
  return `SELECT toString(query_id) AS query_id, count() AS executions,
  toUnixTimestamp64Milli(min(executed_at)) AS first_seen, toUnixTimestamp64Milli(max(executed_at)) AS last_seen,
  avg(added_delay) AS mean_added_delay
FROM ${t.executionsDedup}
WHERE executed_tick BETWEEN ${tickBounds(s)}
GROUP BY query_id
ORDER BY executions DESC, query_id`;
}

/** The first execution in the span that somebody delayed: when the scheduler started acting. */
export function firstDelayedSql(t: TableNames, s: WindowSpan, source: ExecutionSource = 'executions'): string {
  if (source === 'rollups') return firstDelayedFromBucketsSql(t, s);
  return `SELECT count() AS delayed, toUnixTimestamp64Milli(min(executed_at)) AS t,
  argMin(ifNull(delayed_by, ''), executed_tick) AS delayed_by
FROM ${t.executionsDedup}
WHERE executed_tick BETWEEN ${tickBounds(s)} AND delay_count > 0`;
}

/** Whether a table exists (reading system.tables is allowed with readonly = 1). */
export function tableExistsSql(database: string, table: string): string {
  if (!IDENTIFIER.test(database) || !IDENTIFIER.test(table))
    throw new ConfigError('table', table, 'must be an identifier');
  return `SELECT count() AS n FROM system.tables WHERE database = '${database}' AND name = '${table}'`;
}

/**
 * Scheduling before/after: the span, plus the first window the scheduler acted in (null: it never
 * did in the span), the windows after it left out as warm-up, and windows per plotted point.
 */
export interface SchedulingSpan extends WindowSpan {
  startWindow: number | null;
  warmupWindows: number;
  bucketWindows: number;
}

/** The first execution the scheduler moved (`delayed_by = 'scheduler'`) in the span: when scheduling started. */
export function schedulingStartSql(t: TableNames, s: WindowSpan, source: ExecutionSource = 'executions'): string {
  if (source === 'rollups') return schedulingStartFromBucketsSql(t, s);
  return `SELECT count() AS moved, min(executed_tick) AS tick, toUnixTimestamp64Milli(min(executed_at)) AS t
FROM ${t.executionsDedup}
WHERE executed_tick BETWEEN ${tickBounds(s)} AND delayed_by = 'scheduler'`;
}

/** The phase of a window id: before the start, warm-up, after (or 'unscheduled' without a start). */
function phaseOf(windowId: string, s: SchedulingSpan): string {
  if (s.startWindow === null) return `'unscheduled'`;
  return `multiIf(${windowId} < ${int(s.startWindow)}, 'before', ${windowId} < ${int(s.startWindow + s.warmupWindows)}, 'warm-up', 'after')`;
}

/**
 * One row per window of the span, scored as the lab scores it (scheduler/lab/metrics.ts): in band
 * when all three resources have min ≥ 0.9·avg and max ≤ 1.1·avg and something ran (an idle window
 * is not in band); the worst ratios over the resources whose average is not 0 (NULL: none).
 */
function scoredWindows(t: TableNames, s: SchedulingSpan): string {
  const band = RESOURCES.map((r) => `${r}_min >= 0.9 * ${r}_avg AND ${r}_max <= 1.1 * ${r}_avg`).join(' AND ');
  const ratios = (edge: 'max' | 'min') =>
    `arrayFilter(x -> x >= 0, [${RESOURCES.map((r) => `if(${r}_avg > 0, ${r}_${edge} / ${r}_avg, -1)`).join(', ')}])`;
  return `SELECT window_id, toUnixTimestamp64Milli(ts) AS t, ${phaseOf('window_id', s)} AS phase,
    toUInt8(${band} AND cpu_max + io_max + memory_max > 0) AS in_band,
    ${ratios('max')} AS max_ratios, if(empty(max_ratios), NULL, arrayMax(max_ratios)) AS max_ratio,
    ${ratios('min')} AS min_ratios, if(empty(min_ratios), NULL, arrayMin(min_ratios)) AS min_ratio
  FROM ${t.windowsDedup}
  WHERE window_id BETWEEN ${int(s.firstWindow)} AND ${int(s.lastWindow)}`;
}

/**
 * The scheduling series, one row per point of `bucketWindows` consecutive windows (1: per window):
 * in-band rate, mean worst max/avg and min/avg, executions, moved by the scheduler, added latency.
 */
export function schedulingSeriesSql(t: TableNames, s: SchedulingSpan, source: ExecutionSource = 'executions'): string {
  return `SELECT intDiv(w.window_id - ${int(s.firstWindow)}, ${int(s.bucketWindows)}) AS bucket, max(w.t) AS t,
  count() AS windows, avg(w.in_band) AS in_band_rate, avg(w.max_ratio) AS max_ratio, avg(w.min_ratio) AS min_ratio,
  sum(e.executions) AS executions, sum(e.moved) AS moved, sum(e.added_delay_sum) AS added_sum
FROM (${scoredWindows(t, s)}) AS w
LEFT JOIN (${executionsPerWindow(t, s, source)}) AS e ON e.window_id = w.window_id
GROUP BY bucket
ORDER BY bucket`;
}

/** Nearest-rank percentile (as the lab's `percentile`) of a sorted array column; NULL when empty. */
function nearestRank(sorted: string, q: number): string {
  return `if(empty(${sorted}), NULL, arrayElement(${sorted}, toUInt64(greatest(1, ceil(${q} * length(${sorted}))))))`;
}

/**
 * Per phase (before, warm-up, after; or unscheduled): windows, in-band rate, max/avg p50/p95 and
 * min/avg p5/p50 over the windows' worst ratios, and over the executions that ran in the phase's
 * windows the share the scheduler moved and the added latency, mean and p99 (nearest rank, from
 * counts per latency value so no execution list is built).
 */
export function schedulingPhasesSql(t: TableNames, s: SchedulingSpan, source: ExecutionSource = 'executions'): string {
  const latency =
    source === 'rollups'
      ? phaseLatencyFromBucketsSql(t, s, phaseOf('window_id', s))
      : `SELECT phase, sum(c) AS executions, sum(m) AS moved, sum(v * c) / sum(c) AS added_mean,
    arraySort(groupArray((v, c))) AS dist, arrayCumSum(arrayMap(x -> x.2, dist)) AS cum
  FROM (
    SELECT ${phaseOf(`intDiv(executed_tick, ${int(s.windowTicks)})`, s)} AS phase, added_delay AS v, count() AS c,
      countIf(delayed_by = 'scheduler') AS m
    FROM ${t.executionsDedup}
    WHERE executed_tick BETWEEN ${tickBounds(s)}
    GROUP BY phase, v
  )
  GROUP BY phase`;
  return `SELECT w.phase AS phase, w.windows AS windows, w.first_t AS first_t, w.last_t AS last_t,
  w.in_band_rate AS in_band_rate,
  ${nearestRank('w.max_sorted', 0.5)} AS max_avg_p50, ${nearestRank('w.max_sorted', 0.95)} AS max_avg_p95,
  ${nearestRank('w.min_sorted', 0.05)} AS min_avg_p5, ${nearestRank('w.min_sorted', 0.5)} AS min_avg_p50,
  e.executions AS executions, e.moved AS moved, e.added_mean AS added_mean,
  if(e.executions = 0, NULL, arrayElement(e.dist, arrayFirstIndex(x -> x >= ceil(0.99 * e.executions), e.cum)).1) AS added_p99
FROM (
  SELECT phase, count() AS windows, min(t) AS first_t, max(t) AS last_t, avg(in_band) AS in_band_rate,
    arraySort(groupArray(max_ratio)) AS max_sorted, arraySort(groupArray(min_ratio)) AS min_sorted
  FROM (${scoredWindows(t, s)})
  GROUP BY phase
) AS w
LEFT JOIN (
  ${latency}
) AS e ON e.phase = w.phase
ORDER BY w.first_t`;
}
