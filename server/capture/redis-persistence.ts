/**
 * Is the Redis the relay sends to durable? The relay deletes an outbox record once Redis has
 * acknowledged it, so from then on Redis holds the only copy until ingest has stored it: a Redis
 * that keeps its data in memory only loses those jobs when it restarts. Durable here means
 * append-only persistence with an fsync policy that bounds the loss:
 *   appendonly yes + appendfsync always    nothing acknowledged is lost;
 *   appendonly yes + appendfsync everysec  a crash of Redis or its machine can lose the last second
 *                                          or two of acknowledged jobs (Redis's own bound);
 *   appendonly yes + appendfsync no        volatile: the kernel flushes when it likes (~30 s);
 *   appendonly no (snapshots or nothing)   volatile: a restart loses everything since the last snapshot.
 * The settings are read with `CONFIG GET`; where CONFIG is renamed or forbidden (managed Redis,
 * ACLs) `INFO persistence` still tells whether the AOF is on, though not its fsync policy.
 * Pure judgement (`judgeConfig`, `judgeInfo`) is separate from the round trips (`probePersistence`).
 */
import type { Redis } from 'ioredis';
import { createRedis, isCluster, type RedisClient } from '../../common/redis-client.js';
import { isClusterUrl } from '../../common/redis-url.js';
import type { Logger } from '../../common/logger.js';
import { VolatileRedisError } from './errors.js';

export type PersistenceVerdict = 'durable' | 'volatile' | 'unknown';

export interface RedisPersistence {
  verdict: PersistenceVerdict;
  /** Where the settings were read: `CONFIG GET`, `INFO persistence`, or neither (both refused). */
  source: 'config' | 'info' | 'none';
  /** As Redis reported them; null where the source does not show them. */
  appendonly: string | null;
  appendfsync: string | null;
  /** One line for people: what was found and what it means. */
  detail: string;
}

const FSYNC_DURABLE = ['always', 'everysec'];

/** The verdict on `CONFIG GET appendonly` / `appendfsync`. */
export function judgeConfig(appendonly: string, appendfsync: string): RedisPersistence {
  const settings = `appendonly ${appendonly}, appendfsync ${appendfsync}`;
  const base = { source: 'config' as const, appendonly, appendfsync };
  if (appendonly !== 'yes') {
    return {
      ...base,
      verdict: 'volatile',
      detail: `${settings}: Redis keeps its data in memory (and at most in periodic snapshots), so a restart loses the jobs it acknowledged since the last one`,
    };
  }
  if (!FSYNC_DURABLE.includes(appendfsync)) {
    return {
      ...base,
      verdict: 'volatile',
      detail: `${settings}: the operating system decides when the append-only file reaches the disk (typically within 30 s), so a crash of the machine loses the jobs acknowledged since`,
    };
  }
  const risk =
    appendfsync === 'always'
      ? 'every acknowledged write is on disk'
      : 'a crash of Redis or its machine can lose the last second or two of acknowledged jobs';
  return { ...base, verdict: 'durable', detail: `${settings}: ${risk}` };
}

/** The verdict on `INFO persistence` (CONFIG unavailable): the AOF's state, not its fsync policy. */
export function judgeInfo(info: string): RedisPersistence {
  const aof = /^aof_enabled:(\d+)\s*$/m.exec(info)?.[1];
  const base = { source: 'info' as const, appendfsync: null };
  if (aof === undefined) {
    return {
      ...base,
      verdict: 'unknown',
      appendonly: null,
      detail: 'INFO persistence does not report aof_enabled',
    };
  }
  if (aof === '0') {
    return {
      ...base,
      verdict: 'volatile',
      appendonly: 'no',
      detail:
        'aof_enabled:0 (INFO persistence): Redis keeps its data in memory (and at most in periodic snapshots), so a restart loses the jobs it acknowledged since the last one',
    };
  }
  return {
    ...base,
    verdict: 'durable',
    appendonly: 'yes',
    detail:
      'aof_enabled:1 (INFO persistence; CONFIG is not available, so the fsync policy is not visible: make sure it is appendfsync always or everysec)',
  };
}

/** A reply from Redis refusing a command (unknown or renamed command, ACL), as opposed to a lost connection. */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === 'ReplyError' || /^(ERR|NOPERM|NOAUTH|WRONGPASS)\b/.test(error.message))
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Reads the persistence settings over `client` (a connection that is ready): CONFIG GET, else INFO
 * persistence. A refused command gives the next source a try; a lost connection or a timeout
 * rejects, and the caller checks again on the next connection. On a cluster every master holds
 * some of the keys, so every master is read and the cluster is as durable as its weakest master.
 */
