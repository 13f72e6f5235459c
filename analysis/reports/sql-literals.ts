/**
 * The values the reports splice into SQL text. The read-only path takes no bound parameters, so
 * every number is checked to be a safe integer before it becomes part of a statement.
 */
import { ConfigError } from '../../common/errors.js';

/** `n` as SQL text; a ConfigError for anything but a safe integer. */
export function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new ConfigError('sql', n, 'must be an integer');
  return String(n);
}
