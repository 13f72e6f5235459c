/**
 * `npm run report -- --out reports/ [--last-minutes M] [--markers "…=label"] [--truth-from URL|file]
 * [--screenshot page.png]`: writes the self-contained HTML report and its JSON summary from the
 * running system's data, read-only, in either mode (clickhouse/query-client.ts), and prints the
 * paths. With --screenshot it also opens the page in headless Chromium, checks that every chart
 * rendered without errors or network requests, and saves a full-page PNG.
 *
 * Exit codes: 0 written; 2 bad usage (including an unreadable --truth-from); 1 the system is unreachable, a query failed, or the page did
 * not render cleanly.
 */
import { EXIT_FAILURE, EXIT_USAGE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError, SpikeError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { clickhouseSettings, compileClickHouseOptions } from '../clickhouse/client.js';
import { openReadOnly, queryClientSettings, SystemUnreachableError } from '../clickhouse/query-client.js';
import { FrontierSourceError, TruthSourceError } from './reports/errors.js';
import { readFrontier } from './reports/frontier-source.js';
import { parseMarkers, reportCliSettings, reportOptions, type ReportOptions } from './reports/options.js';
import { SECTIONS } from './reports/render-report.js';
import { readTruth } from './reports/truth-source.js';
import { writeReports } from './reports/write-reports.js';

const [cli, ch, qc] = readCommandLine(
  {
    name: 'report',
    description:
      'Write the HTML report (resource usage, spike attribution, estimated costs, spread) of the running system.',
  },
  reportCliSettings,
  clickhouseSettings,
  queryClientSettings,
);

let options: ReportOptions;
try {
  options = reportOptions({
    lastMinutes: cli.lastMinutes,
    maxPoints: cli.maxPoints,
    topWindows: cli.topWindows,
    topQueries: cli.topQueries,
    markers: parseMarkers(cli.markers),
    detectScheduler: !cli.markersOnly,
    warmupWindows: cli.warmupWindows,
    title: cli.title,
    run: cli.run,
  });
  const sections: readonly string[] = SECTIONS.map((x) => x.id);
  if (cli.screenshotSection !== undefined && !sections.includes(cli.screenshotSection)) {
    throw new ConfigError(
      'screenshotSection',
      cli.screenshotSection,
      `must be one of ${sections.join(', ')}`,
      '--screenshot-section',
    );
  }
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}

const logger = createLogger('report');
const { target, database } = compileClickHouseOptions(ch);
const system = openReadOnly({ target, queryUrl: qc.queryUrl, dataDir: qc.dataDir });
try {
  const truth = cli.truthFrom ? await readTruth(cli.truthFrom) : undefined;
  const frontier = cli.frontierFrom ? await readFrontier(cli.frontierFrom) : undefined;
  const files = await writeReports({
    query: (sql) => system.query(sql),
    database,
    outDir: cli.out,
    truth,
    frontier,
    options,
    logger,
  });
  if (cli.screenshot) {
    // Imported here: playwright-core takes a while to load, and only --screenshot needs it.
    const { assertReportRenders } = await import('./reports/browser-check.js');
    const check = await assertReportRenders(files[0]!, {
      screenshot: cli.screenshot,
      screenshotSection: cli.screenshotSection,
    });
    logger.info({ charts: check.charts.length, screenshot: check.screenshot }, 'report rendered in Chromium');
    files.push(cli.screenshot);
  }
  process.stdout.write(files.join('\n') + '\n');
} catch (error) {
  if (error instanceof TruthSourceError) {
    process.stderr.write(`error: --truth-from ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else if (error instanceof FrontierSourceError) {
    process.stderr.write(`error: --frontier-from ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else if (error instanceof SystemUnreachableError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = EXIT_FAILURE;
  } else if (error instanceof SpikeError) {
    process.stderr.write(`error: ${error.code}: ${error.message}\n`);
    process.exitCode = EXIT_FAILURE;
  } else {
    throw error;
  }
} finally {
  await system.close();
}