export async function probePersistence(client: RedisClient, timeoutMs: number): Promise<RedisPersistence> {
  if (!isCluster(client)) return probeNode(client, timeoutMs);
  const masters = client.nodes('master');
  if (masters.length === 0) throw new Error('no master of the cluster is known yet');
  const found = await Promise.all(masters.map((node) => probeNode(node, timeoutMs)));
  return judgeCluster(
    masters.map((node, i) => ({ node: `${node.options.host}:${node.options.port}`, found: found[i]! })),
  );
}

const RANK: Record<PersistenceVerdict, number> = { durable: 0, unknown: 1, volatile: 2 };

/** The verdict on a cluster: its weakest master's, naming that master. */
export function judgeCluster(masters: { node: string; found: RedisPersistence }[]): RedisPersistence {
  const worst = masters.reduce((a, b) => (RANK[b.found.verdict] > RANK[a.found.verdict] ? b : a));
  const detail =
    worst.found.verdict === 'durable'
      ? `every master of the cluster (${masters.map((m) => m.node).join(', ')}): ${worst.found.detail}`
      : `master ${worst.node} of the cluster: ${worst.found.detail}`;
  return { ...worst.found, detail };
}

async function probeNode(client: Redis, timeoutMs: number): Promise<RedisPersistence> {
  let configError: string;
  try {
    // One parameter per CONFIG GET: several in one call need Redis 7.
    const value = async (name: string) => {
      const reply = await withTimeout(client.config('GET', name), timeoutMs);
      return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : '';
    };
    return judgeConfig(await value('appendonly'), await value('appendfsync'));
  } catch (error) {
    if (!isRefusal(error)) throw error;
    configError = (error as Error).message;
  }
  try {
    return judgeInfo(await withTimeout(client.info('persistence'), timeoutMs));
  } catch (error) {
    if (!isRefusal(error)) throw error;
    return {
      verdict: 'unknown',
      source: 'none',
      appendonly: null,
      appendfsync: null,
      detail: `Redis refused both CONFIG GET (${configError}) and INFO persistence (${(error as Error).message})`,
    };
  }
}

/** Why the relay will not send to this Redis, and the ways out, for the error message and the log. */
export function volatileRedisMessage(url: string, p: RedisPersistence): string {
  const what =
    p.verdict === 'unknown'
      ? `the relay cannot tell whether Redis at ${url} persists what it acknowledges: ${p.detail}.`
      : `Redis at ${url} is not durable: ${p.detail}.`;
  const fix =
    p.verdict === 'unknown'
      ? `Let the relay's Redis user run CONFIG GET (or INFO), or`
      : `Turn on append-only persistence: in redis.conf "appendonly yes" and "appendfsync everysec" (or "always"), or at runtime ` +
        (isClusterUrl(url)
          ? `on every node of the cluster "redis-cli -h <host> -p <port> CONFIG SET appendonly yes" then "CONFIG REWRITE"; or`
          : `"redis-cli -u ${url} CONFIG SET appendonly yes" then "CONFIG REWRITE"; or`);
  return [
    what,
    'The relay deletes outbox records once Redis has acknowledged them, so such a Redis could lose them for good.',
    `${fix} accept the risk (tests, throwaway runs) with --allow-volatile-redis (ALLOW_VOLATILE_REDIS=1).`,
  ].join(' ');
}

/**
 * One check with a connection of its own, for an entry point before it starts: the persistence, or
 * null when Redis does not answer within `timeoutMs` (the relay checks once it does).
 */
export async function readRedisPersistence(url: string, timeoutMs = 2000): Promise<RedisPersistence | null> {
  const client = createRedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'spike-persistence-check',
  });
  client.on('error', () => undefined);
  try {
    await withTimeout(client.connect(), timeoutMs);
    return await probePersistence(client, timeoutMs);
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/**
 * The start-up check of an entry point that runs the relay: throws VolatileRedisError when Redis
 * answers and is not durable, unless `allowVolatile`. Logs what it found either way.
 */
export async function requireDurableRedis(p: {
  url: string;
  allowVolatile: boolean;
  logger: Logger;
  timeoutMs?: number;
}): Promise<RedisPersistence | null> {
  const found = await readRedisPersistence(p.url, p.timeoutMs);
  if (found === null) {
    p.logger.info({ redisUrl: p.url }, 'Redis does not answer yet; its persistence is checked once it does');
  } else if (found.verdict === 'durable') {
    p.logger.info({ redisUrl: p.url, persistence: found }, 'Redis is durable');
  } else if (p.allowVolatile) {
    p.logger.warn({ redisUrl: p.url, persistence: found }, 'Redis is not durable; continuing (--allow-volatile-redis)');
  } else {
    throw new VolatileRedisError(p.url, found, volatileRedisMessage(p.url, found));
  }
  return found;
}
