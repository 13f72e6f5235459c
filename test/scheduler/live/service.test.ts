/**
 * The live scheduler against a real-time database on the shared Redis: events arrive through the
 * stream, decisions go through `POST /delay`, and the database's own records show the effect.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { publishEstimates } from '../../../common/estimates-channel.js';
import type { LatestEstimates } from '../../../clickhouse/estimates.js';
import { silentLogger } from '../../../common/logger.js';
import { loadSettings } from '../../../common/settings.js';
import { policySettings } from '../../../scheduler/options.js';
import { startScheduler, type SchedulerHandle } from '../../../scheduler/service.js';
import { compileServiceOptions, schedulerServiceSettings } from '../../../scheduler/service-options.js';
import { REDIS_URL, spread, startLiveDatabase, truthSource, type LiveDatabase } from './live-database.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let live: LiveDatabase | undefined;
let scheduler: SchedulerHandle | undefined;

afterEach(async () => {
  await scheduler?.close();
  await live?.close();
  scheduler = live = undefined;
});

function serviceOptions(prefix: string, serverUrl: string) {
  const { serverUrl: _s, ...own } = loadSettings(schedulerServiceSettings, { flags: {}, env: {} });
  return { ...compileServiceOptions({ ...own, redisUrl: REDIS_URL, prefix }), serverUrl, statsIntervalMs: 200 };
}

describe('live scheduler', () => {
  it('applies its decisions before the tick at probability scale 10 and levels the windows', async () => {
    live = await startLiveDatabase({ seed: 'live-1', probabilityScale: 10 });
    scheduler = startScheduler({
      options: serviceOptions(live.prefix, live.server.url),
      policy: loadSettings(policySettings, { flags: {}, env: {} }),
      estimates: truthSource(live.server),
      logger: silentLogger,
    });
    await scheduler.ready;
    const startedAt = live.windows.length;
    await sleep(12_000);
    const f = scheduler.figures();
    expect(f.decisions).toBeGreaterThan(200);
    expect(f.hitRate).toBeGreaterThanOrEqual(0.99);
    // Every execution stays within the budget and was moved at most twice (postponed once, brought forward once).
    const budget = policySettings.latencyBudget.default;
    const moved = live.executed.filter((e) => e.delayCount > 0);
    expect(moved.length).toBeGreaterThan(100);
    for (const e of live.executed) {
      expect(e.addedDelay).toBeLessThanOrEqual(budget);
      expect(e.delayCount).toBeLessThanOrEqual(2);
    }
    expect(moved.every((e) => e.delayedBy === 'scheduler')).toBe(true);
    // After a few windows of warm-up, the windows are level most of the time.
    const after = spread(live.windows.slice(startedAt + 3));
    expect(after.windows).toBeGreaterThanOrEqual(6);
    expect(after.inBandRate).toBeGreaterThanOrEqual(0.5);
    // The server shows the scheduler's published figures in GET /stats.
    const stats = (await (await fetch(`${live.server.url}/stats`)).json()) as {
      scheduler: { decisions: number; hitRate: number } | null;
      scheduling: { inBandRate: number | null };
    };
    expect(stats.scheduler?.decisions).toBeGreaterThan(0);
    expect(stats.scheduling.inBandRate).not.toBeNull();
  }, 30_000);

  it('starts on the prior and reloads the estimates when the analysis job announces a version', async () => {
    live = await startLiveDatabase({ seed: 'live-2', probabilityScale: 10 });
    const truth = truthSource(live.server);
    let current: LatestEstimates | null = null; // no analysis run yet
    scheduler = startScheduler({
      options: { ...serviceOptions(live.prefix, live.server.url), estimatesRefreshMs: 3_600_000 },
      policy: loadSettings(policySettings, { flags: {}, env: {} }),
      estimates: { load: () => Promise.resolve(current) },
      logger: silentLogger,
    });
    await scheduler.ready;
    await sleep(1000);
    expect(scheduler.figures().estimatesVersion).toBeNull();
    expect(scheduler.figures().decisions).toBeGreaterThan(0); // schedules on the prior meanwhile
    current = { ...(await truth.load())!, version: 7 };
    const redis = new Redis(REDIS_URL);
    await publishEstimates(redis, live.prefix, { version: 7, computedAt: Date.now(), queries: 100 });
    redis.disconnect();
    const deadline = Date.now() + 5000;
    while (scheduler.figures().estimatesVersion !== 7 && Date.now() < deadline) await sleep(50);
    // Reloaded on the announcement, not on the (hour-long) refresh timer.
    expect(scheduler.figures().estimatesVersion).toBe(7);
  }, 30_000);

  it('can be closed while it waits for a database that does not answer', async () => {
    const handle = startScheduler({
      options: serviceOptions(`test-sched-wait-${Date.now()}`, 'http://127.0.0.1:9'),
      policy: loadSettings(policySettings, { flags: {}, env: {} }),
      estimates: { load: () => Promise.resolve(null) },
      logger: silentLogger,
    });
    await sleep(500);
    expect(handle.state()).toBe('starting');
    const started = Date.now();
    await handle.close();
    await handle.ready; // the wait ends, without an error
    expect(handle.state()).toBe('stopped');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
