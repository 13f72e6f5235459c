/**
 * Runs named pure tasks (plain data in, plain data out) in one worker thread, so CPU-heavy work —
 * the estimator's solve, the report's shaping and rendering — never holds the event loop that also
 * runs the database's 100 ms ticks and the scheduler's decisions (embedded mode, system/embedded.ts).
 * The tasks live in a module of their own (`tasks`: a URL of a TypeScript module exporting `tasks`,
 * a table of functions); the worker loads it from source through tsx (offload-boot.js), which also
 * holds when the process runs from a bundle (the test suite's bundles keep each module's source
 * URL as `import.meta.url`).
 *
 * One worker, started at the first task and kept (a task's libraries load once), unreferenced while
 * idle so it never keeps a process alive. Inputs are cloned (pass `transfer` to move typed arrays'
 * buffers instead); outputs' own typed-array buffers are moved. A task that throws rejects with
 * OffloadTaskError (its name and code kept); a worker that dies rejects everything pending with
 * OffloadWorkerError, and the next task starts a fresh one; after `close()`, OffloadClosedError.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import { SpikeError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { toRemoteError, type RemoteError, type TaskReply, type TaskRequest } from './offload-worker.js';

/** A task threw in the worker. `remoteName`/`remoteCode` are the original error's. */
export class OffloadTaskError extends SpikeError {
  constructor(
    readonly task: string,
    readonly remote: RemoteError,
  ) {
    super('OFFLOAD_TASK_FAILED', `${task} failed in the worker thread: ${remote.name}: ${remote.message}`);
    if (remote.stack) this.stack = `${this.stack ?? ''}\nworker stack: ${remote.stack}`;
  }
  get remoteName(): string {
    return this.remote.name;
  }
  get remoteCode(): string | null {
    return this.remote.code;
  }
}

/** The worker could not start, crashed or exited with the task pending. */
export class OffloadWorkerError extends SpikeError {
  constructor(
    readonly task: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super('OFFLOAD_WORKER_FAILED', `${task}: the worker thread failed (${reason})`, options);
  }
}

/** A task asked for after `close()`. */
export class OffloadClosedError extends SpikeError {
  constructor(readonly task: string) {
    super('OFFLOAD_CLOSED', `${task}: the offload worker is closed`);
  }
}

export interface OffloadOptions {
  /** The tasks module (TypeScript source, exports `tasks`), e.g. `new URL('./worker-tasks.ts', import.meta.url)`. */
  tasks: URL;
  /** Names the thread in logs and diagnostics. */
  name: string;
  logger?: Logger;
}

export interface OffloadStats {
  /** Tasks answered (either way), failed, and worker threads started so far. */
  done: number;
  failed: number;
  workers: number;
  pending: number;
}

export interface Offload {
  run<T>(task: string, input: unknown, transfer?: readonly TransferListItem[]): Promise<T>;
  stats(): OffloadStats;
  /** Rejects what is pending (OffloadClosedError) and terminates the worker. */
  close(): Promise<void>;
}

const BOOT = new URL('./offload-boot.js', import.meta.url);
const SERVE = new URL('./offload-worker.ts', import.meta.url);

interface Pending {
  task: string;
  resolve: (output: unknown) => void;
  reject: (err: Error) => void;
}

export function startOffload(o: OffloadOptions): Offload {
  const log = (o.logger ?? silentLogger).child({ component: 'offload', worker: o.name });
  const pending = new Map<number, Pending>();
  const stats = { done: 0, failed: 0, workers: 0 };
  let nextId = 1;
  let worker: Worker | undefined;
  let closed = false;

  const failAll = (w: Worker, make: (task: string) => Error) => {
    if (worker !== w) return;
    worker = undefined;
    for (const [id, p] of pending) {
      pending.delete(id);
      stats.failed++;
      p.reject(make(p.task));
    }
  };

  const spawn = (): Worker => {
    const w = new Worker(BOOT, { name: o.name, workerData: { worker: SERVE.href, tasks: o.tasks.href } });
    stats.workers++;
    w.on('message', (reply: TaskReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      stats.done++;
      if ('error' in reply) {
        stats.failed++;
        p.reject(new OffloadTaskError(p.task, reply.error));
      } else p.resolve(reply.output);
      if (pending.size === 0) w.unref();
    });
    w.on('error', (err) => {
      log.error({ err }, 'offload worker failed');
      failAll(w, (task) => new OffloadWorkerError(task, err.message, { cause: err }));
    });
    w.on('exit', (code) => {
      if (!closed) log.warn({ code }, 'offload worker exited');
      failAll(w, (task) => (closed ? new OffloadClosedError(task) : new OffloadWorkerError(task, `exit code ${code}`)));
    });
    return w;
  };

  return {
    run<T>(task: string, input: unknown, transfer: readonly TransferListItem[] = []): Promise<T> {
      if (closed) return Promise.reject(new OffloadClosedError(task));
      const w = (worker ??= spawn());
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { task, resolve: resolve as (output: unknown) => void, reject });
        w.ref();
        try {
          w.postMessage({ id, task, input } satisfies TaskRequest, [...transfer]);
        } catch (err) {
          // An input that cannot be cloned: refused here, before the worker sees anything.
          pending.delete(id);
          stats.failed++;
          reject(new OffloadTaskError(task, toRemoteError(err)));
        }
      });
    },
    stats: () => ({ ...stats, pending: pending.size }),
    async close() {
      if (closed) return;
      closed = true;
      const w = worker;
      if (!w) return;
      failAll(w, (task) => new OffloadClosedError(task));
      await w.terminate();
    },
  };
}
