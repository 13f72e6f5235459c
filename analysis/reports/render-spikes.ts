/**
 * The spike attribution section: the verdict first (which queries stand out against load, or that
 * none does and the spikes are arrivals bunching in ticks), then the largest shares of the spike
 * windows' load and the highest windows, each with its unit.
 */
import { RESOURCES } from '../../common/contracts.js';
import { MIN_LIFT } from './attribution.js';
import type { Report } from './build-report.js';
import { escapeHtml as h } from './html.js';
import { chartDiv, fmt, isoSeconds, notice, pct, table } from './render-parts.js';

/** The verdict first: which queries stand out against load, or that none does and the spikes are bunching. */
function spikeVerdict(r: Report): string {
  const a = r.attribution;
  const load = RESOURCES.map((res) => `${res} ${fmt(a.loadRatio[res])}×`).join(', ');
  const loadText = `The spike windows held more executions than the average window (${h(load)}), so a query's lift is
measured against that load: 1 means it ran there as often as its share of all executions predicts.`;
  if (a.standouts.length === 0) {
    return `${notice(`No query stands out: none is over-represented in the spike windows beyond chance (lift ≥ ${MIN_LIFT} with Poisson p < 1 % over the queries tested). The spikes come from arrivals bunching in ticks.`)}
<p class="how">${loadText}</p>`;
  }
  const rows = a.standouts.map((x) => [
    h(x.resource),
    `<span class="id">${h(x.queryId)}</span>`,
    String(x.executions),
    fmt(x.lift),
    x.pValue === null ? '–' : x.pValue.toExponential(1),
    pct(x.share),
  ]);
  return `${notice(`${a.standouts.length} quer${a.standouts.length === 1 ? 'y stands' : 'ies stand'} out in the spike windows beyond chance and beyond their load.`)}
<p class="how">${loadText}</p>${table(['resource', 'query', 'executions in spike windows', 'lift (×)', 'Poisson p', 'share of spike load'], rows, 2)}`;
}

export function spikesSection(r: Report): string {
  const a = r.attribution;
  const top = RESOURCES.flatMap((res) =>
    a.rows
      .filter((x) => x.resource === res)
      .slice(0, 5)
      .map((x) => [
        h(res),
        `<span class="id">${h(x.queryId)}</span>`,
        pct(x.share),
        String(x.executions),
        String(x.windows),
        fmt(x.cost),
        fmt(x.lift),
        x.standsOut ? 'yes' : 'no',
      ]),
  );
  const windows = RESOURCES.flatMap((res) =>
    r.data.topWindows
      .filter((w) => w.resource === res)
      .slice(0, 5)
      .map((w) => [
        h(res),
        h(isoSeconds(w.t)),
        String(w.windowId),
        String(w.peak),
        String(w.avg),
        fmt(w.avg > 0 ? w.peak / w.avg : null),
        String(w.executions),
      ]),
  );
  return `${spikeVerdict(r)}<p class="how">For each resource, the ${r.data.topWindows.length ? a.windows.cpu : 0} windows with the highest maximum.
A query's share is its executions in those windows weighted by its cost per execution, over the same for all queries: a
frequent query has a large share whether or not it causes anything. Lift = its executions there ÷ the executions its share
of the whole range predicts for those windows; it stands out only when the lift is at least ${MIN_LIFT} and the count is
unlikely by chance.</p>
${a.basis === 'executions' ? notice('No estimates yet: shares are shares of executions, not of load.') : ''}
${chartDiv(r.charts.spikeShares)}
<h3>Largest shares per resource</h3>${table(['resource', 'query', 'share of spike load', 'executions in spike windows', 'spike windows it ran in', 'cost used (units per execution)', 'lift (×)', 'stands out'], top, 2)}
${chartDiv(r.charts.spikeWindows)}
<h3>Highest windows per resource</h3>${table(['resource', 'window end', 'window id', 'max (cost units per tick)', 'avg (cost units per tick)', 'max/avg (×)', 'executions'], windows, 2)}`;
}
