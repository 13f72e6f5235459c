/**
 * Test data for the reports, the SQL CLI and the cookbook: a short seeded simulation stored in a
 * fresh chDB exactly as the ingest workers store it (ClickHouseStore), optionally with a naive
 * "scheduler" switched on part-way that delays queued executions by 1–2 ticks (so the data has
 * delayed executions, added latency and a before/after), and optionally a few estimate versions.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ExecutedEvent, QueuedEvent, TrueQuery, WindowEvent } from '../../common/contracts.js';
import { ClickHouseStore } from '../../clickhouse/index.js';
import { Database } from '../../server/database.js';
import { simulationOptions } from '../../server/options.js';

export interface PopulateOptions {
  seed: string;
  minutes: number;
  /** Minute at which the naive scheduler starts delaying; undefined: never. */
  schedulerFromMinute?: number;
  probabilityScale?: number;
  /** Database to store into (default `spike`; it must be migrated). */
  database?: string;
}

export interface Populated {
  truth: TrueQuery[];
  executions: number;
  windows: number;
  /** Epoch ms at which the first delayed execution ran (null: the scheduler never ran). */
  schedulerStart: number | null;
  startTime: number;
}

const TICKS_PER_MINUTE = 600;

export async function populate(client: ClickHouseClient, o: PopulateOptions): Promise<Populated> {
  const startTime = Date.UTC(2026, 0, 1);
  const db = new Database(
    simulationOptions({ seed: o.seed, probabilityScale: o.probabilityScale ?? 1, exposeTruth: true, startTime }),
  );
  const store = new ClickHouseStore(client, { database: o.database ?? 'spike' });
  const executed: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  let queued: QueuedEvent[] = [];
  let firstDelayed: number | null = null;
  db.hooks.executed.add((e) => {
    executed.push(e);
    if (e.delayCount > 0) firstDelayed ??= e.executedAt;
  });
  db.hooks.window.add((w) => windows.push(w));
  db.hooks.queued.add((q) => queued.push(q));
  const schedulerFrom = o.schedulerFromMinute === undefined ? Infinity : o.schedulerFromMinute * TICKS_PER_MINUTE;
  let stored = 0;
  for (let t = 0; t < o.minutes * TICKS_PER_MINUTE; t++) {
    db.tick();
    // Delays are sent between ticks, as a real scheduler's would be.
    if (t >= schedulerFrom) for (const q of queued) db.delay(q.executionId, 1 + (q.tick % 2), 'scheduler');
    queued = [];
    if (executed.length >= 5000) {
      stored += executed.length;
      await store.insertExecutions(executed.splice(0));
    }
  }
  stored += executed.length;
  await store.insertExecutions(executed.splice(0));
  await store.insertWindows(windows);
  return {
    truth: db.groundTruth(),
    executions: stored,
    windows: windows.length,
    schedulerStart: firstDelayed,
    startTime,
  };
}

/**
 * Writes estimate versions straight into the estimates tables (migration 010), the way the
 * analysis job commits one: rows first, then the version row. Estimates are the true costs plus a
 * small deterministic offset, with an interval of ±(2 + 60/√n). Returns false without the tables.
 */
export async function insertEstimates(
  client: ClickHouseClient,
  truth: readonly TrueQuery[],
  versions: number[],
): Promise<boolean> {
  const rs = await client.query({
    query:
      "SELECT count() AS n FROM system.tables WHERE database = 'spike' AND name IN ('estimates', 'estimate_versions')",
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: number | string }>();
  if (Number(row?.n ?? 0) < 2) return false;
  for (const [k, version] of versions.entries()) {
    const rows = truth.map((q, i) => {
      const observations = i % 10 === 9 ? 0 : Math.round(20 + 400 * q.probability * (k + 1));
      const half = 2 + 60 / Math.sqrt(Math.max(1, observations));
      const cell = (v: number, j: number) => {
        const est = Math.max(0, v + (((i * 7 + j * 3 + k) % 5) - 2) * 0.6);
        return { est, sd: half / 1.96, lower: Math.max(0, est - half), upper: est + half };
      };
      const [c, io, m] = [cell(q.cpu, 0), cell(q.io, 1), cell(q.memory, 2)];
      return {
        version,
        computed_at: version,
        query_id: q.id,
        cpu: c.est,
        io: io.est,
        memory: m.est,
        cpu_sd: c.sd,
        io_sd: io.sd,
        memory_sd: m.sd,
        cpu_lower: c.lower,
        cpu_upper: c.upper,
        io_lower: io.lower,
        io_upper: io.upper,
        memory_lower: m.lower,
        memory_upper: m.upper,
        observations,
        windows: observations,
        prior: observations === 0 ? 1 : 0,
        method: 'test',
      };
    });
    await client.insert({ table: 'spike.estimates', values: rows, format: 'JSONEachRow' });
    await client.insert({
      table: 'spike.estimate_versions',
      values: [{ version, computed_at: version, method: 'test', queries: rows.length }],
      format: 'JSONEachRow',
    });
  }
  return true;
}
