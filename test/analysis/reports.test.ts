/**
 * The reports end to end: a fresh chDB populated by a 6-minute simulation (scheduler switched on at
 * minute 3), the page written in-process and by `npm run report` through the embedded read-only
 * endpoint, then opened in headless Chromium: every chart rendered with data and marks, no console
 * error, no network request. Chromium is required: if it is missing these tests fail and say how to
 * install it (CI installs it).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import { startHttpInterface, type HttpInterface } from '../../clickhouse/http-interface.js';
import { silentLogger } from '../../common/logger.js';
import {
  checkReportInBrowser,
  DEFAULT_CHROMIUM,
  writeReportFiles,
  type ReportSummary,
} from '../../analysis/reports/index.js';
import { loadEstimates } from '../../analysis/reports/estimates-source.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';
import { runCli } from '../helpers/run-cli.js';
import { insertEstimates, populate, type Populated } from './reports-fixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
const out = mkdtempSync(join(tmpdir(), 'spike-reports-'));
let ch: TempClickHouse;
/** Reads go through the read-only path on sessions of their own, as in the product. */
let reader: ReadOnlyPool;
let data: Populated;
let hasEstimateTables = false;
const query = (sql: string) => reader.query(sql);

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  await migrate(ch.client, { database: 'spike_empty' });
  await migrate(ch.client, { database: 'spike_plain' });
  data = await populate(ch.client, { seed: 'reports', minutes: 6, schedulerFromMinute: 3 });
  await populate(ch.client, { seed: 'plain', minutes: 1, database: 'spike_plain' });
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

