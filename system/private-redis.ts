/**
 * `npm start` on a machine without a running Redis, or with one that does not persist what it
 * acknowledges (see ensureRedis): when a `redis-server` binary is on the PATH, the embedded system
 * starts a private one — append-only persistence in its own directory (`./data/redis` by default),
 * a free port on 127.0.0.1, its own process group (so the terminal's Ctrl-C reaches only the
 * product, which stops Redis last, after the outbox has drained into it). Without a binary it
 * fails with a message that says how to get Redis. The spawning itself (`RedisServer`) is also
 * what the tests use for the Redis they stop, freeze and restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { freePort } from '../common/free-port.js';
import path from 'node:path';
import { createRedis } from '../common/redis-client.js';
import { isClusterUrl } from '../common/redis-url.js';
import type { Logger } from '../common/logger.js';
import { readRedisPersistence, volatileRedisMessage, VolatileRedisError } from '../server/capture/index.js';

export const REDIS_BINARY = 'redis-server';

export interface RedisServerOptions {
  /** Working directory: the append-only files, the snapshot and the pid file live here. */
  dir: string;
  /** Default: a free port picked by the OS (retried if someone takes it first). */
  port?: number;
  /**
   * `aof`: every write appended and fsynced before it is acknowledged (`appendfsync always`), and
   * `stop()` is a SIGTERM, as an orchestrator stops it. `none`: no automatic persistence; `stop()`
   * is `SHUTDOWN SAVE`, so a restart still finds the data.
   */
  persistence: 'aof' | 'none';
  /** The binary, by name (looked up on `env.PATH`) or path. */
  binary?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** More `redis-server` arguments, after the ones above (tests: `--rename-command CONFIG ""`). */
  extraArgs?: string[];
}

export class RedisStartError extends Error {
  override readonly name = 'RedisStartError';
}

/** No Redis answers and none can be started: the message says how to get one. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/** The executable `name` resolves to on `PATH`, or undefined. A name with a slash is taken as is. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = name.includes('/') ? [name] : (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const c of candidates) {
    const file = name.includes('/') ? c : path.join(c, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when a Redis answers PING at `url` within `timeoutMs` (an auth error counts: it answers). */
export async function pingRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  const client = createRedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (err) {
    return /NOAUTH|WRONGPASS|NOPERM/.test(String((err as Error)?.message));
  } finally {
    client.disconnect();
  }
}

/** A redis-server child process on 127.0.0.1. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    readonly options: RedisServerOptions & { binary: string },
  ) {}

  static async start(options: RedisServerOptions): Promise<RedisServer> {
    const binary = findExecutable(options.binary ?? REDIS_BINARY, options.env ?? process.env);
    if (!binary) throw new RedisStartError(`${options.binary ?? REDIS_BINARY} is not on the PATH`);
    fs.mkdirSync(options.dir, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(options.port ?? (await freePort()), { ...options, binary });
      try {
        await server.spawn();
        return server;
      } catch (err) {
        // Someone took the free port between the probe and the bind: try another one.
        if (options.port !== undefined || attempt >= 3 || !/already in use/i.test(server.output)) throw err;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get dir(): string {
    return this.options.dir;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private args(): string[] {
    const persistence =
      this.options.persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    return [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      ...persistence,
      '--dir',
      path.resolve(this.options.dir),
      '--pidfile',
      path.resolve(this.options.dir, 'redis.pid'),
      '--daemonize',
      'no',
      ...(this.options.extraArgs ?? []),
    ];
  }

  private async spawn(): Promise<void> {
    this.output = '';
    // Its own process group: a Ctrl-C in the terminal goes to the product, which stops Redis last.
    const child = spawn(this.options.binary, this.args(), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: this.options.env ?? process.env,
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new RedisStartError(`redis-server did not start: ${this.output.slice(-2000)}`));
      }, this.options.readyTimeoutMs ?? 15_000);
      const onData = (chunk: Buffer) => {
        // Keep only the tail: enough to explain a failure.
        this.output = (this.output + chunk.toString()).slice(-8000);
        if (/Ready to accept connections/.test(this.output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new RedisStartError(`could not run ${this.options.binary}: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new RedisStartError(`redis-server exited with ${code ?? signal}: ${this.output.slice(-2000)}`));
      });
    });
  }

  /** Stops it (see `persistence`); resolves once the process has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (this.options.persistence === 'aof') child.kill('SIGTERM');
    else await shutdownSave(this.port).catch(() => child.kill('SIGTERM'));
    await exited;
    this.child = undefined;
  }

  /** Starts again on the same port and directory (the AOF or snapshot is loaded). */
  async restart(): Promise<void> {
    if (this.running) throw new Error('redis-server is still running');
    await this.spawn();
  }

  /** SIGSTOP: a hung server (connections stay open, nothing is answered). */
  freeze(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }

  /** SIGKILL (after SIGCONT, in case it is frozen); resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    this.child = undefined;
  }
}

function shutdownSave(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write('*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n');
    });
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

/**
 * A private redis-server left behind by a product process that was killed (SIGKILL gives it no
 * chance to stop Redis): its pid file names it. It is stopped with SIGTERM (the AOF is flushed) so
 * the new one can own the directory.
 */
