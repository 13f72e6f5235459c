/**
 * The scheduling policy: pure (no I/O, no timers, no clock), so it behaves identically live and in
 * the lab. It holds a small pool of queued executions and, just before each tick runs, chooses
 * which of them run at that tick so that the tick's expected (cpu, io, memory) matches the current
 * window's per-tick target vector; the others wait, at most `latencyBudget` ticks.
 *
 * Why this shape (docs/architecture.md "Definitions"): the band is judged inside each metrics window against
 * that window's own average, so only flatness within a window matters and the level may change at
 * window boundaries. So each window gets one level, set when it starts from the arrival rate plus
 * feedback on the held load (which keeps the pool, and so the latency, near `targetLatency`),
 * and every tick of the window is filled to that level from the pool. Up to `fixedCountMax`
 * executions per tick, every tick of a window runs the same number of them (window-level.ts
 * `fixedCount`): at a few per tick, a tick one execution short of its neighbours is out of band —
 * unless no subset of that count matches them and one of a count one lower or higher does.
 *
 * With a target latency of a window or more there is time to gather a window's executions first, and
 * each window is planned whole instead (backlog-planner.ts, window-planner.ts): k executions per
 * tick in groups matching one template, from a reserve held across windows; when no plan fills the
 * window, it runs only what must run while the reserve is short, else it is filled tick by tick.
 *
 * Decisions are minimal: an execution that runs at its default tick needs none; one held back is
 * postponed once to its deadline (so it can never overrun the budget even if later decisions are
 * lost) and brought forward once when it is chosen.
 */
import type { ExecutedEvent, QueuedEvent, QueuedItem, WindowEvent } from '../common/contracts.js';
import { ArrivalRate, type ArrivalRateState, type Vec3 } from './arrival-rate.js';
import type { CostModel } from './cost-model.js';
import type { Decision, SchedulingPolicy } from './decision.js';
import { HoldController, type HoldState } from './hold-controller.js';
import { PolicyClockError, SchedulerInputError } from './errors.js';
import type { PolicyOptions } from './options.js';
import { planBacklog } from './backlog-planner.js';
import { Plan, type PlanView, type PlannedExecution } from './plan.js';
import { CostPrior } from './prior.js';
import { createCandidates, selectNearCount, type Candidates } from './select.js';
import { mustRun, planWindow, recordPlaced, tickTarget, type PoolLoad, type WindowPlan } from './window-level.js';

/** What a restart needs from `GET /queued`: one item per queued execution. */
export interface SnapshotItem {
  executionId: string;
  queryId: string;
  queuedTick: number;
  scheduledTick: number;
}

/** Small learned state that a restart may carry over (optional: without it the level re-learns). */
export interface PolicyState {
  arrivals: ArrivalRateState;
  hold: HoldState;
  /** The long-run arrivals the window planner's reserve is sized by (absent in older states). */
  longArrivals?: ArrivalRateState;
}

/** Local-search moves per selection: about 0.2 ms of work, whatever the pool (a round costs chosen × pool). */
const MAX_MOVES = 20_000;

export class Policy implements SchedulingPolicy {
  private readonly plan = new Plan();
  private readonly arrivals: ArrivalRate;
  /** Long-run arrivals: what the window planner's reserve is sized by. */
  private readonly longArrivals: ArrivalRate;
  /** The current window's whole plan (execution id → tick), or undefined when it is filled tick by tick. */
  private groups: Map<string, number> | undefined;
  private readonly prior: CostPrior;
  private readonly hold: HoldController;
  /** The tick most recently planned by `beforeTick`, if any. */
  private planned: number | undefined;
  /** The current window and its per-tick target level. */
  private window: WindowPlan | undefined;
  private candidates: Candidates = createCandidates(64);
  private pool: PlannedExecution[] = [];
  /** Executions of each query the current window's ticks ran (tick by tick), for `Candidates.share`. */
  private readonly windowQueries = new Map<string, number>();
  private readonly groupOf = new Map<string, number>();
  private overflow: PlannedExecution[] = [];

  constructor(
    readonly options: PolicyOptions,
    private readonly costModel: CostModel,
    /** Names the policy in reports (and, live, in the `by` of its `/delay` requests). */
    readonly name = 'policy',
  ) {
    this.arrivals = new ArrivalRate(options.rateHalfLife);
    this.longArrivals = new ArrivalRate(options.reserveHalfLife);
    this.prior = new CostPrior(options.prior, options.priorSd);
    this.hold = new HoldController(options.targetLatency, options.latencyBudget, options.holdGain);
  }

