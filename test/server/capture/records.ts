/** Synthetic outbox records for the capture tests: the `i`-th execution, distinct and deterministic. */
import type { ExecutedEvent } from '../../../common/contracts.js';

export function execution(i: number): ExecutedEvent {
  return {
    type: 'executed',
    executionId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    queryId: '11111111-1111-4111-8111-111111111111',
    queuedTick: i,
    executedTick: i + 1,
    addedDelay: 0,
    delayCount: 0,
    delayedBy: null,
    queuedAt: 1_000 + i,
    executedAt: 1_100 + i,
  };
}
