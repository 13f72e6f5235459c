/**
 * The contract between a scheduling policy and whatever drives it (the lab in virtual time, or the
 * live service that consumes the Redis stream and calls `POST /delay`).
 *
 * Call order for tick t, as the database runs it:
 *   1. `onExecuted` for each execution that ran in t (optional: a policy must cope without it);
 *   2. `onWindow` when t closes a metrics window (optional, for learning and status);
 *   3. `onQueued` for each execution queued in t;
 *   4. `beforeTick(t + 1)` once, after all of t's queued events and before t + 1 runs.
 * Every returned decision must be applied before t + 1 runs to take effect.
 */
import type { ExecutedEvent, QueuedEvent, WindowEvent } from '../common/contracts.js';

/** Exactly what `POST /delay` takes: ticks relative to the execution's current schedule. */
export interface Decision {
  executionId: string;
  /** > 0 postpones, < 0 brings forward (never before the next tick). */
  delay: number;
}

export interface SchedulingPolicy {
  readonly name: string;
  onQueued(event: QueuedEvent): Decision[];
  beforeTick(nextTick: number): Decision[];
  onExecuted(event: ExecutedEvent): void;
  onWindow(event: WindowEvent): void;
}
