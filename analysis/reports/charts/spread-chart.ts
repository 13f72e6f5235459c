/**
 * Spread over time, the scheduler's scorecard: per resource max/avg and min/avg against the ±10 %
 * band (shaded), the in-band rate per minute (bars) with a 5-minute rolling rate (line), and the
 * latency the scheduler added per minute. Markers (e.g. "scheduler on") cut every panel, so a run
 * that starts unscheduled reads as before | after.
 */
import type { TopLevelSpec } from 'vega-lite';
import { RESOURCES } from '../../../common/contracts.js';
import type { ReportMarker } from '../options.js';
import type { MinutePoint, RollingPoint, SpreadPoint } from '../series.js';
import { compileChart, markerLayers, timeX, WIDTH, type Chart, type ConcatItem } from './chart.js';

const RATIO_COLORS = { domain: ['max/avg', 'min/avg'], range: ['#d62728', '#1f77b4'] };
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export function spreadChart(params: {
  spread: SpreadPoint[];
  markers: ReportMarker[];
  domain: [number, number];
  bucketWindows: number;
}): Chart {
  const { domain } = params;
  const per = params.bucketWindows > 1 ? ` (mean over ${params.bucketWindows} windows per point)` : '';
  const panels: ConcatItem[] = RESOURCES.map((r) => ({
    title: { text: `${r}: max/avg (red) and min/avg (blue) per window${per}`, anchor: 'start', fontSize: 12 },
    width: WIDTH,
    height: 110,
    layer: [
      {
        data: { values: [{ lo: 0.9, hi: 1.1 }] },
        mark: { type: 'rect', color: '#2ca02c', opacity: 0.12 },
        encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
      {
        data: { name: 'spread' },
        transform: [{ filter: { field: 'resource', equal: r } }],
        mark: { type: 'line', strokeWidth: 1.1 },
        encoding: {
          x: timeX(domain),
          y: { field: 'value', type: 'quantitative', title: 'ratio to window avg (×)', scale: { zero: false } },
          // Named in the panel title (red, blue): a legend of a concatenation sits beside the whole stack.
          color: { field: 'ratio', type: 'nominal', scale: RATIO_COLORS, legend: null },
          tooltip: [
            { field: 't', type: 'temporal', title: 'window end', format: '%H:%M:%S' },
            { field: 'ratio', type: 'nominal' },
            { field: 'value', type: 'quantitative' },
          ],
        },
      },
      ...markerLayers(),
    ],
  }));
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    datasets: { spread: params.spread, markers: params.markers },
    vconcat: panels,
    spacing: 14,
    config: { view: { stroke: null }, axis: { labelFontSize: 10, titleFontSize: 11 } },
  };
  return compileChart('chart-spread', spec, ['spread']);
}

export function inBandChart(params: {
  minutes: MinutePoint[];
  rolling: RollingPoint[];
  rollingWindows: number;
  markers: ReportMarker[];
  domain: [number, number];
  /** Length of a bar (default a minute); with a longer period, the line is the period's own rate. */
  periodMs?: number;
  /** The period's name, e.g. `10 min`. */
  period?: string;
}): Chart {
  const { domain } = params;
  const periodMs = params.periodMs ?? 60_000;
  const period = params.period ?? 'minute';
  const minuteDomain: [number, number] = [Math.floor(domain[0] / periodMs) * periodMs, domain[1]];
  // The last period is usually still open: its bar ends where the range does, not a period later
  // (past the plot's right edge).
  const end = (t: number) => Math.min(t + periodMs, domain[1]);
  const perMinute = periodMs === 60_000;
  const inBand: ConcatItem = {
    title: {
      text: perMinute
        ? `in-band rate per minute (bars) and over the last 5 minutes (line, ${params.rollingWindows} windows)`
        : `in-band rate per ${period}: the share of its windows in band (bars and line)`,
      subtitle: 'in band: every resource has min ≥ 0.9·avg and max ≤ 1.1·avg in the window',
      anchor: 'start',
      fontSize: 12,
    },
    width: WIDTH,
    height: 120,
    layer: [
      {
        data: { name: 'minutes' },
        mark: { type: 'rect', color: '#2ca02c', opacity: 0.55 },
        encoding: {
          x: timeX(),
          x2: { field: 'end' },
          y: {
            field: 'inBandRate',
            type: 'quantitative',
            title: 'in band (% of windows)',
            axis: { format: '.0%' },
            scale: { domain: [0, 1] },
          },
          y2: { datum: 0 },
          tooltip: [
            { field: 't', type: 'temporal', title: period, format: perMinute ? '%H:%M' : '%d %H:%M' },
            { field: 'inBandRate', type: 'quantitative', title: 'in-band rate', format: '.1%' },
            { field: 'windows', type: 'quantitative' },
          ],
        },
      },
      {
        data: { name: 'rolling' },
        mark: { type: 'line', color: '#145a14', strokeWidth: 1.5 },
        encoding: { x: timeX(minuteDomain), y: { field: 'inBandRate', type: 'quantitative' } },
      },
      ...markerLayers(),
    ],
  };
  const latency: ConcatItem = {
    title: {
      text: `latency added by the scheduler per ${period}, in ticks: mean (bars), max (points)`,
      anchor: 'start',
      fontSize: 12,
    },
    width: WIDTH,
    height: 90,
    layer: [
      {
        data: { name: 'minutes' },
        mark: { type: 'rect', color: '#ff7f0e', opacity: 0.6 },
        encoding: {
          x: timeX(),
          x2: { field: 'end' },
          y: { field: 'meanAddedDelay', type: 'quantitative', title: 'added latency (ticks)' },
          y2: { datum: 0 },
          tooltip: [
            { field: 't', type: 'temporal', title: period, format: perMinute ? '%H:%M' : '%d %H:%M' },
            { field: 'meanAddedDelay', type: 'quantitative', title: 'mean added delay' },
            { field: 'maxAddedDelay', type: 'quantitative', title: 'max added delay' },
            { field: 'delayedShare', type: 'quantitative', title: 'executions delayed', format: '.1%' },
          ],
        },
      },
      {
        data: { name: 'minutes' },
        mark: { type: 'point', color: '#ff7f0e', size: 16, filled: true },
        encoding: { x: timeX(minuteDomain, 'mid'), y: { field: 'maxAddedDelay', type: 'quantitative' } },
      },
      ...markerLayers(),
    ],
  };
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    datasets: {
      minutes: params.minutes.map((m) => ({ ...m, end: end(m.t), mid: (m.t + end(m.t)) / 2 })),
      rolling: params.rolling,
      markers: params.markers,
    },
    vconcat: [inBand, latency],
    spacing: 16,
    config: { view: { stroke: null }, axis: { labelFontSize: 10, titleFontSize: 11 } },
  };
  return compileChart('chart-in-band', spec, ['minutes', 'rolling']);
}
