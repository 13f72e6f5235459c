/**
 * `npx tsx analysis/main.ts`: the analysis component on its own. Loads its settings (flags,
 * environment, defaults), opens ClickHouse, applies the migrations, runs the periodic estimation
 * until SIGINT/SIGTERM, then waits for a run in progress (up to the shutdown timeout) and exits.
 * A second signal exits at once (a run cut short never commits: the previous version stays).
 * Run as many as you like against the same Redis prefix: one run at a time across all of them.
 * With `--reports-dir` (REPORTS_DIR) it writes the HTML report there after each committed run.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure, 2 on a bad setting.
 */
import { EXIT_FAILURE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
  type ClickHouseClient,
} from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { queryReadOnly } from '../clickhouse/read-only.js';
import { startAnalysis } from './job.js';
import { analysisReportSettings, analysisSettings, compileAnalysisOptions } from './options.js';
import { preloadReportLibraries, writeReports } from './reports/index.js';

const log = createLogger('analysis');

async function main(): Promise<void> {
  const [ch, an, rep] = readCommandLine(
    { name: 'analysis', description: 'Estimates every query’s cost periodically and publishes versioned estimates.' },
    clickhouseSettings,
    analysisSettings,
    analysisReportSettings,
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
  // Reports read through a client of their own: on chDB a `readonly = 1` stays on the client's session.
  const reportsDir = rep.reportsDir;
  let reader: ClickHouseClient | undefined;
  if (reportsDir) {
    await preloadReportLibraries(); // seconds of loading, before the first run rather than during
    reader = createClickHouse(chOptions.target);
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
              query: (sql) => queryReadOnly(reader, sql),
              database,
              outDir: reportsDir,
              logger: log,
            });
            log.info({ files }, 'report written');
          },
        }
      : {}),
  });

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
