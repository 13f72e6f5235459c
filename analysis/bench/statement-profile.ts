/**
 * Where a run's time goes, statement by statement, for `npm run bench:history -- --profile`: wraps
 * a ClickHouse client so every query, command and insert is timed — wall time, and the process's
 * CPU time while it ran (chDB runs in-process, so that is ClickHouse's threads plus Node's, and
 * also any background merge running at the same time). Wall minus CPU is time spent waiting: for a
 * core on a loaded machine, or for the disk. chDB has no `system.query_log`, hence this.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface StatementTiming {
  /** The statement's first 80 characters of text (whitespace folded): which SQL it is. */
  statement: string;
  calls: number;
  wallMs: number;
  cpuMs: number;
}

/** `client`, timed; `take()` returns the timings since the last take, costliest first. */
export function profileClient(client: ClickHouseClient): { client: ClickHouseClient; take: () => StatementTiming[] } {
  let timings = new Map<string, StatementTiming>();
  const timed =
    <A extends { query?: string; table?: string }, R>(fn: (a: A) => Promise<R>) =>
    async (a: A): Promise<R> => {
      const key = (a.query ?? `INSERT INTO ${a.table ?? '?'}`).replace(/\s+/g, ' ').trim().slice(0, 80);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        return await fn(a);
      } finally {
        const cpu = process.cpuUsage(cpu0);
        const entry = timings.get(key) ?? { statement: key, calls: 0, wallMs: 0, cpuMs: 0 };
        entry.calls++;
        entry.wallMs += performance.now() - t0;
        entry.cpuMs += (cpu.user + cpu.system) / 1000;
        timings.set(key, entry);
      }
    };
  const wrapped = new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if ((prop === 'query' || prop === 'command' || prop === 'insert') && typeof value === 'function')
        return timed((value as (a: never) => Promise<unknown>).bind(target));
      return value;
    },
  });
  return {
    client: wrapped,
    take: () => {
      const out = [...timings.values()].sort((a, b) => b.wallMs - a.wallMs);
      timings = new Map();
      return out;
    },
  };
}
