/**
 * The `greedy-oracle` baseline, the simple greedy behind the reference's own figures (docs/simulation.md
 * "What the spikes look like"): knows the true costs and, for each arrival, picks the earliest tick within the budget whose planned load stays under the target on
 * all three resources; when none does, the tick where the worst resource overshoots least. The
 * target is the recent mean arrived load per tick. It decides once, on arrival, and never revisits.
 */
import type { ExecutedEvent, QueuedEvent } from '../../common/contracts.js';
import { ArrivalRate, type Vec3 } from '../arrival-rate.js';
import type { CostModel } from '../cost-model.js';
import type { Decision, SchedulingPolicy } from '../decision.js';

export interface GreedyOptions {
  latencyBudget: number;
  /** Half-life in ticks of the arrival mean that is the target. */
  rateHalfLife: number;
}

export class GreedyScheduler implements SchedulingPolicy {
  readonly name = 'greedy-oracle';
  private readonly load = new Map<number, Vec3>();
  private readonly arrivals: ArrivalRate;

  constructor(
    private readonly options: GreedyOptions,
    private readonly costModel: CostModel,
  ) {
    this.arrivals = new ArrivalRate(options.rateHalfLife);
  }

  onQueued(event: QueuedEvent): Decision[] {
    const c = this.costModel.cost(event.queryId);
    const cost: Vec3 = c ? [c.cpu, c.io, c.memory] : [47, 47, 47];
    this.arrivals.add(event.tick, cost);
    const target = this.arrivals.perTick()?.load ?? cost;
    const first = event.scheduledTick;
    let chosen = first;
    let bestOvershoot = Number.POSITIVE_INFINITY;
    for (let tick = first; tick <= first + this.options.latencyBudget; tick++) {
      const l = this.load.get(tick) ?? [0, 0, 0];
      let overshoot = 0;
      for (let r = 0; r < 3; r++) overshoot = Math.max(overshoot, (l[r]! + cost[r]!) / Math.max(target[r]!, 1));
      if (overshoot <= 1) {
        chosen = tick;
        break;
      }
      if (overshoot < bestOvershoot) {
        bestOvershoot = overshoot;
        chosen = tick;
      }
    }
    const l = this.load.get(chosen) ?? [0, 0, 0];
    for (let r = 0; r < 3; r++) l[r]! += cost[r]!;
    this.load.set(chosen, l);
    return chosen === first ? [] : [{ executionId: event.executionId, delay: chosen - first }];
  }

  beforeTick(nextTick: number): Decision[] {
    this.load.delete(nextTick - 1);
    return [];
  }

  onExecuted(_event: ExecutedEvent): void {}
  onWindow(): void {}
}
