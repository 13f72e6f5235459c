/**
 * `npm start` / `npm run server`: the simulated database with its HTTP API in real time.
 * Every SIMULATION.md parameter is a flag and an environment variable (`--help` lists them).
 */
import { buildProgram, exitWithUsageError, parseCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { onShutdown } from '../common/shutdown.js';
import { compileSimulationOptions, serverSettings, simulationSettings } from './options.js';
import { startServer } from './server.js';

const program = buildProgram(
  'server',
  'The simulated database and its HTTP API, in real time.',
  simulationSettings,
  serverSettings,
);
const [sim, srv] = parseCommandLine(program, process.argv.slice(2), process.env, simulationSettings, serverSettings);

let simulation;
try {
  simulation = compileSimulationOptions(sim, { startTick: 0, startTime: 0 });
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}
const logger = createLogger('server', srv.logLevel);
const server = await startServer({ simulation, port: srv.port, host: srv.host, logger });

onShutdown(logger, () => {
  logger.info({ stats: server.db.stats() }, 'final counters');
  return server.close();
});
