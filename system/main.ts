/**
 * `npm start`: the whole system in one process, embedded ClickHouse (chDB) under ./data, Redis from
 * REDIS_URL. `--help` lists every setting; a bad one stops it with exit code 2 before anything starts.
 */
import { buildProgram, exitWithUsageError, parseCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { onShutdown } from '../common/shutdown.js';
import { compileClickHouseOptions } from '../clickhouse/client.js';
import { compileIngestOptions } from '../ingest/options.js';
import { compileAnalysisOptions } from '../analysis/options.js';
import { compileCaptureOptions } from '../server/capture/options.js';
import { compileSimulationOptions } from '../server/options.js';
import { startEmbedded, type EmbeddedOptions } from './embedded.js';
import { embeddedSpecs } from './options.js';

const specs = embeddedSpecs();
const program = buildProgram(
  'spike-scheduler',
  'The simulated database, capture into ClickHouse and the rest of the pipeline, in one process.',
  ...Object.values(specs),
);
const [simulation, server, redis, capture, clickhouse, ingest, analysis, system] = parseCommandLine(
  program,
  process.argv.slice(2),
  process.env,
  specs.simulation,
  specs.server,
  specs.redis,
  specs.capture,
  specs.clickhouse,
  specs.ingest,
  specs.analysis,
  specs.system,
);

let options: EmbeddedOptions;
try {
  options = {
    simulation: compileSimulationOptions(simulation, { startTick: 0, startTime: 0 }),
    server,
    capture: compileCaptureOptions({ ...capture, ...redis }),
    clickhouse: compileClickHouseOptions(clickhouse),
    ingest: compileIngestOptions({ ...ingest, ...redis }),
    analysis: compileAnalysisOptions({ ...analysis, ...redis }),
    queryPort: system.queryPort,
    reportsDir: system.noReports ? null : system.reportsDir,
  };
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}

const logger = createLogger('spike', server.logLevel);
const running = await startEmbedded(options, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'could not start');
  process.exit(1);
});
logger.info(
  {
    api: running.server.url,
    sql: running.query.url,
    seed: options.simulation.seed,
    redis: redis.redisUrl,
    prefix: redis.prefix,
  },
  'system running',
);

onShutdown(logger, () => running.close(), 'unsent records stay in the outbox for the next start');
