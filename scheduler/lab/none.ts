/** The `none` baseline: no scheduling at all; every execution runs at its default tick. */
import type { Decision, SchedulingPolicy } from '../decision.js';

export class NoScheduling implements SchedulingPolicy {
  readonly name = 'none';
  onQueued(): Decision[] {
    return [];
  }
  beforeTick(): Decision[] {
    return [];
  }
  onExecuted(): void {}
  onWindow(): void {}
}
