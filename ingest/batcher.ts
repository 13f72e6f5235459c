/**
 * Collects records into batches and stores each batch in one call, flushing by size or by time.
 * `add` returns a promise that settles only once that record's fate is durable: 'stored' after its
 * batch was inserted, 'dead-lettered' after it was parked in the dead-letter queue. The BullMQ
 * processor awaits it, so a job is acknowledged only after its row is stored.
 *
 * Failures (classified by clickhouse/failures.ts):
 *  - transient (ClickHouse away, overloaded…): the batch is retried with capped exponential backoff
 *    and jitter, for as long as it takes; its records stay in flight, unacknowledged.
 *  - permanent (ClickHouse refuses the data): the batch is split once. If both halves are refused the
 *    same way, the refusal is systematic, not one record's (a dropped or renamed column refuses every
 *    record): the batch is kept and retried with backoff like a transient failure, and resumes by
 *    itself once the cause is fixed. Otherwise the halves are split further, so the good records are
 *    stored and a bad one ends up alone; it is dead-lettered with the reason only once other records
 *    were stored between two of its refusals (proof that the table takes records, just not this one).
 *  - unknown ClickHouse errors: retried `maxAttempts` times, then treated as permanent.
 * While inserts fail, `stats().failure` says how and since when (InsertHealth), and the log says so
 * at a bounded rate.
 *
 * Shutdown: `drain` stores what is pending; `abandon` stops all retries and leaves the pending
 * promises unsettled on purpose: their jobs are neither acknowledged nor failed, so BullMQ re-delivers
 * them once their locks expire. Settling them with an error would move the jobs to the failed set.
 *
 * Pure-ish: no BullMQ, no ClickHouse; `store` and `reject` are injected.
 */
import type { Logger } from '../common/logger.js';
import { classifyFailure, clickHouseErrorType, describeFailure, type FailureKind } from '../clickhouse/failures.js';
import { InsertHealth, type InsertFailure } from './insert-health.js';
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
  /** Records set aside after a systematic refusal, waiting to be retried (part of `pending`). */
  held: number;
  /** True from a failed insert that is retried until the next successful one. */
  failing: boolean;
  /** How inserts fail, since when (null while they succeed). */
  failure: InsertFailure | null;
  lastError: string | null;
}

interface Entry<T> {
  item: T;
  resolve(outcome: Outcome): void;
  /** performance.now() at the end of the last refused insert that held this record. */
  refusedAt?: number;
  /**
   * The same at its first refusal. An insert that started after it and succeeded proves, at any
   * later refusal of this record, that the table takes records and not this one — also when that
   * insert was still running at the refusal right after it (judging only against the previous
   * refusal missed it, and a record with nothing stored after it was then held for ever).
   */
  firstRefusedAt?: number;
  /** How the last failed insert that held this record failed. */
  lastFailure?: FailureKind;
  /** Set aside after a systematic refusal before: an unknown error is not retried in place again. */
  held?: boolean;
}

/** Why an insert failed: the kind decides what to do, the ClickHouse error type tells refusals apart. */
interface Refusal {
  kind: FailureKind;
  type: string | undefined;
  reason: string;
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
  private readonly health: InsertHealth;
  private lastError: string | null = null;
  /** performance.now() at the start of the latest insert that succeeded. */
  private lastStoredStart = -Infinity;
  /** Records set aside after a systematic refusal, each group waiting for its timer. */
  private held = 0;
  private readonly holdTimers = new Set<NodeJS.Timeout>();
  /** Systematic refusals since the last successful insert: the backoff's exponent. */
  private systematicStreak = 0;

  constructor(private readonly options: BatcherOptions<T>) {
    this.classify = options.classify ?? classifyFailure;
    this.log = options.logger.child({ batcher: options.name });
    this.health = new InsertHealth(this.log);
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
    for (const timer of this.holdTimers) clearTimeout(timer);
    this.holdTimers.clear();
    this.held = 0;
    if (left > 0) this.log.warn({ records: left }, 'abandoned unstored records; their jobs will be re-delivered');
    return left;
  }

  stats(): BatcherStats {
    const c = this.counters;
    const failure = this.health.status();
    const pending = c.received - c.stored - c.deadLettered;
    return { ...c, pending, held: this.held, failing: failure !== null, failure, lastError: this.lastError };
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
    const busy = this.open.length + this.sealed.length + this.active + this.parking + this.held;
    return busy === 0;
  }

