/**
 * The report per run (issue 12, item 2's per-run parts), on hand-made rows of two runs: run A,
 * windows 100–119, never scheduled; run B, windows 200–229, the scheduler's first move at tick 2103
 * (window 210). By default the report covers the newest run only, so "before" is B's own windows
 * 200–209 (not A's), no gap between the runs is in its range, and the page lists both runs.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import {
  buildReport,
  checkReportInBrowser,
  renderReport,
  reportOptions,
  ReportDataError,
} from '../../analysis/reports/index.js';
import { loadReportData } from '../../analysis/reports/load.js';
import { phase } from '../../analysis/reports/scheduling.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';

const T0 = Date.UTC(2026, 0, 1);
const QUERY = randomUUID();
const [A, B] = ['20260101T000140Z-aaaaaa', '20260101T000320Z-bbbbbb'];
/** A plain `npm start`: the scheduler on from the first tick, its first move in the run's second window (50–69). */
const C = '20260101T000050Z-cccccc';

let ch: TempClickHouse;
let reader: ReadOnlyPool;
const query = (sql: string) => reader.query(sql);

const stats = (avg: number, min: number, max: number) => ({ avg, min, max });
function windowRow(id: number, runId: string) {
  const level = stats(100, 95, 105);
  const flat = (r: string, s: ReturnType<typeof stats>) => ({
    [`${r}_avg`]: s.avg,
    [`${r}_min`]: s.min,
    [`${r}_max`]: s.max,
  });
  return {
    window_id: id,
    run_id: runId,
    first_tick: id * 10,
    last_tick: id * 10 + 9,
    samples: 10,
    ...flat('cpu', id % 2 ? stats(100, 50, 150) : level),
    ...flat('io', level),
    ...flat('memory', level),
    ts: T0 + id * 1000 + 900,
  };
}

function executionRow(tick: number, runId: string, addedDelay = 0, delayedBy: string | null = null) {
  return {
    execution_id: randomUUID(),
    query_id: QUERY,
    run_id: runId,
    queued_tick: tick - 1 - addedDelay,
    executed_tick: tick,
    queued_at: T0 + (tick - 1 - addedDelay) * 100,
    executed_at: T0 + tick * 100,
    added_delay: addedDelay,
    delay_count: delayedBy === null ? 0 : 1,
    delayed_by: delayedBy,
  };
}

function runRow(runId: string, firstWindow: number, lastWindow: number, scheduler: string, schedulerFromStart = false) {
  return {
    run_id: runId,
    started_at: T0 + firstWindow * 1000,
    ended_at: T0 + lastWindow * 1000 + 950,
    first_tick: firstWindow * 10,
    last_tick: lastWindow * 10 + 9,
    seed: 'same-seed',
    query_count: 100,
    probability_scale: 1,
    tick_ms: 100,
    metrics_window_ticks: 10,
    scheduler,
    scheduler_started_at: schedulerFromStart ? T0 + firstWindow * 1000 : null,
    parameters: '{}',
    version: 1,
  };
}

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  const windows = [
    ...Array.from({ length: 20 }, (_, i) => windowRow(100 + i, A)),
    ...Array.from({ length: 30 }, (_, i) => windowRow(200 + i, B)),
    ...Array.from({ length: 20 }, (_, i) => windowRow(50 + i, C)),
  ];
  await ch.client.insert({ table: 'spike.windows', values: windows, format: 'JSONEachRow' });
  const executions = [
    ...Array.from({ length: 20 }, (_, i) => executionRow(1000 + i * 10 + 5, A)),
    ...Array.from({ length: 10 }, (_, i) => executionRow(2000 + i * 10 + 5, B)),
    ...Array.from({ length: 20 }, (_, i) => executionRow(2103 + i * 10, B, 2, 'scheduler')),
    executionRow(505, C),
    ...Array.from({ length: 19 }, (_, i) => executionRow(513 + i * 10, C, 2, 'scheduler')),
  ];
  await ch.client.insert({ table: 'spike.executions', values: executions, format: 'JSONEachRow' });
  await ch.client.insert({
    table: 'spike.runs',
    values: [runRow(A, 100, 119, 'off'), runRow(B, 200, 229, 'on'), runRow(C, 50, 69, 'on', true)],
    format: 'JSONEachRow',
  });
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

