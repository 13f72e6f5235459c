/**
 * From loaded data to a report: shapes the series and tables, builds and compiles the charts, and
 * gathers the figures into a JSON summary (the same numbers as the page, for scripts and for the
 * scheduler's before/after comparison). No I/O besides the caller's read-only queries.
 */
import type { TrueQuery } from '../../common/contracts.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { attributeSpikes, type Attribution } from './attribution.js';
import type { Chart } from './charts/chart.js';
import { estimatesChart } from './charts/estimates-chart.js';
import { schedulingChart } from './charts/scheduling-chart.js';
import { resourcesChart } from './charts/resources-chart.js';
import { spikeSharesChart, spikeWindowsChart } from './charts/spikes-chart.js';
import { inBandChart, spreadChart } from './charts/spread-chart.js';
import { estimatesView, type EstimatesView } from './estimates-view.js';
import { withLiveRun, type Frontier } from './frontier-source.js';
import { loadReportData, type QueryFn, type ReportData } from './load.js';
import type { ReportMarker, ReportOptions } from './options.js';
import { periodName, seriesFromPeriods, segmentsSql, toSegments } from './periods.js';
import { reportMarkers, segmentLabel, summarizeSegments, type SegmentSummary } from './segments.js';
import { reportTables } from './sql.js';
import type { SchedulingPhase } from './scheduling.js';
import { buildSeries } from './series.js';
import { decompositionVerdict, type SpreadDecomposition } from './spread-decomposition.js';
import { loadCounterfactual, type CounterfactualSide } from './counterfactual.js';
import { limitReads } from './read-limit.js';

export interface ReportSummary {
  generatedAt: string;
  database: string;
  /** The run reported (null: all runs), and every run that stored windows, newest first. */
  run: string | null;
  runs: { runId: string; startedAt: string | null; endedAt: string | null; windows: number }[];
  range: {
    from: string | null;
    to: string | null;
    windows: number;
    cappedFrom: number | null;
    windowMs: number;
    /** Long ranges: the period the charts aggregate into (ms), and where the per-window view starts. */
    aggregatedPerMs: number | null;
    detailFrom: string | null;
  };
  executions: number;
  queries: number;
  markers: { time: string; label: string }[];
  segments: SegmentSummary[];
  estimates: { status: string; version: number | null; queries: number; message: string | null };
  spikeAttribution: {
    basis: string;
    top: Record<string, { queryId: string; share: number; lift: number | null }[]>;
    /** Executions per spike window over executions per window, per resource. */
    loadRatio: Record<string, number | null>;
    /** Queries over-represented beyond chance and load; empty: the spikes are arrivals bunching. */
    standouts: { resource: string; queryId: string; lift: number | null; pValue: number | null }[];
  };
  /** The spread split into count and mix per resource (spread-decomposition.ts), and which dominates. */
  spreadDecomposition: { verdict: string; resources: SpreadDecomposition[] };
  accuracy: EstimatesView['accuracy'];
  /** Scheduling before/after: when it started (null: not scheduled in the range) and the figures per phase. */
  scheduling: {
    start: string | null;
    scheduledThroughout: boolean;
    warmupWindows: number;
    phases: (Omit<SchedulingPhase, 'from' | 'to'> & { from: string; to: string })[];
    /** The windows after the warm-up scored as run and with every move undone, at estimated costs. */
    counterfactual: CounterfactualSide[];
  } | null;
}

export interface Report {
  title: string;
  generatedAt: number;
  data: ReportData;
  markers: ReportMarker[];
  segments: SegmentSummary[];
  attribution: Attribution;
  estimates: EstimatesView | null;
  /** Charts by section; absent when the section has nothing to draw. */
  charts: {
    resources?: Chart;
    /** Long ranges: the most recent windows, one by one. */
    resourcesRecent?: Chart;
    spikeShares?: Chart;
    spikeWindows?: Chart;
    estimates?: Chart;
    spread?: Chart;
    inBand?: Chart;
    scheduling?: Chart;
    /** The lab's frontier (frontier-source.ts), when one was given or found. */
    frontier?: Chart;
  };
  frontier?: Frontier;
  withTruth: boolean;
  bucketWindows: number;
  summary: ReportSummary;
}

const iso = (ms: number) => new Date(ms).toISOString();
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface BuildReportParams {
  query: QueryFn;
  database: string;
  options: ReportOptions;
  truth?: readonly TrueQuery[];
  frontier?: Frontier;
  logger?: Logger;
  now?: number;
}

/**
 * Everything a report reads, and nothing it computes beyond that: the loaded data, the markers,
 * (long ranges) the per-segment figures aggregated in ClickHouse, and the counterfactual scores. Plain data, so the shaping can run
 * in a worker thread (system/worker-tasks.ts) while the reading stays on the caller's sessions.
 */
