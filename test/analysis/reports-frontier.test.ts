/**
 * The lab's frontier in the report: the spec `npm run lab -- --frontier` writes, found beside the
 * page (or given with --frontier-from), compiled like the report's own charts and rendered in
 * Chromium with its data; a broken file is a clear error when asked for and left out when merely
 * found.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import { checkReportInBrowser, writeReportFiles } from '../../analysis/reports/index.js';
import { FrontierSourceError } from '../../analysis/reports/errors.js';
import { FRONTIER_FILE, readFrontier } from '../../analysis/reports/frontier-source.js';
import type { FrontierReport, FrontierRow } from '../../scheduler/lab/frontier.js';
import { frontierSpec } from '../../scheduler/lab/frontier-spec.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';
import { populate } from './reports-fixture.js';

const out = mkdtempSync(join(tmpdir(), 'spike-frontier-'));
let ch: TempClickHouse;
let reader: ReadOnlyPool;

function row(name: FrontierRow['name'], setting: number, inBandRate: number): FrontierRow {
  return {
    setting,
    latencyBudget: 4 * setting,
    targetLatency: setting,
    name,
    inBandRate,
    maxAvgP95: 1.2,
    minAvgP50: 0.9,
    addedLatencyMean: setting,
    addedLatencyP99: 3 * setting,
    addedLatencyMax: 4 * setting,
    boundAtBudget: 1,
    boundAtMeanLatency: 0.99,
  };
}

const report: FrontierReport = {
  config: {
    seeds: ['1'],
    seconds: 60,
    probabilityScale: 10,
    queryCount: 100,
    defaultDelay: 1,
    metricsWindowTicks: 10,
    knob: 'target-and-budget',
    settings: [1, 2.5],
    estimator: 'product',
    warmupWindows: 1,
  },
  rows: [
    row('policy-estimated', 1, 0.5),
    row('policy-oracle', 1, 0.6),
    row('policy-estimated', 2.5, 0.9),
    row('policy-oracle', 2.5, 0.95),
  ],
  bound: {
    countRatio: [2.1],
    byBudget: [
      { latencyBudget: 4, inBandRate: 1 },
      { latencyBudget: 10, inBandRate: 1 },
    ],
    curve: [
      { latencyBudget: 10, meanLatency: 0, inBandRate: 0.1 },
      { latencyBudget: 10, meanLatency: 1, inBandRate: 0.98 },
    ],
    windows: 59,
  },
};

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  await populate(ch.client, { seed: 'frontier', minutes: 1, database: 'spike' });
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

describe('frontier in the report', () => {
  it('shows the frontier the lab wrote beside the page, and it renders with its data in Chromium', async () => {
    const dir = join(out, 'found');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, FRONTIER_FILE), JSON.stringify(frontierSpec(report)));
    const w = await writeReportFiles({ query: (sql) => reader.query(sql), database: 'spike', outDir: dir });
    // The live run (unscheduled here: the fixture never delays) is drawn on it, as one point.
    expect(w.report.charts.frontier?.rows).toMatchObject({ points: 4, boundMean: 6, boundMax: 2, live: 1 });
    const live = (w.report.charts.frontier!.vega as { data: { name: string; values?: unknown[] }[] }).data.find(
      (d) => d.name === 'live',
    )?.values?.[0];
    const unscheduled = w.report.summary.scheduling!.phases.find((p) => p.phase === 'unscheduled')!;
    expect(live).toMatchObject({
      label: 'this run (unscheduled)',
      inBandRate: unscheduled.inBandRate,
      addedLatencyMean: 0,
    });
    const html = readFileSync(w.html, 'utf8');
    expect(html).toContain('id="chart-frontier"');
    expect(html).toContain('target-and-budget');
    const check = await checkReportInBrowser(w.html);
    expect(check.problems).toEqual([]);
    expect(check.charts.find((c) => c.id === 'chart-frontier')?.rows).toEqual({ points: 4, live: 1 });
  }, 90_000);

  it('says how to make one when there is none, and leaves out a broken one it merely found', async () => {
    const none = await writeReportFiles({
      query: (sql) => reader.query(sql),
      database: 'spike',
      outDir: join(out, 'none'),
    });
    expect(none.report.charts.frontier).toBeUndefined();
    expect(readFileSync(none.html, 'utf8')).toContain('npm run lab -- --frontier');
    const dir = join(out, 'broken');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, FRONTIER_FILE), '{"not": "a spec"');
    const broken = await writeReportFiles({ query: (sql) => reader.query(sql), database: 'spike', outDir: dir });
    expect(broken.report.charts.frontier).toBeUndefined();
  }, 60_000);

  it('refuses, naming the file, a frontier asked for that is missing, not JSON, or not a Vega-Lite spec', async () => {
    await expect(readFrontier(join(out, 'missing.json'))).rejects.toThrow(FrontierSourceError);
    await expect(readFrontier(join(out, 'missing.json'), true)).resolves.toBeUndefined();
    const bad = join(out, 'bad.json');
    writeFileSync(bad, '[1, 2');
    await expect(readFrontier(bad)).rejects.toThrow(/bad\.json: not JSON/);
    writeFileSync(bad, JSON.stringify({ $schema: 'https://example.com/other.json', datasets: { points: [{}] } }));
    await expect(readFrontier(bad)).rejects.toThrow(/not a frontier spec: \$schema is not a Vega-Lite schema/);
    writeFileSync(bad, JSON.stringify({ ...frontierSpec(report), datasets: { points: [] } }));
    await expect(readFrontier(bad)).rejects.toThrow(/datasets\.points/);
  });
});
