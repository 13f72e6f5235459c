/**
 * The product on a Redis Cluster (issue 13, item 3): a local cluster of three masters and three
 * replicas (`redis-server --cluster-enabled yes`, append-only, joined by `redis-cli --cluster
 * create`), and `npm start`'s system in this process pointed at it with
 * `REDIS_URL=redis+cluster://…` — capture → BullMQ → ingest → chDB, the queued-events stream → the
 * scheduler → POST /delay, the analysis job's lock and announcements, the scheduler's figures. The
 * relay's persistence check reads every master (volatile Redis is not allowed here). Mid-run the
 * replica of the master that holds the run's hash slot takes over (`CLUSTER FAILOVER`): every
 * execution of the run is still stored exactly once, and the stream, the relay and the scheduler
 * carry on through the new master. Real servers and processes, no mocks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReadOnly, type ReadOnlyQueries } from '../../clickhouse/index.js';
import { silentLogger } from '../../common/logger.js';
import { readRedisPersistence } from '../../server/capture/index.js';
import { startEmbedded, type EmbeddedSystem } from '../../system/embedded.js';
import { ensureRedis, RedisUnavailableError } from '../../system/private-redis.js';
import { compileEmbeddedOptions, loadEmbeddedSettings } from '../../system/options.js';
import { checkCompleteness, isComplete, type CompletenessReport } from '../../system/verify.js';
import { TestRedisCluster } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/shared-redis.js';
import { embeddedTestEnv } from './helpers/embedded-env.js';

const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
const prefix = `test-cluster-${process.pid}`;
/** Every key of the run is under the hash tag `{prefix}`: one slot, one master. */
const streamKey = `{${prefix}}:queued`;
let cluster: TestRedisCluster | undefined;
let system: EmbeddedSystem | undefined;
let queries: ReadOnlyQueries | undefined;

beforeAll(async () => {
  cluster = await TestRedisCluster.start(3);
}, 60_000);

