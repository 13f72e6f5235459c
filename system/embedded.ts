/**
 * The embedded system: every component in one process (docs/architecture.md "Two ways to run").
 * The components still talk only through their contracts — the database's hooks and HTTP API,
 * Redis (BullMQ queues) and ClickHouse — exactly as they do when each runs as its own process;
 * this file only starts them in order and stops them in the reverse order, so nothing is lost:
 *   start: ClickHouse + migrations → ingest → read-only SQL endpoint → analysis (+ reports) →
 *          database + capture → scheduler (at once, or after `startAfterMs` for a before/after run)
 *   stop:  read-only SQL endpoint closes, its queries killed (an investigation never holds the stop up) →
 *          scheduler stops deciding → ticks stop → capture drains its outbox to Redis → ingest stores
 *          everything queued (the queues empty) →
 *          analysis finishes its run → its worker thread stops → API closes → ClickHouse closes.
 * Sessions: ingest, analysis, the scheduler's estimate loads, the reports and the investigations
 * (POST /query) each have their own chDB session(s), so a slow investigation delays none of the others.
 */
import path from 'node:path';
import { requireFreePorts } from '../common/listen.js';
import type { Logger } from '../common/logger.js';
import { createClickHouse, type ClickHouseOptions } from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { QUERY_PORT_SETTING, startQueryService, type QueryService } from '../clickhouse/query-service.js';
import { startIngest, type IngestHandle, type IngestOptions } from '../ingest/index.js';
import { startAnalysis, type AnalysisHandle, type AnalysisOptions } from '../analysis/index.js';
import { preloadReportLibraries, writeReports } from '../analysis/reports/index.js';
import { openDirectReadOnly } from '../clickhouse/query-client.js';
import { ReadOnlyPool } from '../clickhouse/read-only-pool.js';
import { CLICKHOUSE_HTTP_PORT_SETTING, startHttpInterface, type HttpInterface } from '../clickhouse/http-interface.js';
import type { ReadOnlyOptions } from '../clickhouse/read-only.js';
import { requireDurableRedis, startCapture, type Capture, type CaptureOptions } from '../server/capture/index.js';
import type { SimulationOptions } from '../server/options.js';
import { API_PORT_SETTING, startServer, type RunningServer } from '../server/server.js';
import { newRunId, runStart, type RunScheduling } from '../server/run.js';
import {
  clickHouseEstimates,
  startScheduler,
  type policySettings,
  type SchedulerHandle,
  type SchedulerServiceOptions,
} from '../scheduler/index.js';
import type { SettingValues } from '../common/settings.js';
import { createMetricsRegistry } from '../common/metrics.js';
import { registerCaptureMetrics } from '../server/metrics.js';
import { registerIngestMetrics } from '../ingest/index.js';
import { registerAnalysisMetrics } from '../analysis/index.js';
import { registerSchedulerMetrics } from '../scheduler/index.js';
import { startOffload } from '../common/offload.js';
import { offloadedWork, WORKER_TASKS_MODULE } from './worker-tasks.js';

export interface EmbeddedOptions {
  simulation: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  /** `ledgerDir` empty: `<outbox dir>/ledger`. */
  server: { port: number; host: string; withoutIdleGc: boolean; ledgerDir: string };
  capture: CaptureOptions;
  clickhouse: ClickHouseOptions;
  ingest: IngestOptions;
  analysis: AnalysisOptions;
  queryPort: number;
  /** Port of the read-only ClickHouse HTTP interface (embedded ClickHouse only; a server has its own). */
  clickhouseHttpPort: number;
  /** Limits and concurrency of the read-only SQL endpoint (the reports get the same limits, one session). */
  readOnly: ReadOnlyOptions;
  /** Where reports are written after each analysis run; null: no reports. */
  reportsDir: string | null;
  /**
   * The analysis solve and the report rendering in a worker thread (system/worker-tasks.ts), so
   * they never hold the loop the ticks and decisions run on; false: on the main loop, time-sliced.
   */
  offload: boolean;
  /** The live scheduler; null: the database runs unscheduled. `serverUrl` is set from the API's own. */
  scheduler: {
    policy: SettingValues<typeof policySettings>;
    service: Omit<SchedulerServiceOptions, 'serverUrl'>;
    /** Start it this long after the database (a run that starts unscheduled, for before/after). */
    startAfterMs: number;
  } | null;
  /** This start's run id (server/run.ts); a new one when absent. */
  runId?: string;
}

