/**
 * The simulated database (docs/simulation.md), driven only through `tick()`: a virtual clock, so tests
 * and tools run hours of simulated time in seconds and the real-time driver simply calls `tick()`
 * every tick length. One tick, in order:
 *   1. executions whose remaining delay reaches 0 run and leave the queue (`executed` hook);
 *   2. their costs are summed per resource into this tick's sample (zeros when nothing ran); when
 *      the tick closes a metrics window, the window is aggregated (`window` hook);
 *   3. new executions are selected, queued with the default delay (`queued` hook).
 *
 * Remaining delay is kept as an absolute due tick (remaining = dueTick − last processed tick), so a
 * tick touches only the executions due in it instead of decrementing the whole queue.
 */
import type {
  DatabaseStats,
  DelayedEvent,
  DelayParts,
  ExecutedEvent,
  QueuedEvent,
  QueuedItem,
  ResourcesResponse,
  TrueQuery,
  WindowEvent,
} from '../common/contracts.js';
import {
  ExecutionNotQueuedError,
  GroundTruthDisabledError,
  InvalidArgumentError,
  ScheduleChangedError,
} from '../common/errors.js';
import { createCatalog } from './catalog.js';
import { Hook } from './hook.js';
import { ExecutionLedger, type LedgerRange } from './ledger.js';
import { Monitor, type Sample } from './monitor.js';
import type { SimulationOptions } from './options.js';
import { Random } from './random.js';
import { trafficScale } from './traffic.js';

interface Execution {
  readonly executionId: string;
  readonly query: number;
  readonly queuedTick: number;
  dueTick: number;
  delayCount: number;
  delayedBy: string | null;
  /** Ticks moved per mover (null until somebody moves it); a null-prototype object, as `by` is free text. */
  addedDelayBy: DelayParts | null;
}

export interface DelayResult {
  id: string;
  requestedDelay: number;
  /** The change actually applied after the one-tick floor. */
  appliedDelay: number;
  scheduledTick: number;
  timestamp: number;
}

export class Database {
  readonly hooks = {
    queued: new Hook<QueuedEvent>(),
    /** Every accepted `POST /delay` (the scheduler learns of other clients' moves from it). */
    delayed: new Hook<DelayedEvent>(),
    executed: new Hook<ExecutedEvent>(),
    window: new Hook<WindowEvent>(),
  };

  private readonly catalog: readonly TrueQuery[];
  /** `p_i · probabilityScale`, precomputed for the selection loop. */
  private readonly scaledProbability: Float64Array;
  private readonly rng: Random;
  private readonly monitor = new Monitor();
  private readonly queue = new Map<string, Execution>();
  /** Executions by due tick. Entries go stale when delayed; a stale entry is skipped (lazy removal). */
  private readonly due = new Map<number, Execution[]>();
  private readonly ledger: ExecutionLedger;
  private latest: WindowEvent | undefined;
  private counters = { ticks: 0, queuedTotal: 0, executedTotal: 0, windowsTotal: 0, delaysAccepted: 0 };
  /** The next tick to run (absolute: a run may start at any tick, see `SimulationOptions.startTick`). */
  private nextTick: number;

  constructor(readonly options: SimulationOptions) {
    this.catalog = createCatalog(options.seed, options.queryCount);
    this.scaledProbability = Float64Array.from(this.catalog, (q) => q.probability * options.probabilityScale);
    // The start tick is part of the traffic stream's seed so that a restarted server (which starts at
    // a later tick) never repeats execution ids, while the catalog (and so query ids) stays the same.
    this.rng = new Random(
      options.startTick === 0 ? `${options.seed}/traffic` : `${options.seed}/traffic/${options.startTick}`,
    );
    this.nextTick = options.startTick;
    this.ledger = new ExecutionLedger(options.startTick, options.metricsWindowTicks);
  }

  /** The next tick to run; the last processed tick is `currentTick − 1`. */
  get currentTick(): number {
    return this.nextTick;
  }

