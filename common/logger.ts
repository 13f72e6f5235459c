/**
 * Structured logging (pino, JSON lines on stderr so stdout stays free for command output).
 * Each component takes a child logger with its name; the level comes from LOG_LEVEL.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const valid = (LEVELS as readonly string[]).includes(level) ? level : 'info';
  return pino({ name, level: valid, base: { pid: process.pid } }, pino.destination(2));
}

/** A logger that drops everything: for tests and library use where the caller wants silence. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The destination pino writes to (a SonicBoom on fd 2), with the parts used here. */
type Destination = { flushSync?: () => void; _writing?: boolean };

function destination(logger: Logger): Destination | undefined {
  return (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
}

/**
 * Writes out what `logger` buffered, synchronously (pino's destination writes asynchronously): before
 * a process writes its last line and exits, so that line is the last on stderr. A write already in
 * flight is not waited for (see `drainLogs`).
 */
export function flushLogs(logger: Logger): void {
  try {
    destination(logger)?.flushSync?.();
  } catch {
    // not open yet, or closed: nothing buffered to write
  }
}

/**
 * Waits (at most `timeoutMs`) for the destination's asynchronous write in flight, then flushes the
 * rest. Why: `flushSync` skips a buffer already handed to an asynchronous write, so a line written
 * straight to stderr right after it could come out before that buffer (seen under load: the fail-stop
 * reason printed before the "stopped" log line it must follow).
 */
export async function drainLogs(logger: Logger, timeoutMs = 1000): Promise<void> {
  const stream = destination(logger);
  const until = Date.now() + timeoutMs;
  while (stream?._writing === true && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
  flushLogs(logger);
}
