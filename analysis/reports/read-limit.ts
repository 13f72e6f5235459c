/**
 * At most a few report reads in flight. The report issues its independent reads together, but the
 * sessions it reads through are few: the embedded analysis job gives the reports one read-only
 * session with a short wait queue, so ten reads at once were refused with QueryBusyError and a
 * live `npm start` never wrote a report. Two in flight keep a server's parallelism and stay well
 * inside any queue the read-only path is configured with.
 */
import type { QueryFn } from './load.js';

export const MAX_READS_IN_FLIGHT = 2;

/** `query`, with calls beyond `max` in flight waiting (in order) for one to finish. */
export function limitReads(query: QueryFn, max = MAX_READS_IN_FLIGHT): QueryFn {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return async (sql) => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await query(sql);
    } finally {
      release();
    }
  };
}
