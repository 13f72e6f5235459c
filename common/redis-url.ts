/**
 * What `REDIS_URL` names: one Redis (`redis://…`, `rediss://…`, as ioredis reads them) or a Redis
 * Cluster (`redis+cluster://[user:password@]host:port,host:port,…` — seed nodes, any few of the
 * cluster's nodes; the client discovers the rest). On a cluster every key of one prefix must live
 * in one hash slot — a BullMQ queue's scripts touch several of its keys at once, and BullMQ refuses
 * a cluster prefix without braces — so the prefix becomes the hash tag `{prefix}`; on one Redis the
 * key names stay what they always were.
 */
import { SpikeError } from './errors.js';

export interface ClusterNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: ClusterNode[]; username?: string; password?: string; tls: boolean };

/** A `REDIS_URL` that names neither one Redis nor a cluster; the message says what is wrong. */
export class RedisUrlError extends SpikeError {
  constructor(
    readonly url: string,
    readonly rule: string,
  ) {
    super('REDIS_URL_INVALID', `REDIS_URL (--redis-url) = ${JSON.stringify(url)}: ${rule}`);
  }
}

export const REDIS_URL_RULE =
  'must be a redis:// or rediss:// URL, or redis+cluster://host:port,host:port,… (seed nodes of a Redis Cluster)';

const CLUSTER = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#@]+)\/?$/;
const NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

/** Parses `url`; throws RedisUrlError with the rule it broke. */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\/\S+$/.test(url)) return { mode: 'single', url };
  const m = CLUSTER.exec(url);
  if (!m) throw new RedisUrlError(url, REDIS_URL_RULE);
  const [, scheme, auth, list] = m;
  const nodes = list!.split(',').map((part) => {
    const n = NODE.exec(part.trim());
    const port = Number(n?.[2]);
    if (!n || port < 1 || port > 65535) {
      throw new RedisUrlError(url, `cluster node ${JSON.stringify(part)} must be host:port (port 1–65535)`);
    }
    return { host: n[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const [user, password] = auth === undefined ? [] : splitAuth(url, auth);
  return {
    mode: 'cluster',
    nodes,
    ...(user ? { username: user } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: scheme === 'rediss',
  };
}

function splitAuth(url: string, auth: string): [string | undefined, string | undefined] {
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new RedisUrlError(url, 'the user name and password must be percent-encoded (%XX)');
    }
  };
  const i = auth.indexOf(':');
  if (i < 0) return [decode(auth) || undefined, undefined];
  return [decode(auth.slice(0, i)) || undefined, decode(auth.slice(i + 1))];
}

export function isClusterUrl(url: string): boolean {
  return parseRedisUrl(url).mode === 'cluster';
}

/**
 * The prefix every key and queue of a run is written under: `prefix` on one Redis, `{prefix}` on
 * a cluster (one hash slot for the queues, the stream, the locks and the figures of a run).
 */
export function redisKeyPrefix(url: string, prefix: string): string {
  return isClusterUrl(url) ? `{${prefix}}` : prefix;
}
