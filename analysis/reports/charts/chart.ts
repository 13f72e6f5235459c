/**
 * What every chart shares: compiling a Vega-Lite spec to Vega here (so a spec error fails the
 * report generation and its tests, not a reader's browser), the UTC time axis, and the marker
 * layer (vertical rules with labels) that every time chart carries for before/after reading.
 */
import { compile, type TopLevelSpec } from 'vega-lite';
import { ReportDataError } from '../errors.js';

type LayerTop = Extract<TopLevelSpec, { layer: unknown }>;
/** One layer of a layered Vega-Lite spec. */
export type Layer = LayerTop['layer'][number];
type VConcatTop = Extract<TopLevelSpec, { vconcat: unknown }>;
/** One view of a vertical concatenation. */
export type ConcatItem = VConcatTop['vconcat'][number];

export interface Chart {
  /** Element id in the page. */
  id: string;
  /** The compiled Vega spec. */
  vega: object;
  /** Named datasets that must hold rows for the chart to mean anything (checked in the browser test). */
  required: string[];
  /** Rows per named dataset, for the page's own rendering check. */
  rows: Record<string, number>;
}

/** Vega-Lite's compile-time warnings, e.g. a dropped encoding: a report bug, so compile fails on one. */
class CollectingLogger {
  readonly messages: string[] = [];
  private lvl = 0;
  level(): number;
  level(_: number): this;
  level(l?: number): number | this {
    if (l === undefined) return this.lvl;
    this.lvl = l;
    return this;
  }
  error(...args: readonly unknown[]): this {
    this.messages.push(args.map(String).join(' '));
    return this;
  }
  warn(...args: readonly unknown[]): this {
    return this.error(...args);
  }
  info(): this {
    return this;
  }
  debug(): this {
    return this;
  }
}

export function compileChart(id: string, spec: TopLevelSpec, required: string[]): Chart {
  const logger = new CollectingLogger();
  let vega: object;
  try {
    vega = compile(spec, { logger }).spec;
  } catch (err) {
    throw new ReportDataError(`chart ${id}: Vega-Lite could not compile it: ${(err as Error).message}`, { cause: err });
  }
  if (logger.messages.length > 0) {
    throw new ReportDataError(`chart ${id}: Vega-Lite warned: ${logger.messages.join('; ')}`);
  }
  const datasets = (spec as { datasets?: Record<string, unknown[]> }).datasets ?? {};
  const rows = Object.fromEntries(Object.entries(datasets).map(([k, v]) => [k, v.length]));
  return { id, vega, required, rows };
}

/**
 * The x channel of time charts: epoch-ms `field` on a UTC scale. Layers share one scale, so only
 * the first layer of a view gives the `domain` (the report's range); repeating it in every layer
 * makes Vega-Lite merge "conflicting" domains.
 */
export function timeX(domain?: [number, number], field = 't', title = 'time (UTC)') {
  return {
    field,
    type: 'temporal' as const,
    title,
    scale: domain ? { type: 'utc' as const, domain } : { type: 'utc' as const },
    axis: { labelOverlap: true as const, format: '%H:%M:%S' },
  };
}

/** Vertical rules with labels at the markers (dataset `markers`: {time, label}). */
export function markerLayers(): Layer[] {
  // The same title as the data layers' x: Vega-Lite merges the layers' titles, and a null one drops it.
  const x = timeX(undefined, 'time');
  return [
    {
      data: { name: 'markers' },
      mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3], strokeWidth: 1.5 },
      encoding: { x, tooltip: [{ field: 'label', type: 'nominal' }] },
    },
    {
      data: { name: 'markers' },
      mark: { type: 'text', color: '#d62728', align: 'left', baseline: 'top', dx: 3, dy: 2, fontSize: 10 },
      encoding: { x, y: { value: 0 }, text: { field: 'label', type: 'nominal' } },
    },
  ];
}

export const RESOURCE_COLORS = { domain: ['cpu', 'io', 'memory'], range: ['#1f77b4', '#2ca02c', '#9467bd'] };
export const WIDTH = 880;
