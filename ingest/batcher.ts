/**
 * Collects records into batches and stores each batch in one call, flushing by size or by time.
 * `add` returns a promise that settles only once that record's fate is durable: 'stored' after its
 * batch was inserted, 'dead-lettered' after it was parked in the dead-letter queue. The BullMQ
 * processor awaits it, so a job is acknowledged only after its row is stored.
 *
 * Failures (classified by clickhouse/failures.ts):
 *  - transient (ClickHouse away, overloaded…): the batch is retried with capped exponential backoff,
 *    for as long as it takes; its records stay in flight, unacknowledged.
 *  - permanent (ClickHouse cannot parse a value): the batch is split in halves and each half stored
 *    on its own, recursively, so the good records are stored and the culprit ends up alone and
 *    goes to the dead-letter queue with the reason (log2(batch) extra inserts per bad record).
 *  - unknown ClickHouse errors: retried `maxAttempts` times, then treated as permanent.
 *
 * Shutdown: `drain` stores what is pending; `abandon` stops all retries and leaves the pending
 * promises unsettled on purpose: their jobs are neither acknowledged nor failed, so BullMQ re-delivers
 * them once their locks expire. Settling them with an error would move the jobs to the failed set.
 *
 * Pure-ish: no BullMQ, no ClickHouse; `store` and `reject` are injected.
 */
import type { Logger } from '../common/logger.js';
import { classifyFailure, describeFailure, type FailureKind } from '../clickhouse/failures.js';
import { backoffDelay, sleep } from './retry.js';

export type Outcome = 'stored' | 'dead-lettered';

export interface BatcherOptions<T> {
  /** For logs: what is batched (e.g. the queue name). */
  name: string;
  maxSize: number;
  flushMs: number;
  /** Batches being stored at once. */
  insertConcurrency: number;
  retry: { baseMs: number; maxMs: number; maxAttempts: number };
  /** Stores a whole batch; throws when it cannot. */
  store(items: readonly T[]): Promise<void>;
  /** Parks an item that can never be stored, with the reason; throws when it cannot (then retried). */
  reject(item: T, reason: string): Promise<void>;
  classify?: (err: unknown) => FailureKind;
  logger: Logger;
  /** For tests: the jitter source. */
  random?: () => number;
}

export interface BatcherStats {
  /** Records added so far. */
  received: number;
  stored: number;
  deadLettered: number;
  /** Successful inserts. */
  batches: number;
  /** Failed insert attempts that were retried. */
  retries: number;
  /** Records added and not yet stored or dead-lettered. */
  pending: number;
  /** True from a failed insert until the next successful one. */
  failing: boolean;
  lastError: string | null;
}

interface Entry<T> {
  item: T;
  resolve(outcome: Outcome): void;
}

export class Batcher<T> {
  private open: Entry<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly sealed: Entry<T>[][] = [];
  private active = 0;
  /** Records being dead-lettered via `reject`, outside the insert slots. */
  private parking = 0;
  private draining = false;
  private readonly aborter = new AbortController();
  private idleWaiters: (() => void)[] = [];
  private readonly classify: (err: unknown) => FailureKind;
  private readonly log: Logger;
  private readonly counters = { received: 0, stored: 0, deadLettered: 0, batches: 0, retries: 0 };
  private failing = false;
  private lastError: string | null = null;

  constructor(private readonly options: BatcherOptions<T>) {
    this.classify = options.classify ?? classifyFailure;
    this.log = options.logger.child({ batcher: options.name });
  }

  /** Adds a record; resolves once it is stored or dead-lettered (never rejects). */
  add(item: T): Promise<Outcome> {
    if (this.aborter.signal.aborted) return new Promise<Outcome>(() => undefined); // see abandon()
    return new Promise<Outcome>((resolve) => {
      this.open.push({ item, resolve });
      this.counters.received++;
      if (this.open.length >= this.options.maxSize || this.draining) this.seal();
      else this.timer ??= setTimeout(this.onTimer, this.options.flushMs);
    });
  }

