/**
 * The one place the product opens a Redis connection: an ioredis `Redis` for `redis://` URLs, an
 * ioredis `Cluster` for `redis+cluster://` seed lists (redis-url.ts). Both speak the same commands,
 * BullMQ takes either as its `connection`, and the callers pass the same options either way; on a
 * cluster the connection-level ones (retry, offline queue, lazy connect) go to the cluster and the
 * rest to every node's connection. A failover is followed by the cluster client itself: a MOVED
 * reply or a lost node makes it reload the slot map and send the command to the new master.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url.js';

export type RedisClient = Redis | Cluster;

export const SLOTS_REFRESH_MS = 5000;

/** The options the product sets; each means the same on one Redis and on a cluster. */
export type RedisClientOptions = Pick<
  RedisOptions,
  | 'enableOfflineQueue'
  | 'maxRetriesPerRequest'
  | 'retryStrategy'
  | 'connectionName'
  | 'lazyConnect'
  | 'connectTimeout'
  | 'commandTimeout'
>;

export function createRedis(url: string, options: RedisClientOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  if (target.mode === 'single') return new Redis(url, options);
  const { enableOfflineQueue, retryStrategy, lazyConnect, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    // Reload the slot map on a timer too, not only on a MOVED reply: a topology change (a replica
    // promoted, a node added) is noticed even by a connection that is idle, and the relay re-reads
    // the masters' persistence on each reload (server/capture/redis-link.ts).
    slotsRefreshInterval: SLOTS_REFRESH_MS,
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    redisOptions: {
      ...nodeOptions,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
  return new Cluster(target.nodes, clusterOptions);
}

/** The connections a command must reach on each node: the cluster's masters, or the one Redis. */
export function masterNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
