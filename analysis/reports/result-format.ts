/**
 * How `npm run sql` prints a result: a psql-style table for people (numbers right-aligned, NULL
 * spelled out, long cells shortened), JSON (an array of objects, one per row, for jq and scripts),
 * or CSV (RFC 4180 quoting, a header line, empty for NULL, for spreadsheets and `\copy`).
 */
import type { QueryResult } from '../../clickhouse/read-only.js';

export const RESULT_FORMATS = ['table', 'json', 'csv'] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

/** Cells longer than this are shortened in the table format only (JSON and CSV are exact). */
const MAX_TABLE_CELL = 120;

const NUMERIC = /^(Nullable\()?(LowCardinality\()?(U?Int\d+|Float\d+|Decimal)/;

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function tableCell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  const s = text(v).replace(/\r?\n/g, '\\n').replace(/\t/g, '\\t');
  return s.length > MAX_TABLE_CELL ? `${s.slice(0, MAX_TABLE_CELL - 1)}…` : s;
}

function formatTable(result: QueryResult): string {
  const names = result.columns.map((c) => c.name);
  const right = result.columns.map((c) => NUMERIC.test(c.type));
  const cells = result.rows.map((r) => names.map((_, i) => tableCell(r[i])));
  const widths = names.map((n, i) => Math.max(n.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[], alignRight: boolean[]) =>
    ' ' +
    values
      .map((v, i) => (alignRight[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const out = [
    line(names, right),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
    ...cells.map((r) => line(r, right)),
    `(${result.rows.length} ${result.rows.length === 1 ? 'row' : 'rows'})`,
  ];
  return out.join('\n') + '\n';
}

function formatJson(result: QueryResult): string {
  const names = result.columns.map((c) => c.name);
  const objects = result.rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i] ?? null])));
  return JSON.stringify(objects, null, 2) + '\n';
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF (or edge spaces), doubling its quotes. */
export function csvField(v: unknown): string {
  const s = text(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function formatCsv(result: QueryResult): string {
  const lines = [result.columns.map((c) => csvField(c.name)).join(',')];
  for (const r of result.rows) lines.push(result.columns.map((_, i) => csvField(r[i])).join(','));
  return lines.join('\n') + '\n';
}

export function formatResult(result: QueryResult, format: ResultFormat): string {
  switch (format) {
    case 'json':
      return formatJson(result);
    case 'csv':
      return formatCsv(result);
    case 'table':
      return formatTable(result);
  }
}
