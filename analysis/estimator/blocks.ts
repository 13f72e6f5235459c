/**
 * Collects the regression's sufficient statistics over all history, incrementally.
 *
 * Windows are grouped into blocks of `blockWindows` consecutive window ids. Only windows that ended
 * `settleMs` before the newest stored execution are used (the horizon): later ones may still miss
 * executions in flight. Blocks entirely below the horizon's block are sealed: their statistics are
 * stored (estimate_stats) with a fingerprint of their inputs (estimate_blocks), and each run
 *   1. fingerprints every sealed block (one scan of the FINAL views: counts and XOR hashes),
 *   2. recomputes and stores only the blocks whose fingerprint differs from the stored one — new
 *      blocks, and old ones that received late rows or lost rows to retention,
 *   3. reads the stored statistics of the sealed blocks plus the live block's, computed on the fly,
 *      summed in one query.
 * So a run costs one fingerprint scan plus the work of the new windows; a from-scratch computation
 * (`incremental: false`) sums every window live and must give the same numbers (sql.ts: exact sums).
 *
 * Correctness under concurrency: a row that lands between the fingerprint and the recompute is
 * either in both (fine) or only in the recompute, so the stored fingerprint is older than the data:
 * the next run sees a mismatch and recomputes again. Stats are written before their block record,
 * under the run's new version, and read only through the records, so a failure mid-write is never
 * read.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../../common/logger.js';
import {
  combinedStatsSql,
  deleteStaleStatsSql,
  dropBlocksSql,
  fingerprintSql,
  horizonSql,
  insertBlockStatsSql,
  recentQueriesSql,
  storedBlocksSql,
  tickSpanSql,
  type TotalMethod,
} from './sql.js';
import { emptyStats, statsFromRows, type StatsRow, type SufficientStats } from './stats.js';

export interface CollectOptions {
  database: string;
  method: TotalMethod;
  blockWindows: number;
  settleMs: number;
  /** Sealed blocks computed per INSERT (bounds the memory of one statement). */
  blocksPerInsert: number;
  /** False: every window is summed live and nothing is stored (the reference computation). */
  incremental: boolean;
  /** Version under which recomputed blocks are stored. */
  version: number;
  logger: Logger;
}

export interface CollectResult {
  stats: SufficientStats;
  /** The last window used (-1: none) and its last tick. */
  horizon: { windowId: number; lastTick: number };
  blocks: { reused: number; computed: number };
  /** Time spent per step, in ms. */
  timings: { horizonMs: number; fingerprintMs: number; computeMs: number; combineMs: number };
  /** Queries that ran after the horizon only, with their executions: no regression data yet. */
  recentQueries: Map<string, number>;
}

interface Fingerprint {
  block: number;
  windows: number;
  windows_hash: string;
  executions: number;
  executions_hash: string;
}

interface StoredBlock extends Fingerprint {
  version: number;
}

export function layoutOf(method: TotalMethod, blockWindows: number): string {
  return `${method}/${blockWindows}`;
}

/**
 * No JIT for the statistics queries: ClickHouse compiles an expression after a few uses, and for
 * these long expressions, run once per run, compiling cost more than it saved (measured: a 1-window
 * statistics query took 0.2–1.2 s with it, 0.1–0.2 s without).
 */
const NO_JIT = { compile_expressions: 0, compile_aggregate_expressions: 0 } as const;

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: NO_JIT });
  return rs.json<T>();
}