  /** Epoch ms of a tick on the virtual clock. */
  timeOf(tick: number): number {
    return this.options.startTime + (tick - this.options.startTick) * this.options.tickMs;
  }

  /** Query ids in catalog order (not ground truth: ids are visible in every event). */
  queryIds(): string[] {
    return this.catalog.map((q) => q.id);
  }

  /** The true catalog. Evaluation only: refused unless `exposeTruth` is set. */
  groundTruth(): TrueQuery[] {
    if (!this.options.exposeTruth) throw new GroundTruthDisabledError();
    return this.catalog.map((q) => ({ ...q }));
  }

  /** Runs one tick. */
  tick(): void {
    const t = this.nextTick;
    const before = this.counters.executedTotal;
    const sample = this.runDue(t);
    this.ledger.record(t, this.counters.executedTotal - before);
    this.monitor.record(sample);
    if ((t + 1) % this.options.metricsWindowTicks === 0) this.closeWindow(t);
    this.selectNew(t);
    this.nextTick = t + 1;
    this.counters.ticks++;
  }

  /** Runs `n` ticks. */
  run(n: number): void {
    for (let i = 0; i < n; i++) this.tick();
  }

  private runDue(t: number): Sample {
    const sample: Sample = { cpu: 0, io: 0, memory: 0 };
    const bucket = this.due.get(t);
    if (!bucket) return sample;
    this.due.delete(t);
    for (const e of bucket) {
      if (e.dueTick !== t || this.queue.get(e.executionId) !== e) continue;
      this.queue.delete(e.executionId);
      const q = this.catalog[e.query]!;
      sample.cpu += q.cpu;
      sample.io += q.io;
      sample.memory += q.memory;
      this.counters.executedTotal++;
      this.hooks.executed.emit({
        type: 'executed',
        executionId: e.executionId,
        queryId: q.id,
        queuedTick: e.queuedTick,
        executedTick: t,
        addedDelay: t - (e.queuedTick + this.options.defaultDelay),
        delayCount: e.delayCount,
        delayedBy: e.delayedBy,
        ...(e.addedDelayBy ? { addedDelayBy: e.addedDelayBy } : {}),
        queuedAt: this.timeOf(e.queuedTick),
        executedAt: this.timeOf(t),
      });
    }
    return sample;
  }

  private closeWindow(t: number): void {
    const w = this.options.metricsWindowTicks;
    const windowId = Math.floor(t / w);
    const aggregate = this.monitor.flush();
    this.latest = {
      type: 'window',
      windowId,
      // The first window of a run that starts mid-window holds fewer samples.
      firstTick: Math.max(windowId * w, this.options.startTick),
      lastTick: t,
      ...aggregate,
      timestamp: this.timeOf(t),
    };
    this.counters.windowsTotal++;
    this.hooks.window.emit(this.latest);
  }

  private selectNew(t: number): void {
    const s = trafficScale(this.options.traffic, t);
    const p = this.scaledProbability;
    const dueTick = t + this.options.defaultDelay;
    for (let i = 0; i < p.length; i++) {
      if (this.rng.next() >= p[i]! * s) continue;
      const e: Execution = {
        executionId: this.rng.uuid(),
        query: i,
        queuedTick: t,
        dueTick,
        delayCount: 0,
        delayedBy: null,
        addedDelayBy: null,
      };
      this.queue.set(e.executionId, e);
      this.pushDue(e);
      this.counters.queuedTotal++;
      this.hooks.queued.emit({
        type: 'queued',
        executionId: e.executionId,
        queryId: this.catalog[i]!.id,
        tick: t,
        scheduledTick: dueTick,
        timestamp: this.timeOf(t),
        scheduledTimestamp: this.timeOf(dueTick),
      });
    }
  }

  private pushDue(e: Execution): void {
    const bucket = this.due.get(e.dueTick);
    if (bucket) bucket.push(e);
    else this.due.set(e.dueTick, [e]);
  }

