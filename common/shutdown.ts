/**
 * Clean shutdown on SIGINT/SIGTERM for every entry point: the first signal runs the graceful close
 * (exit 0 when it succeeds, 1 when it fails); a second signal more than two seconds later exits at
 * once (130). Repeats within two seconds are ignored because `npm start` forwards the terminal's
 * Ctrl-C to its child, which the child also receives from the terminal: one keypress, two signals.
 */
import type { Logger } from './logger.js';

const REPEAT_WINDOW_MS = 2000;

export function onShutdown(
  logger: Logger,
  close: () => Promise<unknown>,
  what = 'unsent work is kept for the next start',
): void {
  let firstAt: number | undefined;
  const handle = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < REPEAT_WINDOW_MS) return;
      logger.warn({ signal }, `second signal: exiting now; ${what}`);
      process.exit(130);
    }
    firstAt = Date.now();
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}
