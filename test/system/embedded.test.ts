/**
 * `npm start`'s system in this process (chDB in a temporary directory, the shared Redis under a
 * fresh prefix) at probability scale 10: the scheduler runs inside it on the analysis job's estimates,
 * its decisions land in time, and ClickHouse holds the executions it moved — every component on one event
 * loop, as users run it first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import { startEmbedded, type EmbeddedSystem } from '../../system/embedded.js';
import { compileEmbeddedOptions, loadEmbeddedSettings } from '../../system/options.js';
import { Redis } from 'ioredis';
import { embeddedTestEnv } from './helpers/embedded-env.js';
import { REDIS_URL, removePrefixAndQuit } from '../helpers/shared-redis.js';

const dir = mkdtempSync(join(tmpdir(), 'embedded-'));
const prefix = `test-embedded-${Date.now()}`;
let system: EmbeddedSystem | undefined;

afterAll(async () => {
  await system?.close();
  await removePrefixAndQuit(new Redis(REDIS_URL), prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function sql(url: string, query: string): Promise<unknown[][]> {
  const res = await fetch(`${url}/query`, { method: 'POST', body: JSON.stringify({ sql: query }) });
  expect(res.status, query).toBe(200);
  return ((await res.json()) as { rows: unknown[][] }).rows;
}

describe('npm start (embedded)', () => {
  it('schedules as it captures: decisions applied in time with the in-process estimates, moved executions stored', async () => {
    const settings = loadEmbeddedSettings({
      env: embeddedTestEnv(dir, prefix, {
        SIM_SEED: 'embedded',
        SIM_PROBABILITY_SCALE: '10',
        ANALYSIS_INTERVAL_MS: '5000',
        ANALYSIS_SETTLE_MS: '1000',
      }),
    });
    system = await startEmbedded(compileEmbeddedOptions(settings, REDIS_URL), silentLogger);
    await new Promise((r) => setTimeout(r, 15_000));
    const stats = (await (await fetch(`${system.server.url}/stats`)).json()) as {
      scheduler: { decisions: number; hitRate: number; estimatesVersion: number | null } | null;
      scheduling: { inBandRate: number; movedByScheduler: number; addedLatencyP99: number };
    };
    expect(stats.scheduler?.decisions).toBeGreaterThan(500);
    expect(stats.scheduler?.hitRate).toBeGreaterThanOrEqual(0.99);
    expect(stats.scheduler?.estimatesVersion).not.toBeNull(); // the in-process analysis job's estimates
    expect(stats.scheduling.movedByScheduler).toBeGreaterThan(0.2);
    expect(stats.scheduling.addedLatencyP99).toBeLessThanOrEqual(10);
    const [[moved]] = (await sql(
      system.query.url,
      "SELECT count() FROM spike.executions_dedup WHERE delayed_by = 'scheduler'",
    )) as [[number | string]];
    expect(Number(moved)).toBeGreaterThan(100);
  }, 60_000);
});
