/**
 * Tabular shaping with danfojs-node: the group-bys (downsampling buckets, minutes, segments,
 * resources) and the running sums behind the rolling in-band rate. danfo is imported lazily and
 * once: it pulls in TensorFlow.js (about 4 s to load), which `npm run sql` and `--help` must not pay.
 *
 * Frames go in and come out as plain row objects; wide↔long reshaping (one row per window and
 * resource) is plain TypeScript, because danfo's concat/melt are unreliable with repeated indices.
 */
import type { DataFrame } from 'danfojs-node';

type Danfo = typeof import('danfojs-node');
type Cell = number | string;
export type FrameRow = Record<string, Cell>;
export type Aggregation = 'sum' | 'mean' | 'min' | 'max' | 'count';

let danfo: Promise<Danfo> | undefined;

/** The danfo module, loaded on first use. */
export function loadDanfo(): Promise<Danfo> {
  danfo ??= import('danfojs-node');
  return danfo;
}

function rowsOf(df: DataFrame): FrameRow[] {
  const columns = df.columns;
  return (df.values as Cell[][]).map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]!])));
}

/**
 * `rows` grouped by `key`, each listed column aggregated; the result has `key` and one column per
 * aggregation named like the input column (not danfo's `col_op`), sorted by `key`.
 */
export async function groupAggregate(
  rows: readonly FrameRow[],
  key: string,
  spec: Record<string, Aggregation>,
): Promise<FrameRow[]> {
  if (rows.length === 0) return [];
  const dfd = await loadDanfo();
  const columns = [key, ...Object.keys(spec)];
  // Only the columns we need: danfo infers a dtype per column, and a stray text column costs time.
  const df = new dfd.DataFrame(
    rows.map((r) => columns.map((c) => r[c]!)),
    { columns },
  );
  const grouped = df.groupby([key]).agg(spec);
  return rowsOf(grouped)
    .map((r) => {
      const out: FrameRow = { [key]: r[key]! };
      for (const [col, op] of Object.entries(spec)) out[col] = r[`${col}_${op}`]!;
      return out;
    })
    .sort((a, b) => (a[key]! < b[key]! ? -1 : a[key]! > b[key]! ? 1 : 0));
}

/**
 * Share of the last `span` values that are 1, at each position (fewer at the start): a rolling
 * mean of a 0/1 series from one running sum.
 */
export async function rollingRate(flags: readonly number[], span: number): Promise<number[]> {
  if (flags.length === 0) return [];
  const dfd = await loadDanfo();
  const sums = new dfd.Series([...flags]).cumSum().values as number[];
  return sums.map((s, i) => {
    const before = i - span >= 0 ? sums[i - span]! : 0;
    return (s - before) / Math.min(i + 1, span);
  });
}

/** The q-quantile (0…1) of `values` by linear interpolation; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
