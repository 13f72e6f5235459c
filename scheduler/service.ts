/**
 * The live scheduler: reads the queued-events stream, feeds the pure policy, and applies its
 * decisions with `POST /delay` before the tick they are for runs.
 *
 * Per batch read from the stream: queued events go to `policy.onQueued`; the last `tick-end` in the
 * batch triggers `policy.beforeTick(nextTick)` and its decisions are sent at once, in parallel.
 * An older tick-end in the same batch, or one published more than a tick ago, is stale (its tick
 * has most likely run): its decisions are counted as missed and never sent late. A gap in the
 * tick-end sequence (entries lost while Redis was away, or a restart), or a `/delay` whose outcome
 * is unknown, triggers a rebuild of the plan from `GET /queued`, the database's truth, so a
 * decision is never based on a guess about where an execution is: this is what keeps a restarted
 * scheduler from postponing an execution a second time.
 *
 * Other clients may move executions too (`delayed` entries on the stream name who did). Such an
 * execution is theirs from then on (ownership.ts): it leaves the plan and is never moved back.
 * Every request carries the tick the plan has the execution at (`expectedTick`), so one racing
 * another client's move is refused (409) instead of landing on top of it. A request the database
 * refuses is never sent again: its execution leaves the plan, and the plan is not rebuilt.
 */
import { createRedis, type RedisClient } from '../common/redis-client.js';
import { schedulerStatsKey, type DelayedEvent, type TickEndEntry } from '../common/contracts.js';
import { ConfigError } from '../common/errors.js';
import { minorGc } from '../common/idle-gc.js';
import type { Logger } from '../common/logger.js';
import type { SettingValues } from '../common/settings.js';
import { subscribeEstimates, type EstimatesSubscription } from '../common/estimates-channel.js';
import { DatabaseClient, type DelayOutcome } from './database-client.js';
import type { Decision } from './decision.js';
import { SwappableCostModel, type EstimateSource } from './estimate-source.js';
import { LiveFigures, type DecisionFigures, type DecisionOutcome } from './live-figures.js';
import { compilePolicyOptions, type PolicyOptions, type policySettings } from './options.js';
import { Ownership } from './ownership.js';
import { Policy } from './policy.js';
import { QueuedReader } from './queued-reader.js';
import type { SchedulerServiceOptions } from './service-options.js';

export type SchedulerState = 'starting' | 'running' | 'stopping' | 'stopped';

export interface SchedulerFigures extends DecisionFigures {
  state: SchedulerState;
  /** Tick-ends skipped because they were stale, rebuilds from `GET /queued`, and their causes. */
  staleTicks: number;
  resyncs: number;
  gaps: number;
  malformedEntries: number;
  /** Executions taken out of the plan: moved by another client, or a request for them refused. */
  released: Ownership['counts'];
  planSize: number;
  estimatesVersion: number | null;
  /** The current window's per-tick level (cpu, io, memory), once a window has started. */
  level: number[] | null;
  updatedAt: number;
}

export interface StartSchedulerParams {
  options: SchedulerServiceOptions;
  policy: SettingValues<typeof policySettings>;
  estimates: EstimateSource;
  logger: Logger;
  /** Told each sent decision's outcome and latency, e.g. for a metrics histogram (scheduler/metrics.ts). */
  onDecision?: (outcome: DecisionOutcome, latencyMs: number) => void;
}

export interface SchedulerHandle {
  /**
   * Resolves once the plan is built and decisions flow (it waits for the database and Redis to
   * answer, retrying); rejects on a setting the database refuses (e.g. a budget above its max delay).
   * Closing before then ends the wait.
   */
  ready: Promise<void>;
  state(): SchedulerState;
  figures(): SchedulerFigures;
  /** Stops reading, lets the decisions in flight finish, withdraws the published figures. */
  close(): Promise<void>;
}

/** Starts the service; returns at once (see `ready`), so it can be closed while it waits. */
export function startScheduler(p: StartSchedulerParams): SchedulerHandle {
  const s = new SchedulerService(p);
  return { ready: s.start(), state: () => s.state, figures: () => s.figures(), close: () => s.close() };
}

class SchedulerService {
  state: SchedulerState = 'starting';
  private readonly log: Logger;
  private readonly o: SchedulerServiceOptions;
  private readonly db: DatabaseClient;
  private readonly reader: QueuedReader;
  private readonly redis: RedisClient;
  private readonly model = new SwappableCostModel();
  private readonly live: LiveFigures;
  private readonly ownership: Ownership;
  private readonly gc: (() => void) | undefined;
  private policyOptions: PolicyOptions | undefined;
  private policy: Policy | undefined;
  private subscription: EstimatesSubscription | undefined;
  private timers: NodeJS.Timeout[] = [];
  private loop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private needResync = true;
  /** The database's tick length, from `GET /stats`. */
  private tickMs = 100;
  private lastTick: number | undefined;
  private queuedInTick = 0;
  private delayedInTick = 0;
  /** `nextTick` when the plan was last rebuilt: it intended nothing for earlier ticks. */
  private planStart = Number.NEGATIVE_INFINITY;
  private counters = { staleTicks: 0, resyncs: 0, gaps: 0, malformedEntries: 0 };

