/**
 * Opens a report page in headless Chromium (the Debian package, driven by playwright-core; never a
 * downloaded browser) and checks what a reader would see: every chart embedded, its required
 * datasets non-empty and its data marks drawn, no console error or page error, and no network
 * request besides the page itself. Optionally saves a full-page screenshot. Used by the report
 * tests and by `npm run report -- --screenshot out.png` (for the README's pictures).
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { BrowserMissingError, ReportRenderError } from './errors.js';
import { layoutCheckScript, type DrawnAxis, type LayoutCheck } from './layout-check.js';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

export interface RenderedChart {
  id: string;
  /** Rows of each required dataset, as the Vega view holds them. */
  rows: Record<string, number>;
  /** Items of data marks in the scenegraph (axes and legends not counted). */
  items: number;
  /** SVG elements drawn inside the chart's container. */
  svgMarks: number;
}

export interface BrowserCheck {
  charts: RenderedChart[];
  /** Chart containers in the page (each should appear in `charts`). */
  containers: string[];
  consoleErrors: string[];
  requests: string[];
  screenshot: string | null;
  /** Marks outside their plot, axes without a title naming a unit (layout-check.ts). */
  layout: string[];
  /** The axes drawn (chart, orient, title), e.g. to check a tall chart has its axis at the top too. */
  axes: DrawnAxis[];
  /** Every problem found; empty means the page is fine. */
  problems: string[];
}

interface PageStatus {
  done: boolean;
  charts: { id: string; rows: Record<string, number>; items: number }[];
  errors: string[];
}

export async function checkReportInBrowser(
  htmlPath: string,
  opts: { screenshot?: string; screenshotSection?: string; executablePath?: string; timeoutMs?: number } = {},
): Promise<BrowserCheck> {
  const executablePath = opts.executablePath ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  if (!existsSync(executablePath)) throw new BrowserMissingError(executablePath);
  if (opts.screenshotSection !== undefined && !/^[A-Za-z][\w-]*$/.test(opts.screenshotSection))
    throw new ReportRenderError(`screenshot section ${JSON.stringify(opts.screenshotSection)} is not a section id`, []);
  const url = pathToFileURL(htmlPath).toString();
  // Loaded here, not at the top: playwright-core costs about a second of CPU to import, and every
  // process that can write a report (the analysis job, the CLIs) would pay it at start.
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load', timeout: opts.timeoutMs ?? 30_000 });
    await page.waitForFunction(
      () => (globalThis as unknown as { reportStatus?: PageStatus }).reportStatus?.done === true,
      null,
      {
        timeout: opts.timeoutMs ?? 30_000,
      },
    );
    const status = await page.evaluate(() => (globalThis as unknown as { reportStatus: PageStatus }).reportStatus);
    const containers: string[] = [];
    const boxes = page.locator('div.chart');
    for (let i = 0; i < (await boxes.count()); i++) containers.push((await boxes.nth(i).getAttribute('id')) ?? `#${i}`);
    const charts: RenderedChart[] = [];
    for (const c of status.charts) {
      // Data marks as drawn: Vega's SVG renderer puts each mark's items under g.mark-<type>.
      const drawn = [
        'g.mark-area path',
        'g.mark-line path',
        'g.mark-rect path',
        'g.mark-symbol path',
        'g.mark-rule line',
      ];
      const svgMarks = await page.locator(drawn.map((d) => `#${c.id} svg ${d}`).join(', ')).count();
      charts.push({ ...c, svgMarks });
    }
    const { problems: layout, axes } = await page.evaluate<LayoutCheck>(layoutCheckScript());
    let screenshot: string | null = null;
    if (opts.screenshot) {
      // One section (`<section id=…>`) when asked, e.g. for a README picture; else the whole page.
      if (opts.screenshotSection)
        await page.locator(`section#${opts.screenshotSection}`).screenshot({ path: opts.screenshot });
      else await page.screenshot({ path: opts.screenshot, fullPage: true });
      screenshot = opts.screenshot;
    }
    const problems = [
      ...status.errors,
      ...consoleErrors,
      ...requests.map((r) => `network request: ${r}`),
      ...layout.map((l) => `layout: ${l}`),
    ];
    for (const id of containers) {
      const c = charts.find((x) => x.id === id);
      if (!c) {
        problems.push(`${id}: not rendered`);
        continue;
      }
      for (const [name, n] of Object.entries(c.rows)) if (n === 0) problems.push(`${id}: dataset ${name} is empty`);
      if (c.items === 0 || c.svgMarks === 0) problems.push(`${id}: no marks drawn`);
    }
    return { charts, containers, consoleErrors, requests, screenshot, layout, axes, problems };
  } finally {
    await browser.close();
  }
}

/** `checkReportInBrowser`, throwing ReportRenderError when anything is wrong. */
export async function assertReportRenders(
  htmlPath: string,
  opts: { screenshot?: string; screenshotSection?: string; executablePath?: string } = {},
): Promise<BrowserCheck> {
  const check = await checkReportInBrowser(htmlPath, opts);
  if (check.problems.length > 0) throw new ReportRenderError(`${htmlPath} did not render cleanly`, check.problems);
  return check;
}
