/**
 * Named error classes. Code acts on the class (or its `code`), never on the message, so messages
 * can be written for people. Every class carries a stable `code` that HTTP bodies and logs expose.
 */

export class SpikeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value broke its rule. Names the setting, its source, the value and the rule. */
export class ConfigError extends SpikeError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly rule: string,
    /** Where the value came from, e.g. `--query-count` or `SIM_QUERY_COUNT`. */
    readonly source?: string,
  ) {
    const where = source ? `${field} (${source})` : field;
    // An overlong value is shown by its start and length: the message stays one readable line.
    const shown = typeof value === 'string' && value.length > 200 ? `${value.slice(0, 80)}…` : value;
    const length = shown === value ? '' : ` (${(value as string).length} characters)`;
    super('CONFIG_INVALID', `${where} = ${JSON.stringify(shown)}${length}: ${rule}`);
  }
}

/** An argument to an operation is malformed or out of bounds. `field` names it. */
export class InvalidArgumentError extends SpikeError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('INVALID_ARGUMENT', message);
  }
}

/** `delay` on an execution that is not in the queue: unknown, or already executed. */
export class ExecutionNotQueuedError extends SpikeError {
  constructor(readonly executionId: string) {
    super('EXECUTION_NOT_QUEUED', `execution ${executionId} is not queued (unknown or already executed)`);
  }
}

/** Ground truth was asked for without the explicit evaluation option. */
/**
 * `POST /delay` with `expectedTick`: the execution is no longer scheduled there (another client
 * moved it), so the request is refused and changes nothing.
 */
export class ScheduleChangedError extends SpikeError {
  constructor(
    readonly executionId: string,
    readonly expectedTick: number,
    readonly scheduledTick: number,
  ) {
    super(
      'SCHEDULE_CHANGED',
      `execution ${executionId} is scheduled at tick ${scheduledTick}, not ${expectedTick}: somebody else moved it`,
    );
  }
}

export class GroundTruthDisabledError extends SpikeError {
  constructor() {
    super(
      'GROUND_TRUTH_DISABLED',
      'ground truth is only available with the evaluation option (--truth / SIM_EXPOSE_TRUTH=1)',
    );
  }
}
