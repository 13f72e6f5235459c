/**
 * The chaos run's process supervisor: each component as its own process (`node --import tsx
 * <entry>`, configured by environment, as compose runs it), started, killed and started again on
 * request; a process that exits without being asked is started again after a second, as compose's
 * `restart: unless-stopped` does, and counted (an unplanned restart is a finding of the run).
 */
import path from 'node:path';
import type { Logger } from '../../common/logger.js';
import { ServiceProcess, type ExitStatus } from '../service-process.js';

export interface ComponentSpec {
  entry: string;
  args?: string[];
  env: Record<string, string>;
  /** The `msg` of the log line that says it is up. */
  ready: string;
  /** Start it again when it exits unasked (default true). */
  restartOnExit?: boolean;
}

export interface UnplannedExit {
  name: string;
  atMs: number;
  code: number | null;
  signal: string | null;
  /** The last lines it printed. */
  tail: string;
}

const READY_TIMEOUT_MS = 120_000;
/** Each process keeps at most this much of its output in memory (all of it goes to its log file). */
const BUFFER_BYTES = 2_000_000;

export class Supervisor {
  private readonly procs = new Map<string, ServiceProcess>();
  /** Processes whose next exit was asked for (a kill or the final stop). */
  private readonly expected = new Set<ServiceProcess>();
  /** Processes started with `expectFailure` that are not ready yet: an exit is the caller's to handle. */
  private readonly tentative = new Set<ServiceProcess>();
  private stopping = false;
  readonly unplannedExits: UnplannedExit[] = [];

  constructor(
    private readonly specs: Record<string, ComponentSpec>,
    private readonly logDir: string,
    private readonly logger: Logger,
    private readonly startedAt = Date.now(),
  ) {}

  get(name: string): ServiceProcess | undefined {
    return this.procs.get(name);
  }

  /**
   * Starts `name` and resolves once it logged its ready line (or rejects when it exits first). With
   * `expectFailure`, an exit before it is ready is not counted as unplanned: the caller retries.
   */
  async start(
    name: string,
    timeoutMs = READY_TIMEOUT_MS,
    o: { expectFailure?: boolean } = {},
  ): Promise<ServiceProcess> {
    const spec = this.specs[name];
    if (!spec) throw new Error(`unknown component ${name}`);
    const proc = new ServiceProcess(name, spec.entry, spec.args ?? [], spec.env, {
      logFile: path.join(this.logDir, `${name}.log`),
      maxBufferBytes: BUFFER_BYTES,
    });
    this.procs.set(name, proc);
    if (o.expectFailure) this.tentative.add(proc);
    void proc.exited().then((status) => this.onExit(name, proc, status));
    try {
      await proc.waitForLog(spec.ready, timeoutMs);
    } catch (err) {
      if (o.expectFailure) proc.kill('SIGKILL');
      throw err;
    } finally {
      this.tentative.delete(proc);
    }
    return proc;
  }

  /** The process's next exit is asked for (a fault that makes it stop by itself); returns it. */
  expectExit(name: string): ServiceProcess | undefined {
    const proc = this.procs.get(name);
    if (proc) this.expected.add(proc);
    return proc;
  }

  /** Sends `signal` and waits for the exit; the exit is not counted as unplanned. */
  async kill(name: string, signal: NodeJS.Signals): Promise<void> {
    const proc = this.procs.get(name);
    if (!proc || !proc.alive) return;
    this.expected.add(proc);
    await proc.stop(signal, 60_000);
  }

  /** Stops every process in `order` with SIGTERM (SIGKILL after the timeout); returns the exit statuses. */
  async stopAll(order: string[], timeoutMs = 60_000): Promise<Record<string, ExitStatus>> {
    this.stopping = true;
    const result: Record<string, ExitStatus> = {};
    for (const name of order) {
      const proc = this.procs.get(name);
      if (!proc || !proc.alive) continue;
      this.expected.add(proc);
      result[name] = await proc.stop('SIGTERM', timeoutMs);
    }
    return result;
  }

  /** Last resort on errors: SIGKILL whatever still runs. */
  async killAll(): Promise<void> {
    this.stopping = true;
    for (const proc of this.procs.values()) {
      if (!proc.alive) continue;
      this.expected.add(proc);
      await proc.stop('SIGKILL', 10_000);
    }
  }

  private onExit(name: string, proc: ServiceProcess, status: ExitStatus): void {
    if (this.expected.has(proc) || this.tentative.has(proc) || this.stopping) return;
    const exit: UnplannedExit = {
      name,
      atMs: Date.now() - this.startedAt,
      code: status.code,
      signal: status.signal,
      tail: proc.tail(15),
    };
    this.unplannedExits.push(exit);
    this.logger.warn({ ...exit }, `${name} exited unasked; starting it again`);
    if (this.specs[name]?.restartOnExit === false || this.procs.get(name) !== proc) return;
    setTimeout(() => {
      if (this.stopping || this.procs.get(name) !== proc) return;
      this.start(name).catch((err: unknown) => this.logger.error({ err: String(err) }, `${name} did not come back`));
    }, 1000);
  }
}