  /**
   * Rebuilds the plan after a restart from the database's queue (`GET /queued`) and the next tick
   * to run. Executions already due before `nextTick` have run and are skipped.
   */
  static fromSnapshot(
    options: PolicyOptions,
    costModel: CostModel,
    snapshot: { items: readonly SnapshotItem[]; nextTick: number; state?: PolicyState },
    name?: string,
  ): Policy {
    const p = new Policy(options, costModel, name);
    if (snapshot.state) {
      p.arrivals.restore(snapshot.state.arrivals);
      p.hold.restore(snapshot.state.hold);
      if (snapshot.state.longArrivals) p.longArrivals.restore(snapshot.state.longArrivals);
    }
    for (const item of snapshot.items) {
      if (item.scheduledTick < snapshot.nextTick) continue;
      p.track(item.executionId, item.queryId, item.queuedTick, item.scheduledTick, false);
    }
    return p;
  }

  /** `GET /queued` items as snapshot items (the extra `queuedTick` field is required). */
  static snapshotItems(items: readonly QueuedItem[]): SnapshotItem[] {
    return items.map((i) => {
      if (!Number.isSafeInteger(i.execution.queuedTick) || !Number.isSafeInteger(i.execution.scheduledTick)) {
        throw new SchedulerInputError(
          'execution',
          `queued item ${i.execution.id} lacks integer queuedTick/scheduledTick`,
        );
      }
      return {
        executionId: i.execution.id,
        queryId: i.query.id,
        queuedTick: i.execution.queuedTick,
        scheduledTick: i.execution.scheduledTick,
      };
    });
  }

  onQueued(event: QueuedEvent): Decision[] {
    // Duplicates (at-least-once delivery) and events whose execution has already run are ignored.
    if (this.plan.has(event.executionId)) return [];
    if (this.planned !== undefined && event.scheduledTick < this.planned) return [];
    const e = this.track(event.executionId, event.queryId, event.tick, event.scheduledTick, true);
    this.arrivals.add(event.tick, e.mean);
    this.longArrivals.add(event.tick, e.mean);
    // Nothing to decide yet: the choice for the next tick is made in `beforeTick`, with all of this
    // tick's arrivals in view. An execution nobody moves simply runs at its default tick.
    return [];
  }

  onExecuted(event: ExecutedEvent): void {
    this.plan.remove(event.executionId);
  }

  onWindow(_event: WindowEvent): void {
    // The level comes from arrivals and the held load, not from measured windows: a window's
    // average is whatever the policy chose, so feeding it back would only echo the policy.
  }

  /** Tells the policy where the database actually put an execution (e.g. from a `/delay` answer). */
  confirm(executionId: string, scheduledTick: number): void {
    const e = this.plan.get(executionId);
    if (e) e.due = scheduledTick;
  }

  /** The tick the policy believes an execution is scheduled at (undefined if it is not in the plan). */
  dueOf(executionId: string): number | undefined {
    return this.plan.get(executionId)?.due;
  }

  /** Executions in the plan. */
  get size(): number {
    return this.plan.size;
  }

  /** Forgets an execution (e.g. `/delay` answered 404: it already ran). */
  forget(executionId: string): void {
    this.plan.remove(executionId);
  }