export interface ReportInput {
  data: ReportData;
  markers: ReportMarker[];
  /** Long ranges only: the segments query's result (see `segmentsSql`). */
  segmentRows: Awaited<ReturnType<QueryFn>> | null;
  /** The scheduled windows scored with every move undone (counterfactual.ts); empty when not scheduled. */
  counterfactual: CounterfactualSide[];
  options: ReportOptions;
  truth?: readonly TrueQuery[];
  frontier?: Frontier;
  generatedAt: number;
}

/** Runs every reading statement of a report (through the caller's read-only `query`). */
export async function loadReportInput(params: BuildReportParams): Promise<ReportInput> {
  const { options } = params;
  const logger = params.logger ?? silentLogger;
  const data = await loadReportData({ query: params.query, database: params.database, options, logger });
  const range = data.range;
  // A run scheduled from its first window has no start to mark (and no one-window "before" segment).
  const markers = reportMarkers(
    options.markers,
    data.firstDelayed,
    range,
    options.detectScheduler && !data.scheduling?.scheduledThroughout,
  );
  const agg = data.aggregated;
  const segmentRows = agg
    ? await params.query(segmentsSql(reportTables(data.database), range, markers, agg.source))
    : null;
  // A scheduled run against its own arrivals unscheduled (counterfactual.ts), over the windows after
  // the warm-up that were read one by one: what it compares with when it has no "before".
  const sched = data.scheduling;
  const afterFrom = sched?.start ? sched.start.window + sched.warmupWindows : null;
  const firstDetail = data.windows[0]?.windowId ?? range.firstWindow;
  const counterfactual =
    afterFrom !== null && data.estimates.status === 'ok' && afterFrom < range.lastWindow
      ? await loadCounterfactual(
          limitReads(params.query),
          reportTables(data.database),
          {
            firstWindow: Math.max(afterFrom, firstDetail),
            lastWindow: range.lastWindow,
            windowTicks: range.windowTicks,
          },
          data.estimates.version,
        )
      : [];
  return {
    data,
    markers,
    segmentRows,
    counterfactual,
    options,
    ...(params.truth ? { truth: params.truth } : {}),
    ...(params.frontier ? { frontier: params.frontier } : {}),
    generatedAt: params.now ?? Date.now(),
  };
}

export async function buildReport(params: BuildReportParams): Promise<Report> {
  const report = await shapeReport(await loadReportInput(params));
  const { range } = report.data;
  (params.logger ?? silentLogger).info(
    {
      windows: range.windows,
      executions: report.summary.executions,
      charts: Object.keys(report.charts).length,
      estimates: report.data.estimates.status,
    },
    'report built',
  );
  return report;
}

