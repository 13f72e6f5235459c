/**
 * The relay: one asynchronous loop that reads committed outbox records in batches, sends each
 * batch to BullMQ, and only after Redis acknowledged it advances and persists the outbox position.
 * It never runs on the tick path (a commit only wakes it), so Redis being down, slow or restarting
 * cannot slow a tick: a failed or timed-out send rewinds to the acknowledged position, waits with
 * capped exponential backoff (or for the connection to come back) and sends the same records again.
 *
 * Up to `concurrency` batches are in flight: BullMQ's job building costs Node more CPU than Redis
 * spends storing the jobs, so overlapping the next batch's preparation with the current one's round
 * trip raises throughput (measured: ~17k jobs/s with one batch in flight, ~25k with two). Batches
 * are acknowledged strictly in order, so the persisted position never skips an unsent record.
 */
import type { Logger } from '../../common/logger.js';
import type { SendResult } from './bullmq-sink.js';
import { RelaySendTimeoutError } from './errors.js';
import type { OutboxBatch } from './outbox-batch.js';
import type { Outbox } from './outbox.js';
import { Wakeup } from './wakeup.js';

export type RelayState = 'idle' | 'sending' | 'waiting-for-redis' | 'backoff' | 'stopped';

export interface RelayOptions {
  batchSize: number;
  /** Batches in flight at once (1 = strictly one round trip at a time). */
  concurrency: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  sendTimeoutMs: number;
}

/** Where batches go (BullmqSink in production; a stub in tests). Resolves once Redis acknowledged. */
export interface RelaySink {
  send(batch: OutboxBatch): Promise<SendResult>;
}

/** The connection's readiness (RedisLink in production). */
export interface RelayLink {
  readonly ready: boolean;
  /** Drops and re-opens the connection, aborting the sends in flight. */
  reset(): void;
}

export interface RelayStats {
  state: RelayState;
  /** Committed records not yet acknowledged by Redis, and the age of the oldest (0 when none). */
  lagRecords: number;
  lagMs: number;
  /** Totals acknowledged by Redis since start. */
  relayed: { executions: number; windows: number; deadLetters: number; batches: number };
  /** Failed send attempts since start, and the last failure's message. */
  failures: number;
  lastError: string | null;
  lastSentAt: number | null;
}

interface InFlight {
  batch: OutboxBatch;
  result: Promise<SendResult | 'stopped'>;
}

export class Relay {
  private state: RelayState = 'idle';
  private loop: Promise<void> | undefined;
  private draining = false;
  private stopping = false;
  /** Wakes the loop: a commit, Redis connected, or stop. */
  private readonly wake = new Wakeup();
  /** Ends a backoff early: Redis connected, or stop (commits must not). */
  private readonly retry = new Wakeup();
  /** Ends the sends in flight when stop is forced. */
  private readonly aborters = new Set<() => void>();
  private readonly relayed = { executions: 0, windows: 0, deadLetters: 0, batches: 0 };
  private failures = 0;
  private failureStreak = 0;
  private lastError: string | null = null;
  private lastSentAt: number | null = null;

