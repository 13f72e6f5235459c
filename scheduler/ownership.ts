/**
 * Which queued executions the scheduler may plan. A delay another client sets is that client's
 * decision: an execution somebody else moved leaves the plan for good, whether the scheduler
 * learns of the move from the queued stream (a `delayed` entry), from a `/delay` answer that shows
 * the execution was not where the plan had it, or from `GET /queued` (its `addedDelayBy` names
 * another mover) when it rebuilds. So does an execution whose `/delay` the database refused: the
 * same request would be refused again, and a plan that keeps it would keep asking.
 *
 * Pure bookkeeping, no I/O. The released set stays small: an entry is dropped once the tick the
 * execution was last known to run at has passed, and each rebuild keeps only what is still queued.
 */
import type { DelayParts, QueuedItem } from '../common/contracts.js';

export type ReleaseCause = 'movedByOthers' | 'refused';

export class Ownership {
  /** Released execution → the tick it was last known to run at (Infinity: until the next rebuild). */
  private readonly released = new Map<string, number>();
  readonly counts: Record<ReleaseCause, number> = { movedByOthers: 0, refused: 0 };

  /** `by` is the name the scheduler sends with its own requests. */
  constructor(private readonly by: string) {}

  get size(): number {
    return this.released.size;
  }

  owns(executionId: string): boolean {
    return !this.released.has(executionId);
  }

  /** True when `by` (a request's, null when it named nobody) is not the scheduler's own name. */
  isOther(by: string | null): boolean {
    return by !== this.by;
  }

  /** True when another mover took part in `parts` (`GET /queued`'s or an execution's `addedDelayBy`). */
  movedByOthers(parts: DelayParts | undefined): boolean {
    return parts !== undefined && Object.keys(parts).some((mover) => mover !== this.by);
  }

  /**
   * Takes an execution out of the scheduler's hands; `untilTick` is where it is scheduled now, if
   * known (a later move's tick replaces an unknown one). Returns true when it was still owned (a
   * move seen twice counts once).
   */
  release(executionId: string, cause: ReleaseCause, untilTick = Number.POSITIVE_INFINITY): boolean {
    const known = this.released.get(executionId);
    const tick = known === undefined || known === Number.POSITIVE_INFINITY ? untilTick : Math.max(known, untilTick);
    this.released.set(executionId, tick);
    if (known !== undefined) return false;
    this.counts[cause]++;
    return true;
  }

  /**
   * The items of `GET /queued` the scheduler may plan. Items another client moved are released;
   * released executions no longer queued are forgotten (they ran).
   */
  plannable(items: readonly QueuedItem[]): QueuedItem[] {
    const queued = new Set(items.map((i) => i.execution.id));
    for (const id of this.released.keys()) if (!queued.has(id)) this.released.delete(id);
    return items.filter((i) => {
      if (this.movedByOthers(i.execution.addedDelayBy)) {
        this.release(i.execution.id, 'movedByOthers', i.execution.scheduledTick);
      }
      return this.owns(i.execution.id);
    });
  }

  /** Forgets releases whose execution has run (last known tick before `nextTick`). */
  prune(nextTick: number): void {
    for (const [id, tick] of this.released) if (tick < nextTick) this.released.delete(id);
  }
}
