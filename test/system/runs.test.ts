/**
 * One database across restarts, and runs (issue 12, items 1 and 5), with real processes: `npm start`
 * on a data directory (node --import tsx system/main.ts, embedded chDB, the shared Redis under a
 * fresh prefix), the tools finding it through <data-dir>/system.json, a stop, a start with another
 * seed refused, a restart that keeps the catalog, and the runs table read from the stopped data.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../clickhouse/client.js';
import type { SystemFile } from '../../common/system-file.js';
import { createCatalog } from '../../server/catalog.js';
import { freePort } from './helpers/free-port.js';
import { ServiceProcess } from './helpers/service-process.js';
import { REDIS_URL, removePrefixAndQuit } from '../helpers/shared-redis.js';
import { runCli } from '../helpers/run-cli.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runs-'));
const dataDir = path.join(work, 'data');
const prefix = `test-runs-${process.pid}-${Date.now()}`;
let system: ServiceProcess | undefined;
let clickhouse: ClickHouseClient | undefined;

afterAll(async () => {
  await system?.stop('SIGKILL', 5000);
  await clickhouse?.close();
  await removePrefixAndQuit(new Redis(REDIS_URL), prefix);
  fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

/** `npm start` on the test's data directory, on ports nobody announced to the tools. */
async function start(
  args: string[] = [],
): Promise<{ proc: ServiceProcess; api: string; query: string; clickhouseHttp: string }> {
  const [apiPort, queryPort, chPort] = [await freePort(), await freePort(), await freePort()];
  const proc = new ServiceProcess('npm start', 'system/main.ts', ['--without-reports', ...args], {
    REDIS_URL,
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    PORT: String(apiPort),
    QUERY_PORT: String(queryPort),
    CLICKHOUSE_HTTP_PORT: String(chPort),
    // A light load: the point is the catalog and the runs, on a machine other tests share.
    SIM_PROBABILITY_SCALE: '2',
  });
  return {
    proc,
    api: `http://127.0.0.1:${apiPort}`,
    query: `http://127.0.0.1:${queryPort}/query`,
    clickhouseHttp: `http://127.0.0.1:${chPort}`,
  };
}

const running = (s: { api: string; query: string; clickhouseHttp: string }) =>
  `system running: API ${s.api}, read-only SQL ${s.query}, ClickHouse HTTP ${s.clickhouseHttp} (npm run sql, curl, DBeaver, Grafana), reports off, Redis ${REDIS_URL}; Ctrl-C stops it`;
const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const systemFile = () => readJson<SystemFile>(path.join(dataDir, 'system.json'));

