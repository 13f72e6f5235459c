/**
 * The ingest worker as its own process (`ingest/main.ts`), as compose runs it: it owns its chDB
 * directory while it lives, so the benchmark reads ClickHouse only after it has exited. Started as
 * `node --import tsx` (node itself, so that signals reach the process that holds the jobs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../ingest/main.ts', import.meta.url));

export class IngestProcessError extends Error {
  override readonly name = 'IngestProcessError';
}

export class IngestProcess {
  private readonly child: ChildProcess;
  private output = '';
  private readonly exit: Promise<number | null>;

  private constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', INGEST_STATS_INTERVAL_MS: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      // Keep only the tail: a long run logs warnings we may want to show, not megabytes.
      this.output = (this.output + d.toString()).slice(-20_000);
    });
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Starts a worker and waits until it consumes (its migrations applied, its workers connected). */
  static async start(env: Record<string, string>, timeoutMs = 60_000): Promise<IngestProcess> {
    const p = new IngestProcess(env);
    const deadline = Date.now() + timeoutMs;
    while (!p.output.includes('"msg":"ingest running"')) {
      if (p.child.exitCode !== null) throw new IngestProcessError(`ingest exited at start:\n${p.output}`);
      if (Date.now() > deadline) {
        p.child.kill('SIGKILL');
        throw new IngestProcessError(`ingest did not start within ${timeoutMs} ms:\n${p.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return p;
  }

  get log(): string {
    return this.output;
  }

  /** Graceful stop (SIGTERM: in-flight batches are stored); resolves with the exit code. */
  async stop(timeoutMs = 120_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
