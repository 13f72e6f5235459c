import { once } from 'node:events';
import fs from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRedis } from '../helpers/redis-server.js';
import { runCli, startCli } from '../helpers/run-cli.js';

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

describe('the server process (npm run server)', () => {
  it('serves the API in real time and shuts down cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = startCli('server/main.ts', [
      '--port',
      String(port),
      '--seed',
      'main',
      '--tick-ms',
      '20',
      '--without-capture',
      '--data-dir',
      fs.mkdtempSync(path.join(os.tmpdir(), 'server-main-')),
    ]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const base = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 15_000;
      while (!stderr.includes('database running') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toContain('database running');
      const first = (await (await fetch(`${base}/stats`)).json()) as { ticks: number; firstTick: number };
      await new Promise((r) => setTimeout(r, 1000));
      const second = (await (await fetch(`${base}/stats`)).json()) as { ticks: number; driver: { state: string } };
      // 1 s at 20 ms per tick is 50 ticks; allow a noisy machine some slack.
      expect(second.ticks - first.ticks).toBeGreaterThan(40);
      expect(second.ticks - first.ticks).toBeLessThan(60);
      expect(second.driver.state).toBe('running');
      expect(second).not.toHaveProperty('capture');
      // Ticks are numbered on the wall clock, so ids stay unique across restarts.
      expect(Math.abs(first.firstTick * 20 - Date.now())).toBeLessThan(30_000);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stderr).toContain('shutting down');
  });

  it.each([
    [['--port', '70000'], /port \(--port\)/],
    [['--log-level', 'loud'], /--log-level/],
    [['--tick-ms', '0'], /--tick-ms/],
  ])('refuses %j with exit code 2 before starting', async (args, message) => {
    const r = await runCli('server/main.ts', args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('npm run server and the persistence of its Redis', () => {
  let durable: TestRedis;
  let volatile: TestRedis;
  let work: string;
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'server-redis-'));
    [durable, volatile] = await Promise.all([
      TestRedis.start({ persistence: 'aof' }),
      TestRedis.start({ persistence: 'none' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([durable?.destroy(), volatile?.destroy()]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** The server on `redisUrl` with the suite's allowance withdrawn, plus `args`. */
  async function server(redisUrl: string, args: string[] = []) {
    const port = await freePort();
    const child = startCli(
      'server/main.ts',
      ['--port', String(port), '--data-dir', fs.mkdtempSync(path.join(work, 'data-')), ...args],
      { REDIS_URL: redisUrl, REDIS_PREFIX: `test-server-redis-${port}`, ALLOW_VOLATILE_REDIS: '0', LOG_LEVEL: 'warn' },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    return { child, port, exited, stderr: () => stderr };
  }

  /** Polls /stats until the relay reports its Redis connected; returns the capture's Redis section. */
  async function connected(port: number, exited: Promise<unknown>): Promise<Record<string, unknown>> {
    let gone = false;
    void exited.then(() => (gone = true));
    for (let i = 0; i < 200 && !gone; i++) {
      const stats = await fetch(`http://127.0.0.1:${port}/stats`).then(
        (r) => r.json() as Promise<{ capture: { redis: Record<string, unknown> } }>,
        () => undefined,
      );
      if (stats?.capture.redis.state === 'connected') return stats.capture.redis;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the server never reported its Redis connected');
  }

  it('refuses to start against a Redis without persistence: exit 1, why and how to fix it', async () => {
    const s = await server(volatile.url);
    const [code] = await s.exited;
    expect(code, s.stderr()).toBe(1);
    const line = s
      .stderr()
      .split('\n')
      .find((l) => l.startsWith('error: '));
    expect(line, s.stderr()).toContain(`Redis at ${volatile.url} is not durable: appendonly no`);
    expect(line).toContain('restart loses');
    expect(line).toContain('appendfsync everysec');
    expect(line).toContain('--allow-volatile-redis');
  }, 60_000);

  it.each([
    ['an append-only Redis', () => durable.url, [], 'durable'],
    ['a volatile Redis with --allow-volatile-redis', () => volatile.url, ['--allow-volatile-redis'], 'volatile'],
  ])(
    'runs and relays to %s',
    async (_name, url, args, verdict) => {
      const s = await server(url(), args);
      try {
        const redis = await connected(s.port, s.exited);
        expect(redis.persistence).toMatchObject({ verdict, source: 'config' });
      } finally {
        s.child.kill('SIGTERM');
      }
      const [code] = await s.exited;
      expect(code, s.stderr()).toBe(0);
    },
    60_000,
  );
});
