/**
 * `npm run scheduler`: the live scheduler on its own. Reads the queued-events stream from Redis,
 * the latest estimates from ClickHouse, and sends `POST /delay` to the database at SERVER_URL.
 * Stops on SIGINT/SIGTERM after the decisions in flight. A restart rebuilds its plan from
 * `GET /queued`, so it may be killed at any moment. With `--metrics-port` it serves `GET /metrics`.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure, 2 on a bad setting.
 */
import { EXIT_FAILURE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { redisSettings } from '../common/redis-settings.js';
import { onShutdown } from '../common/shutdown.js';
import { createMetricsRegistry, metricsEndpointSettings, startMetricsEndpoint } from '../common/metrics.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
} from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { clickHouseEstimates } from './estimate-source.js';
import { policySettings } from './options.js';
import { registerSchedulerMetrics } from './metrics.js';
import { startScheduler } from './service.js';
import { compileServiceOptions, schedulerServiceSettings } from './service-options.js';

const log = createLogger('scheduler');
const [policy, service, redis, ch, metricsValues] = readCommandLine(
  {
    name: 'scheduler',
    description: 'Schedules the database’s queued executions in real time to keep CPU, I/O and memory level.',
  },
  policySettings,
  schedulerServiceSettings,
  redisSettings,
  clickhouseSettings,
  metricsEndpointSettings,
);
let options, chOptions;
try {
  options = { ...compileServiceOptions({ ...service, ...redis }), serverUrl: service.serverUrl };
  chOptions = compileClickHouseOptions(ch);
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}

try {
  const clickhouse = createClickHouse(chOptions.target);
  log.info({ clickhouse: describeTarget(chOptions.target) }, 'clickhouse opened');
  await migrate(clickhouse, { database: chOptions.database, retentionDays: chOptions.retentionDays, logger: log });
  const metrics = createMetricsRegistry();
  // Read at a scrape, which the endpoint started below serves: the scheduler exists by then.
  const schedulerMetrics = registerSchedulerMetrics(metrics, () => scheduler.figures());
  const scheduler = startScheduler({
    options,
    policy,
    estimates: clickHouseEstimates(clickhouse, chOptions.database),
    logger: log,
    onDecision: schedulerMetrics.onDecision,
  });
  const { metricsPort, metricsHost } = metricsValues;
  const endpoint =
    metricsPort > 0
      ? await startMetricsEndpoint({ registry: metrics, port: metricsPort, host: metricsHost, logger: log })
      : undefined;
  // Registered before `ready`: Ctrl-C while it waits for the database ends the wait cleanly.
  onShutdown(log, async () => {
    await endpoint?.close();
    await scheduler.close();
    await clickhouse.close();
  });
  await scheduler.ready;
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  log.fatal(
    { err: error instanceof Error ? { name: error.name, message: error.message } : String(error) },
    'scheduler failed',
  );
  process.exit(EXIT_FAILURE);
}
