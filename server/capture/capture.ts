/**
 * Wires the capture layer: the database's executed and window hooks append to the durable outbox,
 * the server commits the outbox once per tick (`db.tick(); capture.commit()`), and the relay moves
 * committed records to BullMQ in the background. The tick path never touches Redis.
 * With a `run`, every execution and window is stamped with its id, and the run's start record is
 * committed before the first tick and its end record at close (common/contracts.ts RunEvent).
 */
import type { JobsOptions } from 'bullmq';
import type { DelayedEvent, ExecutedEvent, QueuedEvent, RunEvent, WindowEvent } from '../../common/contracts.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { Hook } from '../hook.js';
import { BullmqSink } from './bullmq-sink.js';
import { DEFAULT_CAPTURE, type CaptureOptions } from './options.js';
import { Outbox, type OutboxStats } from './outbox.js';
import { QueuedStream, type QueuedStreamStats } from './queued-stream.js';
import { RedisLink, type RedisLinkStats } from './redis-link.js';
import { Relay, type RelayStats } from './relay.js';

/** What capture needs of the database: its lossless hooks (queued, delayed: for the scheduler's stream). */
export interface CapturedDatabase {
  hooks: {
    executed: Hook<ExecutedEvent>;
    window: Hook<WindowEvent>;
    queued?: Hook<QueuedEvent>;
    delayed?: Hook<DelayedEvent>;
  };
}

export type StartCaptureParams = Partial<CaptureOptions> & {
  db: CapturedDatabase;
  logger?: Logger;
  /** Extra default options for the jobs the relay adds (e.g. `attempts`, `backoff`). */
  jobOptions?: JobsOptions;
  /** The run this capture records (its start record, without the end fields). */
  run?: RunStart;
};

/** What a run's start record holds; the end record adds `endedAt` and `lastTick`. */
export type RunStart = Omit<RunEvent, 'type' | 'endedAt' | 'lastTick'>;

export interface CaptureStats {
  queuedStream: QueuedStreamStats | null;
  outbox: OutboxStats;
  relay: RelayStats;
  redis: RedisLinkStats;
}

export interface Capture {
  /** Writes and fdatasyncs this tick's records; call once after each `db.tick()`. Returns how many. */
  commit(): number;
  /**
   * What the server calls after tick `tick`: publishes the tick's queued events to the scheduler's
   * stream (without waiting), then commits the outbox. Returns the records committed.
   */
  afterTick(tick: number): number;
  stats(): CaptureStats;
  /** Why capture waits (the relay refused a volatile Redis), for `GET /healthz`; empty when it does not. */
  degraded(): string[];
  /** The scheduler's latest figures, as it publishes them in Redis (null when none runs). */
  schedulerStats(): unknown;
  /**
   * Commits what was appended, lets the relay send for up to `drainTimeoutMs`, then stops it and
   * closes Redis and the outbox. Unsent records stay on disk for the next start. Stop ticking
   * first: a hook firing after close throws (OutboxClosedError) rather than drop a record.
   */
  close(): Promise<{ drained: boolean; pendingRecords: number }>;
}

