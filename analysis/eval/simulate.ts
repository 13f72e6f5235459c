/**
 * The evaluation's data: the simulated database run in virtual time, every execution and window
 * stored in ClickHouse through ClickHouseStore — the same row mapping and insert path the ingest
 * workers use. BullMQ is skipped on purpose: delivery (at-least-once, dedup) is tested with the
 * capture and ingest components; here only what the estimator reads matters.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ExecutedEvent, TrueQuery, WindowEvent } from '../../common/contracts.js';
import { ClickHouseStore } from '../../clickhouse/store.js';
import { Database } from '../../server/database.js';
import type { SimulationOptions } from '../../server/options.js';

export interface StoredSimulation {
  /** Ground truth: evaluation only. */
  readonly truth: TrueQuery[];
  /** Simulates `ticks` more ticks and stores their executions and windows. */
  advance(ticks: number): Promise<void>;
  counts(): { ticks: number; executions: number; windows: number; simulateMs: number; storeMs: number };
}

/** Rows per insert: large enough to be fast, small enough to bound memory on long runs. */
const BATCH = 50_000;
/** Ticks simulated between flushes. */
const CHUNK = 1000;

export function storedSimulation(params: {
  client: ClickHouseClient;
  database: string;
  simulation: SimulationOptions;
}): StoredSimulation {
  const db = new Database({ ...params.simulation, exposeTruth: true });
  const store = new ClickHouseStore(params.client, { database: params.database });
  let executions: ExecutedEvent[] = [];
  let windows: WindowEvent[] = [];
  const counts = { ticks: 0, executions: 0, windows: 0, simulateMs: 0, storeMs: 0 };
  db.hooks.executed.add((e) => executions.push(e));
  db.hooks.window.add((w) => windows.push(w));

  const flush = async (force: boolean) => {
    const t0 = performance.now();
    if (executions.length >= BATCH || (force && executions.length > 0)) {
      await store.insertExecutions(executions);
      counts.executions += executions.length;
      executions = [];
    }
    if (windows.length >= BATCH || (force && windows.length > 0)) {
      await store.insertWindows(windows);
      counts.windows += windows.length;
      windows = [];
    }
    counts.storeMs += performance.now() - t0;
  };

  return {
    truth: db.groundTruth(),
    async advance(ticks) {
      for (let done = 0; done < ticks; done += CHUNK) {
        const t0 = performance.now();
        db.run(Math.min(CHUNK, ticks - done));
        counts.simulateMs += performance.now() - t0;
        await flush(false);
      }
      counts.ticks += ticks;
      await flush(true);
    },
    counts: () => ({ ...counts }),
  };
}