  constructor(
    private readonly outbox: Outbox,
    private readonly link: RelayLink,
    private readonly sink: RelaySink,
    private readonly options: RelayOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** New records were committed (tick path: a flag or one promise resolution). */
  notify(): void {
    this.wake.notify();
  }

  /** Redis became available: stop waiting or backing off. */
  redisReady(): void {
    this.wake.notify();
    this.retry.notify();
  }

  private async run(): Promise<void> {
    const inflight: InFlight[] = [];
    let backoff = this.options.backoffMinMs;
    while (!this.stopping) {
      try {
        let exhausted = false;
        while (inflight.length < this.options.concurrency && this.link.ready && !this.stopping) {
          const batch = await this.outbox.read(this.options.batchSize);
          if (batch.lines === 0) {
            // Crossing into a new segment moves the position, so the old file can go now.
            if (inflight.length === 0 && batch.from.segment !== batch.to.segment) await this.outbox.ack(batch);
            exhausted = true;
            break;
          }
          inflight.push({ batch, result: this.sendWithTimeout(batch) });
        }
        const head = inflight[0];
        if (!head) {
          if (!this.link.ready) {
            this.state = 'waiting-for-redis';
            await this.wake.wait(this.options.backoffMaxMs);
          } else if (this.draining && exhausted) {
            break;
          } else {
            this.state = 'idle';
            await this.wake.wait();
          }
          continue;
        }
        this.state = 'sending';
        const sent = await head.result;
        if (sent === 'stopped') break;
        await this.outbox.ack(head.batch);
        inflight.shift();
        this.count(sent);
        backoff = this.options.backoffMinMs;
      } catch (error) {
        // Batches read after the failed one are dropped from memory and read again from disk.
        await Promise.allSettled(inflight.map((f) => f.result));
        inflight.length = 0;
        this.outbox.rewind();
        this.failed(error, backoff);
        this.state = 'backoff';
        await this.retry.wait(backoff * (0.8 + 0.4 * Math.random()));
        backoff = Math.min(backoff * 2, this.options.backoffMaxMs);
      }
    }
    this.state = 'stopped';
  }

  private count(sent: SendResult): void {
    this.relayed.executions += sent.executions;
    this.relayed.windows += sent.windows;
    this.relayed.deadLetters += sent.deadLetters;
    this.relayed.batches++;
    this.lastSentAt = Date.now();
    if (sent.deadLetters > 0)
      this.logger.error({ count: sent.deadLetters }, 'invalid outbox lines sent to the dead-letter queue');
    if (this.failureStreak > 0) {
      this.logger.info(
        { failedAttempts: this.failureStreak, pending: this.outbox.stats().pendingRecords },
        'relay resumed',
      );
    }
    this.failureStreak = 0;
  }

  private failed(error: unknown, backoff: number): void {
    this.failures++;
    this.failureStreak++;
    this.lastError = error instanceof Error ? error.message : String(error);
    // One warning per outage; the rest at debug (a long outage would otherwise flood the log).
    const level = this.failureStreak === 1 ? 'warn' : 'debug';
    this.logger[level](
      { err: this.lastError, backoffMs: backoff, attempt: this.failureStreak },
      'relay send failed; retrying',
    );
  }

  /**
   * Sends a batch, giving up after `sendTimeoutMs` (the connection is reset so a half-open socket
   * does not hold the relay) or when stop is forced. An abandoned send may still land later: that
   * is harmless, because the batch is re-sent with the same job ids and acknowledged only then.
   */
  private sendWithTimeout(batch: OutboxBatch): Promise<SendResult | 'stopped'> {
    const send = this.sink.send(batch);
    let timer: NodeJS.Timeout | undefined;
    let abort: (() => void) | undefined;
    const timeout = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.sendTimeoutMs)),
    );
    // A fresh promise per send: racing on one long-lived promise would pile up a reaction per send.
    const stopped = new Promise<'stopped'>((resolve) => (abort = () => resolve('stopped')));
    this.aborters.add(abort!);
    const result = Promise.race([send, timeout, stopped]).then((outcome) => {
      if (outcome !== 'timeout') return outcome;
      this.link.reset();
      throw new RelaySendTimeoutError(this.options.sendTimeoutMs);
    });
    const cleanup = () => {
      clearTimeout(timer);
      this.aborters.delete(abort!);
    };
    void result.then(cleanup, cleanup);
    void send.catch(() => undefined);
    return result;
  }

  stats(): RelayStats {
    const o = this.outbox.stats();
    return {
      state: this.state,
      lagRecords: o.pendingRecords,
      lagMs: o.oldestPendingAt === null ? 0 : Math.max(0, Date.now() - o.oldestPendingAt),
      relayed: { ...this.relayed },
      failures: this.failures,
      lastError: this.lastError,
      lastSentAt: this.lastSentAt,
    };
  }

  /**
   * Sends what is committed for up to `drainTimeoutMs`, then stops. Records not acknowledged by
   * then stay in the outbox and are sent by the next run. Resolves when the loop has ended.
   */
  async stop(drainTimeoutMs: number): Promise<{ drained: boolean }> {
    if (this.loop) {
      this.draining = true;
      this.wake.notify();
      const deadline = setTimeout(() => this.forceStop(), drainTimeoutMs);
      try {
        await this.loop;
      } finally {
        clearTimeout(deadline);
      }
    }
    return { drained: this.outbox.stats().pendingRecords === 0 };
  }

  private forceStop(): void {
    this.stopping = true;
    for (const abort of this.aborters) abort();
    this.wake.notify();
    this.retry.notify();
  }
}
