/**
 * `npm start`'s system in this process (chDB in a temporary directory, the shared Redis under a
 * fresh prefix) while the executions table loses a column for real and gets it back: `/healthz`
 * says degraded with the reason, nothing is dead-lettered, and once the column is back every
 * execution the database ran is stored exactly once (the completeness check of `npm run verify`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { QUEUE_DEAD_LETTER } from '../../common/contracts.js';
import { silentLogger } from '../../common/logger.js';
import { createClickHouse, openReadOnly } from '../../clickhouse/index.js';
import { startEmbedded, type EmbeddedSystem } from '../../system/embedded.js';
import { compileEmbeddedOptions, loadEmbeddedSettings } from '../../system/options.js';
import { checkCompleteness, isComplete } from '../../system/verify.js';
import { embeddedTestEnv } from './helpers/embedded-env.js';
import { REDIS_URL, removePrefixAndQuit, waitFor } from '../helpers/shared-redis.js';

const dir = mkdtempSync(join(tmpdir(), 'embedded-drift-'));
const prefix = `test-embedded-drift-${Date.now()}`;
let system: EmbeddedSystem | undefined;

afterAll(async () => {
  await system?.close();
  await removePrefixAndQuit(new Redis(REDIS_URL), prefix);
  rmSync(dir, { recursive: true, force: true });
});

interface Health {
  status: string;
  tick: number;
  reasons?: string[];
}

describe('npm start (embedded) under a schema drift', () => {
  it('reports degraded while a column is missing, dead-letters nothing, and stores every execution once after the fix', async () => {
    const dataPath = join(dir, 'clickhouse');
    const settings = loadEmbeddedSettings({
      env: embeddedTestEnv(dir, prefix, {
        SIM_SEED: 'drift',
        CLICKHOUSE_DATA: dataPath,
        WITHOUT_SCHEDULER: 'true',
        INGEST_RETRY_MAX_MS: '500',
      }),
    });
    system = await startEmbedded(compileEmbeddedOptions(settings, REDIS_URL), silentLogger);
    const healthz = async () => (await (await fetch(`${system!.server.url}/healthz`)).json()) as Health;
    expect((await healthz()).status).toBe('ok');

    // The operator's mistake, made through a client of the same embedded engine.
    const admin = createClickHouse({ kind: 'embedded', dataPath });
    await admin.command({ query: 'ALTER TABLE spike.executions DROP COLUMN queued_at' });
    const droppedAt = (await healthz()).tick;
    await waitFor(async () => (await healthz()).status === 'degraded', 30_000, '/healthz degraded');
    await new Promise((r) => setTimeout(r, 3000)); // executions keep arriving, and are held
    const degraded = await healthz();
    expect(degraded.reasons).toHaveLength(1);
    expect(degraded.reasons![0]).toMatch(
      /^ingest executions: ClickHouse refuses every record tried .* records held and retried: INCORRECT_DATA: Unknown field found while parsing JSONEachRow format: queued_at/,
    );
    const stats = (await (await fetch(`${system.server.url}/stats`)).json()) as {
      ingest: { health: { status: string }; executions: { deadLettered: number; pending: number; stored: number } };
    };
    expect(stats.ingest.health.status).toBe('degraded');
    expect(stats.ingest.executions.deadLettered).toBe(0);
    expect(stats.ingest.executions.pending).toBeGreaterThan(0);

    await admin.command({
      query:
        "ALTER TABLE spike.executions ADD COLUMN queued_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)) AFTER executed_tick",
    });
    const restoredAt = (await healthz()).tick;
    await waitFor(async () => (await healthz()).status === 'ok', 30_000, '/healthz ok again');
    const queries = openReadOnly({ target: { kind: 'embedded', dataPath }, queryUrl: system.clickhouseHttp!.url });
    const check = () => checkCompleteness({ apiUrl: system!.server.url, queries, database: 'spike', settleMs: 2000 });
    let report = await check();
    await waitFor(
      async () => isComplete((report = await check())) && report.to > restoredAt,
      30_000,
      'every execution stored, the fix included',
    );
    // The checked range spans the drift: what ran while the column was missing is in it. (The run's
    // first tick may be the drop's own: the drop can land within 100 ms of the start.)
    expect(report.from).toBeLessThanOrEqual(droppedAt);
    expect(report.to).toBeGreaterThan(restoredAt);
    expect(report.executedByDatabase).toBeGreaterThan(0);
    expect(report).toMatchObject({ missing: 0, duplicatesCounted: 0, completeness: 1 });
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const deadLetters = new Queue(QUEUE_DEAD_LETTER, { connection, prefix });
    expect(await deadLetters.getJobCounts('wait')).toEqual({ wait: 0 });
    await deadLetters.close();
    connection.disconnect();
    await queries.close();
    await admin.close();
  }, 180_000);
});
