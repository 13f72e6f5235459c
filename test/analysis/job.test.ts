/**
 * The periodic analysis job against the real shared Redis (a random key prefix per test, removed
 * afterwards) and a real chDB in a temporary directory: versioned runs and their announcement, the
 * previous version surviving a failed run, one run at a time across instances, the job scheduler.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import {
  AnalysisRunError,
  ClickHouseEstimatesSink,
  QUEUE_ANALYSIS,
  analysisOptions,
  startAnalysis,
  type AnalysisHandle,
  type AnalysisSettingValues,
  type EstimatesSink,
} from '../../analysis/index.js';
import {
  ClickHouseStore,
  loadLatestEstimates,
  migrate,
  type EstimateRow,
  type VersionRow,
} from '../../clickhouse/index.js';
import { subscribeEstimates, type EstimatesAnnouncement } from '../../common/estimates-channel.js';
import { openTempClickHouse, type TempClickHouse } from '../clickhouse/helpers.js';
import { REDIS_URL, TestRedis, simulatedRun, sleep, waitFor } from './helpers.js';

let ch: TempClickHouse;
let redis: TestRedis;
let databases = 0;
const handles: AnalysisHandle[] = [];

beforeAll(() => {
  ch = openTempClickHouse();
});
afterAll(async () => ch.close());
beforeEach(() => {
  redis = new TestRedis();
});
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close();
  const queue = new Queue(QUEUE_ANALYSIS, { connection: { url: REDIS_URL }, prefix: redis.prefix });
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.cleanup();
});

/** A database holding a few minutes of simulated history. */
async function databaseWithHistory(ticks = 1500): Promise<string> {
  const database = `job_${++databases}`;
  await migrate(ch.client, { database });
  const store = new ClickHouseStore(ch.client, { database });
  const run = simulatedRun(ticks, { seed: `job-${databases}` });
  await store.insertExecutions(run.executions);
  await store.insertWindows(run.windows);
  return database;
}

function start(
  database: string,
  overrides: Partial<AnalysisSettingValues> = {},
  extra: { sink?: EstimatesSink; afterRun?: (v: number) => Promise<void> } = {},
) {
  const handle = startAnalysis({
    clickhouse: ch.client,
    database,
    // No scheduled run: these tests drive runs with runNow() unless they test the schedule.
    options: analysisOptions({
      redisUrl: REDIS_URL,
      prefix: redis.prefix,
      intervalMs: 3_600_000,
      delayFirstRun: true,
      settleMs: 0,
      ...overrides,
    }),
    ...extra,
  });
  handles.push(handle);
  return handle;
}

/**
 * A sink around the real one, to inject what cannot be produced on demand: an insert failure
 * (mocking a ClickHouse fault) and a slow insert (to hold a run open).
 */
class FaultySink implements EstimatesSink {
  failEstimates = false;
  failVersion = false;
  delayMs = 0;
  active = 0;
  maxActive = 0;
  constructor(private readonly inner: EstimatesSink) {}

  async insertEstimates(rows: readonly EstimateRow[]): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.delayMs > 0) await sleep(this.delayMs);
      if (this.failEstimates) throw new Error('injected: estimates insert failed');
      await this.inner.insertEstimates(rows);
    } finally {
      this.active--;
    }
  }

  async insertVersion(row: VersionRow): Promise<void> {
    if (this.failVersion) throw new Error('injected: version insert failed');
    await this.inner.insertVersion(row);
  }
}

