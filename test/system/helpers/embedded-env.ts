/**
 * The environment every in-process `npm start` test starts from: its own chDB directory and outbox
 * under the test's temporary directory, any free ports, the shared Redis under the test's prefix,
 * no reports. A test passes only what makes it different (seed, load, analysis cadence…).
 */
import { join } from 'node:path';

export function embeddedTestEnv(
  dir: string,
  prefix: string,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PORT: '0',
    QUERY_PORT: '0',
    CLICKHOUSE_HTTP_PORT: '0',
    CLICKHOUSE_DATA: join(dir, 'clickhouse'),
    OUTBOX_DIR: join(dir, 'outbox'),
    WITHOUT_REPORTS: 'true',
    REDIS_PREFIX: prefix,
    // The shared Redis is volatile: the suite's allowance (vitest.config.ts).
    ALLOW_VOLATILE_REDIS: process.env.ALLOW_VOLATILE_REDIS,
    ...overrides,
  };
}