async function stopLeftover(dir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(dir, 'redis.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isRedisServer(pid)) return;
  logger.warn({ pid, dir }, 'stopping the private redis-server a previous run left behind');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isRedisServer(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return false; // no /proc: do not guess
  }
}

export function howToGetRedis(url: string): string {
  return [
    `no Redis answers at ${url} (REDIS_URL / --redis-url) and there is no ${REDIS_BINARY} on the PATH to start a private one.`,
    'Either install Redis, and npm start runs a private one under ./data/redis by itself:',
    '  sudo apt-get install -y redis-server      (Debian/Ubuntu; the service it starts is used as is)',
    '  brew install redis                        (macOS)',
    'or point REDIS_URL at a running Redis (version 6.2 or newer):',
    '  REDIS_URL=redis://host:6379 npm start',
    '  docker run -d -p 6379:6379 redis:7 --appendonly yes   (then the default REDIS_URL works)',
  ].join('\n');
}

export interface RedisForSystem {
  /** The URL every component should use. */
  url: string;
  /** The private server, when one was started. */
  server?: RedisServer;
  /** Stops the private server (nothing when REDIS_URL answered). Call after every component closed. */
  close(): Promise<void>;
}

/**
 * Redis for `npm start`:
 *  - the URL, when it answers and persists what it acknowledges (or volatile Redis is allowed);
 *  - a URL the user gave (`explicit`) that answers but is volatile: VolatileRedisError, since
 *    quietly using another Redis than the one named would surprise more than a clear refusal;
 *  - otherwise (no answer, or the default URL volatile) a private redis-server with append-only
 *    persistence in `dir`. RedisUnavailableError, or VolatileRedisError, when none can be started.
 */
export async function ensureRedis(params: {
  url: string;
  dir: string;
  logger: Logger;
  /** The user named this URL (REDIS_URL / --redis-url), rather than it being the default. */
  explicit?: boolean;
  /** --allow-volatile-redis: use an answering Redis whatever its persistence. */
  allowVolatile?: boolean;
  env?: NodeJS.ProcessEnv;
  pingTimeoutMs?: number;
  /** The spawn, replaceable in tests. */
  start?: (options: RedisServerOptions) => Promise<RedisServer>;
}): Promise<RedisForSystem> {
  const { url, dir, logger } = params;
  const env = params.env ?? process.env;
  const timeoutMs = params.pingTimeoutMs ?? 1000;
  let reason: string;
  if (await pingRedis(url, timeoutMs)) {
    // null: it answers but will not say (a password is missing): the relay checks once connected.
    const found = await readRedisPersistence(url, Math.max(timeoutMs, 2000));
    if (found === null || found.verdict === 'durable' || params.allowVolatile) {
      if (found && found.verdict !== 'durable') {
        logger.warn({ redisUrl: url, persistence: found }, 'Redis is not durable; using it (--allow-volatile-redis)');
      }
      return { url, close: () => Promise.resolve() };
    }
    const refusal = new VolatileRedisError(url, found, volatileRedisMessage(url, found));
    if (params.explicit) throw refusal;
    if (!findExecutable(REDIS_BINARY, env)) {
      throw new VolatileRedisError(
        url,
        found,
        `${refusal.message} Or install ${REDIS_BINARY} (sudo apt-get install -y redis-server), and npm start runs a private durable one under ${dir} instead.`,
      );
    }
    reason = `Redis at ${url} is not durable (${found.detail}); starting a private ${REDIS_BINARY} under ${dir} instead (--allow-volatile-redis would use it anyway)`;
  } else {
    // A private single Redis is no stand-in for a cluster someone named.
    if (isClusterUrl(url))
      throw new RedisUnavailableError(`no node of the Redis Cluster ${url} (REDIS_URL / --redis-url) answers`);
    if (!findExecutable(REDIS_BINARY, env)) throw new RedisUnavailableError(howToGetRedis(url));
    reason = `Redis does not answer; starting a private ${REDIS_BINARY} under ${dir}`;
  }
  logger.warn({ redisUrl: url }, reason);
  fs.mkdirSync(dir, { recursive: true });
  await stopLeftover(dir, logger);
  const server = await (params.start ?? RedisServer.start)({ dir, persistence: 'aof', env });
  logger.info({ redisUrl: server.url, dir: path.resolve(dir), pid: server.pid }, 'private Redis running');
  return {
    url: server.url,
    server,
    async close() {
      await server.stop();
      logger.info({ dir: path.resolve(dir) }, 'private Redis stopped (its data stays for the next start)');
    },
  };
}
