/**
 * One of the product's components running as its own process, the way compose runs it (used by the
 * chaos run and by the system tests):
 * `node --import tsx <entry>` (node itself, not the tsx wrapper, so that a SIGKILL hits the process
 * that holds the jobs and files; killing the wrapper would leave its node child running). Keeps the
 * process's pino log lines so a test can wait for one and read the counters it logs.
 * When the entry points were compiled once (env SPIKE_TEST_CLI_BUNDLES: the test suite's global
 * setup, the chaos run; cli-bundles.ts), it starts `node <bundle>` instead: the same code, without
 * paying tsx's loader on every start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cliCommand } from './cli-bundles.js';

/** The repository root: entry points are given relative to it. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export class ServiceTimeoutError extends Error {
  override readonly name = 'ServiceTimeoutError';
}

/** A parsed pino line: `msg` plus whatever the component logged with it. */
export type LogLine = Record<string, unknown> & { msg?: string };

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ServiceProcess {
  readonly child: ChildProcess;
  private output = '';
  private readonly exit: Promise<ExitStatus>;

  constructor(
    readonly name: string,
    entry: string,
    args: string[],
    env: Record<string, string>,
    options: { logFile?: string; maxBufferBytes?: number } = {},
  ) {
    const { file, args: head } = cliCommand(ROOT, entry);
    this.child = spawn(file, [...head, ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const max = options.maxBufferBytes ?? Infinity;
    const keep = (d: Buffer) => {
      log?.write(d);
      this.output += d.toString();
      // Keep only the newest output (whole lines) when a long run would otherwise grow without bound.
      if (this.output.length > max)
        this.output = this.output.slice(this.output.indexOf('\n', this.output.length - max / 2) + 1);
    };
    this.child.once('close', () => log?.end());
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything the process printed so far. */
  get log(): string {
    return this.output;
  }

  /** The JSON log lines whose `msg` is `msg`. */
  lines(msg: string): LogLine[] {
    const found: LogLine[] = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{') || !line.includes(msg)) continue;
      try {
        const parsed = JSON.parse(line) as LogLine;
        if (parsed.msg === msg) found.push(parsed);
      } catch {
        // a line cut by the buffer boundary or not JSON: not a log record
      }
    }
    return found;
  }

  /** Resolves with the first log line with this `msg`; rejects if the process exits or time runs out. */
  async waitForLog(msg: string, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines(msg)[0];
      if (line) return line;
      if (!this.alive) throw new ServiceTimeoutError(`${this.name} exited before logging "${msg}":\n${this.tail()}`);
      if (Date.now() > deadline) {
        throw new ServiceTimeoutError(`${this.name} did not log "${msg}" within ${timeoutMs} ms:\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  exited(): Promise<ExitStatus> {
    return this.exit;
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `timeoutMs` so a test never hangs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<ExitStatus> {
    this.kill(signal);
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last lines of output, for failure messages. */
  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }
}
