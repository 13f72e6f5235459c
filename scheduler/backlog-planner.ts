/**
 * The window planner's view of the backlog: which held executions may be planned into the window
 * starting at `first`, how many should run in it, and the resulting tick for each planned one.
 *
 * How many: the window runs about what arrives (W · λ, λ the recent arrival rate) plus a share of
 * the backlog above its reserve. The reserve is a number of executions (hold ticks × the long-run
 * arrival rate), not a number of ticks of the current rate: the choice of equal groups needs a large
 * pool most in the traffic trough, where a reserve proportional to the current rate would drain.
 * With a constant reserve R, an execution waits about R / λ(t), and the mean over executions is
 * R / λ̄: so the hold controller, which steers R through the hold ticks, still meets the latency
 * target on average.
 */
import type { PolicyOptions } from './options.js';
import type { PlannedExecution } from './plan.js';
import { planWindowGroups, type PlanType } from './window-planner.js';

/** Most executions (the most urgent) a window plan considers: its work grows with queries, not executions, so it can afford more than a tick. */
const PLAN_CANDIDATES = 400;

export interface BacklogPlanInput {
  first: number;
  options: PolicyOptions;
  /** Recent arrivals per tick (count). */
  rate: number;
  /** Executions to keep in the backlog: hold ticks (the hold controller's output) × long-run arrivals per tick. */
  reserve: number;
}

export interface BacklogPlan {
  /** Execution id → the tick it runs at. */
  ticks: Map<string, number>;
  k: number;
}

export function planBacklog(held: Iterable<PlannedExecution>, x: BacklogPlanInput): BacklogPlan | undefined {
  const o = x.options;
  const W = o.metricsWindowTicks;
  const pool: PlannedExecution[] = [];
  for (const e of held) if (e.defaultTick <= x.first && e.due >= x.first) pool.push(e);
  // Deadline first, then id: the plan depends only on the backlog's content (restarts decide alike).
  pool.sort((a, b) => a.deadline - b.deadline || (a.executionId < b.executionId ? -1 : 1));
  if (pool.length > PLAN_CANDIDATES) pool.length = PLAN_CANDIDATES;

  const index = new Map<string, number>();
  const types: PlanType[] = [];
  const itemType: number[] = [];
  const itemLatest: number[] = [];
  for (const e of pool) {
    let t = index.get(e.queryId);
    if (t === undefined) {
      t = types.length;
      index.set(e.queryId, t);
      types.push({ mean: e.mean, variance: e.variance });
    }
    itemType.push(t);
    itemLatest.push(e.deadline - x.first);
  }

  const wanted = Math.max(0, W * x.rate + o.reserveGain * (pool.length - x.reserve)) / W;
  // Beyond a few executions per tick, ticks are flat enough filled one by one (policy.ts), and the
  // groups would cost k times more work to build: no plan.
  if (wanted > o.planMaxCount + 0.5) return undefined;
  const counts = Array.from({ length: o.planMaxCount }, (_, i) => i + 1)
    .filter((k) => k <= Math.ceil(wanted) + 1 && k >= Math.floor(wanted) - 1)
    .sort((a, b) => Math.abs(a - wanted) - Math.abs(b - wanted) || a - b)
    .slice(0, 3);
  const groups = planWindowGroups({
    types,
    itemType,
    itemLatest,
    ticks: W,
    counts,
    tolerance: o.planTolerance,
    z: o.planZ,
    maxFailures: 4 * W,
    maxWork: o.planWork,
    bankMin: o.bankMin,
    bankUrgent: Math.floor(o.latencyBudget / 2),
  });
  if (!groups) return undefined;
  const ticks = new Map<string, number>();
  groups.ticks.forEach((items, offset) => {
    for (const i of items) ticks.set(pool[i]!.executionId, Math.min(x.first + offset, pool[i]!.deadline));
  });
  return { ticks, k: groups.k };
}
