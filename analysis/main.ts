/**
 * `npx tsx analysis/main.ts`: the analysis component on its own. Loads its settings (flags,
 * environment, defaults), opens ClickHouse, applies the migrations, runs the periodic estimation
 * until SIGINT/SIGTERM, then waits for a run in progress (up to the shutdown timeout) and exits.
 * A second signal exits at once (a run cut short never commits: the previous version stays).
 * Run as many as you like against the same Redis prefix: one run at a time across all of them.
 * With `--reports-dir` (REPORTS_DIR) it writes the HTML report there after each committed run; with
 * `--metrics-port` it serves `GET /metrics`.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure, 2 on a bad setting.
 */
import { EXIT_FAILURE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { createMetricsRegistry, metricsEndpointSettings, startMetricsEndpoint } from '../common/metrics.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
} from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { openDirectReadOnly } from '../clickhouse/query-client.js';
import { readOnlyOptions, type ReadOnlyQueries } from '../clickhouse/read-only.js';
import { startAnalysis } from './job.js';
import { analysisReportSettings, analysisSettings, compileAnalysisOptions } from './options.js';
import { registerAnalysisMetrics } from './metrics.js';
import { preloadReportLibraries, writeReports } from './reports/index.js';

const log = createLogger('analysis');

async function main(): Promise<void> {
  const [ch, an, rep, metricsValues] = readCommandLine(
    { name: 'analysis', description: 'Estimates every query’s cost periodically and publishes versioned estimates.' },
    clickhouseSettings,
    analysisSettings,
    analysisReportSettings,
    metricsEndpointSettings,
  );
  let chOptions, options;
  try {
    chOptions = compileClickHouseOptions(ch);
    options = compileAnalysisOptions(an);
  } catch (err) {
    if (err instanceof ConfigError) exitWithUsageError(err);
    throw err;
  }

  const clickhouse = createClickHouse(chOptions.target);
  log.info({ clickhouse: describeTarget(chOptions.target), database: chOptions.database }, 'clickhouse opened');
  await migrate(clickhouse, { database: chOptions.database, retentionDays: chOptions.retentionDays, logger: log });
  // Reports read through the read-only path, on sessions of their own (guarded and bounded).
  const reportsDir = rep.reportsDir;
  let reader: ReadOnlyQueries | undefined;
  if (reportsDir) {
    await preloadReportLibraries(); // seconds of loading, before the first run rather than during
    const options = readOnlyOptions({ sessions: 1, queueLength: 4 });
    reader = await openDirectReadOnly({ target: chOptions.target, options, logger: log });
  }
  const database = chOptions.database;
  const analysis = startAnalysis({
    clickhouse,
    database,
    options,
    logger: log,
    ...(reader && reportsDir
      ? {
          afterRun: async () => {
            const files = await writeReports({
              query: (sql) => reader.query(sql),
              database,
              outDir: reportsDir,
              logger: log,
            });
            log.info({ files }, 'report written');
          },
        }
      : {}),
  });

  const metrics = createMetricsRegistry();
  registerAnalysisMetrics(metrics, analysis);
  const { metricsPort, metricsHost } = metricsValues;
  const endpoint =
    metricsPort > 0
      ? await startMetricsEndpoint({ registry: metrics, port: metricsPort, host: metricsHost, logger: log })
      : undefined;

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info({ signal }, 'shutting down');
  const now = (again: NodeJS.Signals) => {
    log.warn({ signal: again }, 'second signal: exiting now');
    process.exit(130);
  };
  process.once('SIGINT', now);
  process.once('SIGTERM', now);
  await endpoint?.close();
  await analysis.close();
  await reader?.close();
  await clickhouse.close();
  log.info(analysis.stats(), 'analysis stopped');
  // Exit explicitly: with Redis unreachable, reconnection loops would keep the process alive.
  process.exit(0);
}

main().catch((err: unknown) => {
  const detail =
    err instanceof Error
      ? { name: err.name, code: (err as { code?: unknown }).code, message: err.message }
      : String(err);
  log.fatal({ err: detail }, 'analysis failed');
  process.exit(EXIT_FAILURE);
});