/** From the loaded input to the report: series, tables, charts and summary. No I/O. */
export async function shapeReport(input: ReportInput): Promise<Report> {
  const { data, markers, options, generatedAt } = input;
  const { range } = data;
  // A window is stamped with its last tick; the range starts at the first window's first tick.
  const domain: [number, number] = [range.fromTime - range.windowMs + range.windowMs / range.windowTicks, range.toTime];
  const estimateRows = data.estimates.status === 'ok' ? data.estimates.rows : [];
  const withTruth = (input.truth?.length ?? 0) > 0;

  // One step at a time with a yield in between (see `breathe`): the shaping is synchronous work.
  // A long range comes as periods aggregated in ClickHouse, plus its most recent windows (`windows`).
  const agg = data.aggregated;
  const detail = await buildSeries(data.windows, { maxPoints: options.maxPoints, windowMs: range.windowMs });
  const series = agg ? seriesFromPeriods(agg.periods, range.windowMs, agg.periodMs) : detail;
  await breathe();
  const segments =
    agg && input.segmentRows
      ? toSegments(input.segmentRows, markers, range.windowMs, segmentLabel)
      : await summarizeSegments(data.windows, markers, range.windowMs);
  await breathe();
  const attribution = await attributeSpikes({
    spikeQueries: data.spikeQueries,
    topWindows: data.topWindows,
    queryCounts: data.queryCounts,
    range,
    estimates: estimateRows,
    truth: input.truth,
    topQueries: options.topQueries,
  });
  const counterfactual = input.counterfactual;
  const estimates =
    estimateRows.length > 0 ? estimatesView(estimateRows, input.truth, options.maxEstimateQueries) : null;

  // Each compile blocks for tens of milliseconds; yielding between them keeps a process that also
  // runs the database's 100 ms ticks (the embedded analysis job) responsive between steps.
  const charts: Report['charts'] = {};
  if (data.windows.length > 0) {
    const bucketWindows = series.bucketWindows;
    const period = agg ? periodName(agg.periodMs) : undefined;
    charts.resources = resourcesChart({
      resources: series.resources,
      load: series.load,
      markers,
      domain,
      bucketWindows,
      ...(period ? { period } : {}),
    });
    if (agg) {
      const first = data.windows[0];
      const recentDomain: [number, number] = [
        (first?.t ?? range.toTime) - range.windowMs + range.windowMs / range.windowTicks,
        range.toTime,
      ];
      charts.resourcesRecent = resourcesChart({
        resources: detail.resources,
        load: detail.load,
        markers: markers.filter((m) => m.time >= recentDomain[0]),
        domain: recentDomain,
        bucketWindows: detail.bucketWindows,
        id: 'chart-resources-recent',
      });
    }
    await breathe();
    charts.spikeShares = spikeSharesChart(attribution, options.topWindows);
    charts.spikeWindows = spikeWindowsChart({ topWindows: data.topWindows, markers, domain });
    await breathe();
    charts.spread = spreadChart({ spread: series.spread, markers, domain, bucketWindows });
    await breathe();
    charts.inBand = inBandChart({
      ...series,
      markers,
      domain,
      ...(agg ? { periodMs: agg.periodMs, period: periodName(agg.periodMs) } : {}),
    });
    if (data.scheduling && data.scheduling.points.length > 0) {
      await breathe();
      charts.scheduling = schedulingChart({ scheduling: data.scheduling, domain, windowMs: range.windowMs });
    }
  }
  if (estimates) charts.estimates = estimatesChart(estimates, withTruth);
  if (input.frontier) {
    // The live run on the lab's frontier: its "after" phase, or the whole range when unscheduled.
    const phases = data.scheduling?.phases ?? [];
    const live = phases.find((p) => p.phase === 'after') ?? phases.find((p) => p.phase === 'unscheduled');
    charts.frontier = live
      ? withLiveRun(input.frontier, {
          label: live.phase === 'after' ? 'this run (after)' : 'this run (unscheduled)',
          inBandRate: live.inBandRate,
          addedLatencyMean: live.addedLatencyMean,
          addedLatencyP99: live.addedLatencyP99,
          maxAvgP95: live.maxAvgP95,
          minAvgP50: live.minAvgP50,
        })
      : input.frontier.chart;
  }

  const executions = data.queryCounts.reduce((s, q) => s + q.executions, 0);
  const summary: ReportSummary = {
    generatedAt: iso(generatedAt),
    database: data.database,
    run: data.run?.runId ?? null,
    runs: data.runs.map((x) => ({
      runId: x.runId,
      startedAt: x.startedAt === null ? null : iso(x.startedAt),
      endedAt: x.endedAt === null ? null : iso(x.endedAt),
      windows: x.windows,
    })),
    range: {
      from: range.windows ? iso(range.fromTime) : null,
      to: range.windows ? iso(range.toTime) : null,
      windows: range.windows,
      cappedFrom: range.inTime > range.windows ? range.inTime : null,
      windowMs: range.windowMs,
      aggregatedPerMs: agg ? agg.periodMs : null,
      detailFrom: agg && data.windows[0] ? iso(data.windows[0].t) : null,
    },
    executions,
    queries: data.queryCounts.length,
    markers: markers.map((m) => ({ time: iso(m.time), label: m.label })),
    segments,
    estimates: {
      status: data.estimates.status,
      version: data.estimates.status === 'ok' ? data.estimates.version : null,
      queries: estimates?.queriesTotal ?? 0,
      message: data.estimates.status === 'ok' ? null : data.estimates.message,
    },
    spikeAttribution: {
      basis: attribution.basis,
      top: Object.fromEntries(
        (['cpu', 'io', 'memory'] as const).map((r) => [
          r,
          attribution.rows
            .filter((x) => x.resource === r)
            .slice(0, 5)
            .map(({ queryId, share, lift }) => ({ queryId, share, lift })),
        ]),
      ),
      loadRatio: attribution.loadRatio,
      standouts: attribution.standouts.map(({ resource, queryId, lift, pValue }) => ({
        resource,
        queryId,
        lift,
        pValue,
      })),
    },
    spreadDecomposition: {
      verdict: decompositionVerdict(data.spreadDecomposition),
      resources: data.spreadDecomposition,
    },
    accuracy: estimates?.accuracy ?? null,
    scheduling: data.scheduling
      ? {
          start: data.scheduling.start ? iso(data.scheduling.start.time) : null,
          scheduledThroughout: data.scheduling.scheduledThroughout,
          warmupWindows: data.scheduling.warmupWindows,
          phases: data.scheduling.phases.map((p) => ({ ...p, from: iso(p.from), to: iso(p.to) })),
          counterfactual,
        }
      : null,
  };
  return {
    title: options.title,
    generatedAt,
    data,
    markers,
    segments,
    attribution,
    estimates,
    charts,
    frontier: input.frontier,
    withTruth,
    bucketWindows: series.bucketWindows,
    summary,
  };
}
