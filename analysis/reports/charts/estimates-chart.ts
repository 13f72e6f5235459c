/**
 * Per-query estimated costs: one row per query (most observed at the top), one column per
 * resource; the point is the estimate, the bar its 95 % interval, the colour how many executions it
 * rests on, and, when evaluating, a red tick marks the true cost.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { EstimatesView } from '../estimates-view.js';
import { compileChart, type Chart, type Layer } from './chart.js';

const BUCKETS = {
  domain: ['prior only', '< 30', '30–99', '≥ 100'],
  range: ['#bbbbbb', '#ff7f0e', '#1f77b4', '#08306b'],
};

export function estimatesChart(view: EstimatesView, withTruth: boolean): Chart {
  const y = {
    field: 'label',
    type: 'nominal' as const,
    title: 'query (query id, first 8 digits)',
    sort: { field: 'rank', op: 'min' as const, order: 'ascending' as const },
    axis: { labelFont: 'monospace', labelFontSize: 9 },
  };
  const X_TITLE = 'cost per execution (cost units)';
  // A hundred or more rows make a tall chart: the cost axis is drawn at its top too (the second layer's
  // own axis, on the shared scale), so it is in view wherever the reader is.
  const x = { field: 'estimate', type: 'quantitative' as const, title: X_TITLE, axis: { orient: 'top' as const } };
  const tooltip = [
    { field: 'queryId', type: 'nominal' as const, title: 'query' },
    { field: 'resource', type: 'nominal' as const },
    { field: 'estimate', type: 'quantitative' as const },
    { field: 'lower', type: 'quantitative' as const, title: '95% lower' },
    { field: 'upper', type: 'quantitative' as const, title: '95% upper' },
    { field: 'observations', type: 'quantitative' as const },
    ...(withTruth
      ? [
          { field: 'truth', type: 'quantitative' as const, title: 'true cost' },
          { field: 'covered', type: 'nominal' as const, title: 'truth inside interval' },
        ]
      : []),
  ];
  const layers: Layer[] = [
    {
      mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 },
      encoding: {
        y,
        x: { field: 'lower', type: 'quantitative', title: X_TITLE },
        x2: { field: 'upper' },
        color: { field: 'bucket', type: 'nominal', scale: BUCKETS, title: 'executions seen' },
      },
    },
    {
      mark: { type: 'point', filled: true, size: 28 },
      encoding: {
        y,
        x,
        color: { field: 'bucket', type: 'nominal', scale: BUCKETS, title: 'executions seen' },
        tooltip,
      },
    },
  ];
  if (withTruth) {
    layers.push({
      transform: [{ filter: 'isValid(datum.truth)' }],
      mark: { type: 'tick', color: '#d62728', thickness: 2, size: 9 },
      encoding: { y, x: { field: 'truth', type: 'quantitative', axis: null }, tooltip },
    });
  }
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    datasets: { estimates: view.points },
    data: { name: 'estimates' },
    facet: { column: { field: 'resource', type: 'nominal', title: null, sort: ['cpu', 'io', 'memory'] } },
    spec: { width: 250, height: { step: 11 }, layer: layers, resolve: { axis: { x: 'independent' } } },
    spacing: 16,
    config: { view: { stroke: '#eee' }, axis: { labelFontSize: 10 } },
  };
  return compileChart('chart-estimates', spec, ['estimates']);
}
