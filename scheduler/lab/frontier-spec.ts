/**
 * A Vega-Lite spec of the frontier (frontier.ts), data inlined as named datasets so the report can
 * embed and check it as it does its own charts: in-band rate against mean and against p99 added
 * latency, and the worst resource's max/avg p95 and min/avg p50 against mean latency, one curve per
 * policy, with the proven count-only bound drawn against the mean (at each point's budget and
 * latency, and as a curve at the largest budget) and against the maximum (the budget).
 */
import type { FrontierReport } from './frontier.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export function frontierSpec(report: FrontierReport): Record<string, unknown> {
  const c = report.config;
  const points = report.rows.map((r) => ({
    name: r.name,
    setting: r.setting,
    latencyBudget: r.latencyBudget,
    targetLatency: r.targetLatency,
    inBandRate: r.inBandRate,
    maxAvgP95: r.maxAvgP95,
    minAvgP50: r.minAvgP50,
    addedLatencyMean: r.addedLatencyMean,
    addedLatencyP99: r.addedLatencyP99,
  }));
  const largest = report.bound.curve[0]?.latencyBudget;
  const boundMean = [
    ...report.rows.map((r) => ({
      name: `bound at ${r.name}'s budget and mean`,
      latencyBudget: r.latencyBudget,
      addedLatencyMean: r.addedLatencyMean,
      inBandRate: r.boundAtMeanLatency,
    })),
    ...report.bound.curve.map((p) => ({
      name: `bound at budget ${largest}`,
      latencyBudget: p.latencyBudget,
      addedLatencyMean: p.meanLatency,
      inBandRate: p.inBandRate,
    })),
  ];
  const boundMax = report.bound.byBudget.map((b) => ({
    name: 'bound, max added latency ≤ budget',
    latencyBudget: b.latencyBudget,
    latency: b.latencyBudget,
    inBandRate: b.inBandRate,
  }));
  const color = {
    field: 'name',
    type: 'nominal',
    title: null,
    legend: { orient: 'bottom', columns: 2, labelLimit: 320 },
  };
  const tooltip = (x: string, y: string) => [
    { field: 'name', type: 'nominal' },
    { field: 'latencyBudget', type: 'quantitative', title: 'budget (ticks)' },
    { field: x, type: 'quantitative', format: '.2f' },
    { field: y, type: 'quantitative', format: '.3f' },
  ];
  const line = (
    dataset: string,
    x: string,
    xTitle: string,
    y: string,
    yTitle: string,
    format: string,
    dashed = false,
  ) => ({
    data: { name: dataset },
    mark: { type: 'line', point: true, ...(dashed ? { strokeDash: [5, 3] } : {}) },
    encoding: {
      x: { field: x, type: 'quantitative', title: xTitle },
      y: { field: y, type: 'quantitative', title: yTitle, axis: { format } },
      color,
      order: { field: x, type: 'quantitative' },
      tooltip: tooltip(x, y),
    },
  });
  const panel = (title: string, layers: object[]) => ({ title, width: 330, height: 220, layer: layers });
  const mean = 'mean added latency (ticks)';
  const inBand = 'windows in band (%, ±10 % of avg)';
  return {
    $schema: SCHEMA,
    title: {
      text: 'Scheduling frontier: flatness against added latency',
      subtitle: `probability scale ${c.probabilityScale}, ${c.queryCount} queries, ${c.seconds} s per run, seeds ${c.seeds.join(', ')}; knob ${c.knob} (${c.settings.join(', ')}); dashed: proven count-only upper bound`,
    },
    datasets: { points, boundMean, boundMax },
    columns: 2,
    concat: [
      panel('in band against mean added latency', [
        line('points', 'addedLatencyMean', mean, 'inBandRate', inBand, '.0%'),
        line('boundMean', 'addedLatencyMean', mean, 'inBandRate', inBand, '.0%', true),
      ]),
      panel('in band against p99 (policies) and maximum (bound) added latency', [
        line('points', 'addedLatencyP99', 'added latency, p99 or max (ticks)', 'inBandRate', inBand, '.0%'),
        line('boundMax', 'latency', 'added latency, p99 or max (ticks)', 'inBandRate', inBand, '.0%', true),
      ]),
      panel('worst max/avg p95 against mean added latency', [
        line('points', 'addedLatencyMean', mean, 'maxAvgP95', 'max/avg p95 (×)', '.2f'),
      ]),
      panel('worst min/avg p50 against mean added latency', [
        line('points', 'addedLatencyMean', mean, 'minAvgP50', 'min/avg p50 (×)', '.2f'),
      ]),
    ],
    resolve: { scale: { color: 'shared' } },
  };
}
