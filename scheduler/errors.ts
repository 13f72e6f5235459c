/**
 * The scheduler's named errors. Callers act on the class or its `code`, never on the message.
 * Bad option values use `ConfigError` from common/ (they come from settings).
 */
import { SpikeError } from '../common/errors.js';

/** The policy was driven out of order: a tick older than one it has already planned. */
export class PolicyClockError extends SpikeError {
  constructor(
    readonly tick: number,
    readonly plannedTick: number,
  ) {
    super('POLICY_CLOCK', `beforeTick(${tick}) after beforeTick(${plannedTick}): ticks must not go backwards`);
  }
}

/** A lab or snapshot input is inconsistent (e.g. a snapshot item without its queued tick). */
export class SchedulerInputError extends SpikeError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('SCHEDULER_INPUT', message);
  }
}

/** The database's HTTP API did not answer, or answered with an error, where an answer was needed. */
export class DatabaseUnavailableError extends SpikeError {
  constructor(message: string) {
    super('DATABASE_UNAVAILABLE', message);
  }
}
