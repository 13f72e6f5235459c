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

/**
 * Writes out what `logger` buffered, synchronously (pino's destination writes asynchronously): before
 * a process writes its last line and exits, so that line is the last on stderr.
 */
export function flushLogs(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // not open yet, or closed: nothing buffered to write
  }
}
