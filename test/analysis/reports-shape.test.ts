/**
 * The reports' pure parts, without ClickHouse or a browser: the in-band definition, downsampling,
 * per-minute and rolling rates, before/after segments, spike shares and lift, estimate accuracy,
 * markers, and the SQL CLI's three output formats.
 */
import { describe, expect, it } from 'vitest';
import type { TrueQuery } from '../../common/contracts.js';
import { ConfigError } from '../../common/errors.js';
import { attributeSpikes, poissonUpperTail } from '../../analysis/reports/attribution.js';
import { estimatesView } from '../../analysis/reports/estimates-view.js';
import { parseMarkers, reportOptions } from '../../analysis/reports/options.js';
import type { EstimateRecord, RangeInfo, WindowRecord } from '../../analysis/reports/records.js';
import { csvField, formatResult } from '../../analysis/reports/result-format.js';
import { reportMarkers, summarizeSegments } from '../../analysis/reports/segments.js';
import { buildSeries, inBand } from '../../analysis/reports/series.js';

const T0 = Date.UTC(2026, 0, 1);

function win(i: number, o: Partial<WindowRecord> = {}): WindowRecord {
  return {
    windowId: i,
    t: T0 + i * 1000 + 900,
    samples: 10,
    cpuAvg: 100,
    cpuMin: 95,
    cpuMax: 105,
    ioAvg: 100,
    ioMin: 95,
    ioMax: 105,
    memoryAvg: 100,
    memoryMin: 95,
    memoryMax: 105,
    executions: 10,
    delayed: 0,
    addedDelaySum: 0,
    addedDelayMax: 0,
    ...o,
  };
}

const range = (windows: number): RangeInfo => ({
  windows,
  inTime: windows,
  firstWindow: 0,
  lastWindow: windows - 1,
  windowTicks: 10,
  fromTime: T0 + 900,
  toTime: T0 + (windows - 1) * 1000 + 900,
  windowMs: 1000,
});

describe('in band', () => {
  it('needs all three resources within ±10 % of their average; an idle window is in band', () => {
    expect(inBand(win(0))).toBe(true);
    expect(inBand(win(0, { cpuMax: 111 }))).toBe(false);
    expect(inBand(win(0, { memoryMin: 89 }))).toBe(false);
    expect(inBand(win(0, { ioMax: 110, ioMin: 90 }))).toBe(true);
    const idle = {
      cpuAvg: 0,
      cpuMin: 0,
      cpuMax: 0,
      ioAvg: 0,
      ioMin: 0,
      ioMax: 0,
      memoryAvg: 0,
      memoryMin: 0,
      memoryMax: 0,
    };
    expect(inBand(win(0, idle))).toBe(true);
  });
});

describe('series', () => {
  it('downsamples to at most maxPoints, keeping the band edges (min of mins, max of maxes)', async () => {
    const windows = Array.from({ length: 250 }, (_, i) =>
      win(i, { cpuMax: 105 + (i === 123 ? 400 : 0), cpuMin: i === 7 ? 1 : 95 }),
    );
    const s = await buildSeries(windows, { maxPoints: 100, windowMs: 1000 });
    expect(s.bucketWindows).toBe(3);
    const cpu = s.resources.filter((p) => p.resource === 'cpu');
    expect(cpu).toHaveLength(84);
    expect(Math.max(...cpu.map((p) => p.max))).toBe(505);
    expect(Math.min(...cpu.map((p) => p.min))).toBe(1);
    expect(s.load.every((p) => p.perSecond === 10)).toBe(true);
  });

  it('computes the in-band rate per minute, the rolling rate and the added latency', async () => {
    // Minute 0: every window in band; minute 1: every other window out of band, all delayed by 2 ticks.
    const windows = Array.from({ length: 120 }, (_, i) =>
      i < 60 ? win(i) : win(i, { cpuMax: i % 2 ? 200 : 105, delayed: 10, addedDelaySum: 20, addedDelayMax: 2 }),
    );
    const s = await buildSeries(windows, { maxPoints: 1000, windowMs: 1000 });
    expect(s.minutes.map((m) => [m.inBandRate, m.windows, m.meanAddedDelay, m.delayedShare])).toEqual([
      [1, 60, 0, 0],
      [0.5, 60, 2, 1],
    ]);
    expect(s.rollingWindows).toBe(300);
    expect(s.rolling.at(-1)!.inBandRate).toBeCloseTo(90 / 120, 4);
    const cpuHigh = s.spread.filter((p) => p.resource === 'cpu' && p.ratio === 'max/avg');
    expect(cpuHigh[0]!.value).toBe(1.05);
    expect(Math.max(...cpuHigh.map((p) => p.value))).toBe(2);
  });

  it('leaves undefined ratios (average 0) out of the spread instead of plotting 0 or infinity', async () => {
    const s = await buildSeries([win(0, { ioAvg: 0, ioMin: 0, ioMax: 3 })], { maxPoints: 10, windowMs: 1000 });
    expect(s.spread.filter((p) => p.resource === 'io')).toEqual([]);
    expect(s.spread.filter((p) => p.resource === 'cpu')).toHaveLength(2);
  });
});

