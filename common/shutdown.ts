/**
 * Clean shutdown for every entry point, on a signal or on a failure:
 *  - SIGINT/SIGTERM: the first signal runs the graceful close (exit 0 when it succeeds, 1 when it
 *    fails); a second signal more than two seconds later exits at once (130). Repeats within two
 *    seconds are ignored because `npm start` forwards the terminal's Ctrl-C to its child, which the
 *    child also receives from the terminal: one keypress, two signals.
 *  - `fail(reason)` (fail-stop): a component that must not go on (a tick or an outbox write failed)
 *    runs the same close — what can still be flushed is flushed — then the process exits 1 with one
 *    line on stderr that says why. A restart policy or an orchestrator sees the exit and reacts.
 */
import { drainLogs, type Logger } from './logger.js';

const REPEAT_WINDOW_MS = 2000;

export interface Shutdown {
  /** Stops the process after a failure: closes what is open, then exits 1 (once; later calls only log). */
  fail(reason: string): void;
}

export function onShutdown(
  logger: Logger,
  close: () => Promise<unknown>,
  what = 'unsent work is kept for the next start',
): Shutdown {
  let firstAt: number | undefined;
  let failure: string | undefined;
  let closing: Promise<unknown> | undefined;
  const stop = () => {
    closing ??= close().then(
      () => exit(failure === undefined ? 0 : 1),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  const exit = (code: number) => {
    void drainLogs(logger).then(() => {
      if (failure !== undefined) process.stderr.write(`error: ${failure}\n`);
      process.exit(code);
    });
  };
  const handle = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < REPEAT_WINDOW_MS) return;
      logger.warn({ signal }, `second signal: exiting now; ${what}`);
      process.exit(failure === undefined ? 130 : 1);
    }
    firstAt = Date.now();
    logger.info({ signal }, 'shutting down');
    stop();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return {
    fail(reason) {
      if (failure !== undefined) {
        logger.error({ reason }, 'another failure while stopping');
        return;
      }
      failure = reason;
      // A stop that a signal began still ends with exit 1: the run did fail.
      firstAt ??= Date.now();
      logger.fatal({ reason }, 'stopping after a failure: flushing what can be flushed, then exiting 1');
      stop();
    },
  };
}
