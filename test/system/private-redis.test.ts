/**
 * `npm start` on a machine without a running Redis (issue 6, item 1), or with one that does not
 * persist what it acknowledges (issue 10, item 6): the fallback to a private redis-server with
 * append-only persistence, the refusal of a volatile Redis the user named, and the message when
 * there is none to start.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import {
  ensureRedis,
  findExecutable,
  pingRedis,
  RedisUnavailableError,
  type RedisForSystem,
} from '../../system/private-redis.js';
import { freePort } from '../../common/free-port.js';
import { VolatileRedisError } from '../../server/capture/errors.js';
import { TestRedis } from '../helpers/redis-server.js';
import { ROOT, cliArgv } from '../helpers/run-cli.js';

let work: string;
let deadUrl: string;
/** Redis servers that answer: one with append-only persistence, one without. */
let durable: TestRedis;
let volatile: TestRedis;
const opened: RedisForSystem[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'private-redis-'));
  deadUrl = `redis://127.0.0.1:${await freePort()}`; // nobody listens there
  [durable, volatile] = await Promise.all([
    TestRedis.start({ persistence: 'aof' }),
    TestRedis.start({ persistence: 'none' }),
  ]);
});
afterAll(async () => {
  for (const r of opened) await r.server?.kill();
  await Promise.all([durable?.destroy(), volatile?.destroy()]);
  fs.rmSync(work, { recursive: true, force: true });
});

const isAlive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function withClient<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function fallback(dir: string): Promise<RedisForSystem> {
  const r = await ensureRedis({ url: deadUrl, dir, logger: silentLogger, pingTimeoutMs: 300 });
  opened.push(r);
  return r;
}

const mustNotStart = () => Promise.reject(new Error('must not start a private Redis'));

