/**
 * REDIS_URL names one Redis or a Redis Cluster's seed nodes; a bad value stops the program with a
 * message naming the setting. On a cluster the run's keys go under the hash tag `{prefix}`, and the
 * cluster is as durable as its weakest master.
 */
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../../common/redis-client.js';
import { redisSettings } from '../../common/redis-settings.js';
import { parseRedisUrl, redisKeyPrefix, RedisUrlError } from '../../common/redis-url.js';
import { loadSettings } from '../../common/settings.js';
import { judgeCluster, judgeConfig } from '../../server/capture/redis-persistence.js';

const load = (url: string) => loadSettings({ redisUrl: redisSettings.redisUrl }, { env: { REDIS_URL: url } }).redisUrl;

describe('REDIS_URL', () => {
  it('takes one Redis as ioredis reads it, and a cluster as a list of seed nodes', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,redis-b:7001,[::1]:7002')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://app:s%40cret@h:7000')).toEqual({
      mode: 'cluster',
      nodes: [{ host: 'h', port: 7000 }],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(load('redis+cluster://a:7000,b:7001')).toBe('redis+cluster://a:7000,b:7001');
  });

  it('refuses anything else, naming the setting and what is wrong', () => {
    expect(() => parseRedisUrl('redis+cluster://a:7000,b')).toThrow(RedisUrlError);
    expect(() => load('redis+cluster://a:7000,b')).toThrow(
      'redisUrl (REDIS_URL) = "redis+cluster://a:7000,b": cluster node "b" must be host:port (port 1–65535)',
    );
    expect(() => load('redis+cluster://a:70000')).toThrow('cluster node "a:70000" must be host:port');
    expect(() => load('redis+cluster://u:%E0%A4%A@a:7000')).toThrow(
      'the user name and password must be percent-encoded',
    );
    expect(() => load('http://a:6379')).toThrow(
      'must be a redis:// or rediss:// URL, or redis+cluster://host:port,host:port,… (seed nodes of a Redis Cluster)',
    );
  });

  it('opens a Cluster client for a cluster URL, a Redis client otherwise', () => {
    const single = createRedis('redis://127.0.0.1:1', { lazyConnect: true });
    const cluster = createRedis('redis+cluster://127.0.0.1:1,127.0.0.1:2', { lazyConnect: true });
    expect(single).toBeInstanceOf(Redis);
    expect(cluster).toBeInstanceOf(Cluster);
    single.disconnect();
    cluster.disconnect();
  });

  it('puts a cluster run under the hash tag {prefix}, and leaves single-Redis key names as they were', () => {
    expect(redisKeyPrefix('redis://127.0.0.1:6379', 'spike')).toBe('spike');
    expect(redisKeyPrefix('redis+cluster://a:7000', 'spike')).toBe('{spike}');
  });
});

describe('a cluster’s persistence', () => {
  it('is that of its weakest master, which the verdict names', () => {
    const durable = judgeConfig('yes', 'always');
    const all = judgeCluster([
      { node: 'a:7000', found: durable },
      { node: 'b:7001', found: durable },
    ]);
    expect(all.verdict).toBe('durable');
    expect(all.detail).toBe(`every master of the cluster (a:7000, b:7001): ${durable.detail}`);
    const one = judgeCluster([
      { node: 'a:7000', found: durable },
      { node: 'b:7001', found: judgeConfig('no', 'everysec') },
    ]);
    expect(one.verdict).toBe('volatile');
    expect(one.detail).toMatch(/^master b:7001 of the cluster: appendonly no, appendfsync everysec: /);
  });
});