  /**
   * Postpones (d > 0) or brings forward (d < 0) a queued execution by `d` ticks. The remaining
   * delay never drops below 1: it runs at the next tick at the earliest. With `expectedTick`, only
   * if it is still scheduled at that tick (ScheduleChangedError otherwise).
   */
  delay(executionId: string, d: number, by: string | null = null, expectedTick?: number): DelayResult {
    if (!Number.isSafeInteger(d)) throw new InvalidArgumentError('delay', 'delay must be an integer number of ticks');
    if (Math.abs(d) > this.options.maxDelay) {
      throw new InvalidArgumentError(
        'delay',
        `delay must be between -${this.options.maxDelay} and ${this.options.maxDelay} ticks`,
      );
    }
    const e = this.queue.get(executionId);
    if (!e) throw new ExecutionNotQueuedError(executionId);
    if (expectedTick !== undefined && e.dueTick !== expectedTick) {
      throw new ScheduleChangedError(executionId, expectedTick, e.dueTick);
    }
    const lastTick = this.nextTick - 1;
    const previous = e.dueTick;
    e.dueTick = lastTick + Math.max(1, previous - lastTick + d);
    if (e.dueTick !== previous) this.pushDue(e);
    const applied = e.dueTick - previous;
    e.delayCount++;
    e.delayedBy = by;
    const parts = (e.addedDelayBy ??= Object.create(null) as DelayParts);
    parts[by ?? ''] = (parts[by ?? ''] ?? 0) + applied;
    this.counters.delaysAccepted++;
    this.hooks.delayed.emit({
      type: 'delayed',
      executionId,
      by,
      requestedDelay: d,
      appliedDelay: applied,
      scheduledTick: e.dueTick,
    });
    return {
      id: executionId,
      requestedDelay: d,
      appliedDelay: applied,
      scheduledTick: e.dueTick,
      timestamp: this.timeOf(e.dueTick),
    };
  }

  /** The executions queued but not yet executed, soonest first. */
  queued(): QueuedItem[] {
    const items: QueuedItem[] = [];
    for (const e of this.queue.values()) {
      items.push({
        query: { id: this.catalog[e.query]!.id },
        execution: {
          id: e.executionId,
          timestamp: this.timeOf(e.dueTick),
          scheduledTick: e.dueTick,
          queuedTick: e.queuedTick,
          ...(e.addedDelayBy ? { addedDelayBy: { ...e.addedDelayBy } } : {}),
        },
      });
    }
    return items.sort((a, b) => a.execution.scheduledTick - b.execution.scheduledTick);
  }

  /** The latest metrics window, or zeros before the first one closes. */
  resources(): ResourcesResponse {
    const w = this.latest;
    if (!w) {
      const zero = { average: 0, min: 0, max: 0 };
      return {
        cpu: zero,
        io: { ...zero },
        memory: { ...zero },
        timestamp: this.timeOf(this.nextTick),
        windowId: -1,
        firstTick: this.nextTick,
        lastTick: this.nextTick - 1,
        samples: 0,
      };
    }
    const { cpu, io, memory, timestamp, windowId, firstTick, lastTick, samples } = w;
    return { cpu, io, memory, timestamp, windowId, firstTick, lastTick, samples };
  }

  /** What this run executed and which windows it closed in ticks [from, to] (for completeness checks). */
  executedIn(from: number, to: number): LedgerRange {
    return this.ledger.range(from, to);
  }

  stats(): DatabaseStats {
    return {
      ...this.counters,
      firstTick: this.options.startTick,
      nextTick: this.nextTick,
      queueLength: this.queue.size,
      tickMs: this.options.tickMs,
      metricsWindowTicks: this.options.metricsWindowTicks,
      defaultDelay: this.options.defaultDelay,
      maxDelay: this.options.maxDelay,
    };
  }
}
