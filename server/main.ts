/**
 * `npm run server`: the server component alone — the simulated database with its HTTP API in real
 * time, and the capture layer (durable outbox + relay to BullMQ). `npm start` runs it together with
 * the other components; in compose each runs as its own container.
 * Every SIMULATION.md parameter is a flag and an environment variable (`--help` lists them).
 */
import { exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { redisSettings } from '../common/redis-settings.js';
import { onShutdown } from '../common/shutdown.js';
import { toggle } from '../common/settings.js';
import { captureSettings, compileCaptureOptions, startCapture, type Capture } from './capture/index.js';
import { compileSimulationOptions, serverSettings, simulationSettings } from './options.js';
import { startServer } from './server.js';

const { redisUrl: _u, prefix: _p, ...captureOwn } = captureSettings;
const serverOnly = {
  withoutCapture: toggle({
    flag: '--without-capture',
    env: 'SERVER_WITHOUT_CAPTURE',
    default: false,
    doc: 'Run the database and its API without capture (no outbox, no Redis).',
  }),
};
const [sim, srv, redis, cap, only] = readCommandLine(
  {
    name: 'server',
    description: 'The simulated database, its HTTP API and the capture of its executions, in real time.',
  },
  simulationSettings,
  serverSettings,
  redisSettings,
  captureOwn,
  serverOnly,
);

let simulation, captureOptions;
try {
  simulation = compileSimulationOptions(sim, { startTick: 0, startTime: 0 });
  captureOptions = compileCaptureOptions({ ...cap, ...redis });
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}
const logger = createLogger('server', srv.logLevel);
let capture: Capture | undefined;
const server = await startServer({
  simulation,
  port: srv.port,
  host: srv.host,
  idleGc: !srv.withoutIdleGc,
  logger,
  attach: only.withoutCapture
    ? undefined
    : (db) => {
        const c = startCapture({ db, logger, ...captureOptions });
        capture = c;
        return {
          afterTick: (tick) => void c.afterTick(tick),
          stats: () => ({ capture: c.stats(), scheduler: c.schedulerStats() }),
        };
      },
});

onShutdown(logger, async () => {
  server.driver.stop();
  const captured = await capture?.close();
  await server.close();
  logger.info({ stats: server.db.stats(), capture: captured }, 'final counters');
});