describe('markers and segments', () => {
  it('detects the scheduler start inside the range and compares before with after', async () => {
    const windows = Array.from({ length: 120 }, (_, i) =>
      i < 60 ? win(i, { cpuMax: 300 }) : win(i, { delayed: 5, addedDelaySum: 5, addedDelayMax: 1 }),
    );
    const markers = reportMarkers([], { time: T0 + 60_000, by: 'scheduler', delayed: 300 }, range(120), true);
    expect(markers).toEqual([{ time: T0 + 60_000, label: 'scheduler on' }]);
    const [before, after] = await summarizeSegments(windows, markers, 1000);
    expect(before).toMatchObject({ label: 'before scheduler on', windows: 60, inBandRate: 0, meanAddedDelay: 0 });
    expect(before!.spread.cpu.meanMaxRatio).toBe(3);
    expect(after).toMatchObject({
      label: 'after scheduler on',
      windows: 60,
      inBandRate: 1,
      meanAddedDelay: 0.5,
      maxAddedDelay: 1,
    });
    expect(after!.executionsPerSecond).toBe(10);
  });

  it('names a delay set by hand as such, not as the scheduler', () => {
    const byHand = { time: T0 + 5000, by: 'operator', delayed: 1 };
    expect(reportMarkers([], byHand, range(10), true)).toEqual([{ time: T0 + 5000, label: 'delays by operator' }]);
    expect(reportMarkers([], { ...byHand, by: '' }, range(10), true)[0]!.label).toBe('delays by an unnamed client');
  });

  it('adds no marker when delays start with the range or detection is off, and drops markers outside it', () => {
    const first = { time: T0 + 900, by: 'scheduler', delayed: 1 };
    expect(reportMarkers([], first, range(10), true)).toEqual([]);
    expect(reportMarkers([], { ...first, time: T0 + 5000 }, range(10), false)).toEqual([]);
    expect(
      reportMarkers(
        [
          { time: T0 - 1, label: 'old' },
          { time: T0 + 3000, label: 'x' },
        ],
        null,
        range(10),
        true,
      ),
    ).toEqual([{ time: T0 + 3000, label: 'x' }]);
  });

  it('parses --markers and refuses a bad one, naming the flag', () => {
    expect(parseMarkers('2026-01-01T00:05:00Z=scheduler on, 1767225600000')).toEqual([
      { time: Date.UTC(2026, 0, 1, 0, 5), label: 'scheduler on' },
      { time: 1767225600000, label: 'marker 2' },
    ]);
    expect(() => parseMarkers('yesterday=x')).toThrow(/--markers/);
    expect(() => reportOptions({ topWindows: 0 })).toThrow(ConfigError);
  });
});

