/**
 * A private redis-server for the system fault tests, configured the way production runs Redis
 * (ARCHITECTURE.md: "Redis with append-only persistence"): every write is appended to the AOF and
 * fsynced before Redis acknowledges it, so a job the relay was told is stored survives a stop and
 * restart. `stop()` sends SIGTERM (what `docker stop` sends) rather than `SHUTDOWN SAVE`, so the
 * data that comes back is only what the AOF made durable. Never the machine's shared Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

export class RedisStartError extends Error {
  override readonly name = 'RedisStartError';
}

export class AofRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<AofRedis> {
    const r = new AofRedis(await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), 'system-redis-')));
    await r.spawn();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      this.dir,
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisStartError(`redis-server did not start: ${out}`)), 15_000);
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new RedisStartError(`redis-server exited with ${code}: ${out}`));
      });
    });
  }

  /** SIGTERM, as an orchestrator stops a container; resolves once the process has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.child = undefined;
  }

  /** SIGSTOP: a hung server (connections stay open, nothing is answered). */
  freeze(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }

  /** Starts again on the same port and directory: the AOF is replayed. */
  async restart(): Promise<void> {
    await this.spawn();
  }

  /** Kills the server and removes its directory. */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    this.child = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
