/**
 * The compose topology without Docker: every component as its own process, started the way its
 * compose service starts it (`node --import tsx <entry>`, configured by environment only), against
 * one Redis (a private redis-server with append-only persistence, as compose runs Redis) and one
 * ClickHouse access point (the chDB HTTP gateway on a free port and a temporary data directory, in
 * the place of the clickhouse-server container; every component gets only its CLICKHOUSE_URL).
 *
 * It proves the pieces fit when nothing is shared but Redis and ClickHouse: the components apply the
 * migrations at start through HTTP, the server's executions flow through its outbox, BullMQ and the
 * ingest worker into ClickHouse — every execution of a closed tick range stored and counted once
 * (system/verify.ts, the same check as `npm run verify`) — the analysis job commits an estimates
 * version and writes the HTML report into its folder, the scheduler's delays are accepted by the
 * database and captured with the executions, and every process stops cleanly on SIGTERM (what `docker compose down` sends).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseStats } from '../../common/contracts.js';
import { openReadOnly, type ReadOnlyQueries } from '../../clickhouse/index.js';
import { checkCompleteness, isComplete, type CompletenessReport } from '../../system/verify.js';
import { TestRedis } from '../helpers/redis-server.js';
import { freePort } from './helpers/free-port.js';
import { QueueProbe } from './helpers/queue-probe.js';
import { ServiceProcess } from './helpers/service-process.js';
import { sleep, waitFor } from './helpers/wait-for.js';

const prefix = `topology-${randomBytes(4).toString('hex')}`;
let redis: TestRedis;
let work: string;
let gatewayUrl: string;
let apiUrl: string;
let queries: ReadOnlyQueries;
const services: Record<string, ServiceProcess> = {};

function start(name: string, entry: string, args: string[], env: Record<string, string>): ServiceProcess {
  const proc = new ServiceProcess(name, entry, args, env);
  services[name] = proc;
  return proc;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function scalar(sql: string): Promise<number> {
  const { rows } = await queries.query(sql);
  return Number(rows[0]?.[0] ?? 0);
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'topology-'));
  redis = await TestRedis.start({ persistence: 'aof' });
});

afterAll(async () => {
  for (const s of Object.values(services)) if (s.alive) await s.stop('SIGKILL');
  await queries?.close();
  if (redis?.running) await QueueProbe.obliterate(redis.url, prefix).catch(() => undefined);
  await redis?.destroy();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the compose topology as separate processes (one Redis, one ClickHouse access point)', () => {
  it('starts the ClickHouse gateway, then ingest, analysis, the server and the scheduler, each as its own process', async () => {
    const gatewayPort = await freePort();
    const gateway = start(
      'gateway',
      'clickhouse/gateway-main.ts',
      ['--gateway-port', String(gatewayPort), '--clickhouse-data', path.join(work, 'clickhouse')],
      {},
    );
    await gateway.waitForLog('clickhouse gateway listening');
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    queries = openReadOnly({
      target: { kind: 'server', url: gatewayUrl, user: 'default', password: '', requestTimeoutMs: 30_000 },
      queryUrl: gatewayUrl,
    });

    // What compose gives every component: where Redis and ClickHouse are, nothing else shared.
    const shared = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, CLICKHOUSE_URL: gatewayUrl };
    const ingest = start('ingest', 'ingest/main.ts', [], {
      ...shared,
      INGEST_FLUSH_MS: '100',
      INGEST_STATS_INTERVAL_MS: '0',
    });
    const analysis = start('analysis', 'analysis/main.ts', [], {
      ...shared,
      ANALYSIS_INTERVAL_MS: '2000',
      // Windows are used once the newest stored execution is 0.5 s past their end (10 s by default).
      ANALYSIS_SETTLE_MS: '500',
      // Reports into a folder, as compose mounts ./reports.
      REPORTS_DIR: path.join(work, 'reports'),
    });
    const port = await freePort();
    const server = start('server', 'server/main.ts', [], {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      SIM_SEED: 'topology',
      SIM_TICK_MS: '20',
      SIM_PROBABILITY_SCALE: '3',
      OUTBOX_DIR: path.join(work, 'outbox'),
      DATA_DIR: work,
    });
    apiUrl = `http://127.0.0.1:${port}`;
    await Promise.all([
      ingest.waitForLog('ingest running', 60_000),
      analysis.waitForLog('analysis running', 60_000),
      server.waitForLog('database running', 60_000),
    ]);
    // The scheduler once the database answers (compose: depends_on server service_healthy).
    const scheduler = start('scheduler', 'scheduler/main.ts', [], { ...shared, SERVER_URL: apiUrl });
    await scheduler.waitForLog('scheduler running', 60_000);
    // Both ingest and analysis applied the migrations through the gateway at start.
    expect(ingest.lines('migration applied').length + analysis.lines('migration applied').length).toBeGreaterThan(0);
    expect(await scalar("SELECT count() FROM system.tables WHERE database = 'spike'")).toBeGreaterThan(3);
  }, 90_000);

  it('every execution the database ran in a closed tick range is stored in ClickHouse, once', async () => {
    await sleep(4000);
    const stats = await getJson<DatabaseStats>(`${apiUrl}/stats`);
    const range = { from: stats.firstTick, to: stats.nextTick - 1 };
    let last: CompletenessReport | undefined;
    const report = await waitFor('the closed tick range to be stored', 30_000, async () => {
      last = await checkCompleteness({ apiUrl, queries, database: 'spike', ...range, settleMs: 0 });
      return isComplete(last) ? last : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}; last check: ${JSON.stringify(last)}\n${services.ingest!.tail()}`);
    });
    expect(report.executedByDatabase).toBeGreaterThan(200);
    expect(report.stored).toBe(report.executedByDatabase);
    expect(report.completeness).toBe(1);
    expect(report.duplicatesCounted).toBe(0);
    expect(report.windowsByDatabase).toBeGreaterThan(0);
    expect(report.windowsStored).toBe(report.windowsByDatabase);
  }, 60_000);

  it('the analysis job commits estimates versions into the same ClickHouse', async () => {
    const committed = await services.analysis!.waitForLog('estimates committed', 30_000);
    expect(committed.version).toBeDefined();
    expect(await scalar('SELECT count() FROM spike.estimate_versions')).toBeGreaterThanOrEqual(1);
    expect(await scalar('SELECT count() FROM spike.estimates_latest')).toBeGreaterThan(0);
    // … and writes the report into its folder after the run.
    await services.analysis!.waitForLog('report written', 30_000);
    const html = fs.readFileSync(path.join(work, 'reports', 'spike-report.html'), 'utf8');
    expect(html).toContain('<html');
  }, 40_000);

  it('the scheduler makes decisions: the database accepts its delays, and they reach ClickHouse', async () => {
    const stats = await waitFor('the scheduler to publish decisions', 30_000, async () => {
      const s = await getJson<DatabaseStats & { scheduler: { decisions?: number } | null }>(`${apiUrl}/stats`);
      return s.delaysAccepted > 0 && (s.scheduler?.decisions ?? 0) > 0 ? s : undefined;
    });
    expect(stats.delaysAccepted).toBeGreaterThan(0);
    // Delayed executions are captured with who delayed them.
    await waitFor('a delayed execution stored in ClickHouse', 20_000, async () =>
      (await scalar('SELECT count() FROM spike.executions_dedup WHERE delay_count > 0 AND delayed_by IS NOT NULL')) > 0
        ? true
        : undefined,
    );
  }, 60_000);

  it('every process stops cleanly on SIGTERM, the gateway last', async () => {
    const order = ['scheduler', 'server', 'ingest', 'analysis'];
    const exits = await Promise.all(order.map((name) => services[name]!.stop('SIGTERM', 30_000)));
    expect(exits.map((e) => e.code)).toEqual(order.map(() => 0));
    await queries.close();
    expect((await services.gateway!.stop('SIGTERM', 30_000)).code).toBe(0);
  }, 60_000);
});
