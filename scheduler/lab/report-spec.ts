/**
 * A Vega-Lite spec of the lab's sweeps (data inlined), for the report page: in-band rate and
 * worst-resource max/avg p95 against mean added latency, one curve per policy and swept knob
 * (latency budget, or the policy's target latency), with no scheduling as the zero-latency point.
 * The page only has to embed it (vega-embed); nothing is computed in the browser.
 */
import type { LabReport } from './lab.js';

export function sweepSpec(report: LabReport): Record<string, unknown> {
  const c = report.config;
  const none = report.policies.find((p) => p.name === 'none');
  const rows = [
    ...report.sweep.map((s) => ({ ...s, name: `${s.name} (${s.sweep})` })),
    ...(none
      ? [
          {
            name: 'none',
            latencyBudget: 0,
            targetLatency: 0,
            inBandRate: none.inBandRate,
            maxAvgP95: none.maxAvgP95,
            minAvgP50: none.minAvgP50,
            addedLatencyMean: none.addedLatencyMean,
          },
        ]
      : []),
  ];
  const panel = (field: string, title: string, format: string) => ({
    width: 360,
    height: 260,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'addedLatencyMean', type: 'quantitative', title: 'mean added latency (ticks)' },
      y: { field, type: 'quantitative', title, axis: { format } },
      color: { field: 'name', type: 'nominal', title: 'policy' },
      // Both knobs move latency monotonically, so each curve is drawn in latency order.
      order: { field: 'addedLatencyMean', type: 'quantitative' },
      tooltip: [
        { field: 'name', type: 'nominal' },
        { field: 'latencyBudget', type: 'quantitative', title: 'budget (ticks)' },
        { field: 'targetLatency', type: 'quantitative', title: 'target latency (ticks)' },
        { field, type: 'quantitative', format: '.3f' },
        { field: 'addedLatencyMean', type: 'quantitative', format: '.2f' },
      ],
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Scheduling trade-off: flatness against added latency',
      subtitle: `probability scale ${c.probabilityScale}, ${c.seconds} s per run, seeds ${c.seeds.join(', ')}, window ${c.metricsWindowTicks} ticks`,
    },
    data: { values: rows },
    hconcat: [
      panel('inBandRate', 'windows in band (±10 %)', '.0%'),
      panel('maxAvgP95', 'max/avg p95 (worst resource)', '.2f'),
    ],
  };
}
