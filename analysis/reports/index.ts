/**
 * The Vega-Lite HTML reports: resource usage over time, spike attribution, estimated costs per
 * query, and spread / in-band rate with before/after markers, in one self-contained page plus a
 * JSON summary. `writeReports` is the entry point for `npm run report` and the analysis job.
 */
export {
  renderPage,
  writeReportFiles,
  writeReports,
  type RenderedPage,
  type RenderPage,
  type WriteReportsParams,
  type WrittenReports,
} from './write-reports.js';
export {
  buildReport,
  loadReportInput,
  shapeReport,
  type Report,
  type ReportInput,
  type ReportSummary,
} from './build-report.js';
export { renderReport } from './render-report.js';
export {
  DEFAULT_REPORT_OPTIONS,
  parseMarkers,
  reportCliSettings,
  reportOptions,
  type ReportMarker,
  type ReportOptions,
} from './options.js';
export type { QueryFn } from './load.js';
export type { SegmentSummary } from './segments.js';
export { readTruth } from './truth-source.js';
/** Loads danfo (TensorFlow.js, ~4 s) ahead of the first report, e.g. before a process starts ticking. */
export { loadDanfo as preloadReportLibraries } from './frames.js';
export {
  assertReportRenders,
  checkReportInBrowser,
  CHROMIUM_ARGS,
  DEFAULT_CHROMIUM,
  type BrowserCheck,
  type RenderedChart,
} from './browser-check.js';
export { BrowserMissingError, ReportDataError, ReportRenderError, TruthSourceError } from './errors.js';
export { formatResult, RESULT_FORMATS, type ResultFormat } from './result-format.js';
