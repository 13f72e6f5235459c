/**
 * What a periodic run remembers between runs (stored as one JSON document per run in
 * `estimate_state`, migration 012) and the pure rules that turn "what changed since" into the set of
 * sealed blocks to recompute. No I/O: blocks.ts reads the changes from ClickHouse and applies these.
 *
 * Three kinds of change make a stored block stale:
 *  - rows inserted after the watermark (`since`, on `inserted_at`): late windows name their block
 *    directly, late executions by their tick, matched to the blocks' tick spans;
 *  - rows dropped (retention's part drops, DROP PARTITION, a DELETE): found by comparing the active
 *    parts with the ones of the last run — an old part that no active part covers (by block numbers)
 *    was dropped, one whose covering part has a newer data version was rewritten by a mutation — and
 *    matched to the blocks by the part's time span;
 *  - blocks that are sealed for the first time (they were the live block).
 */

/** A sealed block of windows: its statistics' current version and what its windows span. */
export interface BlockRecord {
  block: number;
  version: number;
  loTick: number;
  hiTick: number;
  /** Epoch ms of its first and last window (`ts`). */
  loMs: number;
  hiMs: number;
}

/** An active data part of `executions` or `windows`, as system.parts shows it. */
export interface PartRecord {
  partition: string;
  minBlock: number;
  maxBlock: number;
  dataVersion: number;
  /** The part's range of the partition key's time column, epoch ms (0, 0: unknown). */
  minMs: number;
  maxMs: number;
}

export interface CollectState {
  /** Window ids below this are in sealed blocks. */
  sealedEnd: number;
  /** Epoch ms (server clock): rows inserted after it are looked at by the next run. */
  since: number;
  /** Version of `estimate_totals` that sums `blocks` (0: no block yet). */
  totalsVersion: number;
  /** Sorted by block. */
  blocks: BlockRecord[];
  parts: { executions: PartRecord[]; windows: PartRecord[] };
}

/**
 * Executions and windows are matched to a block's time span with this much slack: a window's `ts`
 * is the time of its last tick, so its executions ran up to one window earlier (windows are seconds).
 */
export const TIME_SLACK_MS = 60_000;

/** Every block: what an unknown time range (a part without time bounds) affects. */
const ALL: [number, number] = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];

/**
 * Time ranges whose rows may have changed other than by an insert: old parts that no active part of
 * the same partition covers (dropped), or whose covering part carries a newer data version (a
 * mutation rewrote it). Merges are neither: the merged part covers its sources at their version.
 */
export function droppedRanges(before: readonly PartRecord[], now: readonly PartRecord[]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of before) {
    const cover = now.find((n) => n.partition === p.partition && n.minBlock <= p.minBlock && p.maxBlock <= n.maxBlock);
    if (cover && cover.dataVersion <= p.dataVersion) continue;
    out.push(p.minMs === 0 && p.maxMs === 0 ? ALL : [p.minMs, p.maxMs + 1000]);
  }
  return out;
}

/** Blocks whose time span (with the slack) meets one of `ranges` (epoch ms, inclusive). */
export function blocksInTimeRanges(blocks: readonly BlockRecord[], ranges: readonly [number, number][]): number[] {
  return blocks
    .filter((b) => ranges.some(([lo, hi]) => b.loMs - TIME_SLACK_MS <= hi && lo <= b.hiMs + TIME_SLACK_MS))
    .map((b) => b.block);
}

/** Blocks whose tick span meets one of `ranges` (ticks, inclusive). */
export function blocksInTickRanges(blocks: readonly BlockRecord[], ranges: readonly [number, number][]): number[] {
  return blocks.filter((b) => ranges.some(([lo, hi]) => b.loTick <= hi && lo <= b.hiTick)).map((b) => b.block);
}

/**
 * The next state's blocks: the old records, minus the ones recomputed or dropped, plus the
 * recomputed ones that still have windows (`spans`, at `version`).
 */
export function nextBlocks(
  old: readonly BlockRecord[],
  recomputed: ReadonlySet<number>,
  dropped: ReadonlySet<number>,
  spans: readonly Omit<BlockRecord, 'version'>[],
  version: number,
): BlockRecord[] {
  const kept = old.filter((b) => !recomputed.has(b.block) && !dropped.has(b.block));
  return [...kept, ...spans.map((s) => ({ ...s, version }))].sort((a, b) => a.block - b.block);
}

/** Sorted block ids split into runs of consecutive ids, at most `max` long (one INSERT each). */
export function contiguousRuns(blocks: Iterable<number>, max: number): number[][] {
  const runs: number[][] = [];
  for (const b of [...blocks].sort((x, y) => x - y)) {
    const last = runs[runs.length - 1];
    if (last && b === last[last.length - 1]! + 1 && last.length < max) last.push(b);
    else runs.push([b]);
  }
  return runs;
}

/** Reads a stored state; anything unreadable is no state (the next run recomputes everything). */
export function parseState(text: string | undefined): CollectState | null {
  if (!text) return null;
  try {
    const s = JSON.parse(text) as CollectState;
    if (!Number.isFinite(s.sealedEnd) || !Array.isArray(s.blocks) || !s.parts) return null;
    return s;
  } catch {
    return null;
  }
}