describe('spike attribution', () => {
  const q = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
  const estimates: EstimateRecord[] = [1, 2].flatMap((n) =>
    (['cpu', 'io', 'memory'] as const).map((resource) => ({
      queryId: q(n),
      resource,
      estimate: n === 1 ? 10 : 90,
      sd: 1,
      lower: 0,
      upper: 100,
      observations: 50,
      prior: false,
    })),
  );

  it('weights executions by estimated cost, computes lift, and falls back to execution shares', async () => {
    const params = {
      spikeQueries: (['cpu', 'io', 'memory'] as const).flatMap((resource) => [
        { resource, queryId: q(1), executions: 9, windows: 3 },
        { resource, queryId: q(2), executions: 1, windows: 1 },
      ]),
      topWindows: (['cpu', 'io', 'memory'] as const).flatMap((resource) =>
        [4, 3, 3].map((executions, w) => ({ resource, windowId: w, t: T0, peak: 100, avg: 50, executions })),
      ),
      queryCounts: [
        { queryId: q(1), executions: 300, firstSeen: T0, lastSeen: T0, meanAddedDelay: 0 },
        { queryId: q(2), executions: 10, firstSeen: T0, lastSeen: T0, meanAddedDelay: 0 },
      ],
      range: range(100),
      topQueries: 10,
    };
    const a = await attributeSpikes({ ...params, estimates });
    expect(a.basis).toBe('estimates');
    const cpu = a.rows.filter((r) => r.resource === 'cpu');
    // q2: 1 × 90 = 90 of 9 × 10 + 90 = 180.
    expect(cpu.map((r) => [r.queryId, r.share])).toEqual([
      [q(1), 0.5],
      [q(2), 0.5],
    ]);
    // q2 made 10 of 310 executions; the spike windows held 10, so 0.32 expected and 1 seen: lift 3.1,
    // but one execution is no evidence (p = 0.28): it does not stand out.
    const q2 = cpu.find((r) => r.queryId === q(2))!;
    expect(q2.lift).toBe(3.1);
    expect(q2.pValue).toBeCloseTo(1 - Math.exp(-10 / 31), 6);
    expect(a.standouts).toEqual([]);
    // The spike windows held 10/3 executions each against 3.1 per window overall.
    expect(a.loadRatio.cpu).toBe(1.08);
    const plain = await attributeSpikes({ ...params, estimates: [] });
    expect(plain.basis).toBe('executions');
    expect(plain.rows.find((r) => r.resource === 'io' && r.queryId === q(1))!.share).toBe(0.9);
  });

  it('measures lift against load: busier spike windows make no query guilty, a real outlier stands out', async () => {
    const counts = Array.from({ length: 20 }, (_, i) => ({
      queryId: `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`,
      executions: 1000,
      firstSeen: T0,
      lastSeen: T0,
      meanAddedDelay: 0,
    }));
    const base = {
      // 1000 windows, 20 executions each; the 10 spike windows hold 60 each: three times the load.
      range: range(1000),
      topWindows: Array.from({ length: 10 }, (_, w) => ({
        resource: 'cpu' as const,
        windowId: w,
        t: T0,
        peak: 100,
        avg: 50,
        executions: 60,
      })),
      queryCounts: counts,
      estimates: [],
      topQueries: 50,
    };
    // Every query in proportion to its share: 30 each of the 600.
    const even = await attributeSpikes({
      ...base,
      spikeQueries: counts.map((c) => ({ resource: 'cpu' as const, queryId: c.queryId, executions: 30, windows: 10 })),
    });
    expect(even.loadRatio.cpu).toBe(3);
    expect(new Set(even.rows.map((r) => r.lift))).toEqual(new Set([1]));
    expect(even.standouts).toEqual([]);
    // One query in 90 of the 600 (expected 30): it stands out; the others, at 26.8, do not.
    const skewed = await attributeSpikes({
      ...base,
      spikeQueries: counts.map((c, i) => ({
        resource: 'cpu' as const,
        queryId: c.queryId,
        executions: i === 0 ? 90 : 27,
        windows: 10,
      })),
    });
    expect(skewed.standouts.map((r) => [r.queryId, r.lift])).toEqual([[counts[0]!.queryId, 3]]);
    expect(skewed.standouts[0]!.pValue).toBeLessThan(1e-6);
  });

  it('computes the Poisson upper tail', () => {
    expect(poissonUpperTail(0, 3)).toBe(1);
    expect(poissonUpperTail(1, 2)).toBeCloseTo(1 - Math.exp(-2), 12);
    expect(poissonUpperTail(3, 2)).toBeCloseTo(1 - Math.exp(-2) * (1 + 2 + 2), 12);
    // Large counts neither overflow nor underflow to nonsense: 1000 against 1000 is about a half.
    expect(poissonUpperTail(1000, 1000)).toBeGreaterThan(0.49);
    expect(poissonUpperTail(1000, 1000)).toBeLessThan(0.51);
  });

  it('scores estimates against the truth over well-observed queries', () => {
    const truth: TrueQuery[] = [1, 2].map((n) => ({
      id: q(n),
      profile: 'cpu',
      cpu: 12,
      io: 90,
      memory: 200,
      probability: 0.1,
    }));
    const v = estimatesView(estimates, truth, 10);
    expect(v.queriesShown).toBe(2);
    expect(v.accuracy!.find((x) => x.resource === 'cpu')).toEqual({
      resource: 'cpu',
      queries: 2,
      meanAbsoluteError: 40,
      coverage95: 1,
    });
    expect(v.accuracy!.find((x) => x.resource === 'memory')!.coverage95).toBe(0);
    expect(estimatesView(estimates, undefined, 1).queriesShown).toBe(1);
  });
});

describe('result formats', () => {
  const result = {
    columns: [
      { name: 'n', type: 'UInt64' },
      { name: 'name', type: 'String' },
      { name: 'maybe', type: 'Nullable(Float64)' },
      { name: 'list', type: 'Array(UInt8)' },
    ],
    rows: [
      [1, 'plain', null, [1, 2]],
      [22, 'a, "quoted"\nline', 1.5, []],
    ],
  };

  it('prints a psql-style table with numbers right-aligned and NULL spelled out', () => {
    expect(formatResult(result, 'table')).toBe(
      [
        '  n | name              | maybe | list',
        '----+-------------------+-------+-------',
        '  1 | plain             |  NULL | [1,2]',
        ' 22 | a, "quoted"\\nline |   1.5 | []',
        '(2 rows)',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON as an array of objects and CSV with a header and RFC 4180 quoting', () => {
    expect(JSON.parse(formatResult(result, 'json'))).toEqual([
      { n: 1, name: 'plain', maybe: null, list: [1, 2] },
      { n: 22, name: 'a, "quoted"\nline', maybe: 1.5, list: [] },
    ]);
    expect(formatResult(result, 'csv')).toBe('n,name,maybe,list\n1,plain,,"[1,2]"\n22,"a, ""quoted""\nline",1.5,[]\n');
    expect(csvField(' edge')).toBe('" edge"');
  });
});
