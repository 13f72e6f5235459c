/**
 * What counts as a durable Redis, judged from real redis-servers on free ports (never the shared
 * one): append-only with fsync always or everysec is durable; no AOF, or fsync left to the kernel,
 * is not; with CONFIG renamed the AOF's state is read from INFO persistence; with neither command
 * allowed the verdict is unknown. An entry point's start-up check refuses what is not durable
 * unless volatile Redis is allowed, with a message that says why and how to fix it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/logger.js';
import { freePort } from '../../../common/free-port.js';
import { VolatileRedisError } from '../../../server/capture/errors.js';
import {
  judgeConfig,
  judgeInfo,
  probePersistence,
  readRedisPersistence,
  requireDurableRedis,
} from '../../../server/capture/redis-persistence.js';
import { TestRedis } from '../../helpers/redis-server.js';

describe('judgeConfig / judgeInfo', () => {
  it.each([
    ['yes', 'always', 'durable'],
    ['yes', 'everysec', 'durable'],
    ['yes', 'no', 'volatile'],
    ['no', 'always', 'volatile'],
    ['no', 'everysec', 'volatile'],
    ['', '', 'volatile'],
  ] as const)('appendonly %j, appendfsync %j is %s', (appendonly, appendfsync, verdict) => {
    const p = judgeConfig(appendonly, appendfsync);
    expect(p).toMatchObject({ verdict, source: 'config', appendonly, appendfsync });
    expect(p.detail).toContain(`appendonly ${appendonly}`);
  });

  it('says what everysec risks', () => {
    expect(judgeConfig('yes', 'everysec').detail).toMatch(/last second or two/);
    expect(judgeConfig('yes', 'always').detail).toMatch(/every acknowledged write is on disk/);
  });

  it('reads the AOF state from INFO persistence, and knows when it does not say', () => {
    expect(judgeInfo('# Persistence\r\nloading:0\r\naof_enabled:1\r\n')).toMatchObject({
      verdict: 'durable',
      source: 'info',
      appendonly: 'yes',
      appendfsync: null,
    });
    expect(judgeInfo('# Persistence\r\naof_enabled:0\r\n')).toMatchObject({ verdict: 'volatile', appendonly: 'no' });
    expect(judgeInfo('# Persistence\r\nloading:0\r\n')).toMatchObject({ verdict: 'unknown' });
  });
});

describe('probePersistence against real redis-servers', () => {
  const servers: TestRedis[] = [];
  const clients: Redis[] = [];
  let aof: TestRedis;
  let volatile: TestRedis;
  let aofNoConfig: TestRedis;
  let volatileNoConfig: TestRedis;

  beforeAll(async () => {
    const noConfig = ['--rename-command', 'CONFIG', ''];
    [aof, volatile, aofNoConfig, volatileNoConfig] = await Promise.all([
      TestRedis.start({ persistence: 'aof' }),
      TestRedis.start({ persistence: 'none' }),
      TestRedis.start({ persistence: 'aof', extraArgs: noConfig }),
      TestRedis.start({ persistence: 'none', extraArgs: noConfig }),
    ]);
    servers.push(aof, volatile, aofNoConfig, volatileNoConfig);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((s) => s.destroy()));
  });

  const client = (url: string, options: { username?: string } = {}) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1, ...options });
    clients.push(c);
    return c;
  };

  it('appendonly yes + appendfsync always: durable, from CONFIG GET', async () => {
    expect(await probePersistence(client(aof.url), 2000)).toMatchObject({
      verdict: 'durable',
      source: 'config',
      appendonly: 'yes',
      appendfsync: 'always',
    });
  });

  it('follows a runtime change of the fsync policy: everysec durable, no volatile', async () => {
    const c = client(aof.url);
    try {
      await c.config('SET', 'appendfsync', 'everysec');
      expect(await probePersistence(c, 2000)).toMatchObject({ verdict: 'durable', appendfsync: 'everysec' });
      await c.config('SET', 'appendfsync', 'no');
      expect(await probePersistence(c, 2000)).toMatchObject({ verdict: 'volatile', appendfsync: 'no' });
    } finally {
      await c.config('SET', 'appendfsync', 'always');
    }
  });

  it('a Redis without AOF: volatile', async () => {
    expect(await probePersistence(client(volatile.url), 2000)).toMatchObject({
      verdict: 'volatile',
      source: 'config',
      appendonly: 'no',
    });
  });

  it('CONFIG renamed away: falls back to INFO persistence, both ways', async () => {
    await expect(client(aofNoConfig.url).config('GET', 'appendonly')).rejects.toThrow(/unknown command/);
    expect(await probePersistence(client(aofNoConfig.url), 2000)).toMatchObject({
      verdict: 'durable',
      source: 'info',
      appendonly: 'yes',
      appendfsync: null,
    });
    expect(await probePersistence(client(volatileNoConfig.url), 2000)).toMatchObject({
      verdict: 'volatile',
      source: 'info',
    });
  });

  it('a user allowed neither CONFIG nor INFO (ACL): unknown, naming both refusals', async () => {
    const admin = client(volatile.url);
    await admin.acl('SETUSER', 'relay', 'on', 'nopass', '~*', '&*', '+@all', '-config', '-info');
    const p = await probePersistence(client(volatile.url, { username: 'relay' }), 2000);
    expect(p).toMatchObject({ verdict: 'unknown', source: 'none' });
    expect(p.detail).toMatch(/CONFIG GET \(NOPERM.*INFO persistence \(NOPERM/);
  });

  it('the start-up check refuses a volatile Redis with why and how, unless allowed', async () => {
    const error = await requireDurableRedis({ url: volatile.url, allowVolatile: false, logger: silentLogger }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VolatileRedisError);
    const message = (error as Error).message;
    expect(message).toContain(volatile.url);
    expect(message).toContain('appendonly no');
    expect(message).toMatch(/restart loses/);
    expect(message).toContain('CONFIG SET appendonly yes');
    expect(message).toContain('--allow-volatile-redis');
    expect(message).toContain('ALLOW_VOLATILE_REDIS=1');

    expect(await requireDurableRedis({ url: volatile.url, allowVolatile: true, logger: silentLogger })).toMatchObject({
      verdict: 'volatile',
    });
    expect(await requireDurableRedis({ url: aof.url, allowVolatile: false, logger: silentLogger })).toMatchObject({
      verdict: 'durable',
    });
  });

  it('a Redis that does not answer is left to the relay (checked once it does)', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    expect(await readRedisPersistence(dead, 300)).toBeNull();
    expect(await requireDurableRedis({ url: dead, allowVolatile: false, logger: silentLogger, timeoutMs: 300 })).toBe(
      null,
    );
  });
});
