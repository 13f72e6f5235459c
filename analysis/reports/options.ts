/**
 * What a report covers and how much it draws: the options of `writeReports`, their defaults and
 * bounds, and the command-line settings of `npm run report` that set them. Time markers (e.g. "the
 * scheduler was switched on here") are parsed here too, so the CLI and the job read them alike.
 */
import { ConfigError } from '../../common/errors.js';
import { integer, text, toggle } from '../../common/settings.js';
import { RUN_ID } from './sql.js';

/** A labelled instant drawn on every time chart and splitting the before/after summary. */
export interface ReportMarker {
  /** Epoch ms. */
  time: number;
  label: string;
}

export interface ReportOptions {
  /** Only the last M minutes of windows (counted back from the newest window, not the wall clock); 0: all. */
  lastMinutes: number;
  /** At most this many windows are read (the newest ones), whatever `lastMinutes` says. */
  maxWindows: number;
  /**
   * Points per time chart: a range with more windows is aggregated in ClickHouse into periods (a
   * minute, ten minutes, an hour, …), with the most recent `detailMinutes` also drawn window by window.
   */
  maxPoints: number;
  /** Long ranges: the most recent minutes drawn window by window. */
  detailMinutes: number;
  /** Spike attribution: the K windows with the highest maximum, per resource. */
  topWindows: number;
  /** Spike attribution: queries shown per resource. */
  topQueries: number;
  /** Estimates: queries shown (the most executed ones). */
  maxEstimateQueries: number;
  /** Explicit markers, in addition to the detected one. */
  markers: ReportMarker[];
  /** Add a marker at the first execution the scheduler delayed (executions.delay_count > 0). */
  detectScheduler: boolean;
  /** Scheduling before/after: windows after the start of scheduling left out of "after" as warm-up. */
  warmupWindows: number;
  /** Page title. */
  title: string;
  /** File name (without extension) of the HTML page and its JSON summary in `outDir`. */
  baseName: string;
  /** The run to report: `latest` (the one that stored the newest window), `all`, or a run id. */
  run: string;
}

export const DEFAULT_REPORT_OPTIONS: ReportOptions = {
  lastMinutes: 60,
  maxWindows: 100_000,
  maxPoints: 1200,
  detailMinutes: 10,
  topWindows: 20,
  topQueries: 15,
  maxEstimateQueries: 120,
  markers: [],
  detectScheduler: true,
  warmupWindows: 10,
  title: 'Spike report',
  baseName: 'spike-report',
  run: 'latest',
};

const BASE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Defaults overridden by `partial`, checked: a bad value throws ConfigError naming the option. */
export function reportOptions(partial: Partial<ReportOptions> = {}): ReportOptions {
  const o: ReportOptions = { ...DEFAULT_REPORT_OPTIONS, ...partial };
  const bounds: [keyof ReportOptions, number, number][] = [
    ['lastMinutes', 0, 10_000_000],
    ['maxWindows', 1, 10_000_000],
    ['maxPoints', 10, 100_000],
    ['detailMinutes', 1, 1440],
    ['topWindows', 1, 10_000],
    ['topQueries', 1, 1000],
    ['maxEstimateQueries', 1, 10_000],
    ['warmupWindows', 0, 100_000],
  ];
  for (const [key, min, max] of bounds) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new ConfigError(key, v, `must be an integer between ${min} and ${max}`);
    }
  }
  if (o.run !== 'latest' && o.run !== 'all' && !RUN_ID.test(o.run)) {
    throw new ConfigError('run', o.run, 'must be latest, all or a run id (SELECT run_id FROM spike.runs_dedup)');
  }
  if (!BASE_NAME.test(o.baseName)) throw new ConfigError('baseName', o.baseName, 'must be a plain file name');
  for (const m of o.markers) {
    if (!Number.isSafeInteger(m.time) || typeof m.label !== 'string' || m.label.length === 0) {
      throw new ConfigError('markers', m, 'each marker needs an epoch-ms time and a non-empty label');
    }
  }
  return o;
}

/**
 * `2026-01-01T00:05:00Z=scheduler on,1767225900000=restart`: comma-separated `time=label` pairs,
 * time as ISO-8601 or epoch ms. The label may be omitted (`marker N`).
 */