  private wakeIfIdle(): void {
    if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Stores `entries`, retrying, isolating and dead-lettering as the failures require. Never throws.
   * Records whose refusal is not proven to be their own are held: they leave the insert slot and
   * come back after a backoff, so the batches behind them can show whether the table takes records.
   */
  private async storeBatch(entries: Entry<T>[]): Promise<void> {
    const signal = this.aborter.signal;
    const { retry } = this.options;
    let todo = entries;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const refusal = await this.insert(todo);
      if (refusal === null) return;
      const unknownExhausted = refusal.kind === 'unknown' && (attempt >= retry.maxAttempts || todo[0]!.held === true);
      if (refusal.kind === 'permanent' || unknownExhausted) {
        todo = await this.isolate(todo, refusal);
        if (todo.length === 0 || signal.aborted) return;
        // Other records were stored since these were refused: one more try decides them.
        if (todo.every((e) => this.storedSince(e.refusedAt))) continue;
        if (!todo.some((e) => e.lastFailure === 'transient')) return this.hold(todo, refusal.reason);
      }
      this.counters.retries++;
      const delayMs = backoffDelay(attempt, retry, this.options.random);
      this.health.failed('transient', refusal.reason, todo.length, delayMs);
      await sleep(delayMs, signal);
    }
  }

  /** Sets records aside for a backoff after a systematic refusal, then queues them again. */
  private hold(entries: Entry<T>[], reason: string): void {
    this.counters.retries++;
    const delayMs = backoffDelay(++this.systematicStreak, this.options.retry, this.options.random);
    this.health.failed('systematic', reason, entries.length, delayMs);
    this.held += entries.length;
    for (const e of entries) e.held = true;
    const timer = setTimeout(() => {
      this.holdTimers.delete(timer);
      this.held -= entries.length;
      this.sealed.push(entries);
      this.pump();
    }, delayMs);
    this.holdTimers.add(timer);
  }

  /** One insert of `entries`; on success settles them. Returns null when stored, else why not. */
  private async insert(entries: Entry<T>[]): Promise<Refusal | null> {
    const started = performance.now();
    try {
      await this.options.store(entries.map((e) => e.item));
    } catch (err) {
      const refusal = { kind: this.classify(err), type: clickHouseErrorType(err), reason: describeFailure(err) };
      this.lastError = refusal.reason;
      const at = performance.now();
      for (const e of entries) {
        e.lastFailure = refusal.kind;
        if (refusal.kind !== 'transient') {
          e.firstRefusedAt ??= at;
          e.refusedAt = at;
        }
      }
      return refusal;
    }
    this.lastStoredStart = Math.max(this.lastStoredStart, started);
    this.systematicStreak = 0;
    this.counters.batches++;
    this.counters.stored += entries.length;
    this.health.stored();
    this.log.debug({ rows: entries.length, ms: Math.round(performance.now() - started) }, 'batch stored');
    for (const e of entries) e.resolve('stored');
    return null;
  }

  /**
   * After ClickHouse refused `entries` (not for being away): stores what it takes, dead-letters the
   * records proven unstorable, and returns those it cannot decide yet. The first split tells a bad
   * record from a systematic refusal: when both halves are refused the same way and nothing was
   * stored since, no single record is to blame (a dropped column refuses them all), so the whole
   * batch is returned to be retried later, at the cost of three inserts per retry, not 2n.
   */
  private async isolate(entries: Entry<T>[], refusal: Refusal): Promise<Entry<T>[]> {
    if (entries.length === 1) return this.judge(entries[0]!, refusal);
    // Stored since these were first refused: the table takes records, so some of these are bad.
    const proven = () => entries.some((e) => this.storedSince(e.firstRefusedAt));
    const provenBefore = proven();
    const half = Math.ceil(entries.length / 2);
    const parts = [entries.slice(0, half), entries.slice(half)];
    this.log.debug({ rows: entries.length, err: refusal.reason }, 'insert refused; trying each half');
    const refusals: (Refusal | null)[] = [];
    for (const part of parts) refusals.push(await this.insert(part));
    const [first, second] = refusals;
    const sameRefusal = first && second && first.kind !== 'transient' && first.type === second.type;
    if (sameRefusal && !provenBefore && !proven()) return entries;
    const left: Entry<T>[] = [];
    for (const [i, part] of parts.entries()) {
      const r = refusals[i];
      if (!r || this.aborter.signal.aborted) continue;
      // ClickHouse went away meanwhile: retried with the rest.
      if (r.kind === 'transient') left.push(...part);
      else left.push(...(await this.isolate(part, r)));
    }
    return left;
  }

  /**
   * A record refused on its own is dead-lettered only when an insert of other records that started
   * after its first refusal has succeeded: the table takes records, just not this one. Otherwise it
   * is held.
   */
  private async judge(entry: Entry<T>, refusal: Refusal): Promise<Entry<T>[]> {
    if (!this.storedSince(entry.firstRefusedAt)) return [entry];
    await this.deadLetter(entry, refusal.reason);
    return [];
  }

  /** True when an insert that started after `at` (performance.now()) succeeded. */
  private storedSince(at: number | undefined): boolean {
    return at !== undefined && this.lastStoredStart > at;
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