describe('ensureRedis', () => {
  it.each([
    ['a durable Redis, named or the default', () => durable.url, { explicit: false }],
    ['a durable Redis it was given', () => durable.url, { explicit: true }],
    ['a volatile Redis with --allow-volatile-redis', () => volatile.url, { explicit: true, allowVolatile: true }],
    ['the default Redis, volatile, with --allow-volatile-redis', () => volatile.url, { allowVolatile: true }],
  ])('uses %s as is, and starts nothing', async (_name, url, flags) => {
    const r = await ensureRedis({
      url: url(),
      dir: path.join(work, 'unused'),
      logger: silentLogger,
      start: mustNotStart,
      ...flags,
    });
    expect(r.url).toBe(url());
    expect(r.server).toBeUndefined();
    expect(fs.existsSync(path.join(work, 'unused'))).toBe(false);
    await r.close();
  });

  it('refuses a volatile Redis the user named, saying why and how to fix it, and starts nothing', async () => {
    const dir = path.join(work, 'refused');
    const error = await ensureRedis({
      url: volatile.url,
      explicit: true,
      dir,
      logger: silentLogger,
      start: mustNotStart,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VolatileRedisError);
    const message = (error as Error).message;
    expect(message).toContain(volatile.url);
    expect(message).toContain('appendonly no');
    expect(message).toContain('appendonly yes');
    expect(message).toContain('--allow-volatile-redis');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('in place of a volatile default Redis starts a private append-only one, and says why', async () => {
    const dir = path.join(work, 'instead-of-volatile');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const r = await ensureRedis({ url: volatile.url, explicit: false, dir, logger });
    opened.push(r);
    expect(r.url).not.toBe(volatile.url);
    expect(r.server).toBeDefined();
    await withClient(r.url, async (c) => expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']));
    const why = lines.map((l) => JSON.parse(l) as { msg: string }).find((l) => l.msg.includes('is not durable'));
    expect(why?.msg).toContain(volatile.url);
    expect(why?.msg).toContain('appendonly no');
    await r.close();
  });

  it('a volatile default Redis and no redis-server to replace it: refused, naming both ways out', async () => {
    const env = { ...process.env, PATH: path.join(work, 'empty-bin') };
    const dir = path.join(work, 'no-binary-volatile');
    const error = await ensureRedis({ url: volatile.url, dir, logger: silentLogger, env }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VolatileRedisError);
    expect((error as Error).message).toContain('--allow-volatile-redis');
    expect((error as Error).message).toContain('sudo apt-get install -y redis-server');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('starts a private append-only redis-server when REDIS_URL does not answer; data survives its restart', async () => {
    expect(await pingRedis(deadUrl, 300)).toBe(false);
    const dir = path.join(work, 'redis');
    const first = await fallback(dir);
    expect(first.url).not.toBe(deadUrl);
    expect(first.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    await withClient(first.url, async (r) => {
      expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await r.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
      expect(await r.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
      expect(await r.config('GET', 'dir')).toEqual(['dir', path.resolve(dir)]);
      await r.set('survives', 'yes');
      await r.rpush('jobs', 'a', 'b', 'c');
    });
    const pid = first.server!.pid;
    expect(isAlive(pid)).toBe(true);

    await first.close();
    expect(isAlive(pid)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'appendonlydir'))).toBe(true);

    const second = await fallback(dir);
    await withClient(second.url, async (r) => {
      expect(await r.get('survives')).toBe('yes');
      expect(await r.lrange('jobs', 0, -1)).toEqual(['a', 'b', 'c']);
    });
    await second.close();
    expect(isAlive(second.server!.pid)).toBe(false);
  });

  it('stops a private redis-server a killed run left behind, and keeps its data', async () => {
    const dir = path.join(work, 'left-behind');
    const orphan = await fallback(dir);
    await withClient(orphan.url, (r) => r.set('k', 'v'));
    // The product process died without closing: the redis-server is still running.
    const second = await fallback(dir);
    expect(isAlive(orphan.server!.pid)).toBe(false);
    expect(await withClient(second.url, (r) => r.get('k'))).toBe('v');
    await second.close();
  });

  it('without redis-server on the PATH, fails with a message naming REDIS_URL and how to install Redis', async () => {
    const env = { ...process.env, PATH: path.join(work, 'empty-bin') };
    expect(findExecutable('redis-server', env)).toBeUndefined();
    const dir = path.join(work, 'never');
    const error = await ensureRedis({ url: deadUrl, dir, logger: silentLogger, env, pingTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RedisUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain(deadUrl);
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('sudo apt-get install -y redis-server');
    expect(fs.existsSync(dir)).toBe(false);
  });
});

interface Spawned {
  code: number | null;
  stderr: string;
}

/** The ports and directories of one `npm start` kept under `run`: free ports, every directory inside it. */
async function runEnv(run: string): Promise<NodeJS.ProcessEnv> {
  return {
    PORT: String(await freePort()),
    QUERY_PORT: String(await freePort()),
    DATA_DIR: run,
    CLICKHOUSE_HTTP_PORT: String(await freePort()),
    OUTBOX_DIR: path.join(run, 'outbox'),
    CLICKHOUSE_DATA: path.join(run, 'clickhouse'),
    PRIVATE_REDIS_DIR: path.join(run, 'redis'),
  };
}

/** `npm start` itself: system/main.ts run by node, in the repository, with temp data dirs. */
function startMain(env: NodeJS.ProcessEnv, args: string[] = []) {
  const child = spawn(...cliArgv('system/main.ts', args), {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Spawned>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return { child, exited, stderr: () => stderr };
}

const logLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('npm start with REDIS_URL at a dead port', () => {
  it('starts a private Redis, serves /healthz, and on SIGINT stops cleanly leaving no redis-server behind', async () => {
    const run = path.join(work, 'npm-start');
    const port = await freePort();
    const queryPort = await freePort();
    const main = startMain(
      {
        REDIS_URL: deadUrl,
        REDIS_PREFIX: `private-redis-e2e-${process.pid}`,
        ...(await runEnv(run)),
        PORT: String(port),
        QUERY_PORT: String(queryPort),
        REPORTS_DIR: path.join(run, 'reports'),
      },
      ['--without-reports'],
    );
    try {
      let healthy = false;
      for (let i = 0; i < 240 && !healthy && main.child.exitCode === null; i++) {
        healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!healthy) await new Promise((r) => setTimeout(r, 250));
      }
      expect(healthy, main.stderr()).toBe(true);
      const logs = logLines(main.stderr());
      const started = logs.find((l) => l.msg === 'private Redis running');
      expect(started, main.stderr()).toBeDefined();
      const redisPid = started!.pid as number;
      expect(isAlive(redisPid)).toBe(true);
      const running = logs.find((l) => String(l.msg).startsWith('system running'));
      expect(running).toMatchObject({
        api: `http://127.0.0.1:${port}`,
        sql: `http://127.0.0.1:${queryPort}/query`,
        redis: started!.redisUrl,
      });
      expect(String(running!.msg)).toContain(`http://127.0.0.1:${port}`);

      main.child.kill('SIGINT');
      const { code, stderr } = await main.exited;
      expect(code, stderr).toBe(0);
      const after = logLines(stderr).map((l) => l.msg);
      // Redis is stopped last, after every component closed.
      expect(after.indexOf('stopped')).toBeGreaterThan(0);
      expect(after.indexOf('private Redis stopped (its data stays for the next start)')).toBeGreaterThan(
        after.indexOf('stopped'),
      );
      expect(isAlive(redisPid)).toBe(false);
      expect(fs.existsSync(path.join(run, 'redis', 'appendonlydir'))).toBe(true);
    } finally {
      if (main.child.exitCode === null) main.child.kill('SIGKILL');
    }
  }, 120_000);

  it('given a volatile REDIS_URL exits 1 with why and how to fix it, and starts nothing', async () => {
    const run = path.join(work, 'volatile-named');
    const main = startMain({
      REDIS_URL: volatile.url,
      ALLOW_VOLATILE_REDIS: '0', // the suite's allowance withdrawn: the refusal under test
      ...(await runEnv(run)),
    });
    const { code, stderr } = await main.exited;
    expect(code, stderr).toBe(1);
    const line = stderr.split('\n').find((l) => l.startsWith('error: '));
    expect(line, stderr).toContain(`Redis at ${volatile.url} is not durable`);
    expect(line).toContain('CONFIG SET appendonly yes');
    expect(line).toContain('--allow-volatile-redis');
    expect(fs.existsSync(run)).toBe(false);
  }, 60_000);

  it('without redis-server on the PATH exits 1 with how to get Redis, and starts nothing', async () => {
    const run = path.join(work, 'no-binary');
    const main = startMain({
      PATH: path.join(work, 'empty-bin'),
      REDIS_URL: deadUrl,
      ...(await runEnv(run)),
    });
    const { code, stderr } = await main.exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('REDIS_URL');
    expect(stderr).toContain('sudo apt-get install -y redis-server');
    expect(fs.existsSync(run)).toBe(false);
  }, 60_000);
});