export interface EmbeddedSystem {
  /** The run this start is: stamped on every execution and window, recorded in `spike.runs`. */
  runId: string;
  server: RunningServer;
  capture: Capture;
  ingest: IngestHandle;
  analysis: AnalysisHandle;
  query: QueryService;
  /** The read-only ClickHouse HTTP interface; undefined with a ClickHouse server (CLICKHOUSE_URL). */
  clickhouseHttp: HttpInterface | undefined;
  /** The scheduler once started (undefined before `startAfterMs` or when turned off). */
  scheduler(): SchedulerHandle | undefined;
  /** Resolves with the reason once the database failed (fail-stop): the caller closes and exits 1. */
  failed: Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts every component, in order. A start that fails part-way (a busy port, a volatile Redis,
 * another process on the outbox) closes what it had started, in the reverse order — chDB last, so
 * it never dies open — and rejects with the cause; the entry point turns it into one line.
 */
export async function startEmbedded(o: EmbeddedOptions, logger: Logger): Promise<EmbeddedSystem> {
  // Checked before chDB opens: the usual reasons a start is refused cost nothing to find out.
  await requireFreePorts([
    { port: o.server.port, host: o.server.host, setting: API_PORT_SETTING },
    { port: o.queryPort, host: '127.0.0.1', setting: QUERY_PORT_SETTING },
    // The ClickHouse interface serves an embedded ClickHouse only (a server has its own).
    ...(o.clickhouse.target.kind === 'embedded'
      ? [{ port: o.clickhouseHttpPort, host: '127.0.0.1', setting: CLICKHOUSE_HTTP_PORT_SETTING }]
      : []),
  ]);
  await requireDurableRedis({ url: o.capture.redisUrl, allowVolatile: o.capture.allowVolatileRedis, logger });
  const started: (() => Promise<unknown>)[] = [];
  try {
    return await startComponents(o, logger, started);
  } catch (error) {
    for (const close of started.reverse()) {
      await close().catch((err: unknown) => logger.warn({ err }, 'closing after a failed start'));
    }
    throw error;
  }
}

async function startComponents(
  o: EmbeddedOptions,
  logger: Logger,
  started: (() => Promise<unknown>)[],
): Promise<EmbeddedSystem> {
  const clickhouse = createClickHouse(o.clickhouse.target);
  started.push(() => clickhouse.close());
  await migrate(clickhouse, { database: o.clickhouse.database, retentionDays: o.clickhouse.retentionDays, logger });
  const ingest = startIngest({ clickhouse, database: o.clickhouse.database, options: o.ingest, logger });
  started.push(() => ingest.close());
  // Investigations (POST /query) and the reports read through read-only sessions of their own (chDB
  // keeps a setting sent with a query on that session, so `readonly = 1` must never reach a writer's).
  const target = o.clickhouse.target;
  const investigations = await openDirectReadOnly({ target, options: o.readOnly, logger });
  started.push(() => investigations.close());
  const query = await startQueryService({ queries: investigations, port: o.queryPort, logger });
  started.push(() => query.close());
  // ClickHouse's own HTTP interface on the same read-only sessions (and guard) as POST /query.
  const clickhouseHttp =
    investigations instanceof ReadOnlyPool
      ? await startHttpInterface({ queries: investigations, port: o.clickhouseHttpPort, logger })
      : undefined;
  if (clickhouseHttp) started.push(() => clickhouseHttp.close());
  const reportsDir = o.reportsDir;
  const reports = reportsDir
    ? await openDirectReadOnly({ target, options: { ...o.readOnly, sessions: 1, queueLength: 4 }, logger })
    : undefined;
  if (reports) started.push(() => reports.close());
  // Analysis writes estimates through a client of its own too, so its session settings never touch
  // the ingest inserts'; the scheduler loads estimates through one of its own.
  const analysisClient = createClickHouse(o.clickhouse.target);
  const estimatesClient = createClickHouse(o.clickhouse.target);
  started.push(
    () => analysisClient.close(),
    () => estimatesClient.close(),
  );
  const offload = o.offload ? startOffload({ tasks: WORKER_TASKS_MODULE, name: 'analysis-work', logger }) : undefined;
  if (offload) started.push(() => offload.close());
  const work = offload ? offloadedWork(offload) : undefined;
  // Seconds of loading, before the first tick rather than during (in the worker when there is one):
  // the report libraries, or at least the worker thread and its modules (a second of CPU).
  if (reportsDir) await (work ? work.preload() : preloadReportLibraries());
  else await work?.warmUp();
  const analysis = startAnalysis({
    clickhouse: analysisClient,
    database: o.clickhouse.database,
    options: o.analysis,
    logger,
    ...(work ? { solve: work.solve } : {}),
    ...(reportsDir && reports
      ? {
          afterRun: async () => {
            const files = await writeReports({
              query: (sql) => reports.query(sql),
              database: o.clickhouse.database,
              outDir: reportsDir,
              logger,
              ...(work ? { render: work.render } : {}),
            });
            logger.info({ files }, 'report written');
          },
        }
      : {}),
  });
  started.push(() => analysis.close());
  let capture: Capture | undefined;
  let scheduler: SchedulerHandle | undefined;
  const runId = o.runId ?? newRunId();
  const scheduling: RunScheduling = o.scheduler
    ? { mode: 'on', startAfterMs: o.scheduler.startAfterMs, settings: { policy: o.scheduler.policy } }
    : { mode: 'off' };
  // One process, one registry: every component's metrics on the API's GET /metrics.
  const metrics = createMetricsRegistry();
  registerIngestMetrics(metrics, ingest);
  registerAnalysisMetrics(metrics, analysis);
  const schedulerMetrics = registerSchedulerMetrics(metrics, () => scheduler?.figures() ?? null);
  const server = await startServer({
    metrics,
    simulation: o.simulation,
    port: o.server.port,
    host: o.server.host,
    // One process: the server's collection in the quiet part of each tick serves the scheduler too.
    idleGc: !o.server.withoutIdleGc,
    logger,
    ledgerDir: o.server.ledgerDir || path.join(o.capture.outboxDir, 'ledger'),
    attach: (db) => {
      const run = runStart({ runId, simulation: o.simulation, firstTick: db.currentTick, scheduling });
      capture = startCapture({ db, logger, ...o.capture, run });
      const c = capture;
      registerCaptureMetrics(metrics, c);
      started.push(() => c.close());
      return {
        afterTick: (tick) => void c.afterTick(tick),
        stats: () => ({
          capture: c.stats(),
          ingest: ingest.stats(),
          analysis: analysis.stats(),
          scheduler: scheduler?.figures() ?? null,
          // The worker thread's tasks (solves, reports); null: they run on the main loop.
          offload: offload?.stats() ?? null,
        }),
        degraded: () => [...c.degraded(), ...ingest.health().reasons.map((r) => `ingest ${r}`)],
      };
    },
  });
  const captured = capture!;
  const s = o.scheduler;
  const startTimer = s
    ? setTimeout(() => {
        scheduler = startScheduler({
          options: { ...s.service, serverUrl: server.url },
          policy: s.policy,
          estimates: clickHouseEstimates(estimatesClient, o.clickhouse.database),
          logger,
          onDecision: schedulerMetrics.onDecision,
        });
        scheduler.ready.catch((err: unknown) =>
          logger.error({ err }, 'the scheduler could not start; the database runs unscheduled'),
        );
      }, s.startAfterMs)
    : undefined;
  let closing: Promise<void> | undefined;
  return {
    runId,
    server,
    capture: captured,
    ingest,
    analysis,
    query,
    clickhouseHttp,
    scheduler: () => scheduler,
    failed: server.failed,
    close() {
      closing ??= (async () => {
        clearTimeout(startTimer);
        await query.close();
        await investigations.close();
        await clickhouseHttp?.close();
        await scheduler?.close();
        server.driver.stop();
        const outbox = await captured.close();
        // Everything the relay handed to Redis is stored before ingest stops: nothing waits there
        // for the next start. Bounded by ingest's shutdown timeout (ClickHouse away: jobs stay queued).
        const drainStarted = performance.now();
        const queued = await ingest.waitUntilEmpty(o.ingest.shutdownTimeoutMs);
        const drainMs = Math.round(performance.now() - drainStarted);
        const ingested = await ingest.close();
        await analysis.close();
        await offload?.close();
        await server.close();
        await reports?.close();
        await estimatesClient.close();
        await analysisClient.close();
        await clickhouse.close();
        logger.info(
          { capture: outbox, queuedLeft: queued, queueDrainMs: drainMs, ingest: ingested, stats: server.db.stats() },
          'stopped',
        );
      })();
      return closing;
    },
  };
}
