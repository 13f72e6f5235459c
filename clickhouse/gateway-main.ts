/**
 * `npm run clickhouse:gateway`: one process that owns the embedded ClickHouse (chDB) data directory
 * and serves ClickHouse's HTTP interface on it (http-gateway.ts), so that the components can run as
 * separate processes with `CLICKHOUSE_URL=http://127.0.0.1:8123` and no ClickHouse server.
 * Stops on SIGINT/SIGTERM after the requests in flight are answered.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a startup failure (e.g. the directory is held by
 * another process, or the port is taken), 2 on a bad setting.
 */
import { EXIT_FAILURE, readCommandLine } from '../common/cli.js';
import { createLogger } from '../common/logger.js';
import { onShutdown } from '../common/shutdown.js';
import { gatewaySettings, startClickHouseGateway } from './http-gateway.js';

const [settings] = readCommandLine(
  {
    name: 'clickhouse-gateway',
    description:
      "Serves ClickHouse's HTTP interface on an embedded chDB data directory, for components run as separate processes.",
  },
  gatewaySettings,
);
const logger = createLogger('clickhouse-gateway');

try {
  const gateway = await startClickHouseGateway({ ...settings, logger });
  onShutdown(logger, () => gateway.close(), 'requests in flight are cut off');
} catch (err) {
  const detail =
    err instanceof Error
      ? { name: err.name, code: (err as { code?: unknown }).code, message: err.message }
      : String(err);
  logger.fatal({ err: detail }, 'clickhouse gateway failed to start');
  process.exit(EXIT_FAILURE);
}
