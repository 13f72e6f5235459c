/**
 * `npm run server`: the server component alone — the simulated database with its HTTP API in real
 * time, and the capture layer (durable outbox + relay to BullMQ). `npm start` runs it together with
 * the other components; in compose each runs as its own container.
 * Every parameter of the simulated database (docs/simulation.md "Parameters") is a flag and an environment variable (`--help` lists them).
 * Each start is a run (server/run.ts) of the catalog its data directory was made with (catalog-file.ts);
 * while it runs, `<data-dir>/system.json` says where its API is (common/system-file.ts).
 */
import path from 'node:path';
import { exitWithStartError, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { dataDirSettings, inDataDir, underDataDir } from '../common/data-dir.js';
import { ConfigError } from '../common/errors.js';
import { announceSystem } from '../common/system-file.js';
import { PortInUseError, requireFreePorts } from '../common/listen.js';
import { createLogger, flushLogs } from '../common/logger.js';
import { redisSettings } from '../common/redis-settings.js';
import { onShutdown } from '../common/shutdown.js';
import { toggle } from '../common/settings.js';
import { createMetricsRegistry } from '../common/metrics.js';
import { registerCaptureMetrics } from './metrics.js';
import {
  captureSettings,
  compileCaptureOptions,
  OutboxLockedError,
  requireDurableRedis,
  startCapture,
  VolatileRedisError,
  type Capture,
} from './capture/index.js';
import { CatalogMismatchError, catalogSettings, chooseCatalog, serverSimulationSettings } from './catalog-file.js';
import { compileSimulationOptions, DEFAULT_SIMULATION, serverSettings } from './options.js';
import { newRunId, runStart } from './run.js';
import { API_PORT_SETTING, startServer } from './server.js';

const { redisUrl: _u, prefix: _p, ...captureRest } = captureSettings;
const captureOwn = { ...captureRest, outboxDir: underDataDir(captureRest.outboxDir, 'outbox') };
const serverOnly = {
  withoutCapture: toggle({
    flag: '--without-capture',
    env: 'SERVER_WITHOUT_CAPTURE',
    default: false,
    doc: 'Run the database and its API without capture (no outbox, no Redis).',
  }),
};
const [sim, srv, redis, cap, only, dirs, catalogChoice] = readCommandLine(
  {
    name: 'server',
    description: 'The simulated database, its HTTP API and the capture of its executions, in real time.',
  },
  serverSimulationSettings,
  serverSettings,
  redisSettings,
  captureOwn,
  serverOnly,
  dataDirSettings,
  catalogSettings,
);

let simulation, captureOptions;
try {
  simulation = compileSimulationOptions(
    { ...sim, queryCount: sim.queryCount ?? DEFAULT_SIMULATION.queryCount },
    { startTick: 0, startTime: 0 },
  );
  captureOptions = compileCaptureOptions({
    ...cap,
    outboxDir: inDataDir(dirs.dataDir, cap.outboxDir, 'outbox'),
    ...redis,
  });
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}
// The data directory's catalog, or a new one; another seed on it stops the start (exit 1).
let catalog;
try {
  catalog = chooseCatalog({ dataDir: dirs.dataDir, seed: sim.seed, queryCount: sim.queryCount, ...catalogChoice });
} catch (error) {
  if (error instanceof CatalogMismatchError) exitWithStartError(error);
  throw error;
}
simulation = { ...simulation, seed: catalog.seed, queryCount: catalog.queryCount };
const runId = newRunId();
const logger = createLogger('server', srv.logLevel);
let capture: Capture | undefined;

/** What stops a start with one line that says why: a volatile Redis, another server on the outbox, a busy port. */
async function startRefused(error: unknown): Promise<never> {
  // Started before the API listened (the port taken since the check): stop the relay, release the outbox.
  await capture?.close().catch(() => undefined);
  flushLogs(logger); // the error line comes last
  if (error instanceof VolatileRedisError || error instanceof OutboxLockedError || error instanceof PortInUseError) {
    exitWithStartError(error);
  }
  throw error;
}

// Checked before the outbox opens and the relay starts: a busy port stops the start with one line.
await requireFreePorts([{ port: srv.port, host: srv.host, setting: API_PORT_SETTING }]).catch(startRefused);
if (!only.withoutCapture) {
  // The relay checks again on every reconnect; this makes a volatile Redis stop the start.
  await requireDurableRedis({
    url: captureOptions.redisUrl,
    allowVolatile: captureOptions.allowVolatileRedis,
    logger,
  }).catch(startRefused);
}
const metrics = createMetricsRegistry();
const ledgerDir = srv.ledgerDir || (only.withoutCapture ? undefined : path.join(captureOptions.outboxDir, 'ledger'));
const server = await startServer({
  metrics,
  simulation,
  port: srv.port,
  host: srv.host,
  idleGc: !srv.withoutIdleGc,
  logger,
  ...(ledgerDir ? { ledgerDir } : {}),
  attach: only.withoutCapture
    ? undefined
    : (db) => {
        // Another process may run the scheduler (compose): the run records only that it may.
        const run = runStart({ runId, simulation, firstTick: db.currentTick, scheduling: { mode: 'external' } });
        const c = startCapture({ db, logger, ...captureOptions, run });
        capture = c;
        registerCaptureMetrics(metrics, c);
        return {
          afterTick: (tick) => void c.afterTick(tick),
          stats: () => ({ capture: c.stats(), scheduler: c.schedulerStats() }),
          degraded: () => c.degraded(),
        };
      },
}).catch(startRefused);
catalog.keep();
const announced = announceSystem(dirs.dataDir, {
  runId,
  kind: 'server',
  addresses: { api: server.url, query: null, clickhouseHttp: null },
});
logger.info(
  { runId, seed: simulation.seed, catalog: catalog.reused ? 'reused' : 'new', dataDir: dirs.dataDir },
  'run started',
);

const shutdown = onShutdown(logger, async () => {
  server.driver.stop();
  const captured = await capture?.close();
  await server.close();
  announced.stopped();
  logger.info({ runId, stats: server.db.stats(), capture: captured }, 'final counters');
});
// Fail-stop: a failed tick (an outbox write, say) ends the process once the relay sent what was committed.
void server.failed.then((reason) => shutdown.fail(reason));