export function startCapture(params: StartCaptureParams): Capture {
  const { db, logger: parent = silentLogger, jobOptions, run, ...overrides } = params;
  const options: CaptureOptions = { ...DEFAULT_CAPTURE, ...overrides };
  const logger = parent.child({ component: 'capture' });
  const outbox = Outbox.open({ dir: options.outboxDir, segmentBytes: options.segmentBytes, logger });
  const link = new RedisLink({
    url: options.redisUrl,
    backoffMinMs: options.backoffMinMs,
    backoffMaxMs: options.backoffMaxMs,
    logger,
    // Checked on every connection: a Redis can come back from a restart with another configuration.
    persistence: {
      allowVolatile: options.allowVolatileRedis,
      recheckMs: options.backoffMaxMs,
      timeoutMs: options.sendTimeoutMs,
    },
  });
  const sink = new BullmqSink(link, {
    prefix: options.prefix,
    addBulkSize: options.addBulkSize,
    keepCompleted: options.keepCompleted,
    keepFailed: options.keepFailed,
    ...(jobOptions ? { jobOptions } : {}),
  });
  const relay = new Relay(outbox, link, sink, options, logger);
  link.onChange((state) => {
    if (state === 'connected') relay.redisReady();
  });
  // The relay starts a little after the tick rather than at once: the milliseconds right after a
  // tick are when the scheduler reads the tick's queued events and sends its decisions, and in one
  // process (npm start) the relay's reads and BullMQ calls would hold the same event loop.
  let relayTimer: NodeJS.Timeout | undefined;
  outbox.onCommit(() => {
    if (options.relayDelayMs === 0) return relay.notify();
    relayTimer ??= setTimeout(() => {
      relayTimer = undefined;
      relay.notify();
    }, options.relayDelayMs).unref();
  });
  // Executions wait in memory until the tick's commit (still before the next tick), so that a busy
  // tick can be written as one group record: one job instead of thousands (see ExecutionGroup).
  let tickExecutions: ExecutedEvent[] = [];
  const runId = run?.runId;
  let lastTick: number | null = null;
  if (run) {
    outbox.append({ type: 'run', ...run, endedAt: null, lastTick: null });
    outbox.commit();
  }
  const appendExecutions = () => {
    const list = tickExecutions;
    if (list.length === 0) return;
    tickExecutions = [];
    if (list.length > options.groupAbove) {
      outbox.append({ type: 'executions', tick: list[0]!.executedTick, executions: list });
    } else {
      for (const e of list) outbox.append(e);
    }
  };
  db.hooks.executed.add((e) => {
    tickExecutions.push(runId === undefined ? e : { ...e, runId });
  });
  db.hooks.window.add((w) => outbox.append(runId === undefined ? w : { ...w, runId }));
  const stream =
    db.hooks.queued && options.queuedStreamMaxLen > 0
      ? new QueuedStream(
          { queued: db.hooks.queued, ...(db.hooks.delayed ? { delayed: db.hooks.delayed } : {}) },
          {
            redisUrl: options.redisUrl,
            prefix: options.prefix,
            maxLen: options.queuedStreamMaxLen,
            backoffMinMs: options.backoffMinMs,
            backoffMaxMs: options.backoffMaxMs,
            statsPollMs: 1000,
          },
          logger,
        )
      : undefined;
  relay.start();
  const stats = (): CaptureStats => ({
    queuedStream: stream?.stats() ?? null,
    outbox: outbox.stats(),
    relay: relay.stats(),
    redis: link.stats(),
  });
  // State changes are logged where they happen; a growing backlog is logged on a timer, so an
  // outage shows in the logs with its size and age, not only its start and end.
  const backlogLog = setInterval(() => {
    const s = stats();
    if (s.relay.lagMs < options.logIntervalMs) return;
    logger.warn(
      {
        pendingRecords: s.outbox.pendingRecords,
        pendingBytes: s.outbox.pendingBytes,
        lagMs: s.relay.lagMs,
        redis: s.redis.state,
      },
      'capture backlog waiting for Redis',
    );
  }, options.logIntervalMs).unref();
  logger.info(
    { outboxDir: options.outboxDir, prefix: options.prefix, recovered: outbox.stats().recoveredRecords, runId },
    'capture started',
  );

  let closing: Promise<{ drained: boolean; pendingRecords: number }> | undefined;
  return {
    commit: () => {
      appendExecutions();
      return outbox.commit();
    },
    afterTick: (tick) => {
      lastTick = tick;
      stream?.endTick(tick);
      appendExecutions();
      return outbox.commit();
    },
    stats,
    degraded: () =>
      link.state === 'refused' ? [`capture paused, records wait in the outbox: ${link.stats().lastError}`] : [],
    schedulerStats: () => stream?.schedulerStats() ?? null,
    close() {
      closing ??= (async () => {
        clearInterval(backlogLog);
        clearTimeout(relayTimer);
        try {
          // After a failed write the outbox takes nothing more; what it committed is still relayed.
          if (outbox.writable) {
            appendExecutions();
            if (run) outbox.append({ type: 'run', ...run, endedAt: Date.now(), lastTick });
            outbox.commit();
          }
        } finally {
          await relay.stop(options.drainTimeoutMs);
          sink.close();
          await stream?.close();
          await link.close();
          outbox.close();
        }
        const { pendingRecords } = outbox.stats();
        logger.info({ pendingRecords, drained: pendingRecords === 0 }, 'capture closed');
        return { drained: pendingRecords === 0, pendingRecords };
      })();
      return closing;
    },
  };
}
