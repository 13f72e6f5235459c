/**
 * Collects the regression's sufficient statistics over all history, incrementally: a run reads only
 * what arrived (or went) since the last run, never every stored block.
 *
 * Windows are grouped into blocks of `blockWindows` consecutive window ids. Only windows that ended
 * `settleMs` before the newest stored execution are used (the horizon): later ones may still miss
 * executions in flight. Blocks entirely below the horizon's block are sealed: their statistics are
 * stored (estimate_stats, one version per block), their sum in estimate_totals, and which versions
 * are current in the run's state (estimate_state, collect-state.ts). Each run
 *   1. reads the last state, the server clock and the active parts of executions and windows;
 *   2. finds the stale blocks: newly sealed ones; ones with a window or an execution inserted after
 *      the watermark (a minmax index on inserted_at makes that read the new granules only); ones
 *      whose rows a dropped or mutated part held (retention);
 *   3. recomputes those (estimate_stats at this run's version) and the totals: previous totals + the
 *      blocks' new statistics − their old ones;
 *   4. commits the new state (one row: the commit point), then deletes what it superseded;
 *   5. reads the totals and the live block's statistics, computed on the fly, and sums them (exact).
 * So a run costs the work of the new rows plus the live block, whatever the history. A from-scratch
 * computation (`incremental: false`) sums every window live and gives the same numbers, bit for bit
 * (sql.ts: exact sums; tested).
 *
 * The watermark: the next run looks at rows with inserted_at after this run's start minus
 * `insertMarginMs`, so an insert that became visible up to that long after its inserted_at (the
 * server's clock when it was written) is still seen. Rows looked at twice only cost a recompute.
 * Statistics are written before the state that points to them, under a new version, so a failure
 * mid-way is never read: the next run starts from the previous state and finds the same changes.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../../common/logger.js';
import {
  blocksInTickRanges,
  blocksInTimeRanges,
  contiguousRuns,
  droppedRanges,
  nextBlocks,
  parseState,
  type BlockRecord,
  type CollectState,
  type PartRecord,
} from './collect-state.js';
import { horizonSql, insertBlockStatsSql, recentQueriesSql, tickSpanSql, type TotalMethod } from './sql.js';
import {
  blockSpansSql,
  blocksWithWindowsSql,
  changedTickRangesSql,
  changedWindowBlocksSql,
  deleteOldTotalsSql,
  deleteSupersededStatsSql,
  liveStatsSql,
  loadStateSql,
  partsSql,
  serverNowSql,
  totalsStatsSql,
  updateTotalsSql,
} from './state-sql.js';
import { emptyStats, statsFromRows, sumStatRows, type StatsRow, type SufficientStats } from './stats.js';

export { contiguousRuns } from './collect-state.js';

export interface CollectOptions {
  database: string;
  method: TotalMethod;
  blockWindows: number;
  settleMs: number;
  /** Sealed blocks computed per INSERT (bounds the memory of one statement). */
  blocksPerInsert: number;
  /** False: every window is summed live and nothing is stored (the reference computation). */
  incremental: boolean;
  /** Version under which recomputed blocks, totals and the state are stored. */
  version: number;
  logger: Logger;
  /** The next run looks again at rows inserted this long before this run started. */
  insertMarginMs: number;
}

export interface CollectResult {
  stats: SufficientStats;
  /** The last window used (-1: none) and its last tick. */
  horizon: { windowId: number; lastTick: number };
  blocks: { reused: number; computed: number };
  /** Time spent per step, in ms. */
  timings: { horizonMs: number; changesMs: number; computeMs: number; combineMs: number };
  /** Queries that ran after the horizon only, with their executions: no regression data yet. */
  recentQueries: Map<string, number>;
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
const MIN_ID = Number.MIN_SAFE_INTEGER;

type Num = number | string;

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: NO_JIT });
  return rs.json<T>();
}