export function parseMarkers(raw: string, source = '--markers'): ReportMarker[] {
  if (raw.trim() === '') return [];
  return raw.split(',').map((part, i) => {
    const [when = '', ...rest] = part.split('=');
    const s = when.trim();
    const time = /^\d+$/.test(s) ? Number(s) : /^\d{4}-\d\d-\d\d/.test(s) ? Date.parse(s) : NaN;
    if (!Number.isSafeInteger(time)) {
      throw new ConfigError('markers', part, 'each marker must be time=label, time as ISO-8601 or epoch ms', source);
    }
    const label = rest.join('=').trim() || `marker ${i + 1}`;
    return { time, label: label.slice(0, 80) };
  });
}

/** `npm run report` flags (the ClickHouse connection flags come from clickhouse/). */
export const reportCliSettings = {
  out: text({ flag: '--out', env: 'REPORT_OUT', default: 'reports', maxLength: 4096, doc: 'Directory to write into.' }),
  lastMinutes: integer({
    flag: '--last-minutes',
    env: 'REPORT_LAST_MINUTES',
    default: DEFAULT_REPORT_OPTIONS.lastMinutes,
    min: 0,
    max: 10_000_000,
    doc: 'Only the last M minutes of data (back from the newest window); 0: everything.',
  }),
  run: text({
    flag: '--run',
    env: 'REPORT_RUN',
    default: DEFAULT_REPORT_OPTIONS.run,
    maxLength: 64,
    doc: 'The run to report: latest (the newest), all, or a run id (the page lists them).',
  }),
  maxPoints: integer({
    flag: '--max-points',
    default: DEFAULT_REPORT_OPTIONS.maxPoints,
    min: 10,
    max: 100_000,
    doc: 'Points per time chart; a range with more windows is aggregated in ClickHouse per minute, 10 min, hour, … (spikes kept: max of window maxima), with its last 10 minutes drawn window by window.',
  }),
  topWindows: integer({
    flag: '--top-windows',
    default: DEFAULT_REPORT_OPTIONS.topWindows,
    min: 1,
    max: 10_000,
    doc: 'Spike attribution: the K windows with the highest maximum, per resource.',
  }),
  topQueries: integer({
    flag: '--top-queries',
    default: DEFAULT_REPORT_OPTIONS.topQueries,
    min: 1,
    max: 1000,
    doc: 'Spike attribution: queries shown per resource.',
  }),
  markers: text({
    flag: '--markers',
    default: '',
    maxLength: 10_000,
    doc: 'Time markers, e.g. "2026-01-01T00:05:00Z=scheduler on" (comma-separated time=label).',
  }),
  markersOnly: toggle({
    flag: '--markers-only',
    default: false,
    doc: 'Do not add the detected "scheduler on" marker (first delayed execution).',
  }),
  warmupWindows: integer({
    flag: '--warmup-windows',
    default: DEFAULT_REPORT_OPTIONS.warmupWindows,
    min: 0,
    max: 100_000,
    doc: 'Scheduling before/after: windows after the start of scheduling left out of "after" as warm-up.',
  }),
  truthFrom: text({
    flag: '--truth-from',
    default: undefined,
    maxLength: 4096,
    doc: 'Evaluation: true costs to draw next to the estimates, from a file or URL (GET /truth of a --truth server).',
  }),
  frontierFrom: text({
    flag: '--frontier-from',
    env: 'REPORT_FRONTIER_FROM',
    default: undefined,
    maxLength: 4096,
    doc: 'The scheduling frontier to show (the Vega-Lite file npm run lab -- --frontier writes); default: <out>/frontier.vl.json when it exists.',
  }),
  title: text({ flag: '--title', default: DEFAULT_REPORT_OPTIONS.title, maxLength: 200, doc: 'Page title.' }),
  screenshot: text({
    flag: '--screenshot',
    default: undefined,
    maxLength: 4096,
    doc: 'Also open the page in headless Chromium, check every chart rendered, and save a PNG here.',
  }),
  screenshotSection: text({
    flag: '--screenshot-section',
    default: undefined,
    maxLength: 100,
    doc: 'With --screenshot: only this section of the page (resources, spikes, estimates, spread, scheduling).',
  }),
};
