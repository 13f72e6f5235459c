/**
 * Resource usage over time: per resource the window average as a line over the min–max band (the
 * band is what monitoring averages hide: its top edge is the spike), then executions per second.
 * One panel per resource, stacked on one time axis, with the report's markers.
 */
import type { TopLevelSpec } from 'vega-lite';
import { RESOURCES } from '../../../common/contracts.js';
import type { ReportMarker } from '../options.js';
import type { LoadPoint, ResourcePoint } from '../series.js';
import { compileChart, markerLayers, RESOURCE_COLORS, timeX, WIDTH, type Chart, type ConcatItem } from './chart.js';

export function resourcesChart(params: {
  resources: ResourcePoint[];
  load: LoadPoint[];
  markers: ReportMarker[];
  domain: [number, number];
  bucketWindows: number;
  /** Aggregated in ClickHouse: what one point is (e.g. `10 min`); the band is then per period. */
  period?: string;
  /** Element id (default `chart-resources`), for a second chart of the same kind. */
  id?: string;
}): Chart {
  const { domain } = params;
  const per = params.period
    ? ` per ${params.period} (max of the window maxima, min of the minima, mean of the averages)`
    : params.bucketWindows > 1
      ? ` (each point: ${params.bucketWindows} windows)`
      : '';
  const panels: ConcatItem[] = RESOURCES.map((r, i) => {
    const color = RESOURCE_COLORS.range[i]!;
    return {
      title: {
        text: params.period ? `${r}: average, min–max band${per}` : `${r}: average, min–max band per window${per}`,
        anchor: 'start',
        fontSize: 12,
      },
      width: WIDTH,
      height: 130,
      layer: [
        {
          data: { name: 'resources' },
          transform: [{ filter: { field: 'resource', equal: r } }],
          mark: { type: 'area', opacity: 0.25, color },
          encoding: {
            x: timeX(domain),
            y: { field: 'min', type: 'quantitative', title: `${r} (cost units per tick)` },
            y2: { field: 'max' },
          },
        },
        {
          data: { name: 'resources' },
          transform: [{ filter: { field: 'resource', equal: r } }],
          mark: { type: 'line', color, strokeWidth: 1.2 },
          encoding: {
            x: timeX(),
            y: { field: 'avg', type: 'quantitative' },
            tooltip: [
              { field: 't', type: 'temporal', title: 'window end', format: '%H:%M:%S' },
              { field: 'avg', type: 'quantitative' },
              { field: 'min', type: 'quantitative' },
              { field: 'max', type: 'quantitative' },
            ],
          },
        },
        ...markerLayers(),
      ],
    };
  });
  panels.push({
    title: { text: `executions per second${per}`, anchor: 'start', fontSize: 12 },
    width: WIDTH,
    height: 90,
    layer: [
      {
        data: { name: 'load' },
        mark: { type: 'area', color: '#7f7f7f', opacity: 0.6, interpolate: 'step-after' },
        encoding: {
          x: timeX(domain),
          y: { field: 'perSecond', type: 'quantitative', title: 'load (executions per second)' },
          tooltip: [
            { field: 't', type: 'temporal', title: 'window end', format: '%H:%M:%S' },
            { field: 'perSecond', type: 'quantitative', title: 'executions per second' },
          ],
        },
      },
      ...markerLayers(),
    ],
  });
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    datasets: { resources: params.resources, load: params.load, markers: params.markers },
    vconcat: panels,
    spacing: 14,
    config: { view: { stroke: null }, axis: { labelFontSize: 10, titleFontSize: 11 } },
  };
  return compileChart(params.id ?? 'chart-resources', spec, ['resources', 'load']);
}
