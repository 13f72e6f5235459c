/**
 * `npm run ingest`: one ingest worker process on its own. Loads its settings (flags, environment,
 * defaults), opens ClickHouse, applies the migrations, consumes the queues until SIGINT/SIGTERM,
 * then drains in-flight batches and exits. A second signal exits at once (jobs in flight are then
 * re-delivered by BullMQ after their locks expire). Run as many as you like on the same queues.
 *
 * With `--health-port` it answers `GET /healthz` (ingest/health-endpoint.ts): ok, or degraded with
 * the reasons while records are held because inserts fail; and `GET /metrics` (ingest/metrics.ts).
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure, 2 on a bad setting.
 */
import { exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { onShutdown } from '../common/shutdown.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
} from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { createMetricsRegistry } from '../common/metrics.js';
import { startHealthEndpoint } from './health-endpoint.js';
import { registerIngestMetrics } from './metrics.js';
import { compileIngestOptions, ingestProcessSettings, ingestSettings } from './options.js';
import { startIngest } from './worker.js';

const [chValues, ingestValues, processValues] = readCommandLine(
  { name: 'ingest', description: 'Stores queued executions and metrics windows in ClickHouse.' },
  clickhouseSettings,
  ingestSettings,
  ingestProcessSettings,
);
let chOptions, options;
try {
  chOptions = compileClickHouseOptions(chValues);
  options = compileIngestOptions(ingestValues);
} catch (err) {
  if (err instanceof ConfigError) exitWithUsageError(err);
  throw err;
}

const log = createLogger('ingest');
try {
  const clickhouse = createClickHouse(chOptions.target);
  log.info({ clickhouse: describeTarget(chOptions.target), database: chOptions.database }, 'clickhouse opened');
  await migrate(clickhouse, { database: chOptions.database, retentionDays: chOptions.retentionDays, logger: log });
  const ingest = startIngest({ clickhouse, database: chOptions.database, options, logger: log });
  const { healthPort, healthHost } = processValues;
  const metrics = createMetricsRegistry();
  registerIngestMetrics(metrics, ingest);
  const health =
    healthPort > 0
      ? await startHealthEndpoint({ ingest, port: healthPort, host: healthHost, metrics, logger: log })
      : undefined;
  onShutdown(
    log,
    async () => {
      const result = await ingest.close();
      await health?.close();
      await clickhouse.close();
      log.info(result, 'ingest stopped');
    },
    'in-flight jobs will be re-delivered',
  );
} catch (err) {
  const detail =
    err instanceof Error
      ? { name: err.name, code: (err as { code?: unknown }).code, message: err.message }
      : String(err);
  log.fatal({ err: detail }, 'ingest failed');
  // Exit even though connections may still be open (a failed start leaves nothing worth draining).
  process.exit(1);
}
