/**
 * The report's sections as HTML: what each chart answers and how to read it, the chart containers,
 * and the tables worth copying from (query ids go straight into `npm run sql`). One page with four
 * sections rather than four files: the libraries (~830 KB) are inlined once, every section shares
 * one time range and one set of markers, and the periodic job replaces a single file.
 */
import { RESOURCES } from '../../common/contracts.js';
import type { Report } from './build-report.js';
import type { Chart } from './charts/chart.js';
import { periodName } from './periods.js';
import { escapeHtml as h, renderPage } from './html.js';
import { chartDiv, fmt, iso, isoSeconds, notice, pct, table } from './render-parts.js';
import { spikesSection } from './render-spikes.js';
import type { SchedulingPhase } from './scheduling.js';

function meta(r: Report): string {
  const { range } = r.data;
  const parts = [`database <b>${h(r.data.database)}</b>`, `generated ${h(iso(r.generatedAt))}`];
  if (range.windows > 0) {
    parts.push(
      `windows <b>${h(iso(range.fromTime))}</b> → <b>${h(iso(range.toTime))}</b>`,
      `${range.windows} windows of ${fmt(range.windowMs / 1000, 1)} s`,
      `${r.summary.executions} executions of ${r.summary.queries} queries`,
    );
    if (range.inTime > range.windows) parts.push(`capped: the newest ${range.windows} of ${range.inTime} windows`);
  }
  if (r.markers.length) parts.push(`markers: ${r.markers.map((m) => `${h(iso(m.time))} ${h(m.label)}`).join('; ')}`);
  return parts.join(' · ');
}

/** Which run the page shows, and the others with how to report them (`npm run report -- --run <id>`). */
function runs(r: Report): string {
  const { runs: all, run } = r.data;
  if (all.length === 0) return '';
  const shown = run ? `run <b>${h(run.runId || '(before runs were recorded)')}</b>` : `all ${all.length} runs`;
  const rows = all.map((x) => [
    `<span class="id">${h(x.runId || '–')}</span>${x === run ? ' (shown)' : ''}`,
    h(isoSeconds(x.startedAt ?? x.firstT)),
    x.endedAt !== null ? h(isoSeconds(x.endedAt)) : x === all[0] ? 'running or stopped uncleanly' : 'stopped uncleanly',
    String(x.windows),
    h(x.seed ?? '–'),
    h(x.scheduler ?? '–'),
  ]);
  return ` · ${shown} <details><summary>${all.length} run${all.length === 1 ? '' : 's'} in this database (another: <code>npm run report -- --run &lt;id&gt;</code>, or <code>--run all</code>)</summary>${table(
    ['run', 'started', 'ended', 'windows', 'seed', 'scheduler'],
    rows,
  )}</details>`;
}

function resourcesSection(r: Report): string {
  const how = `<p class="how">Per 1-second window: the line is the average the monitoring shows, the shaded band runs from the
window's minimum to its maximum. A tall band over a calm line is a spike the averages hide. The bottom panel is
executions per second. Hover for values.</p>`;
  const perMs = r.summary.range.aggregatedPerMs;
  if (perMs === null || !r.charts.resourcesRecent) return `${how}${chartDiv(r.charts.resources)}`;
  return `${how}<p class="how">This range is long: it is drawn per ${h(periodName(perMs))}, aggregated in ClickHouse. A period's
band runs from the smallest window minimum to the largest window maximum in it, so a single spiking second still
shows; its line is the mean of the window averages. The last ${h(String(r.data.windows.length))} windows are drawn one by one below.</p>
${chartDiv(r.charts.resources)}<h3>Most recent windows, one by one</h3>${chartDiv(r.charts.resourcesRecent)}`;
}

function estimatesSection(r: Report): string {
  const e = r.data.estimates;
  if (e.status !== 'ok' || !r.estimates) return notice(e.status === 'ok' ? 'No estimates yet.' : e.message);
  const v = r.estimates;
  const accuracy = v.accuracy
    ? `<h3>Accuracy against the true costs (queries with ≥ 30 executions)</h3>${table(
        ['resource', 'queries', 'mean absolute error', '95 % interval holds truth'],
        v.accuracy.map((x) => [h(x.resource), String(x.queries), fmt(x.meanAbsoluteError), pct(x.coverage95)]),
      )}`
    : '';
  return `<p class="how">Version <code>${e.version}</code> (${h(iso(e.computedAt))}, ${h(e.method)}): the cost of one execution per
resource, with its 95 % interval, for the ${v.queriesShown} most observed of ${v.queriesTotal} queries (most observed at the top).
Colour: executions the estimate rests on; grey means the prior alone.${r.withTruth ? ' Red ticks: true costs (evaluation).' : ''}</p>
${chartDiv(r.charts.estimates)}${accuracy}`;
}

