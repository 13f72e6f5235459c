/**
 * Table names and the SQL the product (and a person investigating) runs. Every query here reads
 * `executions_dedup` / `windows_dedup` (FINAL views, migration 003), so an execution delivered twice
 * is counted once even before background merges collapse its rows. New queries should do the same:
 * reading `executions` directly counts physical rows, duplicates included.
 *
 * Parameters use ClickHouse's `{name:Type}` placeholders, bound through `query_params`.
 */

/** A ClickHouse identifier we can splice into SQL without quoting. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface TableNames {
  database: string;
  executions: string;
  windows: string;
  /** Each execution / window once: read these. */
  executionsDedup: string;
  windowsDedup: string;
  /** Runs (005): `runsDedup` has one row per run. */
  runs: string;
  runsDedup: string;
  /** Insert-time rollups of executions (013): per 10-tick bucket, and per 600-tick bucket and query. */
  executionBuckets: string;
  queryBuckets: string;
  migrations: string;
}

/** Fully qualified names (`spike.executions`); `database` must be a validated identifier. */
export function tableNames(database: string): TableNames {
  return {
    database,
    executions: `${database}.executions`,
    windows: `${database}.windows`,
    executionsDedup: `${database}.executions_dedup`,
    windowsDedup: `${database}.windows_dedup`,
    runs: `${database}.runs`,
    runsDedup: `${database}.runs_dedup`,
    executionBuckets: `${database}.execution_buckets`,
    queryBuckets: `${database}.query_buckets`,
    migrations: `${database}.schema_migrations`,
  };
}

/**
 * Executions per query per metrics window over a tick range: the design matrix of the cost
 * regression. `window_id = intDiv(executed_tick, windowTicks)` matches the monitor's windows.
 * Params: from, to (Int64 ticks, inclusive), windowTicks (UInt32).
 */
export function perWindowQueryCountsSql(t: TableNames): string {
  return `SELECT intDiv(executed_tick, {windowTicks:UInt32}) AS window_id, query_id, count() AS executions
FROM ${t.executionsDedup}
WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64}
GROUP BY window_id, query_id
ORDER BY window_id, query_id`;
}

/**
 * The spikiest windows: the largest max/avg spread over the three resources. Params: from, to
 * (Int64 ticks, by last tick), limit (UInt32).
 */
export function spikiestWindowsSql(t: TableNames): string {
  return `SELECT window_id, first_tick, last_tick, ts,
  round(cpu_max / nullIf(cpu_avg, 0), 2) AS cpu_spread,
  round(io_max / nullIf(io_avg, 0), 2) AS io_spread,
  round(memory_max / nullIf(memory_avg, 0), 2) AS memory_spread,
  greatest(ifNull(cpu_spread, 0), ifNull(io_spread, 0), ifNull(memory_spread, 0)) AS worst_spread
FROM ${t.windowsDedup}
WHERE last_tick BETWEEN {from:Int64} AND {to:Int64}
ORDER BY worst_spread DESC, window_id
LIMIT {limit:UInt32}`;
}

/** Which queries ran in one window, and how often. Params: windowId (Int64). */
export function queriesInWindowSql(t: TableNames): string {
  return `SELECT query_id, count() AS executions, groupArray(executed_tick) AS ticks
FROM ${t.executionsDedup}
WHERE executed_tick BETWEEN
  (SELECT first_tick FROM ${t.windowsDedup} WHERE window_id = {windowId:Int64})
  AND (SELECT last_tick FROM ${t.windowsDedup} WHERE window_id = {windowId:Int64})
GROUP BY query_id
ORDER BY executions DESC, query_id`;
}

/**
 * Executions per query per time bucket (e.g. a minute) over a time range, with the latency the
 * scheduler added. Params: fromTime, toTime (DateTime64(3) as epoch ms), bucketSeconds (UInt32).
 */
export function perQueryOverTimeSql(t: TableNames): string {
  return `SELECT toStartOfInterval(executed_at, toIntervalSecond({bucketSeconds:UInt32})) AS bucket, query_id,
  count() AS executions, avg(added_delay) AS mean_added_delay
FROM ${t.executionsDedup}
WHERE executed_at BETWEEN fromUnixTimestamp64Milli({fromTime:Int64}, 'UTC') AND fromUnixTimestamp64Milli({toTime:Int64}, 'UTC')
GROUP BY bucket, query_id
ORDER BY bucket, query_id`;
}
