/**
 * The work embedded mode moves off its main event loop (system/worker-tasks.ts), run through a real
 * worker thread: the estimator's solve and the report's rendering give exactly what they give in
 * process, and while a solve of about a second runs in the worker the main loop keeps answering
 * timers, where the same solve in process holds it for the solve's whole length.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openReadOnlyPool, readOnlyOptions, type ReadOnlyPool } from '../../clickhouse/index.js';
import { silentLogger } from '../../common/logger.js';
import { startOffload, type Offload } from '../../common/offload.js';
import { noPause } from '../../analysis/estimator/pause.js';
import { DEFAULT_SOLVE_OPTIONS, solveCosts } from '../../analysis/estimator/solve.js';
import { WindowStatsAccumulator } from '../../analysis/estimator/window-stats.js';
import { loadDanfo } from '../../analysis/reports/frames.js';
import { loadReportInput, renderPage, reportOptions, writeReports } from '../../analysis/reports/index.js';
import { Database } from '../../server/database.js';
import { simulationOptions } from '../../server/options.js';
import { offloadedWork, WORKER_TASKS_MODULE } from '../../system/worker-tasks.js';
import { openTempClickHouse, type TempClickHouse } from '../clickhouse/helpers.js';
import { insertEstimates, populate } from '../analysis/reports-fixture.js';

let ch: TempClickHouse;
let reader: ReadOnlyPool;
let offload: Offload;
let work: ReturnType<typeof offloadedWork>;

beforeAll(async () => {
  offload = startOffload({ tasks: WORKER_TASKS_MODULE, name: 'worker-tasks-test', logger: silentLogger });
  work = offloadedWork(offload);
  // The worker loads the report libraries meanwhile (as embedded mode does at start).
  const preloaded = work.preload();
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  const data = await populate(ch.client, { seed: 'worker-tasks', minutes: 2, schedulerFromMinute: 1 });
  await insertEstimates(ch.client, data.truth, [Date.UTC(2026, 0, 1, 0, 2)]);
  reader = await openReadOnlyPool({
    target: { kind: 'embedded', dataPath: ch.dataPath },
    options: readOnlyOptions(),
    logger: silentLogger,
  });
  // Both sides have the report libraries loaded (danfo: seconds), so only the rendering is compared.
  await Promise.all([preloaded, loadDanfo()]);
}, 60_000);
afterAll(async () => {
  await offload?.close();
  await reader?.close();
  await ch?.close();
});

/** Runs `fn` and returns its result with the main loop's worst delay meanwhile (ms). */
async function withLoopDelay<T>(fn: () => Promise<T>): Promise<{ result: T; maxDelayMs: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // The histogram records from its second sample on: let it take a few before the work starts.
  await new Promise((r) => setTimeout(r, 30));
  const started = performance.now();
  const result = await fn();
  const ms = performance.now() - started;
  // One more turn so a delay that ended with `fn` is recorded.
  await new Promise((r) => setTimeout(r, 10));
  h.disable();
  return { result, maxDelayMs: h.max / 1e6, ms };
}

describe('worker tasks', () => {
  it('load no chDB, Redis or HTTP client into the worker thread', async () => {
    // chDB's native library loaded in a worker thread crashes the process when the thread ends
    // (seen: a segfault, and an `npm start` that never exited): the task module's imports must stay pure.
    const { metafile } = await build({
      entryPoints: [fileURLToPath(WORKER_TASKS_MODULE)],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
    });
    const packages = new Set(
      Object.values(metafile.inputs).flatMap((i) => i.imports.filter((x) => x.external).map((x) => x.path)),
    );
    for (const heavy of ['chdb/connection', '@clickhouse/client', 'ioredis', 'bullmq', 'express', 'playwright-core']) {
      expect(packages.has(heavy), heavy).toBe(false);
    }
    expect(packages.has('vega-lite'), 'the rendering is in there').toBe(true);
  });

  it('solves in the worker exactly as in process, and the main loop stays free meanwhile', async () => {
    const db = new Database(simulationOptions({ seed: 'worker-tasks', queryCount: 400 }));
    const acc = new WindowStatsAccumulator('bounds');
    db.hooks.executed.add((e) => acc.addExecution(e.queryId, e.executedTick));
    db.hooks.window.add((w) => acc.addWindow(w));
    db.run(4000); // 400 windows, ~380 queries seen: a dense solve of about a second
    const stats = acc.stats();

    const inProcess = await withLoopDelay(() => solveCosts(stats, DEFAULT_SOLVE_OPTIONS, noPause));
    const offloaded = await withLoopDelay(() => work.solve(stats, DEFAULT_SOLVE_OPTIONS));
    expect(offloaded.result).toEqual(inProcess.result);
    expect(offloaded.result.estimates.length).toBeGreaterThan(300);
    // In process the solve holds the loop for (nearly) its whole length; in the worker the loop
    // waits only for cloning the statistics and the estimates across.
    expect(inProcess.maxDelayMs).toBeGreaterThan(0.5 * inProcess.ms);
    expect(offloaded.maxDelayMs).toBeLessThan(inProcess.maxDelayMs / 3);
    console.info(
      `solve: in process ${Math.round(inProcess.ms)} ms, loop max delay ${Math.round(inProcess.maxDelayMs)} ms; ` +
        `in the worker ${Math.round(offloaded.ms)} ms, loop max delay ${Math.round(offloaded.maxDelayMs)} ms`,
    );
  });

  it('renders the report in the worker to the same page and summary as in process', async () => {
    const query = (sql: string) => reader.query(sql);
    const now = Date.UTC(2026, 0, 2);
    const input = await loadReportInput({ query, database: 'spike', options: reportOptions({ lastMinutes: 0 }), now });
    const inProcess = await withLoopDelay(() => renderPage(input));
    const offloaded = await withLoopDelay(() => work.render(input));
    expect(offloaded.result.summary).toEqual(inProcess.result.summary);
    expect(offloaded.result.summary.scheduling?.start, 'the data has a scheduled part').not.toBeNull();
    expect(offloaded.result.page.length).toBeGreaterThan(10_000);
    expect(offloaded.result.page).toBe(inProcess.result.page);
    // In process the chart compiles hold the loop tens to hundreds of ms at a time (yields only
    // between steps); in the worker only the cloning of the input and the page does.
    expect(offloaded.maxDelayMs).toBeLessThan(inProcess.maxDelayMs);
    console.info(
      `report: in process ${Math.round(inProcess.ms)} ms, loop max delay ${Math.round(inProcess.maxDelayMs)} ms; ` +
        `in the worker ${Math.round(offloaded.ms)} ms, loop max delay ${Math.round(offloaded.maxDelayMs)} ms`,
    );

    // The embedded path: read here, render there, write here.
    const outDir = mkdtempSync(join(tmpdir(), 'spike-worker-report-'));
    const files = await writeReports({
      query,
      database: 'spike',
      outDir,
      options: { lastMinutes: 0 },
      now,
      render: work.render,
    });
    expect(files.map((f) => f.slice(outDir.length))).toEqual(['/spike-report.html', '/spike-report.json']);
    expect(readFileSync(files[0]!, 'utf8')).toBe(inProcess.result.page);
    expect(JSON.parse(readFileSync(files[1]!, 'utf8'))).toEqual(inProcess.result.summary);
  });
});