function spreadSection(r: Report): string {
  const head = [
    'segment',
    'from',
    'windows',
    'in band (% of windows)',
    ...RESOURCES.map((x) => `${x} max/avg (×), mean (p95)`),
    'executions per second',
    'delayed (% of executions)',
    'added latency, mean (max) (ticks)',
  ];
  const rows = r.segments.map((s) => [
    h(s.label),
    h(isoSeconds(s.from)),
    String(s.windows),
    pct(s.inBandRate),
    ...RESOURCES.map((x) => `${fmt(s.spread[x].meanMaxRatio)} (${fmt(s.spread[x].p95MaxRatio)})`),
    fmt(s.executionsPerSecond, 1),
    pct(s.delayedShare),
    `${fmt(s.meanAddedDelay)} (max ${s.maxAddedDelay})`,
  ]);
  return `<p class="how">The scheduler's target: in every window each resource's min and max within ±10 % of its average
(green band). A window is in band when all three are. Markers cut the range into segments; the table compares them
(a run that starts unscheduled and turns the scheduler on reads before | after): mean max/avg with its 95th
percentile, and the latency added, mean over all executions (max), in ticks.</p>
${table(head, rows, 2)}${chartDiv(r.charts.spread)}${chartDiv(r.charts.inBand)}${decompositionPart(r)}`;
}

/** Where the spread comes from: how many executions land per tick (count) or which queries they are (mix). */
function decompositionPart(r: Report): string {
  const d = r.data.spreadDecomposition;
  if (d.length === 0) return '';
  const share = (x: number | null) => (x === null ? '–' : pct(Math.min(1, Math.max(0, x))));
  const rows = d.map((x) => [
    h(x.resource),
    String(x.windows),
    fmt(x.maxAvg),
    fmt(x.countFactor),
    fmt(x.mixFactor),
    share(x.countShare),
    share(x.countShare === null ? null : 1 - x.countShare),
  ]);
  const n = d[0]?.windows ?? 0;
  return `<h3>Why the windows spread: count or mix</h3><p class="how">A window's max/avg is the busiest tick's load over the
mean tick's load, and a tick's load is the summed cost of the executions in it, so max/avg = count × mix: <b>count</b> =
most executions in one tick ÷ mean executions per tick (arrivals bunching: what moving executions evens out), <b>mix</b> =
the rest (which queries they are). Shares are of Σ log(max/avg) over the ${n} windows read one by one${
    r.data.aggregated ? ' (the most recent ones)' : ''
  }, computed in ClickHouse.</p>
${notice(r.summary.spreadDecomposition.verdict)}
${table(['resource', 'windows', 'max/avg, mean (×)', 'count factor, mean (×)', 'mix factor, mean (×)', 'share from count', 'share from mix'], rows)}`;
}

/** The lab's frontier under the live figures: what the policy reaches at other latency settings, and the proven ceiling. */
function frontierPart(r: Report): string {
  const f = r.frontier;
  if (!f) {
    return `<h3>Frontier</h3><p class="how">Not measured here: <code>npm run lab -- --frontier</code> writes
<code>reports/frontier.vl.json</code> (in-band rate, max/avg and min/avg against mean and p99 added latency over a range of
latency settings, with a proven upper bound), and the next report shows it (or <code>npm run report -- --frontier-from FILE</code>).</p>`;
  }
  return `<h3>Frontier (scheduling lab, virtual time)</h3><p class="how">${h(f.subtitle)}. Measured by the lab on the simulated
database, not on this run. Solid: what <code>policy-estimated</code> (costs learned from the run's own events) and
<code>policy-oracle</code> (true costs) reach; dashed: the count-only bound, proven — no schedule at that budget and mean added
latency puts more windows in band (it ignores the spread of cost vectors, so it sits well above what any policy reaches).
The black diamond is this run: its "after" phase (or the whole range, unscheduled), measured live; the lab's load and
seeds are in the subtitle, so check they match this run's before reading the distance. Source: <code>${h(f.source)}</code>.</p>${chartDiv(r.charts.frontier)}`;
}

function schedulingSection(r: Report): string {
  return schedulingLive(r) + frontierPart(r);
}

