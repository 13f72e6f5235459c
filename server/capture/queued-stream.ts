/**
 * Publishes the database's queued events to the scheduler's Redis Stream: the delays accepted
 * since the previous tick (so the scheduler knows who else moved what), every queued event of the
 * tick, then one `tick-end` entry, in one pipeline sent right after the tick (before the outbox's
 * fdatasync, because the scheduler has less than a tick to act on them).
 *
 * The stream is a fast path, not a record: the tick never waits for Redis, and while Redis is away
 * a tick's entries are dropped (and counted) rather than queued in memory. The scheduler notices
 * the gap in tick-end entries and rebuilds its plan from `GET /queued`, which is the truth.
 * It also mirrors the scheduler's published figures (a Redis key the scheduler refreshes) into the
 * server's `GET /stats`, so one endpoint shows the whole picture whichever process runs it.
 */
import {
  queuedStreamKey,
  schedulerStatsKey,
  STREAM_FIELD,
  type DelayedEvent,
  type QueuedEvent,
  type TickEndEntry,
} from '../../common/contracts.js';
import type { Logger } from '../../common/logger.js';
import type { Hook } from '../hook.js';
import { RedisLink } from './redis-link.js';

export interface QueuedStreamOptions {
  redisUrl: string;
  prefix: string;
  /** Approximate cap on the stream's length (`XADD MAXLEN ~`); 0 turns publishing off. */
  maxLen: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** How often the scheduler's figures are read back for `GET /stats`. */
  statsPollMs: number;
}

export interface QueuedStreamStats {
  /** Ticks whose entries were sent, and those dropped because Redis was away. */
  publishedTicks: number;
  publishedEvents: number;
  droppedTicks: number;
  droppedEvents: number;
  redis: string;
}

export class QueuedStream {
  private readonly link: RedisLink;
  private readonly key: string;
  /** In the order the database emitted them: delays between ticks, then the tick's queued events. */
  private pending: (QueuedEvent | DelayedEvent)[] = [];
  private pendingDelayed = 0;
  private counters = { publishedTicks: 0, publishedEvents: 0, droppedTicks: 0, droppedEvents: 0 };
  private scheduler: unknown = null;
  private readonly poll: NodeJS.Timeout;

  constructor(
    hooks: { queued: Hook<QueuedEvent>; delayed?: Hook<DelayedEvent> },
    private readonly options: QueuedStreamOptions,
    private readonly logger: Logger,
  ) {
    this.key = queuedStreamKey(options.prefix);
    this.link = new RedisLink({
      url: options.redisUrl,
      backoffMinMs: options.backoffMinMs,
      backoffMaxMs: options.backoffMaxMs,
      logger: logger.child({ component: 'queued-stream' }),
      connectionName: 'spike-queued-stream',
    });
    hooks.queued.add((e) => {
      this.pending.push(e);
    });
    hooks.delayed?.add((e) => {
      this.pending.push(e);
      this.pendingDelayed++;
    });
    this.poll = setInterval(() => this.readSchedulerStats(), options.statsPollMs).unref();
  }

  /** Sends tick `tick`'s queued events and its tick-end entry; never waits, never throws. */
  endTick(tick: number): void {
    const events = this.pending;
    const delayed = this.pendingDelayed;
    this.pending = [];
    this.pendingDelayed = 0;
    if (this.options.maxLen === 0) return;
    if (this.link.state !== 'connected') {
      this.drop(events.length);
      return;
    }
    const end: TickEndEntry = {
      type: 'tick-end',
      tick,
      nextTick: tick + 1,
      queued: events.length - delayed,
      delayed,
      publishedAt: Date.now(),
    };
    // One transaction: a reader blocked on the stream wakes once, with the whole tick, instead of
    // at the first entry (and then again for the rest).
    const pipeline = this.link.client.multi();
    const cap = String(this.options.maxLen);
    for (const e of events) pipeline.xadd(this.key, 'MAXLEN', '~', cap, '*', STREAM_FIELD, JSON.stringify(e));
    pipeline.xadd(this.key, 'MAXLEN', '~', cap, '*', STREAM_FIELD, JSON.stringify(end));
    pipeline.exec().then(
      (results) => {
        if (results?.some(([err]) => err)) this.drop(events.length);
        else {
          this.counters.publishedTicks++;
          this.counters.publishedEvents += events.length;
        }
      },
      () => this.drop(events.length),
    );
  }

  stats(): QueuedStreamStats {
    return { ...this.counters, redis: this.link.state };
  }

  /** The scheduler's latest published figures (null when none is running or Redis is away). */
  schedulerStats(): unknown {
    return this.scheduler;
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    await this.link.close();
  }

  private drop(events: number): void {
    this.counters.droppedTicks++;
    this.counters.droppedEvents += events;
  }

  private readSchedulerStats(): void {
    if (this.link.state !== 'connected') return;
    this.link.client.get(schedulerStatsKey(this.options.prefix)).then(
      (json) => {
        try {
          this.scheduler = json ? (JSON.parse(json) as unknown) : null;
        } catch {
          this.scheduler = null;
        }
      },
      (err: unknown) => this.logger.debug({ err: String(err) }, 'could not read the scheduler figures'),
    );
  }
}
