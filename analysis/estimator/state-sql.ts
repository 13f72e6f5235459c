/**
 * The SQL of the incremental collection (blocks.ts): the run's state (migration 012), what changed
 * since the last run (by the insertion watermark and the active parts), the blocks' spans, the
 * running totals of the sealed blocks, and the combination of those totals with the live windows.
 * Statistics are exact sums (sql.ts), so adding a block's new statistics and subtracting its old
 * ones gives, bit for bit, what summing every block again would.
 */
import { STAT_COLUMNS, statRowsSql, type TotalMethod } from './sql.js';

const columns = STAT_COLUMNS.join(', ');

/** The server's clock, epoch ms: the watermark is compared with `inserted_at`, set by the server. */
export const serverNowSql = `SELECT toUnixTimestamp64Milli(now64(3)) AS now`;

/** The latest state of {layout}. */
export function loadStateSql(database: string): string {
  return `SELECT state FROM ${database}.estimate_state WHERE layout = {layout:String} ORDER BY version DESC LIMIT 1`;
}

/** Active parts of executions and windows: block-number ranges, data versions, time bounds. */
export const partsSql = `SELECT table, partition_id, min_block_number, max_block_number, data_version,
  toUnixTimestamp(min_time) * 1000 AS min_ms, toUnixTimestamp(max_time) * 1000 AS max_ms
FROM system.parts
WHERE database = {database:String} AND table IN ('executions', 'windows') AND active`;

const insertedAfter = `inserted_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC')`;

/** Blocks below {sealedEnd} with a window row inserted after {since} (the skip index reads only those). */
export function changedWindowBlocksSql(database: string): string {
  return `SELECT DISTINCT intDiv(window_id, {blockWindows:UInt32}) AS block FROM ${database}.windows
WHERE ${insertedAfter} AND window_id < {sealedEnd:Int64}`;
}

/** Tick ranges (per 4 096 ticks: few rows) of executions at or before {maxTick} inserted after {since}. */
export function changedTickRangesSql(database: string): string {
  return `SELECT min(executed_tick) AS lo, max(executed_tick) AS hi FROM ${database}.executions
WHERE ${insertedAfter} AND executed_tick <= {maxTick:Int64}
GROUP BY intDiv(executed_tick, 4096)`;
}

/** Blocks with at least one window among window ids [{from}, {to}). */
export function blocksWithWindowsSql(database: string): string {
  return `SELECT DISTINCT intDiv(window_id, {blockWindows:UInt32}) AS block FROM ${database}.windows
WHERE window_id >= {from:Int64} AND window_id < {to:Int64} ORDER BY block`;
}

/** Per block of window ids [{from}, {to}]: its tick span and the times of its first and last window. */
export function blockSpansSql(database: string): string {
  return `SELECT intDiv(window_id, {blockWindows:UInt32}) AS block, min(first_tick) AS lo_tick, max(last_tick) AS hi_tick,
  toUnixTimestamp64Milli(min(ts)) AS lo_ms, toUnixTimestamp64Milli(max(ts)) AS hi_ms
FROM ${database}.windows_dedup WHERE window_id BETWEEN {from:Int64} AND {to:Int64}
GROUP BY block ORDER BY block`;
}

const statsOf = (database: string, blocks: string, versions: string) =>
  `SELECT kind, qa, qb, ${columns} FROM ${database}.estimate_stats
  WHERE layout = {layout:String}
    AND (block, version) IN (SELECT p.1, p.2 FROM (SELECT arrayJoin(arrayZip({${blocks}:Array(Int64)}, {${versions}:Array(UInt64)})) AS p))`;

/**
 * The totals at {version}: those at {previous} + the statistics of ({addBlocks}, {addVersions}) −
 * those of ({subBlocks}, {subVersions}). A key whose every column sums to 0 is gone from every block
 * (no real row is all zeros: each counts at least a window or a product of counts), so it is left out.
 */
export function updateTotalsSql(database: string): string {
  const signed = STAT_COLUMNS.map((c) => `sum(sign * ${c}) AS ${c}`).join(', ');
  return `INSERT INTO ${database}.estimate_totals (layout, version, kind, qa, qb, ${columns})
SELECT {layout:String}, {version:UInt64}, kind, qa, qb, ${columns} FROM (
  SELECT kind, qa, qb, ${signed} FROM (
    SELECT 1 AS sign, kind, qa, qb, ${columns} FROM ${database}.estimate_totals
    WHERE layout = {layout:String} AND version = {previous:UInt64}
    UNION ALL SELECT 1 AS sign, * FROM (${statsOf(database, 'addBlocks', 'addVersions')})
    UNION ALL SELECT -1 AS sign, * FROM (${statsOf(database, 'subBlocks', 'subVersions')})
  )
  GROUP BY kind, qa, qb
)
WHERE NOT (${STAT_COLUMNS.map((c) => `${c} = 0`).join(' AND ')})`;
}

/**
 * The statistics of all history come in two reads, summed in TypeScript (stats.ts `sumStatRows`,
 * exact): the sealed blocks' totals at {totalsVersion}, and the live windows [{from}, {to}] (ticks
 * [{fromTick}, {toTick}]) computed now. Each gives one row per (kind, qa, qb), the shape
 * `statsFromRows` reads. (One UNION ALL … GROUP BY statement cost ≈ 90 ms more CPU than the two.)
 */
export function totalsStatsSql(database: string): string {
  return `SELECT kind, toString(qa) AS qa, toString(qb) AS qb, ${columns} FROM ${database}.estimate_totals
WHERE layout = {layout:String} AND version = {totalsVersion:UInt64}`;
}

export function liveStatsSql(database: string, method: TotalMethod): string {
  return `SELECT kind, toString(qa) AS qa, toString(qb) AS qb, ${columns} FROM (${statRowsSql(database, method, [])})`;
}

/** Statistics of {blocks} older than {version} (superseded, dropped, or strays of a failed run). */
export function deleteSupersededStatsSql(database: string): string {
  return `DELETE FROM ${database}.estimate_stats
WHERE layout = {layout:String} AND block IN {blocks:Array(Int64)} AND version < {version:UInt64}`;
}

/** Totals older than {version} of {layout}. */
export function deleteOldTotalsSql(database: string): string {
  return `DELETE FROM ${database}.estimate_totals WHERE layout = {layout:String} AND version < {version:UInt64}`;
}
