/**
 * What the report answers about spikes (issue 12, item 2), on a 2-minute unscheduled simulation at
 * the default load: the spread splits exactly into count × mix (checked against the same split
 * computed here from the raw rows), the count dominates, and no query stands out against load. And
 * the report is written through a read-only pool as small as the embedded analysis job's (one
 * session, a queue of 4), which refuses a burst of reads: the report keeps at most two in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  migrate,
  openReadOnlyPool,
  QueryBusyError,
  readOnlyOptions,
  type ReadOnlyPool,
} from '../../clickhouse/index.js';
import { silentLogger } from '../../common/logger.js';
import { RESOURCES } from '../../common/contracts.js';
import { buildReport, renderReport, reportOptions } from '../../analysis/reports/index.js';
import { limitReads } from '../../analysis/reports/read-limit.js';
import { objects } from '../../analysis/reports/records.js';
import { openTempClickHouse, type TempClickHouse } from '../clickhouse/helpers.js';
import { populate } from './reports-fixture.js';

let ch: TempClickHouse;
let small: ReadOnlyPool;

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  await populate(ch.client, { seed: 'answers', minutes: 2 });
  small = await openReadOnlyPool({
    target: { kind: 'embedded', dataPath: ch.dataPath },
    // As system/embedded.ts opens the reports' reader: one session, a queue of 4.
    options: readOnlyOptions({ sessions: 1, queueLength: 4 }),
    logger: silentLogger,
  });
}, 60_000);
afterAll(async () => {
  await small?.close();
  await ch?.close();
});

describe('the report on spikes', () => {
  it('is written through one read-only session with a short queue, which refuses a burst of reads', async () => {
    // Reads that each hold the session a while (a quick one can end before the next is queued,
    // each being parsed by the guard first), more than the session and its queue take.
    const reads = Array.from({ length: 16 }, () => small.query('SELECT sum(number) FROM numbers(30000000)'));
    const settled = await Promise.allSettled(reads);
    expect(settled.some((s) => s.status === 'rejected' && s.reason instanceof QueryBusyError)).toBe(true);

    let inFlight = 0;
    let most = 0;
    const counted = async (sql: string) => {
      most = Math.max(most, ++inFlight);
      try {
        return await small.query(sql);
      } finally {
        inFlight--;
      }
    };
    const report = await buildReport({
      query: counted,
      database: 'spike',
      options: reportOptions({ lastMinutes: 0 }),
    });
    expect(most).toBe(2);
    expect(report.summary.range.windows).toBe(120);
  }, 60_000);

  it('splits each window spread into count × mix, the count dominating; no query stands out', async () => {
    const query = limitReads((sql) => small.query(sql));
    const report = await buildReport({ query, database: 'spike', options: reportOptions({ lastMinutes: 0 }) });
    const d = report.summary.spreadDecomposition;

    // The same split from the raw rows: executions per tick, and the windows' own max/avg.
    const perTick = objects(
      await query('SELECT executed_tick AS tick, count() AS n FROM spike.executions_dedup GROUP BY tick'),
    );
    const windows = objects(await query('SELECT * FROM spike.windows_dedup ORDER BY window_id'));
    const counts = new Map<number, number[]>();
    for (const r of perTick) {
      const w = Math.floor(Number(r.tick) / 10);
      counts.set(w, [...(counts.get(w) ?? []), Number(r.n)]);
    }
    for (const resource of RESOURCES) {
      let logMaxAvg = 0;
      let logCount = 0;
      let n = 0;
      for (const w of windows) {
        const c = counts.get(Number(w.window_id));
        const avg = Number(w[`${resource}_avg`]);
        if (!c || avg <= 0) continue;
        const countFactor = Math.max(...c) / (c.reduce((a, b) => a + b, 0) / Number(w.samples));
        logMaxAvg += Math.log(Number(w[`${resource}_max`]) / avg);
        logCount += Math.log(countFactor);
        n++;
      }
      const row = d.resources.find((x) => x.resource === resource)!;
      expect(row.windows, resource).toBe(n);
      expect(row.countShare!, resource).toBeCloseTo(logCount / logMaxAvg, 6);
      expect(row.countShare!, resource).toBeGreaterThan(0.5);
      expect(row.maxAvg, resource).toBeCloseTo(row.countFactor * row.mixFactor, 0);
    }
    expect(d.verdict).toMatch(/^The count dominates: \d+ %/);

    expect(report.summary.spikeAttribution.standouts).toEqual([]);
    for (const r of RESOURCES) expect(report.summary.spikeAttribution.loadRatio[r]).toBeGreaterThan(1);
    const html = renderReport(report);
    expect(html).toContain('No query stands out');
    expect(html).toContain('Why the windows spread: count or mix');
  }, 60_000);
});
