/**
 * `npm test` on a fresh machine: the tests use the Redis at REDIS_URL (default 127.0.0.1:6379). When
 * nothing answers there and a `redis-server` binary is installed, the suite starts a private one for
 * the run (a free port, a temporary directory, no persistence, like the machine's shared one) and
 * points REDIS_URL at it; the test processes inherit the variable. It is stopped after the run. So
 * `npm ci && npm test` is the whole set-up besides the `redis-server` and `chromium` packages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_REDIS_URL } from '../common/redis-settings.js';
import { REDIS_BINARY, RedisServer, findExecutable, howToGetRedis, pingRedis } from '../system/private-redis.js';
import { BUNDLES_ENV, buildBundles, bundlesDir, entryPoints } from '../system/cli-bundles.js';

const ROOT = path.resolve(import.meta.dirname, '..');

export default async function setup(): Promise<() => Promise<void>> {
  // The entry points, compiled once for the run's child processes (system/cli-bundles.ts).
  const bundles = bundlesDir(ROOT);
  await buildBundles(ROOT, bundles, entryPoints(ROOT));
  process.env[BUNDLES_ENV] = bundles;
  const stopRedis = await redisForTheRun();
  return async () => {
    await stopRedis?.();
    rmSync(bundles, { recursive: true, force: true });
  };
}

async function redisForTheRun(): Promise<(() => Promise<void>) | undefined> {
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  if (await pingRedis(url, 2000)) return undefined;
  if (!findExecutable(REDIS_BINARY)) throw new Error(`npm test needs Redis: ${howToGetRedis(url)}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'spike-test-redis-'));
  const server = await RedisServer.start({ dir, persistence: 'none' });
  process.env.REDIS_URL = server.url;
  process.stderr.write(
    `no Redis answers at ${url}: the tests use a private one at ${server.url} (stopped after the run)\n`,
  );
  return async () => {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
}
