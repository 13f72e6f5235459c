/**
 * What every section of the report page shares: time and number formats (the page's units: UTC,
 * %, two decimals), tables with left-aligned leading columns, chart containers and notices.
 */
import type { Chart } from './charts/chart.js';
import { escapeHtml as h } from './html.js';

export const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
/** To the second: table cells (window ends are stamped at their last tick, e.g. …:05.900). */
export const isoSeconds = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
export const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
export const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

export function table(head: string[], rows: string[][], leftColumns = 1): string {
  const cls = (i: number) => (i < leftColumns ? ' class="l"' : '');
  return `<table><thead><tr>${head.map((c, i) => `<th${cls(i)}>${h(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export const chartDiv = (c: Chart | undefined) => (c ? `<div class="chart" id="${c.id}"></div>` : '');
export const notice = (text: string) => `<div class="notice">${h(text)}</div>`;
