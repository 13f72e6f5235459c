/**
 * The generated history of `npm run bench:history` (the benchmark itself stays out of `npm test`):
 * rows in the product's tables that the estimator reads as it reads live ones — every window
 * consistent with its executions, the load the probability scale asks for, and costs the
 * regression recovers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalog, insertTicks, WINDOW_TICKS } from '../../../analysis/bench/history-data.js';
import { estimateCosts } from '../../../analysis/estimator/estimate.js';
import { estimatorOptions } from '../../../analysis/options.js';
import { migrate } from '../../../clickhouse/index.js';
import { silentLogger } from '../../../common/logger.js';
import { openTempClickHouse, type TempClickHouse } from '../../clickhouse/helpers.js';

let ch: TempClickHouse;
beforeAll(() => {
  ch = openTempClickHouse();
});
afterAll(async () => ch.close());

describe('bench:history data', () => {
  it('stores executions and consistent windows at the asked load, and the estimator recovers their costs', async () => {
    const database = 'bench_data';
    await migrate(ch.client, { database });
    const shape = { database, queryCount: 20, probabilityScale: 2, seed: 7 };
    await createCatalog(ch.client, shape);
    const from = 17_640_000_000;
    const ticks = 6000;
    await insertTicks(ch.client, shape, from, from + ticks / 2, true);
    await insertTicks(ch.client, shape, from + ticks / 2, from + ticks, false);
    const rs = await ch.client.query({
      query: `SELECT (SELECT count() FROM ${database}.executions) AS executions,
        (SELECT count() FROM ${database}.windows) AS windows,
        (SELECT countIf(inserted_at < now64(3) - INTERVAL 1 HOUR) FROM ${database}.executions) AS historical`,
      format: 'JSONEachRow',
    });
    const [counts] = (await rs.json<{ executions: number; windows: number; historical: number }>()) as [
      { executions: number; windows: number; historical: number },
    ];
    expect(counts.windows).toBe(ticks / WINDOW_TICKS);
    // 1.43 executions per tick per unit of scale, within sampling noise.
    expect(Number(counts.executions) / ticks).toBeGreaterThan(1.43 * 2 * 0.9);
    expect(Number(counts.executions) / ticks).toBeLessThan(1.43 * 2 * 1.1);
    // History rows carry their own (virtual) insertion time; the later ones the default (now).
    expect(Number(counts.historical)).toBeGreaterThan(0);
    expect(Number(counts.historical)).toBeLessThan(Number(counts.executions));

    const result = await estimateCosts(ch.client, {
      database,
      options: estimatorOptions({ settleMs: 0 }),
      version: 1,
      incremental: false,
      logger: silentLogger,
    });
    expect(result.solution.inconsistentWindows).toBe(0);
    const catalog = await ch.client.query({
      query: `SELECT toString(query_id) AS id, cpu FROM ${database}.bench_catalog`,
      format: 'JSONEachRow',
    });
    const truth = new Map((await catalog.json<{ id: string; cpu: number }>()).map((r) => [r.id, Number(r.cpu)]));
    const well = result.solution.estimates.filter((e) => e.observations >= 200);
    expect(well.length).toBeGreaterThan(5);
    for (const e of well) expect(Math.abs(e.mean[0] - truth.get(e.queryId)!)).toBeLessThan(1.5);
  }, 120_000);
});