describe('analysis job', () => {
  it('writes a new version on each run and announces it', async () => {
    const database = await databaseWithHistory();
    const announcements: (EstimatesAnnouncement | null)[] = [];
    const sub = subscribeEstimates({
      redisUrl: REDIS_URL,
      prefix: redis.prefix,
      onVersion: (a) => void announcements.push(a),
    });
    await sub.ready;
    const reported: number[] = [];
    const analysis = start(
      database,
      {},
      {
        afterRun: (v) => {
          reported.push(v);
          return Promise.resolve();
        },
      },
    );
    await analysis.ready();
    expect(await loadLatestEstimates(ch.client, database)).toBeNull();

    const first = await analysis.runNow();
    expect(first.status).toBe('committed');
    const v1 = first.status === 'committed' ? first.version : -1;
    const latest = await loadLatestEstimates(ch.client, database);
    expect(latest?.version).toBe(v1);
    expect(latest!.costs.size).toBeGreaterThan(50);
    const some = [...latest!.costs.values()][0]!;
    expect(typeof some.cpu).toBe('number');
    expect(some.sd.cpu).toBeGreaterThan(0);
    expect(some.observations).toBeGreaterThan(0);
    expect(latest!.prior.sd.cpu).toBeGreaterThan(0);

    const second = await analysis.runNow();
    const v2 = second.status === 'committed' ? second.version : -1;
    expect(v2).toBeGreaterThan(v1);
    expect((await loadLatestEstimates(ch.client, database))?.version).toBe(v2);
    await waitFor(() => announcements.filter((a) => a !== null).length === 2, 5000, 'two announcements');
    // null first: "(re)subscribed, reload"; then each committed version.
    expect(announcements[0]).toBeNull();
    expect(announcements.flatMap((a) => (a === null ? [] : [a.version]))).toEqual([v1, v2]);
    expect(reported).toEqual([v1, v2]);
    expect(analysis.stats()).toMatchObject({ committed: 2, failed: 0, lastVersion: v2 });
    await sub.close();
  });

  it('leaves the previous version in force when a run fails (injected insert failures)', async () => {
    const database = await databaseWithHistory();
    const sink = new FaultySink(new ClickHouseEstimatesSink(ch.client, database));
    const analysis = start(database, {}, { sink });
    const ok = await analysis.runNow();
    const good = (await loadLatestEstimates(ch.client, database))!;
    expect(ok.status).toBe('committed');

    sink.failVersion = true;
    await expect(analysis.runNow()).rejects.toBeInstanceOf(AnalysisRunError);
    sink.failVersion = false;
    sink.failEstimates = true;
    await expect(analysis.runNow()).rejects.toMatchObject({ code: 'ANALYSIS_RUN_FAILED', step: 'writing estimates' });
    const after = (await loadLatestEstimates(ch.client, database))!;
    expect(after.version).toBe(good.version);
    expect(after.costs).toEqual(good.costs);
    expect(analysis.stats()).toMatchObject({ committed: 1, failed: 2 });

    sink.failEstimates = false;
    const recovered = await analysis.runNow();
    expect(recovered.status).toBe('committed');
    expect((await loadLatestEstimates(ch.client, database))!.version).toBeGreaterThan(good.version);
  });

  it('does not commit a run that lost its lock', async () => {
    const database = await databaseWithHistory();
    const sink = new FaultySink(new ClickHouseEstimatesSink(ch.client, database));
    sink.delayMs = 500;
    const analysis = start(database, {}, { sink });
    const run = analysis.runNow();
    await waitFor(() => sink.active === 1, 10_000, 'the run to reach the insert');
    await redis.redis.del(`${redis.prefix}:analysis-run-lock`);
    await expect(run).rejects.toMatchObject({ step: 'checking the lock' });
    expect(await loadLatestEstimates(ch.client, database)).toBeNull();
  });

  it('never runs two instances at once', async () => {
    const database = await databaseWithHistory();
    const sink = new FaultySink(new ClickHouseEstimatesSink(ch.client, database));
    sink.delayMs = 300;
    const a = start(database, {}, { sink });
    const b = start(database, {}, { sink });
    const results = await Promise.all([a.runNow(), b.runNow()]);
    expect(results.map((r) => r.status).sort()).toEqual(['committed', 'skipped']);
    expect(sink.maxActive).toBe(1);

    // Scheduled: every instance works the shared schedule of 150 ms, runs are slower than that.
    // (a and b upserted a 1-hour schedule: this also covers an interval change, see job.ts.)
    const c = start(database, { intervalMs: 150, delayFirstRun: false }, { sink });
    const d = start(database, { intervalMs: 150, delayFirstRun: false }, { sink });
    await Promise.all([c.ready(), d.ready()]);
    const committed = () => [a, b, c, d].reduce((n, h) => n + h.stats().committed, 0);
    await waitFor(() => committed() >= 5, 40_000, 'three scheduled runs');
    expect(sink.maxActive).toBe(1);
  }, 60_000);

  it('runs on its schedule', async () => {
    const database = await databaseWithHistory(600);
    const analysis = start(database, { intervalMs: 200, delayFirstRun: false });
    await analysis.ready();
    await waitFor(() => analysis.stats().committed >= 2, 20_000, 'two scheduled runs');
    const latest = await loadLatestEstimates(ch.client, database);
    expect(latest?.version).toBe(analysis.stats().lastVersion);
  });

  it('writes nothing while there is nothing to estimate', async () => {
    const database = `job_${++databases}`;
    await migrate(ch.client, { database });
    const analysis = start(database);
    expect(await analysis.runNow()).toMatchObject({ status: 'empty' });
    expect(await loadLatestEstimates(ch.client, database)).toBeNull();
  });
});