/** `npm run sql` as a user runs it: only the data directory, no address. */
async function sql(query: string): Promise<Record<string, unknown>[]> {
  const r = await runCli('analysis/sql-cli.ts', ['--data-dir', dataDir, '--format', 'json', query]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

/** Waits until `npm run sql` sees executions of `runId` stored. */
async function executionsOf(runId: string): Promise<string[]> {
  for (let i = 0; i < 60; i++) {
    const rows = await sql(
      `SELECT DISTINCT toString(query_id) AS q FROM spike.executions_dedup WHERE run_id = '${runId}'`,
    );
    if (rows.length >= 10) return rows.map((r) => r.q as string);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no executions of run ${runId} stored`);
}

describe('npm start on a data directory, across restarts', () => {
  it('keeps its catalog, refuses another seed, records each run, and the tools find it by its data directory', async () => {
    // 1. First start: a new catalog, announced addresses, tools that need no address.
    const first = await start();
    system = first.proc;
    await first.proc.waitForLog(running(first), 90_000);
    const announced = systemFile();
    expect(announced).toMatchObject({
      state: 'running',
      pid: first.proc.pid,
      kind: 'embedded',
      addresses: { api: first.api, query: first.query, clickhouseHttp: first.clickhouseHttp },
    });
    const catalog = readJson<{ seed: string; queryCount: number }>(path.join(dataDir, 'catalog.json'));
    expect(catalog.queryCount).toBe(100);
    const run1 = announced.runId;
    expect(run1).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const queries1 = await executionsOf(run1);

    // verify and report on the same data directory, no --api-url / --query-url.
    const verify = await runCli('system/verify-cli.ts', ['--data-dir', dataDir, '--json', '--wait-ms', '90000']);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect((JSON.parse(verify.stdout) as { completeness: number }).completeness).toBe(1);
    const out = path.join(work, 'report');
    const report = await runCli('analysis/report-cli.ts', ['--data-dir', dataDir, '--out', out]);
    expect(report.code, report.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, 'spike-report.html'))).toBe(true);

    expect((await first.proc.stop('SIGINT')).code).toBe(0);
    expect(systemFile()).toMatchObject({ state: 'stopped', runId: run1 });
    expect(systemFile().stoppedAt).not.toBeNull();

    // 2. Nothing runs: the tools say so and how to point them elsewhere (exit 1).
    const none = await runCli('analysis/sql-cli.ts', ['--data-dir', dataDir, 'SELECT 1']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`the system in ${dataDir} is not running: run ${run1} stopped at`);
    expect(none.stderr).toContain('--query-url');
    const noneVerify = await runCli('system/verify-cli.ts', ['--data-dir', dataDir, '--source', 'api']);
    expect(noneVerify.code).toBe(1);
    expect(noneVerify.stderr).toContain(`the system in ${dataDir} is not running`);
    expect(noneVerify.stderr).toContain('--api-url');
    const nowhere = await runCli('analysis/sql-cli.ts', ['--data-dir', path.join(work, 'empty'), 'SELECT 1']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain(
      `no running system found: ${path.join(work, 'empty', 'system.json')} does not exist`,
    );

    // 3. Another seed on this data directory: refused before anything starts, both ways out named.
    const other = await start(['--seed', `not-${catalog.seed}`]);
    const refused = await other.proc.exited();
    expect(refused.code).toBe(1);
    const line = other.proc.log.split('\n').find((l) => l.startsWith('error: '));
    expect(line, other.proc.log).toContain(`holds the database made with seed ${catalog.seed}`);
    expect(line).toContain('--data-dir');
    expect(line).toContain('--new-catalog');
    expect(systemFile()).toMatchObject({ state: 'stopped', runId: run1 }); // untouched
    expect(readJson(path.join(dataDir, 'catalog.json'))).toEqual(catalog);

    // 4. A restart without --seed: the same catalog, a new run.
    const second = await start();
    system = second.proc;
    await second.proc.waitForLog(running(second), 90_000);
    const run2 = systemFile().runId;
    expect(run2).not.toBe(run1);
    const queries2 = await executionsOf(run2);
    expect((await second.proc.stop('SIGINT')).code).toBe(0);
    system = undefined;

    // Same catalog: every query either run executed is one of the seed's 100 (another seed's are others).
    const ids = new Set(createCatalog(catalog.seed, 100).map((q) => q.id));
    for (const q of [...queries1, ...queries2]) expect(ids.has(q), q).toBe(true);
    expect(createCatalog(`not-${catalog.seed}`, 100).some((q) => ids.has(q.id))).toBe(false);

    // 5. The runs table (read from the stopped system's data): two runs, both ended, with parameters.
    clickhouse = createClickHouse({ kind: 'embedded', dataPath: path.join(dataDir, 'clickhouse') });
    const rs = await clickhouse.query({
      query: `SELECT run_id, toUnixTimestamp64Milli(started_at) AS s, toUnixTimestamp64Milli(ended_at) AS e,
        first_tick, last_tick, seed, query_count, probability_scale, tick_ms, scheduler, parameters
        FROM spike.runs_dedup ORDER BY run_id`,
      format: 'JSONEachRow',
    });
    const runs = await rs.json<Record<string, string | number | null>>();
    expect(runs.map((r) => r.run_id)).toEqual([run1, run2]);
    for (const r of runs) {
      expect(r.e, String(r.run_id)).not.toBeNull();
      expect(Number(r.e)).toBeGreaterThan(Number(r.s));
      expect(Number(r.last_tick)).toBeGreaterThan(Number(r.first_tick));
      expect(r).toMatchObject({
        seed: catalog.seed,
        query_count: 100,
        probability_scale: 2,
        tick_ms: 100,
        scheduler: 'on',
      });
      expect(JSON.parse(String(r.parameters))).toMatchObject({ simulation: { seed: catalog.seed, tickMs: 100 } });
    }
    expect(Number(runs[1]!.s)).toBeGreaterThan(Number(runs[0]!.e)); // one after the other
    // Every stored execution and window carries one of the two runs, inside that run's ticks.
    const carried = await clickhouse.query({
      query: `SELECT run_id, min(executed_tick) AS lo, max(executed_tick) AS hi, count() AS n
        FROM spike.executions_dedup GROUP BY run_id ORDER BY run_id`,
      format: 'JSONEachRow',
    });
    const byRun = await carried.json<{ run_id: string; lo: string; hi: string; n: string }>();
    expect(byRun.map((r) => r.run_id)).toEqual([run1, run2]);
    byRun.forEach((r, i) => {
      expect(Number(r.lo)).toBeGreaterThanOrEqual(Number(runs[i]!.first_tick));
      expect(Number(r.hi)).toBeLessThanOrEqual(Number(runs[i]!.last_tick));
    });
    const windows = await clickhouse.query({
      query: `SELECT groupUniqArray(run_id) AS ids FROM spike.windows_dedup`,
      format: 'JSONEachRow',
    });
    const [w] = await windows.json<{ ids: string[] }>();
    expect([...w!.ids].sort()).toEqual([run1, run2]);
    await clickhouse.close();
    clickhouse = undefined;
  }, 300_000);
});
