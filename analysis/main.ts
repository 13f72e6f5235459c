/**
 * `npx tsx analysis/main.ts`: the analysis component on its own. Loads its settings (flags,
 * environment, defaults), opens ClickHouse, applies the migrations, runs the periodic estimation
 * until SIGINT/SIGTERM, then waits for a run in progress (up to the shutdown timeout) and exits.
 * A second signal exits at once (a run cut short never commits: the previous version stays).
 * Run as many as you like against the same Redis prefix: one run at a time across all of them.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure, 2 on a bad setting.
 */
import { buildProgram, EXIT_FAILURE, exitWithUsageError, parseCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
} from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { startAnalysis } from './job.js';
import { analysisSettings, compileAnalysisOptions } from './options.js';

const log = createLogger('analysis');

async function main(): Promise<void> {
  const program = buildProgram(
    'analysis',
    'Estimates every query’s cost periodically and publishes versioned estimates.',
    clickhouseSettings,
    analysisSettings,
  );
  const [ch, an] = parseCommandLine(program, process.argv.slice(2), process.env, clickhouseSettings, analysisSettings);
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
  const analysis = startAnalysis({ clickhouse, database: chOptions.database, options, logger: log });

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
