/** The pure rules of the incremental collection: which stored blocks a change makes stale. */
import { describe, expect, it } from 'vitest';
import {
  blocksInTickRanges,
  blocksInTimeRanges,
  contiguousRuns,
  droppedRanges,
  nextBlocks,
  parseState,
  TIME_SLACK_MS,
  type BlockRecord,
  type PartRecord,
} from '../../../analysis/estimator/collect-state.js';

const part = (minBlock: number, maxBlock: number, dataVersion = minBlock, partition = '20260101'): PartRecord => ({
  partition,
  minBlock,
  maxBlock,
  dataVersion,
  minMs: minBlock * 1_000_000,
  maxMs: maxBlock * 1_000_000,
});

const block = (b: number): BlockRecord => ({
  block: b,
  version: 1,
  loTick: b * 100,
  hiTick: b * 100 + 99,
  loMs: b * 10_000_000,
  hiMs: b * 10_000_000 + 9_999_000,
});

describe('droppedRanges', () => {
  it('sees nothing in merges and inserts', () => {
    const before = [part(1, 1), part(2, 2), part(3, 3)];
    expect(droppedRanges(before, [part(1, 3, 1), part(4, 4)])).toEqual([]);
  });

  it('reports a part no active part covers (dropped), with its time span', () => {
    expect(droppedRanges([part(1, 1), part(2, 2)], [part(2, 2)])).toEqual([[1_000_000, 1_001_000]]);
    // Another partition's part with the same block numbers does not cover it.
    expect(droppedRanges([part(5, 5)], [part(1, 9, 1, '20260102')])).toHaveLength(1);
  });

  it('reports a part rewritten by a mutation (its covering part has a newer data version)', () => {
    expect(droppedRanges([part(1, 1)], [part(1, 1, 7)])).toEqual([[1_000_000, 1_001_000]]);
    // Already mutated when recorded, then merged: not a change.
    expect(droppedRanges([part(1, 1, 7)], [part(1, 3, 7)])).toEqual([]);
  });

  it('treats a part without time bounds as touching all history', () => {
    const unknown = { ...part(1, 1), minMs: 0, maxMs: 0 };
    expect(droppedRanges([unknown], [])).toEqual([[Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]]);
  });
});

describe('stale blocks', () => {
  const blocks = [block(1), block(2), block(3)];

  it('matches tick ranges to blocks by their tick span, inclusive', () => {
    expect(blocksInTickRanges(blocks, [[199, 199]])).toEqual([1]);
    expect(blocksInTickRanges(blocks, [[150, 250]])).toEqual([1, 2]);
    expect(blocksInTickRanges(blocks, [[400, 500]])).toEqual([]);
  });

  it('matches time ranges to blocks with a slack for executions before their window', () => {
    expect(blocksInTimeRanges(blocks, [[20_000_000 - TIME_SLACK_MS, 20_000_000 - TIME_SLACK_MS]])).toEqual([1, 2]);
    expect(blocksInTimeRanges(blocks, [[25_000_000, 26_000_000]])).toEqual([2]);
    expect(blocksInTimeRanges(blocks, [[Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]])).toEqual([1, 2, 3]);
  });

  it('replaces recomputed blocks, forgets dropped and vanished ones', () => {
    const { version: _v, ...span4 } = block(4);
    const next = nextBlocks(blocks, new Set([2, 3]), new Set([1]), [span4, { ...span4, block: 2 }], 9);
    expect(next.map((b) => [b.block, b.version])).toEqual([
      [2, 9],
      [4, 9],
    ]);
  });

  it('splits blocks into runs of consecutive ids', () => {
    expect(contiguousRuns([5, 1, 2, 3, 7], 2)).toEqual([[1, 2], [3], [5], [7]]);
  });

  it('reads no state from nothing or garbage', () => {
    expect(parseState(undefined)).toBeNull();
    expect(parseState('{')).toBeNull();
    expect(parseState('{"blocks": []}')).toBeNull();
  });
});
