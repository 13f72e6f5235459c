/**
 * Whether a batcher's inserts are failing, how, and since when: what `/healthz` and the stats show,
 * and what the log says about it. The log gets one warning when a failure starts (and when it first
 * turns into the other kind), then at most one reminder per `remindEveryMs` while it lasts, and one
 * line when inserts recover: a failure that lasts an hour, retried every few seconds, writes a few
 * dozen lines, not thousands.
 */
import type { Logger } from '../common/logger.js';

/**
 * - transient: ClickHouse is away, overloaded or otherwise not taking inserts (the error says so);
 * - systematic: ClickHouse answers but refuses every record tried, not one record's fault (a schema
 *   change such as a dropped column): retried like a transient failure, nothing is dead-lettered.
 */
export type InsertFailureKind = 'transient' | 'systematic';

export interface InsertFailure {
  kind: InsertFailureKind;
  /** Epoch ms of the first failed insert of this episode. */
  since: number;
  /** The latest failure, as clickhouse/failures.ts describes it. */
  reason: string;
  /** Failed insert attempts in this episode. */
  failedAttempts: number;
}

export interface InsertHealthOptions {
  /** Longest silence in the log while a failure lasts. Default 30 s. */
  remindEveryMs?: number;
  now?: () => number;
}

export class InsertHealth {
  private current: InsertFailure | null = null;
  /** The kinds this episode has already announced (a failure can alternate between them). */
  private readonly announced = new Set<InsertFailureKind>();
  private lastLogAt = 0;
  private attemptsAtLastLog = 0;
  private readonly remindEveryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    options: InsertHealthOptions = {},
  ) {
    this.remindEveryMs = options.remindEveryMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** A failed insert that will be retried; `held` is how many records wait for it. */
  failed(kind: InsertFailureKind, reason: string, held: number, delayMs: number): void {
    const now = this.now();
    const previous = this.current;
    this.current = {
      kind,
      since: previous?.since ?? now,
      reason,
      failedAttempts: (previous?.failedAttempts ?? 0) + 1,
    };
    const started = !this.announced.has(kind);
    if (!started && now - this.lastLogAt < this.remindEveryMs) return;
    this.announced.add(kind);
    const fields = {
      kind,
      err: reason,
      held,
      retryInMs: delayMs,
      failedAttempts: this.current.failedAttempts - this.attemptsAtLastLog,
      failingForMs: now - this.current.since,
    };
    this.log.warn(fields, started ? describeStart(kind) : 'inserts still failing; retrying');
    this.lastLogAt = now;
    this.attemptsAtLastLog = this.current.failedAttempts;
  }

  /** An insert succeeded: ends the episode, if there was one. */
  stored(): void {
    const episode = this.current;
    if (episode === null) return;
    this.current = null;
    this.attemptsAtLastLog = 0;
    this.announced.clear();
    this.log.info(
      { kind: episode.kind, failedAttempts: episode.failedAttempts, failedForMs: this.now() - episode.since },
      'inserts recovered',
    );
  }

  status(): InsertFailure | null {
    return this.current && { ...this.current };
  }
}

function describeStart(kind: InsertFailureKind): string {
  return kind === 'systematic'
    ? 'ClickHouse refuses every record tried, not one bad record (schema changed?); holding them and retrying'
    : 'inserts failing; holding the records and retrying';
}

/** One line for `/healthz`: what fails, since when, how many records wait, and why. */
export function describeInsertFailure(name: string, failure: InsertFailure, held: number): string {
  const what =
    failure.kind === 'systematic'
      ? 'ClickHouse refuses every record tried (not one bad record; schema changed?)'
      : 'inserts failing';
  const since = new Date(failure.since).toISOString();
  return `${name}: ${what} since ${since}, ${held} records held and retried: ${failure.reason}`;
}
