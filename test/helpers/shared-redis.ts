/**
 * The machine's shared Redis, as the component tests use it: each test works under its own random
 * key prefix and removes every key of that prefix afterwards; `waitFor` polls for what the
 * components write there. It has no persistence, so captures need the suite's allowance.
 */
import type { Redis } from 'ioredis';
import { loadSettings } from '../../common/settings.js';
import { captureSettings } from '../../server/capture/options.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Whether captures may relay to a volatile Redis, read from the environment as every entry point
 * reads it: vitest.config.ts allows it for the whole suite, because the shared Redis is volatile.
 */
export const ALLOW_VOLATILE_REDIS = loadSettings(
  { allowVolatileRedis: captureSettings.allowVolatileRedis },
  { env: process.env },
).allowVolatileRedis;

/** Deletes every key under `prefix` (`prefix:*`), then closes the connection. */
export async function removePrefixAndQuit(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

/** Polls `check` every 25 ms until it returns true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