  constructor(private readonly p: StartSchedulerParams) {
    this.o = p.options;
    this.live = new LiveFigures(undefined, p.onDecision);
    this.log = p.logger.child({ component: 'scheduler' });
    this.db = new DatabaseClient(this.o.serverUrl, this.o.requestTimeoutMs, this.o.by);
    this.ownership = new Ownership(this.o.by);
    this.gc = this.o.idleGc ? minorGc() : undefined;
    this.reader = new QueuedReader(this.o.redisUrl, this.o.prefix, this.o.consumer);
    this.redis = createRedis(this.o.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectionName: 'spike-scheduler',
    });
    this.redis.on('error', () => undefined);
  }

  async start(): Promise<void> {
    await this.reloadEstimates();
    this.subscription = subscribeEstimates({
      redisUrl: this.o.redisUrl,
      prefix: this.o.prefix,
      onVersion: () => this.reloadEstimates(),
      logger: this.log,
    });
    this.timers.push(
      setInterval(() => void this.reloadEstimates(), this.o.estimatesRefreshMs).unref(),
      setInterval(() => this.publishFigures(), this.o.statsIntervalMs).unref(),
    );
    await this.bootstrap();
    if (this.state !== 'starting') return; // closed while waiting for the database
    this.state = 'running';
    this.loop = this.run();
    this.log.info(
      { server: this.o.serverUrl, stream: this.reader.key, consumer: this.o.consumer, planned: this.policy?.size },
      'scheduler running',
    );
  }

  figures(): SchedulerFigures {
    return {
      state: this.state,
      ...this.live.figures(),
      ...this.counters,
      released: { ...this.ownership.counts },
      planSize: this.policy?.size ?? 0,
      estimatesVersion: this.model.version,
      level: this.policy?.currentLevel()?.map((x) => Math.round(x * 10) / 10) ?? null,
      updatedAt: Date.now(),
    };
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.state = 'stopping';
    for (const t of this.timers) clearInterval(t);
    await this.loop;
    await this.subscription?.close();
    await this.redis.del(schedulerStatsKey(this.o.prefix)).catch(() => undefined);
    this.redis.disconnect();
    await this.reader.close();
    this.db.close();
    this.state = 'stopped';
    this.log.info({ figures: this.figures() }, 'scheduler stopped');
  }

  /** The first rebuild, retried until the database and Redis answer (or close is called). */
  private async bootstrap(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.reader.ensureGroup();
        const dropped = await this.reader.dropPending();
        if (dropped > 0)
          this.log.info({ dropped }, 'pending entries of an earlier run acknowledged (the rebuild covers them)');
        await this.resync();
        return;
      } catch (error) {
        if (error instanceof ConfigError) throw error; // e.g. a budget the database's max delay refuses
        if (this.state !== 'starting') return;
        if (attempt % 10 === 3) this.log.warn({ err: String(error) }, 'waiting for the database and Redis');
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }

  /** Rebuilds the plan from the database's queue; keeps the learned arrival rate and hold. */
  private async resync(): Promise<void> {
    const stats = await this.db.stats();
    const items = this.ownership.plannable(await this.db.queued());
    this.policyOptions ??= compilePolicyOptions(this.p.policy, stats);
    this.tickMs = stats.tickMs;
    this.policy = Policy.fromSnapshot(
      this.policyOptions,
      this.model,
      {
        items: Policy.snapshotItems(items),
        nextTick: stats.nextTick,
        ...(this.policy ? { state: this.policy.state() } : {}),
      },
      this.o.by,
    );
    this.lastTick = undefined;
    this.queuedInTick = 0;
    this.delayedInTick = 0;
    this.planStart = stats.nextTick;
    this.needResync = false;
    this.counters.resyncs++;
    this.log.debug({ planned: this.policy.size, nextTick: stats.nextTick }, 'plan rebuilt from GET /queued');
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.state === 'running') {
      try {
        if (this.needResync) await this.resync();
        await this.step();
        failures = 0;
      } catch (error) {
        this.needResync = true;
        if (failures++ % 20 === 0) this.log.warn({ err: String(error) }, 'scheduler loop error; retrying');
        await sleep(Math.min(50 * 2 ** Math.min(failures, 5), 1000));
      }
    }
  }

  private async step(): Promise<void> {
    const batch = await this.reader.next(this.o.readCount, this.o.blockMs);
    if (batch.length === 0) return;
    const policy = this.policy!;
    let end: TickEndEntry | undefined;
    const superseded: TickEndEntry[] = [];
    for (const { entry } of batch) {
      if (!entry) {
        this.counters.malformedEntries++;
      } else if (entry.type === 'queued') {
        if (this.ownership.owns(entry.executionId)) policy.onQueued(entry);
        this.queuedInTick++;
      } else if (entry.type === 'delayed') {
        this.onDelayed(entry);
        this.delayedInTick++;
      } else {
        if (end) superseded.push(end);
        end = entry;
        this.checkSequence(entry);
      }
    }
    await this.reader.ack(batch.map((b) => b.id));
    if (this.needResync) await this.resync();
    if (!end) return;
    for (const old of superseded) this.skip(old);
    // Published more than a tick ago: the tick it decides for has most likely run already.
    const age = Date.now() - end.publishedAt;
    this.live.recordTick(age);
    if (age > this.tickMs || end.nextTick < this.planStart) {
      this.skip(end);
      return;
    }
    if (end.nextTick % PRUNE_EVERY_TICKS === 0) this.ownership.prune(end.nextTick);
    const decisions = this.policy!.beforeTick(end.nextTick);
    await this.applyAll(decisions, end.publishedAt);
    // The burst is over until the next tick: collect now rather than in the middle of the next one.
    if (this.gc) setTimeout(this.gc, 10).unref();
  }

  private checkSequence(end: TickEndEntry): void {
    if (
      this.lastTick !== undefined &&
      (end.tick !== this.lastTick + 1 || end.queued !== this.queuedInTick || end.delayed !== this.delayedInTick)
    ) {
      this.counters.gaps++;
      this.needResync = true;
    }
    this.lastTick = end.tick;
    this.queuedInTick = 0;
    this.delayedInTick = 0;
  }

  /**
   * A stale tick-end: nothing is sent, but what the policy decides for it counts as missed (the
   * hit rate's denominator is what the scheduler intended). The plan is put back as it was, since
   * none of those decisions reached the database.
   */
  private skip(end: TickEndEntry): void {
    this.counters.staleTicks++;
    if (end.nextTick < this.planStart) return; // before the rebuilt plan begins: nothing was intended
    const policy = this.policy!;
    const decisions = policy.beforeTick(end.nextTick);
    for (const d of decisions) policy.confirm(d.executionId, policy.dueOf(d.executionId)! - d.delay);
    this.live.recordStale(decisions.length);
  }

  /** Another client's move makes the execution theirs; the scheduler's own moves come back too and are ignored. */
  private onDelayed(e: DelayedEvent): void {
    if (!this.ownership.isOther(e.by)) return;
    this.release(e.executionId, e.scheduledTick, e.by);
  }

  private release(executionId: string, scheduledTick: number, by: string | null): void {
    this.policy?.forget(executionId);
    if (this.ownership.release(executionId, 'movedByOthers', scheduledTick)) {
      this.log.debug({ executionId, by, scheduledTick }, 'moved by another client: left out of the plan');
    }
  }

  /** Sends a tick's decisions in one request and acts on each outcome. */
  private async applyAll(decisions: readonly Decision[], publishedAt: number): Promise<void> {
    if (decisions.length === 0) return;
    const policy = this.policy!;
    const intended = decisions.map((d) => policy.dueOf(d.executionId)!);
    const outcomes = await this.db.delayMany(
      decisions.map((d, i) => ({ id: d.executionId, delay: d.delay, expectedTick: intended[i]! - d.delay })),
    );
    const latency = Date.now() - publishedAt;
    decisions.forEach((d, i) => this.apply(d, intended[i]!, outcomes[i]!, latency));
  }

  private apply(d: Decision, intended: number, outcome: DelayOutcome, latency: number): void {
    const policy = this.policy!;
    switch (outcome.status) {
      case 'applied':
        policy.confirm(d.executionId, outcome.response.scheduledTick);
        this.live.record(outcome.response.scheduledTick === intended ? 'hit' : 'late', latency);
        return;
      case 'moved-by-others':
        // Another client moved it first (their `delayed` entry is on its way): it is theirs now.
        this.release(d.executionId, Number.POSITIVE_INFINITY, null);
        this.live.record('contested', latency);
        return;
      case 'not-queued':
        policy.forget(d.executionId);
        this.live.record('notQueued', latency);
        return;
      case 'refused':
        // The same request would be refused again: the execution leaves the plan, no rebuild.
        this.log.warn(
          {
            executionId: d.executionId,
            delay: d.delay,
            status: outcome.httpStatus,
            code: outcome.code,
            message: outcome.message,
          },
          'delay refused; the execution is left out of the plan',
        );
        policy.forget(d.executionId);
        this.ownership.release(d.executionId, 'refused');
        this.live.record('refused', latency);
        return;
      case 'failed':
        this.live.record('failed', latency);
        this.needResync = true;
    }
  }

  private async reloadEstimates(): Promise<void> {
    try {
      const latest = await this.p.estimates.load();
      if (this.model.install(latest)) {
        this.log.info({ version: latest!.version, queries: latest!.costs.size }, 'estimates loaded');
      }
    } catch (error) {
      this.log.warn({ err: String(error) }, 'could not load estimates; keeping the ones in use');
    }
  }

  private publishFigures(): void {
    if (this.state !== 'running') return;
    const key = schedulerStatsKey(this.o.prefix);
    this.redis
      .set(key, JSON.stringify(this.figures()), 'PX', this.o.statsIntervalMs * 3)
      .catch((err: unknown) => this.log.debug({ err: String(err) }, 'could not publish figures'));
  }
}

/** How often released executions that have run are forgotten (ticks; 10 s at 100 ms). */
const PRUNE_EVERY_TICKS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
