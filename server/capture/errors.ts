/**
 * Named errors of the capture layer. Callers act on the class or `code`; messages are for people.
 */
import { SpikeError } from '../../common/errors.js';

/**
 * Writing or syncing the outbox failed. The outbox refuses further appends (fail-stop): after a
 * failed fdatasync the kernel's page cache can no longer be trusted, so the process must restart
 * and let recovery cut the torn tail, rather than report a tick as durable when it is not.
 */
export class OutboxWriteError extends SpikeError {
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super('OUTBOX_WRITE_FAILED', `writing the outbox segment ${path} failed; the outbox is stopped`, options);
  }
}

/** The outbox was used after `close()` (or after a write failure stopped it). */
export class OutboxClosedError extends SpikeError {
  constructor(readonly dir: string) {
    super('OUTBOX_CLOSED', `the outbox in ${dir} is closed`);
  }
}

/** Another live process holds the outbox directory: two writers would corrupt the segments. */
export class OutboxLockedError extends SpikeError {
  constructor(
    readonly dir: string,
    readonly pid: number,
    /** The holder's command line, where the system shows it. */
    readonly command?: string,
  ) {
    super(
      'OUTBOX_LOCKED',
      `the outbox in ${dir} is in use by process ${pid}${command ? ` (${command})` : ''}: ` +
        'one directory takes one writer; stop that process or give this one another --outbox-dir (OUTBOX_DIR)',
    );
  }
}

/**
 * Redis answers but does not persist what it acknowledges (or will not say), and volatile Redis
 * was not allowed: the relay would delete records whose only copy a Redis restart can lose.
 */
export class VolatileRedisError extends SpikeError {
  constructor(
    readonly url: string,
    readonly persistence: { verdict: string; detail: string },
    message: string,
  ) {
    super('REDIS_VOLATILE', message);
  }
}

/** A batch was acknowledged out of order (a programming error in the relay, never data-dependent). */
export class OutboxAckOrderError extends SpikeError {
  constructor(expected: string, got: string) {
    super('OUTBOX_ACK_ORDER', `acknowledged a batch starting at ${got}, but the acknowledged position is ${expected}`);
  }
}

/** Redis did not acknowledge a send within the configured time. */
export class RelaySendTimeoutError extends SpikeError {
  constructor(readonly timeoutMs: number) {
    super('RELAY_SEND_TIMEOUT', `Redis did not acknowledge the batch within ${timeoutMs} ms`);
  }
}
