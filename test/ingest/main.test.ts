/**
 * `ingest/main.ts` as its own process: settings from the environment, migrations, graceful
 * shutdown on SIGTERM, and a SIGKILL in the middle of a batch followed by a restart (the killed
 * process's jobs are re-delivered once their locks expire, and stored once).
 * The child holds the chDB directory while it runs (one process per directory), so this test
 * reads ClickHouse only after the child has exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../common/free-port.js';
import { ClickHouseStore, createClickHouse } from '../../clickhouse/index.js';
import { BASE_TICK, executions } from '../clickhouse/helpers.js';
import { ROOT, cliArgv, runCli } from '../helpers/run-cli.js';
import { REDIS_URL, TestQueues, waitFor } from './helpers.js';

let queues: TestQueues;
let dataPath: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  queues = new TestQueues();
  dataPath = mkdtempSync(join(tmpdir(), 'spike-ingest-main-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await queues.cleanup();
  rmSync(dataPath, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL,
    REDIS_PREFIX: queues.prefix,
    CLICKHOUSE_DATA: dataPath,
    LOG_LEVEL: 'info',
    INGEST_STATS_INTERVAL_MS: '0',
    ...extra,
  };
}

function start(extra: Record<string, string> = {}): { child: ChildProcess; log: () => string } {
  // node itself, not a wrapper: a SIGKILL must hit the process that holds the jobs (tsx's wrapper
  // would die and leave its node child running).
  const child = spawn(...cliArgv('ingest/main.ts', []), {
    cwd: ROOT,
    env: { ...process.env, ...env(extra) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

async function storedIn(from: number, count: number) {
  const client = createClickHouse({ kind: 'embedded', dataPath });
  try {
    return await new ClickHouseStore(client).countExecutions({
      from: BASE_TICK + from,
      to: BASE_TICK + from + count - 1,
    });
  } finally {
    await client.close();
  }
}

describe('ingest main', () => {
  it('stores queued executions, answers /healthz and /metrics, and shuts down cleanly on SIGTERM', async () => {
    const port = await freePort();
    const { child, log } = start({ INGEST_FLUSH_MS: '50', INGEST_HEALTH_PORT: String(port) });
    await waitFor(() => log().includes('ingest running'), 30_000, 'the worker to start');
    await queues.addExecutions(executions(0, 500));
    await waitFor(async () => (await queues.counts()).completed === 500, 30_000, '500 jobs acknowledged');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', state: 'running', reasons: [] });
    // GET /metrics on the same port, Prometheus text: the 500 stored, and Node's process metrics.
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = new Map(parsePrometheusTextFormat(await metrics.text()).map((f) => [f.name, f]));
    const stored = families.get('spike_ingest_stored_total')!.metrics.find((m) => m.labels?.queue === 'executions');
    expect(Number(stored?.value)).toBe(500);
    expect(families.get('spike_ingest_lag_seconds')?.type).toBe('GAUGE');
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(log()).toContain('"drained":true');
    expect(await storedIn(0, 500)).toMatchObject({ stored: 500, countedTwice: 0 });
  }, 90_000);

  it('after a SIGKILL in the middle of a batch, a restarted worker stores the jobs once', async () => {
    // The batch never flushes by itself (10 min interval, 10 000 rows): the jobs are in flight when killed.
    const killed = start({
      INGEST_FLUSH_MS: '600000',
      INGEST_BATCH_SIZE: '10000',
      INGEST_LOCK_MS: '1000',
      INGEST_STALLED_INTERVAL_MS: '300',
    });
    await waitFor(() => killed.log().includes('ingest running'), 30_000, 'the first worker to start');
    await queues.addExecutions(executions(1000, 300));
    await waitFor(async () => (await queues.counts()).active === 300, 30_000, 'all jobs in flight');
    killed.child.kill('SIGKILL');
    await exited(killed.child);
    expect(await queues.counts()).toMatchObject({ completed: 0, active: 300 });

    const restarted = start({ INGEST_FLUSH_MS: '50', INGEST_LOCK_MS: '1000', INGEST_STALLED_INTERVAL_MS: '300' });
    await waitFor(async () => (await queues.counts()).completed === 300, 60_000, 're-delivered jobs acknowledged');
    restarted.child.kill('SIGTERM');
    expect(await exited(restarted.child)).toBe(0);
    // With a 1 s lock on a busy machine a job can also be re-delivered while the new worker holds it
    // (a false stall): more rows than executions is allowed, counting one twice is not.
    const counts = await storedIn(1000, 300);
    expect(counts).toMatchObject({ stored: 300, countedTwice: 0 });
    expect(counts.rows).toBeGreaterThanOrEqual(300);
  }, 120_000);

  it('refuses a bad setting with exit code 2 and names it', async () => {
    const result = await runCli('ingest/main.ts', [], env({ INGEST_BATCH_SIZE: 'lots' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('INGEST_BATCH_SIZE');
  }, 60_000);
});
