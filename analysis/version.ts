/**
 * Run versions: the epoch milliseconds of the run, made strictly larger than every version already
 * used anywhere in the estimate tables, committed or not. So versions sort by time, a clock that
 * steps back cannot reuse one, and a failed run's stray rows (which carry its version) can never be
 * mistaken for a later run's. Only one run allocates at a time (the analysis lock).
 */
import type { ClickHouseClient } from '@clickhouse/client';

export async function nextVersion(client: ClickHouseClient, database: string, now = Date.now()): Promise<number> {
  const rs = await client.query({
    query: `SELECT greatest(
        (SELECT max(version) FROM ${database}.estimate_versions),
        (SELECT max(version) FROM ${database}.estimates),
        (SELECT max(version) FROM ${database}.estimate_blocks),
        (SELECT max(version) FROM ${database}.estimate_stats),
        (SELECT max(version) FROM ${database}.estimate_totals),
        (SELECT max(version) FROM ${database}.estimate_state)) AS used`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ used: number | string }>();
  return Math.max(now, Number(row?.used ?? 0) + 1);
}
