/**
 * The periodic run's last step sums the sealed blocks' totals and the live windows' statistics in
 * TypeScript (stats.ts `sumStatRows`): per (kind, qa, qb), every column, whatever the order, with
 * numbers as a ClickHouse server may send them (strings).
 */
import { describe, expect, it } from 'vitest';
import { STAT_COLUMNS, sumStatRows, type StatsRow } from '../../../analysis/estimator/stats.js';

const A = '00000000-0000-0000-0000-00000000000a';
const B = '00000000-0000-0000-0000-00000000000b';

function row(kind: number, qa: string, qb: string, base: number): StatsRow {
  return Object.fromEntries([
    ['kind', kind],
    ['qa', qa],
    ['qb', qb],
    ...STAT_COLUMNS.map((c, i) => [c, base + i / 2]),
  ]) as StatsRow;
}

describe('sumStatRows', () => {
  it('adds rows with the same key column by column and keeps the others', () => {
    const sealed = [row(1, A, B, 10), row(2, A, A, 1)];
    const live = [{ ...row(1, A, B, 100), kind: '1', xx: '100' }, row(2, B, B, 3)];
    const sum = sumStatRows(sealed, live);
    expect(sum).toHaveLength(3);
    const pair = sum.find((r) => r.kind === 1 && r.qa === A && r.qb === B)!;
    expect(STAT_COLUMNS.map((c) => pair[c])).toEqual(STAT_COLUMNS.map((_, i) => 110 + i));
    expect(sum.find((r) => r.qa === B)).toEqual(row(2, B, B, 3));
    // Exact sums: the order of the sets does not change a bit.
    expect(sumStatRows(live, sealed).sort((x, y) => `${x.qa}${x.qb}`.localeCompare(`${y.qa}${y.qb}`))).toEqual(
      sum.sort((x, y) => `${x.qa}${x.qb}`.localeCompare(`${y.qa}${y.qb}`)),
    );
  });
});
