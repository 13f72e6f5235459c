/**
 * The embedded system: every component in one process (ARCHITECTURE.md "Two ways to run").
 * The components still talk only through their contracts — the database's hooks and HTTP API,
 * Redis (BullMQ queues) and ClickHouse — exactly as they do when each runs as its own process;
 * this file only starts them in order and stops them in the reverse order, so nothing is lost:
 *   start: ClickHouse + migrations → ingest → read-only SQL endpoint → analysis (+ reports) →
 *          database + capture → scheduler (at once, or after `startAfterMs` for a before/after run)
 *   stop:  scheduler stops deciding → ticks stop → capture drains its outbox to Redis → ingest stores what is in flight →
 *          analysis finishes its run → endpoints close → ClickHouse closes.
 */
import type { Logger } from '../common/logger.js';
import { createClickHouse, type ClickHouseOptions } from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { startQueryService, type QueryService } from '../clickhouse/query-service.js';
import { startIngest, type IngestHandle, type IngestOptions } from '../ingest/index.js';
import { startAnalysis, type AnalysisHandle, type AnalysisOptions } from '../analysis/index.js';
import { preloadReportLibraries, writeReports } from '../analysis/reports/index.js';
import { queryReadOnly } from '../clickhouse/read-only.js';
import { startCapture, type Capture, type CaptureOptions } from '../server/capture/index.js';
import type { SimulationOptions } from '../server/options.js';
import { startServer, type RunningServer } from '../server/server.js';
import {
  clickHouseEstimates,
  startScheduler,
  type policySettings,
  type SchedulerHandle,
  type SchedulerServiceOptions,
} from '../scheduler/index.js';
import type { SettingValues } from '../common/settings.js';

export interface EmbeddedOptions {
  simulation: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  server: { port: number; host: string; withoutIdleGc: boolean };
  capture: CaptureOptions;
  clickhouse: ClickHouseOptions;
  ingest: IngestOptions;
  analysis: AnalysisOptions;
  queryPort: number;
  /** Where reports are written after each analysis run; null: no reports. */
  reportsDir: string | null;
  /** The live scheduler; null: the database runs unscheduled. `serverUrl` is set from the API's own. */
  scheduler: {
    policy: SettingValues<typeof policySettings>;
    service: Omit<SchedulerServiceOptions, 'serverUrl'>;
    /** Start it this long after the database (a run that starts unscheduled, for before/after). */
    startAfterMs: number;
  } | null;
}

export interface EmbeddedSystem {
  server: RunningServer;
  capture: Capture;
  ingest: IngestHandle;
  analysis: AnalysisHandle;
  query: QueryService;
  /** The scheduler once started (undefined before `startAfterMs` or when turned off). */
  scheduler(): SchedulerHandle | undefined;
  close(): Promise<void>;
}

export async function startEmbedded(o: EmbeddedOptions, logger: Logger): Promise<EmbeddedSystem> {
  const clickhouse = createClickHouse(o.clickhouse.target);
  await migrate(clickhouse, { database: o.clickhouse.database, retentionDays: o.clickhouse.retentionDays, logger });
  const ingest = startIngest({ clickhouse, database: o.clickhouse.database, options: o.ingest, logger });
  // The read-only endpoint gets a client of its own: chDB keeps a setting sent with a query for the
  // rest of that client's session, so `readonly = 1` on a shared client would stop the ingest inserts.
  const readOnlyClient = createClickHouse(o.clickhouse.target);
  const query = await startQueryService({ client: readOnlyClient, port: o.queryPort, logger });
  // Analysis writes estimates through a client of its own too, so its session settings never touch
  // the ingest inserts'. Reports read through the read-only client.
  const analysisClient = createClickHouse(o.clickhouse.target);
  const reportsDir = o.reportsDir;
  if (reportsDir) await preloadReportLibraries(); // seconds of loading, before the first tick rather than during
  const analysis = startAnalysis({
    clickhouse: analysisClient,
    database: o.clickhouse.database,
    options: o.analysis,
    logger,
    ...(reportsDir
      ? {
          afterRun: async () => {
            const files = await writeReports({
              query: (sql) => queryReadOnly(readOnlyClient, sql),
              database: o.clickhouse.database,
              outDir: reportsDir,
              logger,
            });
            logger.info({ files }, 'report written');
          },
        }
      : {}),
  });
  let capture: Capture | undefined;
  let scheduler: SchedulerHandle | undefined;
  const server = await startServer({
    simulation: o.simulation,
    port: o.server.port,
    host: o.server.host,
    // One process: the server's collection in the quiet part of each tick serves the scheduler too.
    idleGc: !o.server.withoutIdleGc,
    logger,
    attach: (db) => {
      capture = startCapture({ db, logger, ...o.capture });
      const c = capture;
      return {
        afterTick: (tick) => void c.afterTick(tick),
        stats: () => ({
          capture: c.stats(),
          ingest: ingest.stats(),
          analysis: analysis.stats(),
          scheduler: scheduler?.figures() ?? null,
        }),
      };
    },
  });
  const started = capture!;
  const s = o.scheduler;
  const startTimer = s
    ? setTimeout(() => {
        scheduler = startScheduler({
          options: { ...s.service, serverUrl: server.url },
          policy: s.policy,
          estimates: clickHouseEstimates(readOnlyClient, o.clickhouse.database),
          logger,
        });
        scheduler.ready.catch((err: unknown) =>
          logger.error({ err }, 'the scheduler could not start; the database runs unscheduled'),
        );
      }, s.startAfterMs)
    : undefined;
  let closing: Promise<void> | undefined;
  return {
    server,
    capture: started,
    ingest,
    analysis,
    query,
    scheduler: () => scheduler,
    close() {
      closing ??= (async () => {
        clearTimeout(startTimer);
        await scheduler?.close();
        server.driver.stop();
        const captured = await started.close();
        const ingested = await ingest.close();
        await analysis.close();
        await server.close();
        await query.close();
        await readOnlyClient.close();
        await analysisClient.close();
        await clickhouse.close();
        logger.info({ capture: captured, ingest: ingested, stats: server.db.stats() }, 'stopped');
      })();
      return closing;
    },
  };
}