const load = (run: string) =>
  loadReportData({ query, database: 'spike', options: reportOptions({ run, warmupWindows: 2 }) });

describe('the report per run', () => {
  it('covers the newest run by default: its windows only, before/after from its own scheduler start', async () => {
    const d = await load('latest');
    expect(d.run?.runId).toBe(B);
    expect(d.runs.map((r) => [r.runId, r.windows, r.seed, r.scheduler])).toEqual([
      [B, 30, 'same-seed', 'on'],
      [A, 20, 'same-seed', 'off'],
      [C, 20, 'same-seed', 'on'],
    ]);
    expect(d.runs[0]!.endedAt).toBe(T0 + 229_950);
    expect([d.range.firstWindow, d.range.lastWindow, d.range.windows]).toEqual([200, 229, 30]);
    expect(d.windows.map((w) => w.windowId)).toEqual(Array.from({ length: 30 }, (_, i) => 200 + i));
    const s = d.scheduling!;
    expect(s.start).toMatchObject({ tick: 2103, window: 210 });
    expect(phase(s, 'before')).toMatchObject({ windows: 10, executions: 10 });
    expect(phase(s, 'after')?.windows).toBe(18);
  });

  it('covers everything with run all (scheduling starts at the oldest run C), and one run by id', async () => {
    const all = await load('all');
    expect(all.run).toBeNull();
    expect([all.range.firstWindow, all.range.lastWindow]).toEqual([50, 229]);
    expect(all.scheduling!.start?.window).toBe(51);
    const a = await load(A);
    expect(a.run?.runId).toBe(A);
    expect([a.range.firstWindow, a.range.lastWindow]).toEqual([100, 119]);
    expect(a.scheduling?.start).toBeNull();
  });

  it(
    'gives a run scheduled from its first tick no "before" and no start marker, and says why',
    { timeout: 60_000 },
    async () => {
      const report = await buildReport({
        query,
        database: 'spike',
        options: reportOptions({ run: C, warmupWindows: 2 }),
      });
      const s = report.data.scheduling!;
      expect(s.scheduledThroughout).toBe(true);
      // The first move is in window 51, but the scheduler was on from window 50: no one-window "before".
      expect(s.phases.map((p) => [p.phase, p.windows])).toEqual([
        ['warm-up', 2],
        ['after', 18],
      ]);
      expect(report.markers).toEqual([]);
      expect(report.segments.map((x) => x.label)).toEqual(['whole range']);
      const html = renderReport(report);
      expect(html).toContain('had the scheduler on from its first tick (a plain npm start)');
      // Its warm-up starts with the range: the grey span starts at the plot's left edge, not before it.
      const file = join(mkdtempSync(join(tmpdir(), 'spike-runs-')), 'report.html');
      writeFileSync(file, html);
      const check = await checkReportInBrowser(file);
      expect(check.layout).toEqual([]);
      expect(check.problems).toEqual([]);
    },
  );

  it('refuses a run that stored nothing, naming where to find the runs', async () => {
    await expect(load('20990101T000000Z-ffffff')).rejects.toThrow(ReportDataError);
    await expect(load('20990101T000000Z-ffffff')).rejects.toThrow(/SELECT run_id FROM spike.runs_dedup/);
    expect(() => reportOptions({ run: "x' OR 1" })).toThrow(/run/);
  });

  it('names the run shown and lists every run on the page and in the summary', async () => {
    const report = await buildReport({ query, database: 'spike', options: reportOptions({ warmupWindows: 2 }) });
    expect(report.summary.run).toBe(B);
    expect(report.summary.runs.map((r) => r.runId)).toEqual([B, A, C]);
    const html = renderReport(report);
    expect(html).toContain(`run <b>${B}</b>`);
    expect(html).toContain(`${B}</span> (shown)`);
    expect(html).toContain(`${A}</span>`);
    expect(html).toContain('--run &lt;id&gt;');
  });
});
