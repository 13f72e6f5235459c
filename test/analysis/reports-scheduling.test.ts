/**
 * The report's scheduling before/after, computed in ClickHouse, on hand-made rows with a known
 * answer: 20 windows of 10 ticks (ids 100–119), the scheduler's first moved execution at tick 1053
 * (window 105), a warm-up of 2 windows, so before = 100–104, warm-up = 105–106, after = 107–119.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import type { RangeInfo } from '../../analysis/reports/records.js';
import { loadScheduling, phase } from '../../analysis/reports/scheduling.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';

const T0 = Date.UTC(2026, 0, 1);
const QUERY = randomUUID();

let ch: TempClickHouse;
let reader: ReadOnlyPool;
const query = (sql: string) => reader.query(sql);

type Stats = [avg: number, min: number, max: number];
const LEVEL: Stats = [100, 95, 105];

function windowRow(id: number, cpu: Stats, io: Stats = LEVEL, memory: Stats = LEVEL) {
  return {
    window_id: id,
    first_tick: id * 10,
    last_tick: id * 10 + 9,
    samples: 10,
    cpu_avg: cpu[0],
    cpu_min: cpu[1],
    cpu_max: cpu[2],
    io_avg: io[0],
    io_min: io[1],
    io_max: io[2],
    memory_avg: memory[0],
    memory_min: memory[1],
    memory_max: memory[2],
    ts: T0 + id * 1000 + 900,
  };
}

function executionRow(tick: number, addedDelay: number, delayedBy: string | null = null, id = randomUUID()) {
  return {
    execution_id: id,
    query_id: QUERY,
    queued_tick: tick - 1 - addedDelay,
    executed_tick: tick,
    queued_at: T0 + (tick - 1 - addedDelay) * 100,
    executed_at: T0 + tick * 100,
    added_delay: addedDelay,
    delay_count: delayedBy === null ? 0 : 1,
    delayed_by: delayedBy,
  };
}

const range = (first: number, last: number): RangeInfo => ({
  windows: last - first + 1,
  inTime: last - first + 1,
  firstWindow: first,
  lastWindow: last,
  windowTicks: 10,
  fromTime: T0 + first * 1000 + 900,
  toTime: T0 + last * 1000 + 900,
  windowMs: 1000,
});

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  await migrate(ch.client, { database: 'plain' });

  const windows = [
    // Before: cpu out of band, max/avg 1.5 … 1.9 and min/avg 0.5 … 0.1 (io and memory level).
    ...[0, 1, 2, 3, 4].map((i) => windowRow(100 + i, [100, 50 - 10 * i, 150 + 10 * i])),
    // Warm-up: out of band.
    windowRow(105, [100, 60, 140]),
    windowRow(106, [100, 60, 140]),
    // After: 9 level windows, one exactly on the band's edges (in band), two with cpu max/avg 1.2 and
    // min/avg 0.8, one idle (not in band, no ratios).
    ...[107, 108, 109, 110, 111, 112, 113, 114, 115].map((id) => windowRow(id, LEVEL)),
    windowRow(116, [100, 90, 110], [200, 180, 220]),
    windowRow(117, [100, 80, 120]),
    windowRow(118, LEVEL, LEVEL, [100, 80, 120]),
    windowRow(119, [0, 0, 0], [0, 0, 0], [0, 0, 0]),
  ];
  await ch.client.insert({ table: 'spike.windows', values: windows, format: 'JSONEachRow' });
  // A window re-delivered: the dedup view counts it once.
  await ch.client.insert({ table: 'spike.windows', values: [windows[10]], format: 'JSONEachRow' });

  const executions = [
    // Before: 10 executions, one delayed by somebody else (3 ticks), which is not the scheduler.
    ...Array.from({ length: 9 }, (_, i) => executionRow(1000 + i * 5, 0)),
    executionRow(1021, 3, 'manual'),
    // Warm-up: the scheduler's first moved execution (tick 1053), and one more.
    executionRow(1053, 4, 'scheduler'),
    executionRow(1065, 6, 'scheduler'),
    // After: 100 executions, 50 unmoved (0), 30 × 2, 19 × 5 and 1 × 10 ticks (moved by the scheduler):
    // mean 1.65, p99 (nearest rank: the 99th of 100) 5.
    ...Array.from({ length: 100 }, (_, i) => {
      const tick = 1070 + (i % 120);
      const added = i < 50 ? 0 : i < 80 ? 2 : i < 99 ? 5 : 10;
      return executionRow(tick, added, added > 0 ? 'scheduler' : null);
    }),
  ];
  await ch.client.insert({ table: 'spike.executions', values: executions, format: 'JSONEachRow' });
  // One execution delivered twice: counted once.
  await ch.client.insert({ table: 'spike.executions', values: [executions.at(-1)], format: 'JSONEachRow' });

  // An unscheduled database: the same windows, no delays at all.
  await ch.client.insert({ table: 'plain.windows', values: windows, format: 'JSONEachRow' });
  await ch.client.insert({
    table: 'plain.executions',
    values: Array.from({ length: 20 }, (_, i) => executionRow(1000 + i * 10, 0)),
    format: 'JSONEachRow',
  });
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

describe('scheduling before/after (SQL)', () => {
  it('finds the start at the first execution the scheduler moved and splits before / warm-up / after', async () => {
    const s = await loadScheduling({
      query,
      database: 'spike',
      range: range(100, 119),
      warmupWindows: 2,
      maxPoints: 100,
    });
    expect(s.start).toEqual({ time: T0 + 105_300, tick: 1053, window: 105, moved: 52 });
    expect(s.scheduledThroughout).toBe(false);
    expect(s.phases.map((p) => [p.phase, p.windows])).toEqual([
      ['before', 5],
      ['warm-up', 2],
      ['after', 13],
    ]);

    const before = phase(s, 'before')!;
    expect(before).toMatchObject({
      from: T0 + 100_900,
      to: T0 + 104_900,
      inBandRate: 0,
      maxAvgP50: 1.7,
      maxAvgP95: 1.9,
      minAvgP5: 0.1,
      minAvgP50: 0.3,
      executions: 10,
      movedShare: 0,
      addedLatencyP99: 3,
    });
    expect(before.addedLatencyMean).toBeCloseTo(0.3, 10);

    const after = phase(s, 'after')!;
    expect(after.inBandRate).toBeCloseTo(10 / 13, 10);
    // 12 windows with ratios: max/avg nine × 1.05, 1.1, two × 1.2; min/avg two × 0.8, 0.9, nine × 0.95.
    expect(after).toMatchObject({
      maxAvgP50: 1.05,
      maxAvgP95: 1.2,
      minAvgP5: 0.8,
      minAvgP50: 0.95,
      executions: 100,
      movedShare: 0.5,
      addedLatencyP99: 5,
    });
    expect(after.addedLatencyMean).toBeCloseTo(1.65, 10);
    expect(phase(s, 'warm-up')).toMatchObject({
      executions: 2,
      movedShare: 1,
      addedLatencyMean: 5,
      addedLatencyP99: 6,
    });
  });

  it('gives one point per window with its in-band flag, worst ratios, share moved and added latency', async () => {
    const s = await loadScheduling({
      query,
      database: 'spike',
      range: range(100, 119),
      warmupWindows: 2,
      maxPoints: 100,
    });
    expect(s.bucketWindows).toBe(1);
    expect(s.points).toHaveLength(20);
    const at = (id: number) => s.points.find((p) => p.t === T0 + id * 1000 + 900)!;
    expect(s.points.map((p) => p.inBandRate).join('')).toBe('00000' + '00' + '1111111111' + '000');
    expect(at(103)).toMatchObject({ maxAvg: 1.8, minAvg: 0.2, executions: 2 });
    expect(at(118)).toMatchObject({ maxAvg: 1.2, minAvg: 0.8 });
    expect(at(119)).toMatchObject({ maxAvg: null, minAvg: null });
    expect(at(105)).toMatchObject({ executions: 1, movedShare: 1, meanAddedLatency: 4 });
    const after = s.points.filter((p) => p.t > T0 + 106_900);
    expect(after.reduce((n, p) => n + p.executions, 0)).toBe(100);
    expect(after.reduce((n, p) => n + p.executions * p.meanAddedLatency, 0)).toBeCloseTo(165, 8);

    // Downsampled: 20 windows in points of 4 (in-band rate and ratios averaged over the windows).
    const coarse = await loadScheduling({
      query,
      database: 'spike',
      range: range(100, 119),
      warmupWindows: 2,
      maxPoints: 5,
    });
    expect(coarse.bucketWindows).toBe(4);
    expect(coarse.points.map((p) => p.windows)).toEqual([4, 4, 4, 4, 4]);
    expect(coarse.points.map((p) => p.inBandRate)).toEqual([0, 0.25, 1, 1, 0.25]);
  });

  it('says "not scheduled" (no start) and gives the unscheduled figures when nothing was moved', async () => {
    const s = await loadScheduling({
      query,
      database: 'plain',
      range: range(100, 119),
      warmupWindows: 2,
      maxPoints: 100,
    });
    expect(s.start).toBeNull();
    expect(s.phases).toHaveLength(1);
    expect(s.phases[0]).toMatchObject({
      phase: 'unscheduled',
      windows: 20,
      inBandRate: 10 / 20,
      executions: 20,
      movedShare: 0,
      addedLatencyMean: 0,
      addedLatencyP99: 0,
    });
  });

  it('says "scheduled throughout" when the range starts after the scheduler did', async () => {
    // The first execution the scheduler moved from window 112 on ran at tick 1120.
    const s = await loadScheduling({
      query,
      database: 'spike',
      range: range(112, 119),
      warmupWindows: 2,
      maxPoints: 100,
    });
    expect(s.start?.window).toBe(112);
    expect(s.scheduledThroughout).toBe(true);
    expect(s.phases.map((p) => p.phase)).toEqual(['warm-up', 'after']);
  });
});