describe('reports', () => {
  it('has Chromium to render with (apt-get install chromium; never npx playwright install)', () => {
    expect(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install the Debian package chromium`).toBe(true);
  });

  it('says "no estimates yet" before the first analysis run, and still renders every other chart', async () => {
    const est = await loadEstimates(query, 'spike', silentLogger);
    expect(est.status).toMatch(/^(missing|empty)$/);
    const w = await writeReportFiles({
      query,
      database: 'spike',
      outDir: join(out, 'before'),
      options: { lastMinutes: 0 },
    });
    expect(w.report.charts.estimates).toBeUndefined();
    expect(readFileSync(w.html, 'utf8').includes('no estimates yet'), 'notice').toBe(true);
    expect(w.report.attribution.basis).toBe('executions');
    const check = await checkReportInBrowser(w.html);
    expect(check.problems).toEqual([]);
    expect(check.containers).toHaveLength(6);
  }, 60_000);

  it('writes one self-contained page that renders every chart offline, and a screenshot', async () => {
    hasEstimateTables = await insertEstimates(ch.client, data.truth, [
      Date.UTC(2026, 0, 1, 0, 2),
      Date.UTC(2026, 0, 1, 0, 5),
    ]);
    expect(hasEstimateTables, 'migration 010 (estimates tables) is missing').toBe(true);
    const started = performance.now();
    const w = await writeReportFiles({
      query,
      database: 'spike',
      outDir: join(out, 'after'),
      truth: data.truth,
      options: { lastMinutes: 0, maxPoints: 200 },
      logger: silentLogger,
    });
    const ms = performance.now() - started;
    expect(w.files).toEqual([join(out, 'after', 'spike-report.html'), join(out, 'after', 'spike-report.json')]);

    // Self-contained: no external script, stylesheet, image or frame; the libraries are inline.
    const html = readFileSync(w.html, 'utf8');
    const markup = html.replace(/<script\b([^>]*)>[\s\S]*?<\/script>/g, '<script$1></script>');
    expect(markup.match(/<(script|img|iframe)[^>]+src=|<link[^>]+href=/gi), 'external resources').toBeNull();
    expect(markup.match(/<script><\/script>/g)).toHaveLength(4); // vega, vega-lite, vega-embed, the runner
    expect(html.includes("default-src 'none'"), 'Content-Security-Policy').toBe(true);
    expect(Buffer.byteLength(html)).toBeLessThan(2_500_000);

    const summary = JSON.parse(readFileSync(w.summary, 'utf8')) as ReportSummary;
    expect(summary.range.windows).toBe(data.windows);
    // More windows than points: drawn per minute, aggregated in ClickHouse, the last 10 minutes window by window.
    expect(summary.range.aggregatedPerMs).toBe(60_000);
    // The spikes survive: a period's band reaches the highest window maximum in it.
    const periods = w.report.data.aggregated!.periods;
    expect(Math.max(...periods.map((p) => p.cpuMax))).toBe(Math.max(...w.report.data.windows.map((x) => x.cpuMax)));
    expect(w.report.data.aggregated!.periods.reduce((n, p) => n + p.windows, 0)).toBe(data.windows);
    expect(summary.executions).toBe(data.executions);
    expect(summary.markers).toEqual([{ time: new Date(data.schedulerStart!).toISOString(), label: 'scheduler on' }]);
    expect(summary.segments.map((s) => [s.label, s.windows])).toEqual([
      ['before scheduler on', 180],
      ['after scheduler on', 180],
    ]);
    expect(summary.segments[0]!.meanAddedDelay).toBe(0);
    expect(summary.segments[1]!.delayedShare).toBeGreaterThan(0.99);
    expect(summary.estimates).toMatchObject({ status: 'ok', version: Date.UTC(2026, 0, 1, 0, 5), queries: 100 });
    expect(summary.spikeAttribution.basis).toBe('estimates');
    expect(summary.accuracy?.every((a) => a.queries > 0 && a.coverage95 === 1)).toBe(true);
    // Scheduling before/after: the naive scheduler moves every execution from minute 3 on.
    const sched = summary.scheduling!;
    expect(sched.start).toBe(new Date(data.schedulerStart!).toISOString());
    expect(sched.phases.map((p) => [p.phase, p.windows])).toEqual([
      ['before', 180],
      ['warm-up', 10],
      ['after', 170],
    ]);
    const [before, , after] = sched.phases;
    expect(before).toMatchObject({ movedShare: 0, addedLatencyMean: 0, addedLatencyP99: 0 });
    expect(after!.movedShare).toBeGreaterThan(0.99);
    expect(after!.addedLatencyMean).toBeGreaterThan(1);
    expect(after!.addedLatencyP99).toBe(2);
    expect(html).toContain('Scheduling: before and after');
    expect(html).toContain('left out of "after" as warm-up');

    const screenshot = join(out, 'spike-report.png');
    const check = await checkReportInBrowser(w.html, { screenshot });
    expect(check.problems).toEqual([]);
    expect(check.consoleErrors).toEqual([]);
    expect(check.requests).toEqual([]);
    expect(check.containers.sort()).toEqual(
      [
        'chart-estimates',
        'chart-in-band',
        'chart-resources',
        'chart-resources-recent',
        'chart-scheduling',
        'chart-spike-shares',
        'chart-spike-windows',
        'chart-spread',
      ].sort(),
    );
    for (const c of check.charts) {
      expect(c.items, c.id).toBeGreaterThan(0);
      expect(c.svgMarks, c.id).toBeGreaterThan(0);
      for (const [name, rows] of Object.entries(c.rows)) expect(rows, `${c.id}/${name}`).toBeGreaterThan(0);
    }
    // Downsampled: 360 windows into at most 200 points per resource.
    expect(check.charts.find((c) => c.id === 'chart-resources')!.rows.resources).toBeLessThanOrEqual(600);
    expect(check.charts.find((c) => c.id === 'chart-scheduling')!.rows.scheduling).toBeLessThanOrEqual(200);
    expect(existsSync(screenshot)).toBe(true);
    console.log(`report screenshot: ${screenshot} (report built in ${Math.round(ms)} ms)`);
  }, 90_000);

  it('says the run was not scheduled, with the unscheduled figures, when nothing was moved', async () => {
    const w = await writeReportFiles({
      query,
      database: 'spike_plain',
      outDir: join(out, 'plain'),
      options: { lastMinutes: 0 },
    });
    expect(w.report.data.scheduling?.start).toBeNull();
    expect(w.report.summary.scheduling?.phases.map((p) => [p.phase, p.windows, p.movedShare])).toEqual([
      ['unscheduled', 60, 0],
    ]);
    expect(readFileSync(w.html, 'utf8')).toContain('Not scheduled: no execution in this range was moved');
    const check = await checkReportInBrowser(w.html);
    expect(check.problems).toEqual([]);
    expect(check.containers).toContain('chart-scheduling');
  }, 60_000);

  it('writes a page with notices and no charts when no window is stored yet', async () => {
    const w = await writeReportFiles({ query, database: 'spike_empty', outDir: join(out, 'empty') });
    expect(w.report.data.range.windows).toBe(0);
    expect(Object.keys(w.report.charts)).toEqual([]);
    expect(readFileSync(w.html, 'utf8').includes('No windows stored yet'), 'notice').toBe(true);
    const check = await checkReportInBrowser(w.html);
    expect(check.problems).toEqual([]);
  }, 60_000);
});

describe('npm run report', () => {
  let service: HttpInterface;
  beforeAll(async () => {
    service = await startHttpInterface({ queries: reader, port: 0, logger: silentLogger });
  });
  afterAll(async () => service?.close());

  it('writes the report from the running process through its read-only endpoint, and checks it in Chromium', async () => {
    const dir = join(out, 'cli');
    const png = join(dir, 'page.png');
    const r = await runCli(
      'analysis/report-cli.ts',
      [
        '--out',
        dir,
        '--last-minutes',
        '4',
        '--markers',
        '2026-01-01T00:04:00Z=restart',
        '--screenshot',
        png,
        '--screenshot-section',
        'scheduling',
      ],
      { QUERY_URL: service.url, CLICKHOUSE_URL: '' },
    );
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([join(dir, 'spike-report.html'), join(dir, 'spike-report.json'), png]);
    const summary = JSON.parse(readFileSync(join(dir, 'spike-report.json'), 'utf8')) as ReportSummary;
    // The 4 minutes up to the newest window: windows ending 00:02:00.9 … 00:05:59.9, 240 of them.
    expect(summary.range.windows).toBe(240);
    expect(summary.markers.map((m) => m.label)).toEqual(['scheduler on', 'restart']);
    expect(summary.segments).toHaveLength(3);
    expect(existsSync(png)).toBe(true);
  }, 120_000);

  it('exits 1 with a hint when the system is unreachable, and 2 on a bad flag', async () => {
    const down = await runCli('analysis/report-cli.ts', ['--out', join(out, 'none')], {
      QUERY_URL: 'http://127.0.0.1:9',
      CLICKHOUSE_URL: '',
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the running system.*npm start/);
    const bad = await runCli('analysis/report-cli.ts', ['--last-minutes', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--last-minutes/);
  }, 60_000);
});
