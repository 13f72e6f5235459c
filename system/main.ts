/**
 * `npm start`: the whole system in one process, embedded ClickHouse (chDB) under ./data, Redis from
 * REDIS_URL — or, when it does not answer (or, unset, the default one is not durable), a private
 * redis-server (system/private-redis.ts).
 * `--help` lists every setting; a bad one stops it with exit code 2 before anything starts.
 * Everything lives under `--data-dir` (./data): the data, the catalog the directory was made with
 * (reused on every start; another --seed is refused, exit 1) and, while running, system.json with
 * the addresses the tools read.
 */
import path from 'node:path';
import { EXIT_FAILURE, exitWithStartError, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { PortInUseError } from '../common/listen.js';
import { DEFAULT_REDIS_URL } from '../common/redis-settings.js';
import { createLogger, flushLogs } from '../common/logger.js';
import { onShutdown } from '../common/shutdown.js';
import { announceSystem } from '../common/system-file.js';
import { OutboxLockedError, VolatileRedisError } from '../server/capture/index.js';
import { CatalogMismatchError, chooseCatalog } from '../server/catalog-file.js';
import { startEmbedded } from './embedded.js';
import { compileEmbeddedOptions, embeddedSpecs, privateRedisDirOf } from './options.js';
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
const redisUrl = redis.redisUrl ?? DEFAULT_REDIS_URL;
try {
  compile(redisUrl); // every setting checked (exit 2) before anything starts
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}
// The data directory's catalog (one database across restarts), or a new one; exit 1 on another seed.
const catalog = (() => {
  try {
    return chooseCatalog({
      dataDir: system.dataDir,
      seed: simulation.seed,
      queryCount: simulation.queryCount,
      newCatalog: system.newCatalog,
    });
  } catch (error) {
    if (error instanceof CatalogMismatchError) exitWithStartError(error);
    throw error;
  }
})();
settings.simulation = { ...simulation, seed: catalog.seed, queryCount: catalog.queryCount };

const logger = createLogger('spike', server.logLevel);
// REDIS_URL, or a private redis-server (append-only, under --private-redis-dir) when it does not
// answer, or when it was not given and the default one does not persist what it acknowledges.
const privateRedis = await ensureRedis({
  url: redisUrl,
  explicit: redis.redisUrl !== undefined,
  allowVolatile: capture.allowVolatileRedis,
  dir: privateRedisDirOf(system),
  logger,
}).catch((err: unknown) => {
  if (err instanceof RedisUnavailableError || err instanceof RedisStartError || err instanceof VolatileRedisError) {
    exitWithStartError(err);
  }
  throw err;
});
const options = compile(privateRedis.url);
const running = await startEmbedded(options, logger).catch(async (err: unknown) => {
  // startEmbedded closed what it had started (chDB included) before rejecting.
  await privateRedis.close().catch(() => undefined);
  flushLogs(logger); // the error line comes last
  // Another process on the outbox, a busy port, a Redis the relay refuses: one line that says why.
  if (err instanceof OutboxLockedError || err instanceof PortInUseError || err instanceof VolatileRedisError) {
    exitWithStartError(err);
  }
  logger.fatal({ err }, 'could not start');
  process.exit(EXIT_FAILURE);
});
catalog.keep();
const announced = announceSystem(system.dataDir, {
  runId: running.runId,
  kind: 'embedded',
  addresses: {
    api: running.server.url,
    query: `${running.query.url}/query`,
    clickhouseHttp: running.clickhouseHttp?.url ?? null,
  },
});
const reportFile = options.reportsDir && path.resolve(options.reportsDir, 'spike-report.html');
logger.info(
  {
    api: running.server.url,
    sql: `${running.query.url}/query`,
    clickhouseHttp: running.clickhouseHttp?.url ?? 'off',
    metrics: `${running.server.url}/metrics`,
    reports: reportFile ?? 'off',
    redis: privateRedis.url,
    privateRedis: privateRedis.server ? path.resolve(privateRedis.server.dir) : false,
    prefix: redis.prefix,
    seed: options.simulation.seed,
    catalog: catalog.reused ? 'reused' : 'new',
    runId: running.runId,
    dataDir: path.resolve(system.dataDir),
  },
  `system running: API ${running.server.url}, read-only SQL ${running.query.url}/query, ` +
    `${running.clickhouseHttp ? `ClickHouse HTTP ${running.clickhouseHttp.url} (npm run sql, curl, DBeaver, Grafana), ` : ''}` +
    `${reportFile ? `report ${reportFile} (rewritten after each analysis run)` : 'reports off'}, Redis ${privateRedis.url}` +
    `${privateRedis.server ? ' (private)' : ''}; Ctrl-C stops it`,
);

const shutdown = onShutdown(
  logger,
  async () => {
    await running.close();
    announced.stopped();
    await privateRedis.close(); // last: the outbox has drained into it
  },
  'unsent records stay in the outbox for the next start',
);
// Fail-stop: a failed tick (an outbox write, say) stops the system once what was committed is stored.
void running.failed.then((reason) => shutdown.fail(reason));
