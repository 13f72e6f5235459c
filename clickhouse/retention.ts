/**
 * Retention as a setting: `CLICKHOUSE_RETENTION_DAYS` becomes a TTL on the executions and windows
 * tables, applied at every start (after the migrations) so that changing the setting changes
 * existing tables. 0 (the default) keeps everything: the product's value is its history (cost
 * estimates and investigations), and one day at the default load is only a few MB compressed.
 *
 * The TTL is not materialized on ALTER (that would rewrite every part at start); with daily
 * partitions and `ttl_only_drop_parts`, expired days are dropped whole by the background merges.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../common/logger.js';

/** The tables that expire, and the time column their TTL is based on. */
export const RETAINED_TABLES = [
  { table: 'executions', column: 'executed_at' },
  { table: 'windows', column: 'ts' },
  // The reports' rollups of executions (migration 013), by the day of their executions.
  { table: 'execution_buckets', column: 'day' },
  { table: 'query_buckets', column: 'day' },
] as const;

export interface RetentionOptions {
  database: string;
  /** 0: no TTL. */
  retentionDays: number;
  logger: Logger;
}

/** The TTL expression as ClickHouse normalizes it in `system.tables.engine_full`. */
function ttlExpression(column: string, days: number): string {
  return `toDateTime(${column}) + toIntervalDay(${days})`;
}

function currentTtl(engineFull: string): string | null {
  const m = / TTL (.+?)(?: SETTINGS |$)/.exec(engineFull);
  return m ? m[1]!.trim() : null;
}

/** Sets, changes or removes the TTLs to match `retentionDays`; tables that do not exist are skipped. */
export async function applyRetention(client: ClickHouseClient, options: RetentionOptions): Promise<void> {
  const { database, retentionDays, logger } = options;
  if (!Number.isSafeInteger(retentionDays) || retentionDays < 0)
    throw new RangeError('retentionDays must be an integer ≥ 0');
  const rs = await client.query({
    query: `SELECT name, engine_full FROM system.tables WHERE database = {database:String}`,
    query_params: { database },
    format: 'JSONEachRow',
  });
  const engines = new Map((await rs.json<{ name: string; engine_full: string }>()).map((r) => [r.name, r.engine_full]));
  for (const { table, column } of RETAINED_TABLES) {
    const engine = engines.get(table);
    if (engine === undefined) continue;
    const current = currentTtl(engine);
    const wanted = retentionDays === 0 ? null : ttlExpression(column, retentionDays);
    if (current === wanted) continue;
    if (wanted === null) {
      await client.command({ query: `ALTER TABLE ${database}.${table} REMOVE TTL` });
    } else {
      await client.command({
        query: `ALTER TABLE ${database}.${table} MODIFY TTL toDateTime(${column}) + INTERVAL ${retentionDays} DAY`,
        clickhouse_settings: { materialize_ttl_after_modify: 0 },
      });
    }
    logger.info({ table, from: current, to: wanted }, 'retention changed');
  }
}
