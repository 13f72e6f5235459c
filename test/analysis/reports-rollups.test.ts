/**
 * The report's insert-time rollups (migration 013, analysis/reports/rollups.ts): over a long range
 * the report reads per-bucket summaries instead of every execution, and every figure it draws from
 * them equals the one computed execution by execution — counts per query (with ragged range edges),
 * the first delayed execution, the periods, the before/after segments and the scheduling section.
 * Also: the migration fills the rollups with the rows stored before it.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import { loadReportData } from '../../analysis/reports/load.js';
import { reportOptions } from '../../analysis/reports/options.js';
import { periodsSql, segmentsSql } from '../../analysis/reports/periods.js';
import type { RangeInfo } from '../../analysis/reports/records.js';
import { loadScheduling } from '../../analysis/reports/scheduling.js';
import { firstDelayedSql, queryCountsSql, reportTables, type ExecutionSource } from '../../analysis/reports/sql.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';
import { populate, type Populated } from './reports-fixture.js';

let ch: TempClickHouse;
let reader: ReadOnlyPool;
let data: Populated;
const query = (sql: string) => reader.query(sql);
const t = reportTables('spike');
const SOURCES: ExecutionSource[] = ['executions', 'rollups'];

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  data = await populate(ch.client, { seed: 'rollups', minutes: 4, schedulerFromMinute: 2, probabilityScale: 2 });
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

/** Both sources' answers to `ask`. */
async function both<T>(ask: (source: ExecutionSource) => Promise<T>): Promise<[T, T]> {
  const [a, b] = await Promise.all(SOURCES.map(ask));
  return [a!, b!];
}

describe('report rollups', () => {
  let range: RangeInfo;
  beforeAll(async () => {
    const loaded = await loadReportData({
      query,
      database: 'spike',
      options: reportOptions({ lastMinutes: 0, maxPoints: 60, detailMinutes: 1 }),
    });
    range = loaded.range;
    // A long range (240 windows > 60 points) reads the rollups; its detail, the last minute, does not.
    expect(loaded.aggregated?.source).toBe('rollups');
    expect(loaded.windows).toHaveLength(60);
    expect(loaded.queryCounts.reduce((n, q) => n + q.executions, 0)).toBe(data.executions);
  });

  it('counts per query as execution by execution does, also with ragged range edges', async () => {
    // Whole range, and one that starts and ends mid-minute (query buckets are 600 ticks).
    for (const span of [range, { ...range, firstWindow: range.firstWindow + 7, lastWindow: range.lastWindow - 13 }]) {
      const [raw, rolled] = await both((s) => query(queryCountsSql(t, span, s)));
      expect(rolled.rows.length).toBeGreaterThan(10);
      expect(rolled.rows).toEqual(raw.rows);
    }
  });

  it('finds the same first delayed execution, periods and segments', async () => {
    const [rawDelayed, rolledDelayed] = await both((s) => query(firstDelayedSql(t, range, s)));
    expect(Number(rolledDelayed.rows[0]![0])).toBeGreaterThan(0);
    expect(rolledDelayed.rows).toEqual(rawDelayed.rows);
    expect(Number(rolledDelayed.rows[0]![1])).toBe(data.schedulerStart);

    const [rawPeriods, rolledPeriods] = await both((s) => query(periodsSql(t, range, 60_000, s)));
    expect(rolledPeriods.rows).toHaveLength(4);
    expect(rolledPeriods.rows).toEqual(rawPeriods.rows);

    const markers = [{ time: data.schedulerStart!, label: 'scheduler on' }];
    const [rawSegments, rolledSegments] = await both((s) => query(segmentsSql(t, range, markers, s)));
    expect(rolledSegments.rows).toHaveLength(2);
    expect(rolledSegments.rows).toEqual(rawSegments.rows);
  });

  it('gives the same scheduling start, points and phases', async () => {
    const [raw, rolled] = await both((source) =>
      loadScheduling({ query, database: 'spike', range, warmupWindows: 5, maxPoints: 50, source }),
    );
    expect(rolled.start).not.toBeNull();
    expect(rolled.phases.map((p) => p.phase)).toEqual(['before', 'warm-up', 'after']);
    expect(rolled.phases.find((p) => p.phase === 'after')!.addedLatencyP99).toBeGreaterThan(0);
    expect(rolled).toEqual(raw);
  });
});

describe('migration 013', () => {
  it('fills the rollups with the executions stored before it', async () => {
    const before = mkdtempSync(join(tmpdir(), 'spike-migrations-'));
    try {
      for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f < '013'))
        cpSync(join(MIGRATIONS_DIR, f), join(before, f));
      await migrate(ch.client, { database: 'older', migrationsDir: before });
      await ch.client.command({
        query: `INSERT INTO older.executions SELECT * EXCEPT inserted_at, inserted_at FROM spike.executions`,
      });
      await migrate(ch.client, { database: 'older' });
      const rs = await ch.client.query({
        query: `SELECT (SELECT sum(executions) FROM older.execution_buckets) AS buckets,
          (SELECT sum(executions) FROM older.query_buckets) AS queries`,
        format: 'JSONEachRow',
      });
      const [sums] = await rs.json<{ buckets: number | string; queries: number | string }>();
      expect([Number(sums!.buckets), Number(sums!.queries)]).toEqual([data.executions, data.executions]);
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
  });
});
