/**
 * Named errors of the reports. Callers act on the class or its `code`: the CLI exits 1 on a
 * `ReportRenderError` (the page was written but a chart failed in the browser), the periodic job
 * logs and keeps the previous page on any of them.
 */
import { SpikeError } from '../../common/errors.js';

/** A query's result did not have the columns the report reads (schema drift, or a wrong database). */
export class ReportDataError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('REPORT_DATA', message, options);
  }
}

/** Ground truth given to `--truth-from` could not be read or is not a list of queries. */
export class TruthSourceError extends SpikeError {
  constructor(
    readonly source: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('TRUTH_SOURCE', `${source}: ${message}`, options);
  }
}

/** Chromium could not open the page, or a chart failed to render, logged an error or hit the network. */
export class ReportRenderError extends SpikeError {
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super('REPORT_RENDER', problems.length ? `${message}:\n  - ${problems.join('\n  - ')}` : message, options);
  }
}

/** The headless browser is not installed where we look for it. */
export class BrowserMissingError extends SpikeError {
  constructor(readonly executablePath: string) {
    super(
      'BROWSER_MISSING',
      `Chromium not found at ${executablePath}: install the Debian package \`chromium\` ` +
        '(apt-get install chromium) or set CHROMIUM_PATH; never `npx playwright install`',
    );
  }
}

/** The lab's frontier chart given to the report (`--frontier-from`) could not be read or is not one. */
export class FrontierSourceError extends SpikeError {
  constructor(
    readonly source: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('FRONTIER_SOURCE', `${source}: ${message}`, options);
  }
}
