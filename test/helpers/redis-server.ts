/**
 * A private redis-server for tests that stop, freeze or restart Redis (never the machine's shared
 * one): a free port on 127.0.0.1 and a temporary directory, spawned by the product's own
 * `RedisServer` (system/private-redis.ts).
 *   persistence 'aof'  — as production runs Redis (docs/architecture.md): every write appended and
 *                        fsynced before it is acknowledged; `stop()` is a SIGTERM (what `docker stop`
 *                        sends), so what comes back after `restart()` is only what the AOF made durable.
 *   persistence 'none' — no automatic persistence; `stop()` is `SHUTDOWN SAVE`, so `restart()` comes
 *                        back with the same data, the way a Redis with persistence restarts.
 * `freeze()` / `thaw()` simulate a hung server (SIGSTOP / SIGCONT).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisServer } from '../../system/private-redis.js';

export { RedisStartError } from '../../system/private-redis.js';

export class TestRedis {
  private constructor(private readonly server: RedisServer) {}

  /** `extraArgs`: more redis-server arguments, e.g. `['--rename-command', 'CONFIG', '']`; `port`: a given one. */
  static async start(options: {
    persistence: 'aof' | 'none';
    extraArgs?: string[];
    port?: number;
  }): Promise<TestRedis> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `test-redis-${options.persistence}-`));
    try {
      return new TestRedis(await RedisServer.start({ dir, ...options }));
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  get dir(): string {
    return this.server.dir;
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  get running(): boolean {
    return this.server.running;
  }

  /** Resolves once the process has exited (see the persistence modes above). */
  stop(): Promise<void> {
    return this.server.stop();
  }

  /** Starts again on the same port and directory. */
  restart(): Promise<void> {
    return this.server.restart();
  }

  freeze(): void {
    this.server.freeze();
  }

  thaw(): void {
    this.server.thaw();
  }

  /** Kills the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.server.kill();
    fs.rmSync(this.server.dir, { recursive: true, force: true });
  }
}
