/**
 * `npm start`: the whole system in one process, embedded ClickHouse (chDB) under ./data, Redis from
 * REDIS_URL — or, when it does not answer, a private redis-server (system/private-redis.ts).
 * `--help` lists every setting; a bad one stops it with exit code 2 before anything starts.
 */
import path from 'node:path';
import { EXIT_FAILURE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { onShutdown } from '../common/shutdown.js';
import { startEmbedded } from './embedded.js';
import { compileEmbeddedOptions, embeddedSpecs } from './options.js';
import { ensureRedis, RedisStartError, RedisUnavailableError } from './private-redis.js';

const specs = embeddedSpecs();
const [simulation, server, redis, capture, clickhouse, ingest, analysis, policy, scheduler, system] = readCommandLine(
  {
    name: 'spike-scheduler',
    description: 'The simulated database, capture into ClickHouse and the rest of the pipeline, in one process.',
  },
  specs.simulation,
  specs.server,
  specs.redis,
  specs.capture,
  specs.clickhouse,
  specs.ingest,
  specs.analysis,
  specs.policy,
  specs.scheduler,
  specs.system,
);
const settings = { simulation, server, redis, capture, clickhouse, ingest, analysis, policy, scheduler, system };
const compile = (redisUrl: string) => compileEmbeddedOptions(settings, redisUrl);
try {
  compile(redis.redisUrl); // every setting checked (exit 2) before anything starts
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}

const logger = createLogger('spike', server.logLevel);
// REDIS_URL, or a private redis-server (append-only, under --private-redis-dir) when it does not answer.
const privateRedis = await ensureRedis({ url: redis.redisUrl, dir: system.privateRedisDir, logger }).catch(
  (err: unknown) => {
    if (!(err instanceof RedisUnavailableError || err instanceof RedisStartError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT_FAILURE);
  },
);
const options = compile(privateRedis.url);
const running = await startEmbedded(options, logger).catch(async (err: unknown) => {
  logger.fatal({ err }, 'could not start');
  await privateRedis.close().catch(() => undefined);
  process.exit(EXIT_FAILURE);
});
const reportFile = options.reportsDir && path.resolve(options.reportsDir, 'spike-report.html');
logger.info(
  {
    api: running.server.url,
    sql: `${running.query.url}/query`,
    reports: reportFile ?? 'off',
    redis: privateRedis.url,
    privateRedis: privateRedis.server ? path.resolve(privateRedis.server.dir) : false,
    prefix: redis.prefix,
    seed: options.simulation.seed,
  },
  `system running: API ${running.server.url}, read-only SQL ${running.query.url}/query (npm run sql), ` +
    `${reportFile ? `report ${reportFile} (rewritten after each analysis run)` : 'reports off'}, Redis ${privateRedis.url}` +
    `${privateRedis.server ? ' (private)' : ''}; Ctrl-C stops it`,
);

onShutdown(
  logger,
  async () => {
    await running.close();
    await privateRedis.close(); // last: the outbox has drained into it
  },
  'unsent records stay in the outbox for the next start',
);