function schedulingLive(r: Report): string {
  const s = r.data.scheduling;
  if (!s) return notice('No windows stored yet.');
  const chart = chartDiv(r.charts.scheduling);
  const byName = (name: string) => s.phases.find((p) => p.phase === name);
  const ticks = (x: number | null, digits = 2) => (x === null ? '–' : fmt(x, digits));
  const rowsOf = (phases: SchedulingPhase[]) => [
    ['windows', ...phases.map((p) => String(p.windows))],
    ['first window end', ...phases.map((p) => h(isoSeconds(p.from)))],
    ['last window end', ...phases.map((p) => h(isoSeconds(p.to)))],
    ['in-band rate', ...phases.map((p) => pct(p.inBandRate))],
    ['max/avg p50 / p95', ...phases.map((p) => `${fmt(p.maxAvgP50)} / ${fmt(p.maxAvgP95)}`)],
    ['min/avg p5 / p50', ...phases.map((p) => `${fmt(p.minAvgP5)} / ${fmt(p.minAvgP50)}`)],
    ['executions', ...phases.map((p) => String(p.executions))],
    ['moved by the scheduler', ...phases.map((p) => pct(p.movedShare))],
    [
      'added latency mean / p99 (ticks)',
      ...phases.map((p) => `${ticks(p.addedLatencyMean)} / ${ticks(p.addedLatencyP99, 0)}`),
    ],
  ];
  const how = `<p class="how">Per window, scored as the scheduling lab scores it: in band when every resource has
min ≥ 0.9·avg and max ≤ 1.1·avg (a window where nothing ran is not in band); the worst max/avg (largest) and min/avg
(smallest) over cpu, io and memory; the share of the window's executions the scheduler moved
(<code>delayed_by = 'scheduler'</code>) and their mean added latency, executed tick − (queued tick + default delay)
(<code>added_delay</code>), in ticks. Percentiles are nearest-rank, over windows (ratios) or executions (latency).</p>`;
  if (!s.start) {
    const u = byName('unscheduled');
    return `${notice("Not scheduled: no execution in this range was moved by the scheduler (delayed_by = 'scheduler'). The figures below are the unscheduled ones.")}
${how}${u ? table(['', 'unscheduled'], rowsOf([u])) : ''}${chart}`;
  }
  const startText = `Scheduling started at <b>${h(iso(s.start.time))}</b> (the first execution the scheduler moved).`;
  if (s.scheduledThroughout) {
    const after = s.phases.filter((p) => p.phase !== 'before');
    const fromStart = r.data.run?.scheduler === 'on' && r.data.run.schedulerStartedAt !== null;
    const why = fromStart
      ? 'This run had the scheduler on from its first tick (a plain npm start), so it has no "before": the table below compares it with its own arrivals unscheduled. For a measured before/after, start with npm start -- --scheduler-start-after-s 60.'
      : 'Scheduled throughout: the scheduler moved executions from the first window of this range on, so there is no "before" to compare with (widen the range with npm run report -- --last-minutes 0); the table below compares it with its own arrivals unscheduled.';
    return `${notice(why)}
<p class="how">${startText}</p>${counterfactualPart(r)}${how}${table(['', ...after.map((p) => p.phase)], rowsOf(after))}${chart}`;
  }
  const before = byName('before');
  const after = byName('after');
  const warm = byName('warm-up');
  const shown = [before, after].filter((p): p is SchedulingPhase => p !== undefined);
  const warmText = warm
    ? ` The ${warm.windows} window${warm.windows === 1 ? '' : 's'} from the start (those ending ${h(isoSeconds(warm.from))} … ${h(isoSeconds(warm.to))}, grey in the chart) are left out of "after" as warm-up: they still hold executions queued before the scheduler saw them, and its level and latency controller settle over a few seconds.`
    : '';
  const noAfter = after ? '' : notice('No window after the warm-up yet: come back in a minute.');
  return `<p class="how">${startText}${warmText}</p>${how}${noAfter}
${table(['', ...shown.map((p) => p.phase)], rowsOf(shown))}${counterfactualPart(r)}${chart}`;
}

/** The windows after the warm-up as run and with every move undone (counterfactual.ts). */
function counterfactualPart(r: Report): string {
  const sides = r.summary.scheduling?.counterfactual ?? [];
  if (sides.length === 0) {
    return r.data.estimates.status === 'ok'
      ? ''
      : `<p class="how">The comparison with this run's own arrivals unscheduled needs estimates (the analysis job's first run).</p>`;
  }
  const rows = [
    ['windows', ...sides.map((x) => String(x.windows))],
    ['in-band rate (% of windows)', ...sides.map((x) => pct(x.inBandRate))],
    ['worst max/avg p50 / p95 (×)', ...sides.map((x) => `${fmt(x.maxAvgP50)} / ${fmt(x.maxAvgP95)}`)],
  ];
  return `<h3>As run against the same arrivals unscheduled</h3><p class="how">The windows after the warm-up, each execution costed at
its latest estimate, scored twice: where it ran, and where it would have run had nobody moved it (executed tick − added
latency). Both sides use the same estimates, so their errors cancel; the measured figures are in the table below.</p>
${table(['', ...sides.map((x) => x.mode)], rows)}`;
}

export const SECTIONS = [
  { id: 'resources', title: 'Resource usage over time', render: resourcesSection },
  { id: 'spikes', title: 'Spike attribution', render: spikesSection },
  { id: 'estimates', title: 'Estimated cost per query', render: estimatesSection },
  { id: 'spread', title: 'Spread and in-band rate', render: spreadSection },
  { id: 'scheduling', title: 'Scheduling: before and after', render: schedulingSection },
] as const;

export function renderReport(r: Report): string {
  const empty = r.data.range.windows === 0;
  const sections = SECTIONS.map((s) => ({
    id: s.id,
    title: s.title,
    body:
      empty && s.id !== 'estimates'
        ? notice('No windows stored yet: start the system and come back in a minute.')
        : s.render(r),
  }));
  return renderPage({
    title: r.title,
    meta: meta(r) + runs(r),
    nav: SECTIONS.map(({ id, title }) => ({ id, title })),
    sections,
    charts: Object.values(r.charts).filter((c): c is Chart => c !== undefined),
  });
}