export async function collectStats(client: ClickHouseClient, o: CollectOptions): Promise<CollectResult> {
  const db = o.database;
  const timings = { horizonMs: 0, fingerprintMs: 0, computeMs: 0, combineMs: 0 };
  let mark = performance.now();
  const lap = (key: keyof typeof timings) => {
    const now = performance.now();
    timings[key] += now - mark;
    mark = now;
  };
  const [h] = await rows<{ windows: number | string; window_id: number | string; last_tick: number | string }>(
    client,
    horizonSql(db),
    { settleMs: o.settleMs },
  );
  const none = Number(h?.windows ?? 0) === 0;
  const horizon = { windowId: none ? -1 : Number(h!.window_id), lastTick: none ? -1 : Number(h!.last_tick) };
  const recentQueries = new Map(
    (
      await rows<{ query_id: string; executions: number | string }>(client, recentQueriesSql(db), {
        after: horizon.lastTick,
      })
    ).map((r) => [r.query_id, Number(r.executions)]),
  );
  lap('horizonMs');
  if (horizon.windowId < 0)
    return { stats: emptyStats(), horizon, blocks: { reused: 0, computed: 0 }, timings, recentQueries };

  const B = o.blockWindows;
  const layout = layoutOf(o.method, B);
  const liveBlock = Math.floor(horizon.windowId / B);
  // From scratch: no sealed blocks, every window is live.
  const sealedEnd = o.incremental ? liveBlock * B : 0;
  let current: [number, number][] = [];
  let computed = 0;
  if (o.incremental && sealedEnd > 0) {
    const fingerprints = await rows<Fingerprint>(client, fingerprintSql(db), { blockWindows: B, sealedEnd });
    const stored = new Map(
      (await rows<StoredBlock>(client, storedBlocksSql(db), { layout })).map((b) => [Number(b.block), b]),
    );
    const stale = fingerprints.filter((f) => !sameInputs(f, stored.get(Number(f.block))));
    lap('fingerprintMs');
    for (const run of contiguousRuns(
      stale.map((f) => Number(f.block)),
      o.blocksPerInsert,
    )) {
      const range = await windowRange(client, db, run[0]! * B, Math.min((run[run.length - 1]! + 1) * B, sealedEnd) - 1);
      if (!range) continue;
      await client.command({
        query: insertBlockStatsSql(db, o.method),
        query_params: { ...range, blockWindows: B, layout, version: o.version },
        clickhouse_settings: { async_insert: 0, ...NO_JIT },
      });
    }
    if (stale.length > 0) {
      // The block records, after their statistics: from here on these blocks read the new version.
      await client.insert({
        table: `${db}.estimate_blocks`,
        values: stale.map((f) => ({
          layout,
          block: Number(f.block),
          version: o.version,
          computed_at: Date.now(),
          windows: Number(f.windows),
          windows_hash: f.windows_hash,
          executions: Number(f.executions),
          executions_hash: f.executions_hash,
        })),
        format: 'JSONEachRow',
        clickhouse_settings: { async_insert: 0 },
      });
      await deleteStale(
        client,
        db,
        { layout, blocks: stale.map((f) => Number(f.block)), version: o.version },
        o.logger,
      );
    }
    computed = stale.length;
    const present = new Set(fingerprints.map((f) => Number(f.block)));
    const vanished = [...stored.keys()].filter((b) => b < liveBlock && !present.has(b));
    if (vanished.length > 0) await dropBlocks(client, db, layout, vanished, o.logger);
    lap('computeMs');
    const recomputed = new Set(stale.map((f) => Number(f.block)));
    current = fingerprints.map((f) => {
      const b = Number(f.block);
      return [b, recomputed.has(b) ? o.version : Number(stored.get(b)!.version)];
    });
  }

  // An empty live range (no window in it) is read as a range that holds nothing.
  const live = (await windowRange(client, db, sealedEnd, horizon.windowId)) ?? {
    from: 0,
    to: -1,
    fromTick: 0,
    toTick: -1,
  };
  const statRows = await rows<StatsRow>(client, combinedStatsSql(db, o.method), {
    blocks: current.map((c) => c[0]),
    versions: current.map((c) => c[1]),
    layout,
    ...live,
    blockWindows: B,
  });
  const stats = statsFromRows(statRows);
  lap('combineMs');
  for (const q of stats.queries) recentQueries.delete(q);
  return { stats, horizon, blocks: { reused: current.length - computed, computed }, timings, recentQueries };
}

/** Window ids [from, to] with the tick span of their windows; null when no window is there. */
async function windowRange(
  client: ClickHouseClient,
  db: string,
  from: number,
  to: number,
): Promise<{ from: number; to: number; fromTick: number; toTick: number } | null> {
  const [span] = await rows<{ windows: number | string; from_tick: number | string; to_tick: number | string }>(
    client,
    tickSpanSql(db),
    { from, to },
  );
  if (!span || Number(span.windows) === 0) return null;
  return { from, to, fromTick: Number(span.from_tick), toTick: Number(span.to_tick) };
}

function sameInputs(now: Fingerprint, stored: StoredBlock | undefined): boolean {
  return (
    stored !== undefined &&
    Number(now.windows) === Number(stored.windows) &&
    now.windows_hash === stored.windows_hash &&
    Number(now.executions) === Number(stored.executions) &&
    now.executions_hash === stored.executions_hash
  );
}

/** Sorted block ids split into runs of consecutive ids, at most `max` long (one INSERT each). */
export function contiguousRuns(blocks: number[], max: number): number[][] {
  const runs: number[][] = [];
  for (const b of [...blocks].sort((x, y) => x - y)) {
    const last = runs[runs.length - 1];
    if (last && b === last[last.length - 1]! + 1 && last.length < max) last.push(b);
    else runs.push([b]);
  }
  return runs;
}

/** Blocks whose windows retention removed: never read again (not fingerprinted); best effort. */
async function dropBlocks(
  client: ClickHouseClient,
  db: string,
  layout: string,
  blocks: number[],
  logger: Logger,
): Promise<void> {
  try {
    for (const table of ['estimate_stats', 'estimate_blocks'] as const) {
      await client.command({ query: dropBlocksSql(db, table), query_params: { layout, blocks } });
    }
  } catch (err) {
    logger.warn({ err: String(err), blocks: blocks.length }, 'could not drop the statistics of expired blocks');
  }
}

/**
 * Superseded statistics of recomputed blocks (and stray rows of failed runs) are deleted. Best
 * effort: they are never read anyway (reads go through the block records), so a failure only
 * leaves garbage for a later run to remove.
 */
async function deleteStale(
  client: ClickHouseClient,
  db: string,
  params: { layout: string; blocks: number[]; version: number },
  logger: Logger,
): Promise<void> {
  try {
    await client.command({ query: deleteStaleStatsSql(db), query_params: params });
  } catch (err) {
    logger.warn({ err: String(err), blocks: params.blocks.length }, 'could not delete superseded block statistics');
  }
}