  /**
   * Dead-letters a record known to be unstorable (it failed validation) without trying to insert
   * it; resolves 'dead-lettered' once parked, retrying while the dead-letter queue is unreachable.
   */
  reject(item: T, reason: string): Promise<Outcome> {
    if (this.aborter.signal.aborted) return new Promise<Outcome>(() => undefined);
    return new Promise<Outcome>((resolve) => {
      this.counters.received++;
      this.parking++;
      void this.deadLetter({ item, resolve }, reason).finally(() => {
        this.parking--;
        this.wakeIfIdle();
      });
    });
  }

  /** Inserts the open batch now instead of waiting for its timer. */
  flush(): void {
    this.seal();
  }

  /**
   * Stores everything pending, and from now on stores each record as soon as it is added.
   * Resolves true once nothing is pending, or false after `timeoutMs` (then call `abandon`).
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    this.seal();
    if (this.isIdle()) return true;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every retry at once; pending records are left unsettled (their jobs get re-delivered). */
  abandon(): number {
    const left = this.stats().pending;
    this.aborter.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.open = [];
    this.sealed.length = 0;
    if (left > 0) this.log.warn({ records: left }, 'abandoned unstored records; their jobs will be re-delivered');
    return left;
  }

  stats(): BatcherStats {
    const c = this.counters;
    return { ...c, pending: c.received - c.stored - c.deadLettered, failing: this.failing, lastError: this.lastError };
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.seal();
  };

  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.open.length > 0) {
      this.sealed.push(this.open);
      this.open = [];
    }
    this.pump();
  }

  private pump(): void {
    while (this.active < this.options.insertConcurrency && this.sealed.length > 0 && !this.aborter.signal.aborted) {
      const batch = this.sealed.shift()!;
      this.active++;
      void this.storeBatch(batch).finally(() => {
        this.active--;
        this.pump();
        this.wakeIfIdle();
      });
    }
  }

  private isIdle(): boolean {
    return this.open.length === 0 && this.sealed.length === 0 && this.active === 0 && this.parking === 0;
  }

  private wakeIfIdle(): void {
    if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Stores `entries`, retrying, splitting and dead-lettering as the failures require. Never throws. */
  private async storeBatch(entries: Entry<T>[]): Promise<void> {
    const signal = this.aborter.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const started = performance.now();
      try {
        await this.options.store(entries.map((e) => e.item));
      } catch (err) {
        const kind = this.classify(err);
        const reason = describeFailure(err);
        this.lastError = reason;
        if (kind === 'permanent' || (kind === 'unknown' && attempt >= this.options.retry.maxAttempts)) {
          if (entries.length === 1) return this.deadLetter(entries[0]!, reason);
          const half = Math.ceil(entries.length / 2);
          this.log.warn(
            { rows: entries.length, kind, err: reason },
            'insert refused; splitting the batch to isolate the bad record',
          );
          await this.storeBatch(entries.slice(0, half));
          await this.storeBatch(entries.slice(half));
          return;
        }
        this.counters.retries++;
        this.failing = true;
        const delayMs = backoffDelay(attempt, this.options.retry, this.options.random);
        this.log.warn({ rows: entries.length, attempt, delayMs, kind, err: reason }, 'insert failed; will retry');
        await sleep(delayMs, signal);
        continue;
      }
      this.counters.batches++;
      this.counters.stored += entries.length;
      if (this.failing) {
        this.failing = false;
        this.log.info({ rows: entries.length }, 'insert recovered');
      }
      this.log.debug({ rows: entries.length, ms: Math.round(performance.now() - started) }, 'batch stored');
      for (const e of entries) e.resolve('stored');
      return;
    }
  }

  /** Parks one record for good, retrying while the dead-letter queue is unreachable. */
  private async deadLetter(entry: Entry<T>, reason: string): Promise<void> {
    const signal = this.aborter.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.options.reject(entry.item, reason);
      } catch (err) {
        const delayMs = backoffDelay(attempt, this.options.retry, this.options.random);
        this.log.warn({ attempt, delayMs, err: describeFailure(err) }, 'dead-letter failed; will retry');
        await sleep(delayMs, signal);
        continue;
      }
      this.counters.deadLettered++;
      this.log.warn({ reason }, 'record dead-lettered');
      entry.resolve('dead-lettered');
      return;
    }
  }
}
