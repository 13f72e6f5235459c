/**
 * A Redis connection for a command-line tool or a probe: it connects once, within `timeoutMs`,
 * and never reconnects or retries a command, so an unreachable Redis is an error at once, with the
 * connection's own reason (ECONNREFUSED…), rather than a wait.
 */
import { createRedis, type RedisClient } from './redis-client.js';

export async function connectOnce(url: string, timeoutMs: number, commandTimeoutMs = timeoutMs): Promise<RedisClient> {
  const redis = createRedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    throw cause ?? err;
  }
}
