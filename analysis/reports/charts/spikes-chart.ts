/**
 * Spike attribution charts: per resource, the queries with the largest share of the top-K windows'
 * load (bars, longest first; the tooltip has the full query id, executions, cost used and lift),
 * and when those top windows happened (their maximum over time, with the markers).
 */
import type { TopLevelSpec } from 'vega-lite';
import { RESOURCES } from '../../../common/contracts.js';
import type { Attribution } from '../attribution.js';
import type { ReportMarker } from '../options.js';
import type { TopWindow } from '../records.js';
import { compileChart, markerLayers, RESOURCE_COLORS, timeX, WIDTH, type Chart, type ConcatItem } from './chart.js';

const BASIS_TEXT = {
  estimates: 'executions × estimated cost',
  truth: 'executions × true cost (evaluation)',
  executions: 'executions (no estimates yet)',
} as const;

export function spikeSharesChart(attribution: Attribution, topWindows: number): Chart {
  const panels: ConcatItem[] = RESOURCES.map((r, i) => ({
    title: { text: `${r}: top ${attribution.windows[r]} windows by max`, anchor: 'start', fontSize: 12 },
    // Each panel carries its own query axis (labels and title): the three fit the page's width.
    width: Math.floor(WIDTH / 3) - 80,
    height: { step: 16 },
    data: { name: 'shares' },
    transform: [{ filter: { field: 'resource', equal: r } }],
    mark: { type: 'bar', color: RESOURCE_COLORS.range[i]! },
    encoding: {
      y: {
        field: 'label',
        type: 'nominal',
        sort: '-x',
        title: 'query (query id, first 8 digits)',
        axis: { labelFont: 'monospace' },
      },
      x: { field: 'share', type: 'quantitative', axis: { format: '.0%' }, title: 'share of spike load (%)' },
      opacity: { condition: { test: 'datum.costKnown', value: 1 }, value: 0.45 },
      tooltip: [
        { field: 'queryId', type: 'nominal', title: 'query' },
        { field: 'share', type: 'quantitative', format: '.1%' },
        { field: 'executions', type: 'quantitative', title: 'executions in these windows' },
        { field: 'windows', type: 'quantitative', title: 'of the top windows it ran in' },
        { field: 'cost', type: 'quantitative', title: 'cost used (cost units per execution)' },
        { field: 'costKnown', type: 'nominal', title: 'cost known' },
        { field: 'lift', type: 'quantitative', title: 'lift against load (×)' },
        { field: 'standsOut', type: 'nominal', title: 'stands out' },
      ],
    },
  }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Share of the top-${topWindows} windows' load, by query`,
      subtitle: `weight: ${BASIS_TEXT[attribution.basis]}; faded bars: no estimate for that query (resource mean used)`,
      anchor: 'start',
    },
    datasets: { shares: attribution.rows },
    hconcat: panels,
    spacing: 30,
    config: { view: { stroke: null }, axis: { labelFontSize: 10 } },
  };
  return compileChart('chart-spike-shares', spec, ['shares']);
}

export function spikeWindowsChart(params: {
  topWindows: TopWindow[];
  markers: ReportMarker[];
  domain: [number, number];
}): Chart {
  const rows = params.topWindows.map((w) => ({
    ...w,
    ratio: w.avg > 0 ? Math.round((w.peak / w.avg) * 100) / 100 : null,
  }));
  const panel: ConcatItem = {
    width: WIDTH,
    height: 140,
    layer: [
      {
        data: { name: 'top' },
        mark: { type: 'point', filled: true, size: 45, opacity: 0.8 },
        encoding: {
          x: timeX(params.domain),
          y: { field: 'peak', type: 'quantitative', title: 'window max (cost units per tick)' },
          color: { field: 'resource', type: 'nominal', scale: RESOURCE_COLORS, title: 'resource' },
          tooltip: [
            { field: 'resource', type: 'nominal' },
            { field: 't', type: 'temporal', title: 'window end', format: '%H:%M:%S' },
            { field: 'windowId', type: 'quantitative', title: 'window id', format: 'd' },
            { field: 'peak', type: 'quantitative', title: 'max' },
            { field: 'avg', type: 'quantitative', title: 'avg' },
            { field: 'ratio', type: 'quantitative', title: 'max/avg' },
            { field: 'executions', type: 'quantitative' },
          ],
        },
      },
      ...markerLayers(),
    ],
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'When the top windows happened', anchor: 'start' },
    datasets: { top: rows, markers: params.markers },
    vconcat: [panel],
    config: { view: { stroke: null }, axis: { labelFontSize: 10 } },
  };
  return compileChart('chart-spike-windows', spec, ['top']);
}