afterAll(async () => {
  await system?.close();
  await queries?.close();
  await cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Redis Cluster', () => {
  it('is what npm start uses when REDIS_URL names it, and never replaced by a private Redis', async () => {
    const ensure = (url: string) =>
      ensureRedis({ url, dir: join(dir, 'private-redis'), logger: silentLogger, explicit: true, pingTimeoutMs: 500 });
    const found = await ensure(cluster!.url);
    expect(found.url).toBe(cluster!.url);
    expect(found.server).toBeUndefined();
    await expect(ensure('redis+cluster://127.0.0.1:1,127.0.0.1:2')).rejects.toThrow(
      new RedisUnavailableError(
        'no node of the Redis Cluster redis+cluster://127.0.0.1:1,127.0.0.1:2 (REDIS_URL / --redis-url) answers',
      ),
    );
  });

  it('is as durable as its weakest master: one without append-only persistence is named and refused', async () => {
    const c = cluster!;
    expect((await readRedisPersistence(c.url))?.verdict).toBe('durable');
    const master = (await c.nodes()).filter((n) => n.role === 'master')[1]!.port;
    await c.command(master, 'CONFIG', 'SET', 'appendonly', 'no');
    try {
      const found = await readRedisPersistence(c.url);
      expect(found?.verdict).toBe('volatile');
      expect(found?.detail).toMatch(new RegExp(`^master 127\\.0\\.0\\.1:${master} of the cluster: appendonly no`));
    } finally {
      await c.command(master, 'CONFIG', 'SET', 'appendonly', 'yes');
    }
  });

  it('carries capture → ingest → ClickHouse and the scheduler stream through a master failover, nothing lost', async () => {
    const c = cluster!;
    const settings = loadEmbeddedSettings({
      env: embeddedTestEnv(dir, prefix, {
        SIM_SEED: 'redis-cluster',
        SIM_PROBABILITY_SCALE: '5',
        ANALYSIS_INTERVAL_MS: '3000',
        ANALYSIS_SETTLE_MS: '1000',
        // Every master persists (appendonly yes): the check must pass on its own.
        ALLOW_VOLATILE_REDIS: 'false',
      }),
    });
    system = await startEmbedded(compileEmbeddedOptions(settings, c.url), silentLogger);
    const s = system;
    const decisions = () => s.scheduler()?.figures().decisions ?? 0;
    await waitFor(
      () => s.capture.stats().relay.relayed.executions > 0 && decisions() > 0,
      20_000,
      'jobs and decisions',
    );

    const persistence = s.capture.stats().redis.persistence;
    expect(persistence?.verdict).toBe('durable');
    expect(persistence?.detail).toMatch(
      /^every master of the cluster \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)/,
    );
    // The stream and the queues live on one master, under the run's hash tag.
    const before = await c.holderOf(streamKey);
    expect(await c.command(before.master, 'EXISTS', streamKey, `{${prefix}}:executions:id`)).toBe(2);

    await sleep(2000);
    const stream0 = s.capture.stats().queuedStream!;
    const relayed0 = s.capture.stats().relay.relayed.executions;
    const decisions0 = decisions();
    const failover = await c.failover(streamKey);
    const nextTick = async () =>
      ((await (await fetch(`${s.server.url}/stats`)).json()) as { nextTick: number }).nextTick;
    const tickAfterFailover = await nextTick();
    expect(failover).toMatchObject({ oldMaster: before.master, newMaster: before.replica });

    // The new master takes the stream, the jobs and the decisions' traffic from here on.
    const xlen = Number(await c.command(failover.newMaster, 'XLEN', streamKey));
    await sleep(3000);
    expect(Number(await c.command(failover.newMaster, 'XLEN', streamKey))).toBeGreaterThan(xlen);
    expect(s.capture.stats().relay.relayed.executions).toBeGreaterThan(relayed0);
    expect(decisions()).toBeGreaterThan(decisions0 + 30);
    const stream = s.capture.stats().queuedStream!;
    expect(stream.publishedTicks - stream0.publishedTicks).toBeGreaterThan(20);

    // Every execution of the run, before, during and after the failover, stored exactly once.
    queries = openReadOnly({
      target: { kind: 'embedded', dataPath: join(dir, 'clickhouse') },
      queryUrl: s.clickhouseHttp!.url,
    });
    // From the run's first tick to 2 s after the failover (the 3 s above have passed it).
    const range = { to: tickAfterFailover + 20, settleMs: 0 };
    await waitFor(async () => (await nextTick()) > range.to, 10_000, 'the range to have run');
    const check = () => checkCompleteness({ apiUrl: s.server.url, queries: queries!, database: 'spike', ...range });
    let report: CompletenessReport = await check();
    await waitFor(async () => isComplete((report = await check())), 30_000, 'every execution stored');
    expect(report.executedByDatabase).toBeGreaterThan(100);
    expect(report).toMatchObject({ missing: 0, duplicatesCounted: 0, completeness: 1 });

    // The analysis job ran (its BullMQ job scheduler and run lock on the cluster) and the scheduler
    // took up its estimates; the scheduler's figures went through the cluster to GET /stats.
    await waitFor(() => s.scheduler()!.figures().estimatesVersion !== null, 30_000, 'estimates announced');
    const published = (await (await fetch(`${s.server.url}/stats`)).json()) as {
      scheduler: { decisions: number } | null;
    };
    expect(published.scheduler?.decisions).toBeGreaterThan(decisions0);
    // A master that stops persisting (here the promoted replica) is caught at the next reload of
    // the slot map without a reconnect: the relay pauses, then resumes once it persists again.
    await c.command(failover.newMaster, 'CONFIG', 'SET', 'appendonly', 'no');
    await waitFor(() => s.capture.stats().redis.state === 'refused', 15_000, 'the relay to refuse the volatile master');
    expect(s.capture.stats().redis.lastError).toContain(`master 127.0.0.1:${failover.newMaster} of the cluster`);
    await c.command(failover.newMaster, 'CONFIG', 'SET', 'appendonly', 'yes');
    await waitFor(() => s.capture.stats().redis.state === 'connected', 15_000, 'the relay to resume');
    const figures = s.scheduler()!.figures();
    console.info(
      JSON.stringify({
        failoverMs: failover.ms,
        streamDroppedTicks: stream.droppedTicks - stream0.droppedTicks,
        relayFailures: s.capture.stats().relay.failures,
        schedulerResyncs: figures.resyncs,
        schedulerHitRate: figures.hitRate,
        executions: report.executedByDatabase,
        completeness: report.completeness,
      }),
    );
  }, 90_000);
});