export async function collectStats(client: ClickHouseClient, o: CollectOptions): Promise<CollectResult> {
  const db = o.database;
  const timings = { horizonMs: 0, changesMs: 0, computeMs: 0, combineMs: 0 };
  let mark = performance.now();
  const lap = (key: keyof typeof timings) => {
    const now = performance.now();
    timings[key] += now - mark;
    mark = now;
  };
  const B = o.blockWindows;
  const layout = layoutOf(o.method, B);
  const [clock] = await rows<{ now: Num }>(client, serverNowSql, {});
  const startedAt = Number(clock!.now);
  const state = o.incremental
    ? parseState((await rows<{ state: string }>(client, loadStateSql(db), { layout }))[0]?.state)
    : null;
  const parts = o.incremental ? await activeParts(client, db) : { executions: [], windows: [] };

  let horizon = await findHorizon(client, db, o.settleMs, state ? state.sealedEnd - B : MIN_ID);
  if (horizon.windowId < 0 && state) horizon = await findHorizon(client, db, o.settleMs, MIN_ID);
  const recentQueries = new Map(
    (await rows<{ query_id: string; executions: Num }>(client, recentQueriesSql(db), { after: horizon.lastTick })).map(
      (r) => [r.query_id, Number(r.executions)],
    ),
  );
  lap('horizonMs');
  if (horizon.windowId < 0)
    return { stats: emptyStats(), horizon, blocks: { reused: 0, computed: 0 }, timings, recentQueries };

  const liveBlock = Math.floor(horizon.windowId / B);
  // From scratch: no sealed blocks, every window is live.
  const sealedEnd = o.incremental ? liveBlock * B : MIN_ID;
  let totalsVersion = 0;
  let computed = 0;
  let stored = 0;
  if (o.incremental) {
    const stale = await staleBlocks(client, db, B, state, parts, sealedEnd);
    lap('changesMs');
    const old = state?.blocks ?? [];
    // Blocks the horizon moved back over (rows dropped) are live again: out of the totals.
    const unsealed = new Set(old.filter((b) => b.block >= liveBlock).map((b) => b.block));
    const recompute = [...stale].filter((b) => b < liveBlock);
    const spans: Omit<BlockRecord, 'version'>[] = [];
    for (const run of contiguousRuns(recompute, o.blocksPerInsert)) {
      const from = run[0]! * B;
      const to = Math.min((run[run.length - 1]! + 1) * B, sealedEnd) - 1;
      const range = await windowRange(client, db, from, to);
      if (!range) continue;
      await client.command({
        query: insertBlockStatsSql(db, o.method),
        query_params: { ...range, blockWindows: B, layout, version: o.version },
        clickhouse_settings: { async_insert: 0, ...NO_JIT },
      });
      const found = await rows<{ block: Num; lo_tick: Num; hi_tick: Num; lo_ms: Num; hi_ms: Num }>(
        client,
        blockSpansSql(db),
        { from, to, blockWindows: B },
      );
      const wanted = new Set(run);
      for (const s of found) {
        if (!wanted.has(Number(s.block))) continue;
        spans.push({
          block: Number(s.block),
          loTick: Number(s.lo_tick),
          hiTick: Number(s.hi_tick),
          loMs: Number(s.lo_ms),
          hiMs: Number(s.hi_ms),
        });
      }
    }
    const recomputed = new Set(recompute);
    const blocks = nextBlocks(old, recomputed, unsealed, spans, o.version);
    const changed = recompute.length > 0 || unsealed.size > 0;
    totalsVersion = state?.totalsVersion ?? 0;
    if (changed) {
      const subtracted = old.filter((b) => recomputed.has(b.block) || unsealed.has(b.block));
      await client.command({
        query: updateTotalsSql(db),
        query_params: {
          layout,
          version: o.version,
          previous: totalsVersion,
          addBlocks: spans.map((s) => s.block),
          addVersions: spans.map(() => o.version),
          subBlocks: subtracted.map((b) => b.block),
          subVersions: subtracted.map((b) => b.version),
        },
        clickhouse_settings: { async_insert: 0 },
      });
      totalsVersion = o.version;
    }
    const next: CollectState = {
      sealedEnd,
      since: startedAt - o.insertMarginMs,
      totalsVersion,
      blocks,
      parts,
    };
    // The commit point: from here on, the new statistics and totals are the current ones.
    await client.insert({
      table: `${db}.estimate_state`,
      values: [{ layout, version: o.version, computed_at: Date.now(), state: JSON.stringify(next) }],
      format: 'JSONEachRow',
      clickhouse_settings: { async_insert: 0 },
    });
    if (changed) await cleanUp(client, db, layout, [...recomputed, ...unsealed], o.version, o.logger);
    computed = spans.length;
    stored = blocks.length;
    lap('computeMs');
  }

  // The sealed blocks' totals plus the live windows' statistics (none when no window is live).
  const sealedRows =
    totalsVersion > 0 ? await rows<StatsRow>(client, totalsStatsSql(db), { layout, totalsVersion }) : [];
  const live = await windowRange(client, db, sealedEnd, horizon.windowId);
  const liveRows = live ? await rows<StatsRow>(client, liveStatsSql(db, o.method), { ...live, blockWindows: B }) : [];
  const stats = statsFromRows(sumStatRows(sealedRows, liveRows));
  lap('combineMs');
  for (const q of stats.queries) recentQueries.delete(q);
  return { stats, horizon, blocks: { reused: stored - computed, computed }, timings, recentQueries };
}

