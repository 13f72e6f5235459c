/**
 * The report's layout in Chromium (issue 12, item 2's glitches): no data mark outside its plot area
 * and every axis titled with a unit. First the check itself, on a hand-made page with a bar running
 * past the plot's right edge and an axis titled without a unit; then a real report over a range that
 * ends inside a minute (whose last per-minute bar used to run a minute past the edge), with
 * estimates for a hundred queries (a tall chart, its cost axis at the top and the bottom).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import { silentLogger } from '../../common/logger.js';
import { checkReportInBrowser, writeReportFiles } from '../../analysis/reports/index.js';
import { compileChart } from '../../analysis/reports/charts/chart.js';
import { renderPage } from '../../analysis/reports/html.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';
import { insertEstimates, populate } from './reports-fixture.js';

const out = mkdtempSync(join(tmpdir(), 'spike-layout-'));
let ch: TempClickHouse;
let reader: ReadOnlyPool;

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  // 2.5 minutes: the range ends half-way through its last minute; the naive scheduler from minute 1.
  const data = await populate(ch.client, { seed: 'layout', minutes: 2.5, schedulerFromMinute: 1 });
  expect(await insertEstimates(ch.client, data.truth, [Date.UTC(2026, 0, 1, 0, 2)])).toBe(true);
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

describe('report layout in Chromium', () => {
  it('finds a bar past the right edge and an axis title without a unit', async () => {
    const chart = compileChart(
      'chart-bad',
      {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        datasets: {
          bars: [
            { x: 0, x2: 5, y: 1 },
            { x: 5, x2: 20, y: 2 },
          ],
        },
        data: { name: 'bars' },
        width: 300,
        height: 100,
        mark: 'rect',
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'time (ms)', scale: { domain: [0, 10] } },
          x2: { field: 'x2' },
          y: { field: 'y', type: 'quantitative', title: 'load' },
        },
      },
      ['bars'],
    );
    const html = join(out, 'bad.html');
    writeFileSync(
      html,
      renderPage({
        title: 'bad',
        meta: '',
        nav: [],
        sections: [{ id: 's', title: 's', body: '<div class="chart" id="chart-bad"></div>' }],
        charts: [chart],
      }),
    );
    const check = await checkReportInBrowser(html);
    expect(check.layout).toHaveLength(2);
    expect(check.layout.join('\n')).toMatch(
      /chart-bad: .* rect mark .*: 1 item\(s\) outside the plot area \(300×100 px\)/,
    );
    expect(check.layout.join('\n')).toContain('left axis title "load" names no unit');
    expect(check.problems.filter((p) => p.startsWith('layout: '))).toHaveLength(2);
  }, 60_000);

  it('draws every mark of the report inside its plot, and titles every axis with a unit', async () => {
    const w = await writeReportFiles({
      query: (sql) => reader.query(sql),
      database: 'spike',
      outDir: out,
      options: { lastMinutes: 0 },
      logger: silentLogger,
    });
    expect(w.report.summary.range.windows).toBe(150);
    // The scheduled windows against the same arrivals unscheduled, both at estimated costs: as run,
    // they score as the measured windows do (the estimates are the true costs, nearly).
    const sched = w.report.summary.scheduling!;
    const [asRun, unscheduled] = sched.counterfactual;
    expect([asRun!.mode, unscheduled!.mode]).toEqual(['as run', 'unscheduled']);
    const after = sched.phases.find((p) => p.phase === 'after')!;
    expect(asRun!.windows).toBe(after.windows);
    expect(unscheduled!.windows).toBe(after.windows);
    expect(asRun!.maxAvgP50!).toBeCloseTo(after.maxAvgP50!, 1);
    expect(unscheduled!.maxAvgP50!).toBeGreaterThan(1.5);
    const check = await checkReportInBrowser(w.html);
    expect(check.layout).toEqual([]);
    expect(check.problems).toEqual([]);
    // A hundred queries, one row each: the cost axis is at the top as well as the bottom.
    const costAxes = check.axes.filter(
      (a) => a.chart === 'chart-estimates' && a.title?.startsWith('cost per execution'),
    );
    expect(new Set(costAxes.map((a) => a.orient))).toEqual(new Set(['top', 'bottom']));
    expect(check.axes.filter((a) => a.chart === 'chart-in-band').map((a) => a.title)).toContain('time (UTC)');
  }, 60_000);
});
