/**
 * Scheduling before and after, per window on one time axis: whether the window was in band, the
 * worst max/avg and min/avg over the three resources against the ±10 % band (shaded), the share of
 * executions the scheduler moved and the mean latency it added. A rule marks the start of
 * scheduling and a grey span the warm-up left out of the "after" figures.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReportMarker } from '../options.js';
import type { SchedulingData } from '../scheduling.js';
import { compileChart, markerLayers, timeX, WIDTH, type ConcatItem, type Chart, type Layer } from './chart.js';

const RATIO_COLORS = { domain: ['worst max/avg', 'worst min/avg'], range: ['#d62728', '#1f77b4'] };
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export function schedulingChart(params: {
  scheduling: SchedulingData;
  domain: [number, number];
  windowMs: number;
}): Chart {
  const { scheduling: s, domain } = params;
  const per = s.bucketWindows > 1 ? ` (mean over ${s.bucketWindows} windows per point)` : '';
  const markers: ReportMarker[] = s.start ? [{ time: s.start.time, label: 'scheduling starts' }] : [];
  const warm = s.phases.find((p) => p.phase === 'warm-up');
  // A warm-up from the range's first window starts where the plot does, not a window before it.
  const warmup = warm ? [{ from: Math.max(domain[0], warm.from - params.windowMs), to: warm.to }] : [];
  const ratios = s.points.flatMap((p) => [
    ...(p.maxAvg === null ? [] : [{ t: p.t, ratio: 'worst max/avg', value: p.maxAvg }]),
    ...(p.minAvg === null ? [] : [{ t: p.t, ratio: 'worst min/avg', value: p.minAvg }]),
  ]);
  const warmupLayer: Layer = {
    data: { name: 'warmup' },
    mark: { type: 'rect', color: '#7f7f7f', opacity: 0.15 },
    encoding: { x: timeX(undefined, 'from'), x2: { field: 'to' } },
  };
  const windowEnd = { field: 't', type: 'temporal' as const, title: 'window end', format: '%H:%M:%S' };
  const title = (text: string, subtitle?: string) => ({ text, subtitle, anchor: 'start' as const, fontSize: 12 });

  const inBand: ConcatItem = {
    title: title(
      `in band per window${per}`,
      'green: every resource has min ≥ 0.9·avg and max ≤ 1.1·avg (a window where nothing ran is not)',
    ),
    width: WIDTH,
    height: 50,
    layer: [
      {
        data: { name: 'scheduling' },
        // A step area: each window's value spans the window (step-before: up to its end time).
        mark: { type: 'area', color: '#2ca02c', opacity: 0.75, interpolate: 'step-before' },
        encoding: {
          x: timeX(domain),
          y: {
            field: 'inBandRate',
            type: 'quantitative',
            title: 'in band (%)',
            axis: { format: '.0%', tickCount: 2 },
            scale: { domain: [0, 1] },
          },
          tooltip: [windowEnd, { field: 'inBandRate', type: 'quantitative', title: 'in band', format: '.0%' }],
        },
      },
      warmupLayer,
      ...markerLayers(),
    ],
  };
  const spread: ConcatItem = {
    title: title(
      `worst max/avg (red) and min/avg (blue) over cpu, io and memory per window${per}`,
      'green band: ±10 % of the average; a window is in band when both lines stay inside it',
    ),
    width: WIDTH,
    height: 150,
    layer: [
      {
        data: { values: [{ lo: 0.9, hi: 1.1 }] },
        mark: { type: 'rect', color: '#2ca02c', opacity: 0.15 },
        encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
      {
        data: { name: 'ratios' },
        mark: { type: 'line', strokeWidth: 1.1 },
        encoding: {
          x: timeX(domain),
          y: { field: 'value', type: 'quantitative', title: 'ratio to window avg (×)', scale: { zero: false } },
          // Named in the panel title: a legend of a concatenation sits above the whole stack, not this panel.
          color: { field: 'ratio', type: 'nominal', scale: RATIO_COLORS, legend: null },
          tooltip: [
            windowEnd,
            { field: 'ratio', type: 'nominal' },
            { field: 'value', type: 'quantitative', format: '.3f' },
          ],
        },
      },
      warmupLayer,
      ...markerLayers(),
    ],
  };
  const moved: ConcatItem = {
    title: title(`share of executions moved by the scheduler${per}`),
    width: WIDTH,
    height: 60,
    layer: [
      {
        data: { name: 'scheduling' },
        mark: { type: 'line', color: '#8c564b', strokeWidth: 1.2, interpolate: 'step-before' },
        encoding: {
          x: timeX(domain),
          y: {
            field: 'movedShare',
            type: 'quantitative',
            title: 'moved (% of executions)',
            axis: { format: '.0%' },
            scale: { domain: [0, 1] },
          },
          tooltip: [
            windowEnd,
            { field: 'movedShare', type: 'quantitative', title: 'moved', format: '.1%' },
            { field: 'executions', type: 'quantitative' },
          ],
        },
      },
      warmupLayer,
      ...markerLayers(),
    ],
  };
  const latency: ConcatItem = {
    title: title(`mean added latency per window, in ticks${per}`),
    width: WIDTH,
    height: 70,
    layer: [
      {
        data: { name: 'scheduling' },
        mark: { type: 'line', color: '#ff7f0e', strokeWidth: 1.2, interpolate: 'step-before' },
        encoding: {
          x: timeX(domain),
          y: { field: 'meanAddedLatency', type: 'quantitative', title: 'added latency (ticks)' },
          tooltip: [
            windowEnd,
            { field: 'meanAddedLatency', type: 'quantitative', title: 'mean added latency', format: '.2f' },
          ],
        },
      },
      warmupLayer,
      ...markerLayers(),
    ],
  };
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    datasets: { scheduling: s.points, ratios, warmup, markers },
    vconcat: [inBand, spread, moved, latency],
    spacing: 14,
    config: { view: { stroke: null }, axis: { labelFontSize: 10, titleFontSize: 11 } },
  };
  return compileChart('chart-scheduling', spec, ['scheduling', 'ratios']);
}