async function findHorizon(
  client: ClickHouseClient,
  db: string,
  settleMs: number,
  from: number,
): Promise<CollectResult['horizon']> {
  const [h] = await rows<{ windows: Num; window_id: Num; last_tick: Num }>(client, horizonSql(db), {
    settleMs,
    from,
  });
  const none = Number(h?.windows ?? 0) === 0;
  return { windowId: none ? -1 : Number(h!.window_id), lastTick: none ? -1 : Number(h!.last_tick) };
}

async function activeParts(client: ClickHouseClient, database: string): Promise<CollectState['parts']> {
  const found = await rows<{
    table: string;
    partition_id: string;
    min_block_number: Num;
    max_block_number: Num;
    data_version: Num;
    min_ms: Num;
    max_ms: Num;
  }>(client, partsSql, { database });
  const of = (table: string): PartRecord[] =>
    found
      .filter((p) => p.table === table)
      .map((p) => ({
        partition: p.partition_id,
        minBlock: Number(p.min_block_number),
        maxBlock: Number(p.max_block_number),
        dataVersion: Number(p.data_version),
        minMs: Number(p.min_ms),
        maxMs: Number(p.max_ms),
      }));
  return { executions: of('executions'), windows: of('windows') };
}

/** The sealed blocks to recompute: newly sealed, changed since the watermark, or hit by a drop. */
async function staleBlocks(
  client: ClickHouseClient,
  db: string,
  B: number,
  state: CollectState | null,
  parts: CollectState['parts'],
  sealedEnd: number,
): Promise<Set<number>> {
  const stale = new Set<number>();
  const from = state ? Math.min(state.sealedEnd, sealedEnd) : MIN_ID;
  if (sealedEnd > from) {
    const sealed = await rows<{ block: Num }>(client, blocksWithWindowsSql(db), {
      from,
      to: sealedEnd,
      blockWindows: B,
    });
    for (const r of sealed) stale.add(Number(r.block));
  }
  if (!state || state.blocks.length === 0) return stale;
  const windows = await rows<{ block: Num }>(client, changedWindowBlocksSql(db), {
    since: state.since,
    sealedEnd: state.sealedEnd,
    blockWindows: B,
  });
  for (const r of windows) stale.add(Number(r.block));
  const maxTick = Math.max(...state.blocks.map((b) => b.hiTick));
  const ticks = await rows<{ lo: Num; hi: Num }>(client, changedTickRangesSql(db), { since: state.since, maxTick });
  const tickRanges = ticks.map((t): [number, number] => [Number(t.lo), Number(t.hi)]);
  for (const b of blocksInTickRanges(state.blocks, tickRanges)) stale.add(b);
  const dropped = [
    ...droppedRanges(state.parts.executions, parts.executions),
    ...droppedRanges(state.parts.windows, parts.windows),
  ];
  for (const b of blocksInTimeRanges(state.blocks, dropped)) stale.add(b);
  return stale;
}

/** Window ids [from, to] with the tick span of their windows; null when no window is there. */
async function windowRange(
  client: ClickHouseClient,
  db: string,
  from: number,
  to: number,
): Promise<{ from: number; to: number; fromTick: number; toTick: number } | null> {
  const [span] = await rows<{ windows: Num; from_tick: Num; to_tick: Num }>(client, tickSpanSql(db), { from, to });
  if (!span || Number(span.windows) === 0) return null;
  return { from, to, fromTick: Number(span.from_tick), toTick: Number(span.to_tick) };
}

/**
 * Superseded statistics of recomputed or dropped blocks (and stray rows of failed runs) and older
 * totals are deleted. Best effort: they are never read anyway (reads go through the state), so a
 * failure only leaves garbage for a later run to remove.
 */
async function cleanUp(
  client: ClickHouseClient,
  db: string,
  layout: string,
  blocks: number[],
  version: number,
  logger: Logger,
): Promise<void> {
  try {
    if (blocks.length > 0)
      await client.command({ query: deleteSupersededStatsSql(db), query_params: { layout, blocks, version } });
    await client.command({ query: deleteOldTotalsSql(db), query_params: { layout, version } });
  } catch (err) {
    logger.warn({ err: String(err), blocks: blocks.length }, 'could not delete superseded statistics');
  }
}