  beforeTick(nextTick: number): Decision[] {
    if (this.planned !== undefined && nextTick < this.planned) throw new PolicyClockError(nextTick, this.planned);
    if (nextTick === this.planned) return [];
    this.planned = nextTick;
    this.arrivals.closeBefore(nextTick);
    this.longArrivals.closeBefore(nextTick);
    this.plan.forgetBefore(nextTick);
    const o = this.options;
    // Nothing can be gained: no room to move anything, or a window of one tick is always flat.
    if (o.latencyBudget === 0 || o.metricsWindowTicks === 1) return [];

    const windowId = Math.floor(nextTick / o.metricsWindowTicks);
    const fresh = this.window?.id !== windowId;
    if (fresh) this.windowQueries.clear();
    const w = fresh ? (this.window = this.startWindow(windowId)) : this.window!;
    // A target of a window or more leaves time to gather a whole window's executions: plan it whole.
    if (o.targetLatency >= o.metricsWindowTicks) {
      if (fresh) {
        const first = nextTick === windowId * o.metricsWindowTicks;
        this.groups = first ? this.planGroups(nextTick) : undefined;
        // No plan: below the reserve the window runs only what must run (it rebuilds the pool the
        // next windows need); above it, it is filled tick by tick.
        if (first && !this.groups && this.plan.size < this.reserve()) this.groups = new Map();
      }
      if (this.groups) return this.followGroups(nextTick, this.groups, fresh);
    }

    const pool = this.collectCandidates(nextTick, w.unit, w.placed);
    const decisions: Decision[] = [];
    // Beyond the candidate cap: whatever would run now by default waits for its deadline instead.
    for (const e of this.overflow) {
      if (e.due === nextTick && e.deadline > nextTick) {
        decisions.push({ executionId: e.executionId, delay: e.deadline - e.due });
        e.due = e.deadline;
      }
    }
    const chosen = selectNearCount(this.candidates, {
      target: tickTarget(w, mustRun(this.dueAt(nextTick)), this.poolLoad(nextTick)),
      reserve: w.emptyChance,
      uncertaintyWeight: o.uncertaintyWeight,
      maxRounds: o.maxRounds,
      maxMoves: MAX_MOVES,
      count: w.count,
      restarts: o.searchRestarts,
      // A window's first tick sets what the others match: it keeps the count.
      countMiss: w.placed > 0 ? o.countMiss : Number.POSITIVE_INFINITY,
    });
    for (let i = 0; i < pool.length; i++) {
      const e = pool[i]!;
      if (chosen[i]) this.hold.record(nextTick - e.defaultTick);
      const to = chosen[i] ? nextTick : e.due === nextTick ? e.deadline : e.due;
      if (to !== e.due) {
        decisions.push({ executionId: e.executionId, delay: to - e.due });
        e.due = to;
      }
    }
    const load: Vec3 = [0, 0, 0];
    for (let i = 0; i < pool.length; i++) if (chosen[i]) for (let r = 0; r < 3; r++) load[r]! += pool[i]!.mean[r]!;
    if (load[0] + load[1] + load[2] > 0) {
      for (let i = 0; i < pool.length; i++) {
        const q = pool[i]!.queryId;
        if (chosen[i]) this.windowQueries.set(q, (this.windowQueries.get(q) ?? 0) + 1);
      }
    }
    recordPlaced(w, load);
    return decisions;
  }

  /** Plans the window starting at `first` as a whole (see backlog-planner.ts), if it can be. */
  private planGroups(first: number): Map<string, number> | undefined {
    const plan = planBacklog(this.plan.values(), {
      first,
      options: this.options,
      rate: this.arrivals.perTick()?.count ?? 0,
      reserve: this.reserve(),
    });
    return plan?.ticks;
  }

  /** The window planner's reserve, in executions: hold ticks × long-run arrivals (backlog-planner.ts). */
  private reserve(): number {
    const rate = this.longArrivals.perTick()?.count ?? this.arrivals.perTick()?.count ?? 0;
    return this.hold.wait * rate;
  }

  /**
   * Carries out the window's plan: at its first tick, moves every planned execution to its tick;
   * at every tick, postpones to its deadline whatever is due now and not planned (new arrivals):
   * it joins the backlog for a later window.
   */
  private followGroups(nextTick: number, groups: Map<string, number>, fresh: boolean): Decision[] {
    const decisions: Decision[] = [];
    for (const e of this.plan.values()) {
      const planned = groups.get(e.executionId);
      let to = e.due;
      if (planned !== undefined) {
        if (!fresh) continue;
        to = planned;
        this.hold.record(planned - e.defaultTick);
      } else if (e.due === nextTick) {
        to = e.deadline;
      }
      if (to !== e.due) {
        decisions.push({ executionId: e.executionId, delay: to - e.due });
        e.due = to;
      }
    }
    return decisions;
  }

  /** The plan as data: each execution's due tick and the expected load of each future tick. */
  view(): PlanView {
    return this.plan.view();
  }

  /** The level of the current window (cpu, io, memory per tick), if a window has started. */
  currentLevel(): Vec3 | undefined {
    return this.window ? [...this.window.level] : undefined;
  }

  state(): PolicyState {
    return { arrivals: this.arrivals.state(), hold: this.hold.state(), longArrivals: this.longArrivals.state() };
  }

