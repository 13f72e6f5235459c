/**
 * `writeReports`: the one entry point of the reports, for `npm run report` and the periodic
 * analysis job alike. It only reads (through the caller's read-only `query`), builds the page and
 * its JSON summary, and replaces the previous files atomically (write a temporary file, rename), so
 * a reader, or a browser reloading the page, never sees half a report and a failed run leaves the
 * previous one in place.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TrueQuery } from '../../common/contracts.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import {
  buildReport,
  loadReportInput,
  shapeReport,
  type Report,
  type ReportInput,
  type ReportSummary,
} from './build-report.js';
import { FrontierSourceError } from './errors.js';
import { FRONTIER_FILE, readFrontier, type Frontier } from './frontier-source.js';
import type { QueryFn } from './load.js';
import { reportOptions, type ReportOptions } from './options.js';
import { renderReport } from './render-report.js';

export interface WriteReportsParams {
  /**
   * Runs one reading statement through the read-only path (clickhouse/read-only.ts): `openReadOnly(...)`
   * (a tool) or `openDirectReadOnly(...)` (in-process, on sessions of its own).
   */
  query: QueryFn;
  /** Database of the product tables (`spike`). */
  database: string;
  outDir: string;
  /** Evaluation only: the true costs, drawn next to the estimates. */
  truth?: readonly TrueQuery[];
  /** The lab's frontier chart; by default `<outDir>/frontier.vl.json` when it exists (see frontier-source.ts). */
  frontier?: Frontier;
  options?: Partial<ReportOptions>;
  logger?: Logger;
  /** The generation time shown on the page (tests pin it). */
  now?: number;
}

/** The page and its summary, built from the loaded input (`renderPage`, in process or in a worker). */
export interface RenderedPage {
  page: string;
  summary: ReportSummary;
}

export type RenderPage = (input: ReportInput) => Promise<RenderedPage>;

/** Shapes and renders a loaded report: pure, so it can run off the main thread (system/worker-tasks.ts). */
export async function renderPage(input: ReportInput): Promise<RenderedPage> {
  const report = await shapeReport(input);
  return { page: renderReport(report), summary: report.summary };
}

export interface WrittenReports {
  /** Every file written, the HTML page first. */
  files: string[];
  html: string;
  summary: string;
  report: Report;
}

async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, content, 'utf8');
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Builds the report and writes `<baseName>.html` and `<baseName>.json` into `outDir`; returns their paths. */
export async function writeReportFiles(params: WriteReportsParams): Promise<WrittenReports> {
  const { options, logger, started, outDir, frontier } = await prepare(params);
  const report = await buildReport({ ...params, frontier, options, logger });
  const page = renderReport(report);
  const { html, summary } = await writePage(outDir, options.baseName, page, report.summary);
  logger.info({ html, bytes: Buffer.byteLength(page), ms: Math.round(performance.now() - started) }, 'report written');
  return { files: [html, summary], html, summary, report };
}

/** The options with their defaults, the output directory, and the frontier found beside it. */
async function prepare(params: WriteReportsParams) {
  const options = reportOptions(params.options);
  const logger = params.logger ?? silentLogger;
  const started = performance.now();
  const outDir = resolve(params.outDir);
  const frontier = params.frontier ?? (await frontierBeside(outDir, logger));
  return { options, logger, started, outDir, frontier };
}

/** Writes `<baseName>.html` and `<baseName>.json` into `outDir`, each atomically. */
async function writePage(outDir: string, baseName: string, page: string, report: ReportSummary) {
  await mkdir(outDir, { recursive: true });
  const html = join(outDir, `${baseName}.html`);
  const summary = join(outDir, `${baseName}.json`);
  await writeAtomically(html, page);
  await writeAtomically(summary, JSON.stringify(report, null, 2) + '\n');
  return { html, summary };
}

/** The frontier the lab wrote next to the report, if any; a broken one is logged and left out, not fatal. */
async function frontierBeside(outDir: string, logger: Logger): Promise<Frontier | undefined> {
  try {
    return await readFrontier(join(outDir, FRONTIER_FILE), true);
  } catch (err) {
    if (!(err instanceof FrontierSourceError)) throw err;
    logger.warn({ err: err.message }, 'frontier chart left out');
    return undefined;
  }
}

/**
 * The contract the CLI and the analysis job use: write the reports, return the written paths.
 * With `render`, the reading stays here and the shaping and rendering (the CPU-heavy part: series,
 * chart compiles, the page) go to it, e.g. a worker thread (embedded mode, common/offload.ts).
 */
export async function writeReports(params: WriteReportsParams & { render?: RenderPage }): Promise<string[]> {
  if (!params.render) return (await writeReportFiles(params)).files;
  const { options, logger, started, outDir, frontier } = await prepare(params);
  const input = await loadReportInput({ ...params, frontier, options, logger });
  const loadedMs = performance.now() - started;
  const { page, summary } = await params.render(input);
  const written = await writePage(outDir, options.baseName, page, summary);
  logger.info(
    {
      html: written.html,
      bytes: Buffer.byteLength(page),
      loadMs: Math.round(loadedMs),
      ms: Math.round(performance.now() - started),
    },
    'report written',
  );
  return [written.html, written.summary];
}
