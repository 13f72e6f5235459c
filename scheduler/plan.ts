/**
 * The plan: every execution the policy knows is still queued, with the tick the database will run
 * it at (as far as the policy's own accepted decisions go), its latency deadline and its expected
 * cost. The expected load of any future tick is the sum over the executions due at it.
 */
import type { Vec3 } from './arrival-rate.js';
import type { CostVector } from './cost-model.js';

export interface PlannedExecution {
  readonly executionId: string;
  readonly queryId: string;
  readonly queuedTick: number;
  /** `queuedTick + defaultDelay`: where it runs if nobody moves it; the policy never runs it earlier. */
  readonly defaultTick: number;
  /** `defaultTick + latencyBudget`: it runs at this tick at the latest. */
  readonly deadline: number;
  /** The tick it is scheduled at now. */
  due: number;
  /** Expected cost (cpu, io, memory) and variance, refreshed from the cost model each window. */
  mean: Vec3;
  variance: Vec3;
}

export interface PlanView {
  executions: {
    executionId: string;
    queryId: string;
    dueTick: number;
    deadline: number;
    /** Expected cost and its standard deviation, per resource. */
    expected: CostVector;
    sd: CostVector;
  }[];
  /** Expected load per future tick that has anything due, ascending. */
  load: { tick: number; cpu: number; io: number; memory: number }[];
}

export class Plan {
  private readonly byId = new Map<string, PlannedExecution>();

  get size(): number {
    return this.byId.size;
  }

  has(executionId: string): boolean {
    return this.byId.has(executionId);
  }

  get(executionId: string): PlannedExecution | undefined {
    return this.byId.get(executionId);
  }

  add(e: PlannedExecution): void {
    this.byId.set(e.executionId, e);
  }

  remove(executionId: string): boolean {
    return this.byId.delete(executionId);
  }

  values(): IterableIterator<PlannedExecution> {
    return this.byId.values();
  }

  /** Forgets executions due before `tick`: they have run, whether or not an executed event said so. */
  forgetBefore(tick: number): void {
    for (const [id, e] of this.byId) if (e.due < tick) this.byId.delete(id);
  }

  /** Total expected load held (all executions in the plan). */
  heldLoad(): Vec3 {
    const h: Vec3 = [0, 0, 0];
    for (const e of this.byId.values()) for (let r = 0; r < 3; r++) h[r]! += e.mean[r]!;
    return h;
  }

  view(): PlanView {
    const executions = [...this.byId.values()]
      .map((e) => ({
        executionId: e.executionId,
        queryId: e.queryId,
        dueTick: e.due,
        deadline: e.deadline,
        expected: { cpu: e.mean[0], io: e.mean[1], memory: e.mean[2] },
        sd: { cpu: Math.sqrt(e.variance[0]), io: Math.sqrt(e.variance[1]), memory: Math.sqrt(e.variance[2]) },
      }))
      .sort((a, b) => a.dueTick - b.dueTick || (a.executionId < b.executionId ? -1 : 1));
    const byTick = new Map<number, Vec3>();
    for (const e of this.byId.values()) {
      const l = byTick.get(e.due) ?? [0, 0, 0];
      for (let r = 0; r < 3; r++) l[r]! += e.mean[r]!;
      byTick.set(e.due, l);
    }
    const load = [...byTick.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([tick, l]) => ({ tick, cpu: l[0], io: l[1], memory: l[2] }));
    return { executions, load };
  }
}