  private track(executionId: string, queryId: string, queuedTick: number, due: number, learn: boolean) {
    const defaultTick = queuedTick + this.options.defaultDelay;
    const belief = this.prior.belief(this.costModel, queryId, learn);
    const e: PlannedExecution = {
      executionId,
      queryId,
      queuedTick,
      defaultTick,
      deadline: defaultTick + this.options.latencyBudget,
      due,
      mean: belief.mean,
      variance: belief.variance,
    };
    this.plan.add(e);
    return e;
  }

  /** Starts a window: refreshes held executions' costs (estimates learned meanwhile apply), sets the level. */
  private startWindow(id: number): WindowPlan {
    const o = this.options;
    const held: Vec3 = [0, 0, 0];
    for (const e of this.plan.values()) {
      const b = this.prior.belief(this.costModel, e.queryId, false);
      e.mean = b.mean;
      e.variance = b.variance;
      for (let r = 0; r < 3; r++) held[r]! += e.mean[r]!;
    }
    return planWindow(id, {
      arrivals: this.arrivals.perTick(),
      held,
      wait: this.hold.update(this.trafficRatio()),
      levelGain: o.levelGain,
      windowTicks: o.metricsWindowTicks,
      heldCount: this.plan.size,
      fixedCountMax: o.fixedCountMax,
    });
  }

  /**
   * Long-run arrivals ÷ recent arrivals, to the power `trafficShift`, within [0.5, 2]: how much more
   * latency than the target this window's hold aims at (hold-controller.ts: light traffic gets more).
   */
  private trafficRatio(): number {
    const recent = this.arrivals.perTick()?.count;
    const long = this.longArrivals.perTick()?.count;
    if (!recent || !long || this.options.trafficShift === 0) return 1;
    return Math.min(2, Math.max(0.5, (long / recent) ** this.options.trafficShift));
  }

  /** Expected load of the held executions by deadline: index m is deadline nextTick + m. */
  private dueAt(nextTick: number): Vec3[] {
    const due = Array.from({ length: this.options.latencyBudget + 1 }, (): Vec3 => [0, 0, 0]);
    for (const e of this.plan.values()) {
      if (e.due < nextTick) continue;
      const m = Math.min(due.length - 1, Math.max(0, e.deadline - nextTick));
      for (let r = 0; r < 3; r++) due[m]![r]! += e.mean[r]!;
    }
    return due;
  }

  /** The summed expected load and number of the candidates just collected for `tick`. */
  private poolLoad(tick: number): PoolLoad {
    const c = this.candidates;
    const load: Vec3 = [0, 0, 0];
    for (let r = 0; r < 3; r++) for (let i = 0; i < c.count; i++) load[r]! += c.mean[r]![i]!;
    return { load, count: c.count, tick };
  }

  /** Fills the candidate arrays with the executions that may run at `tick`; returns them in the same order. */
  private collectCandidates(tick: number, unit: number, placed: number): PlannedExecution[] {
    const o = this.options;
    this.groupOf.clear();
    const pool = this.pool;
    pool.length = 0;
    for (const e of this.plan.values()) if (e.defaultTick <= tick && e.due >= tick) pool.push(e);
    // A canonical order (oldest first, then by id), so the choice depends only on the plan's
    // content and not on the order executions became known: a plan rebuilt from a snapshot
    // decides exactly as the original. Beyond the cap, the oldest are kept: they cannot wait.
    pool.sort((a, b) => a.deadline - b.deadline || (a.executionId < b.executionId ? -1 : 1));
    this.overflow.length = 0;
    if (pool.length > o.maxCandidates) this.overflow.push(...pool.splice(o.maxCandidates));
    if (this.candidates.mean[0].length < pool.length) this.candidates = createCandidates(pool.length * 2);
    const c = this.candidates;
    c.count = pool.length;
    for (let i = 0; i < pool.length; i++) {
      const e = pool[i]!;
      for (let r = 0; r < 3; r++) {
        c.mean[r]![i] = e.mean[r]!;
        c.variance[r]![i] = e.variance[r]!;
      }
      c.mandatory[i] = e.deadline <= tick ? 1 : 0;
      let g = this.groupOf.get(e.queryId);
      if (g === undefined) this.groupOf.set(e.queryId, (g = this.groupOf.size));
      c.group[i] = g;
      c.share[i] = placed > 0 ? (this.windowQueries.get(e.queryId) ?? 0) / placed : 0;
      const u = (tick - e.defaultTick + 1) / (o.latencyBudget + 1);
      c.bonus[i] = o.agePriority * unit * u * u;
    }
    return pool;
  }
}
