/**
 * The analysis entry points as their own processes: the accuracy evaluation (`eval:estimates`)
 * prints the required keys and meets the accuracy target at defaults for one seed; `analysis/main.ts`
 * starts from its settings, commits a version, and shuts down cleanly on SIGTERM; bad flags exit 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { QUEUE_ANALYSIS } from '../../analysis/job.js';
import { loadLatestEstimates } from '../../clickhouse/estimates.js';
import { ClickHouseStore, createClickHouse, migrate } from '../../clickhouse/index.js';
import { ROOT, runCli } from '../helpers/run-cli.js';
import { REDIS_URL, TestRedis, simulatedRun, waitFor } from './helpers.js';

const EVAL = 'analysis/eval-estimates.ts';
const MAIN = fileURLToPath(new URL('../../analysis/main.ts', import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('eval:estimates', () => {
  it('prints the accuracy report and meets the target at defaults (10 simulated minutes)', async () => {
    const r = await runCli(EVAL, ['--json', '--seed', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      maeWellObserved: Record<'cpu' | 'io' | 'memory', number>;
      coverage95: number;
      normalisedErrorRms: number;
      queriesWellObserved: number;
      byObservations: Record<
        string,
        {
          queries: number;
          errors: Record<string, { mae: number | null; p50: number | null; p90: number | null; p99: number | null }>;
        }
      >;
      overall: { errors: Record<string, unknown> };
      timingsMs: { lastRun: { solve: number; solveCpu: number } };
    };
    expect(Object.keys(report.maeWellObserved).sort()).toEqual(['cpu', 'io', 'memory']);
    for (const mae of Object.values(report.maeWellObserved)) expect(mae).toBeLessThanOrEqual(2);
    expect(report.coverage95).toBeGreaterThanOrEqual(0.9);
    // Calibrated sd's: the errors are about one sd (measured 1.08 on this seed).
    expect(report.normalisedErrorRms).toBeGreaterThan(0.7);
    expect(report.normalisedErrorRms).toBeLessThan(1.4);
    expect(report.timingsMs.lastRun.solveCpu).toBeGreaterThan(0);
    expect(report.queriesWellObserved).toBeGreaterThan(30);
    expect(Object.keys(report.byObservations)).toEqual(['0', '1-9', '10-29', '30-99', '100+']);
    expect(Object.keys(report.byObservations['100+']!.errors.cpu!).sort()).toEqual(['mae', 'p50', 'p90', 'p99']);
    expect(Object.keys(report.overall.errors).sort()).toEqual(['cpu', 'io', 'memory']);
  }, 60_000);

  it('refuses a bad flag with exit code 2, naming it', async () => {
    const r = await runCli(EVAL, ['--minutes', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--minutes');
  });
});

describe('analysis/main.ts', () => {
  it('commits a version from its settings and exits 0 on SIGTERM', async () => {
    const redis = new TestRedis();
    const dataPath = mkdtempSync(join(tmpdir(), 'spike-analysis-main-'));
    try {
      // Seed the data directory first; the child then holds it (one process per directory).
      const seed = createClickHouse({ kind: 'embedded', dataPath });
      await migrate(seed, { database: 'spike' });
      const run = simulatedRun(900, { seed: 'main' });
      const store = new ClickHouseStore(seed, { database: 'spike' });
      await store.insertExecutions(run.executions);
      await store.insertWindows(run.windows);
      await seed.close();

      const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
        cwd: ROOT,
        env: {
          ...process.env,
          REDIS_URL,
          REDIS_PREFIX: redis.prefix,
          CLICKHOUSE_DATA: dataPath,
          ANALYSIS_SETTLE_MS: '0',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let log = '';
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      await waitFor(() => log.includes('estimates committed'), 40_000, 'a committed version');
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(log).toContain('analysis stopped');

      const after = createClickHouse({ kind: 'embedded', dataPath });
      const latest = await loadLatestEstimates(after, 'spike');
      await after.close();
      expect(latest?.costs.size).toBeGreaterThan(20);
    } finally {
      const queue = new Queue(QUEUE_ANALYSIS, { connection: { url: REDIS_URL }, prefix: redis.prefix });
      await queue.obliterate({ force: true });
      await queue.close();
      await redis.cleanup();
      rmSync(dataPath, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a bad setting with exit code 2, naming it', async () => {
    const r = await runCli('analysis/main.ts', ['--analysis-interval-ms', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--analysis-interval-ms');
  });
});
