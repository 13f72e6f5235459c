/**
 * `npm run ingest`: one ingest worker process on its own. Loads its settings (flags, environment,
 * defaults), opens ClickHouse, applies the migrations, consumes the queues until SIGINT/SIGTERM,
 * then drains in-flight batches and exits. A second signal exits at once (jobs in flight are then
 * re-delivered by BullMQ after their locks expire). Run as many as you like on the same queues.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure, 2 on a bad setting.
 */
import { Command } from 'commander';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { addSettingFlags, loadSettings } from '../common/settings.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
} from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { compileIngestOptions, ingestSettings } from './options.js';
import { startIngest } from './worker.js';

const log = createLogger('ingest');

async function main(argv: string[]): Promise<void> {
  const program = new Command('ingest').description('Stores queued executions and metrics windows in ClickHouse.');
  addSettingFlags(program, { ...clickhouseSettings, ...ingestSettings });
  program.parse(argv);
  const flags = program.opts();
  let chOptions, options;
  try {
    chOptions = compileClickHouseOptions(loadSettings(clickhouseSettings, { flags, env: process.env }));
    options = compileIngestOptions(loadSettings(ingestSettings, { flags, env: process.env }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.fatal({ code: err.code, field: err.field }, err.message);
    process.exitCode = 2;
    return;
  }

  const clickhouse = createClickHouse(chOptions.target);
  log.info({ clickhouse: describeTarget(chOptions.target), database: chOptions.database }, 'clickhouse opened');
  await migrate(clickhouse, { database: chOptions.database, retentionDays: chOptions.retentionDays, logger: log });
  const ingest = startIngest({ clickhouse, database: chOptions.database, options, logger: log });

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'shutting down');
      const now = (again: NodeJS.Signals) => {
        log.warn({ signal: again }, 'second signal: exiting now; in-flight jobs will be re-delivered');
        process.exit(130);
      };
      process.once('SIGINT', now);
      process.once('SIGTERM', now);
      resolve();
    };
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      stop(signal);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
  const result = await ingest.close();
  await clickhouse.close();
  log.info(result, 'ingest stopped');
  // Exit explicitly: with Redis unreachable, BullMQ's reconnection loops would keep the process alive.
  process.exit(0);
}

main(process.argv).catch((err: unknown) => {
  const detail =
    err instanceof Error
      ? { name: err.name, code: (err as { code?: unknown }).code, message: err.message }
      : String(err);
  log.fatal({ err: detail }, 'ingest failed');
  // Exit even though connections may still be open (a failed start leaves nothing worth draining).
  process.exit(1);
});
