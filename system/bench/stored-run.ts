/**
 * What the pipeline stored for one benchmark run, read from ClickHouse after the ingest process has
 * exited: completeness counted exactly as `checkCompleteness` counts it (ClickHouseStore's counting
 * queries through the dedup views, against the database's own ledger for the same tick range),
 * freshness (`ClickHouseStore.freshness`: execution to queryable), and how many executions had become
 * queryable by given instants (each execution counted once, at its first insert).
 */
import type { ClickHouseStore, Freshness } from '../../clickhouse/index.js';
import type { Database } from '../../server/database.js';
import { completenessOf, type Completeness } from '../verify.js';

export interface StoredRun extends Completeness {
  freshnessMs: Omit<Freshness, 'count'>;
  /** Executions queryable by each of the `at` instants asked for (epoch ms). */
  storedBy: number[];
}

export async function readStoredRun(
  store: ClickHouseStore,
  run: { db: Database; firstTick: number; lastTick: number },
  at: readonly number[],
): Promise<StoredRun> {
  const range = { from: run.firstTick, to: run.lastTick };
  const ledger = run.db.executedIn(range.from, range.to);
  const executions = await store.countExecutions(range);
  const windows = await store.countWindows(range);
  const freshness = await store.freshness(range);
  const freshnessMs = { p50Ms: freshness.p50Ms, p99Ms: freshness.p99Ms, maxMs: freshness.maxMs };
  const storedBy: number[] = [];
  for (const t of at) {
    const rs = await store.client.query({
      query: `SELECT count() AS n FROM (
          SELECT min(inserted_at) AS first FROM ${store.tables.executions}
          WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64}
          GROUP BY execution_id
        ) WHERE toUnixTimestamp64Milli(first) <= {at:Int64}`,
      query_params: { ...range, at: Math.round(t) },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ n: number | string }>();
    storedBy.push(Number(r?.n ?? 0));
  }
  return {
    ...completenessOf(ledger, executions, windows),
    freshnessMs,
    storedBy,
  };
}
