/**
 * The scheduling frontier in the report: `npm run lab -- --frontier` measures it in virtual time
 * and writes a Vega-Lite spec with its data inlined (reports/frontier.vl.json by default); the
 * report embeds that spec in its scheduling section, compiled and checked like its own charts. The
 * file is the contract (named datasets `points`, `boundMean`, `boundMax`), so the report needs
 * nothing from the scheduler's code. Without the file the section says how to make one.
 */
import { readFile } from 'node:fs/promises';
import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { compileChart, type Chart } from './charts/chart.js';
import { FrontierSourceError } from './errors.js';

/** Where the lab writes the frontier by default, relative to the report's output directory. */
export const FRONTIER_FILE = 'frontier.vl.json';

const Spec = z
  .object({
    $schema: z.string().regex(/vega-lite/, 'is not a Vega-Lite schema'),
    datasets: z.object({ points: z.array(z.record(z.string(), z.unknown())).min(1) }).passthrough(),
  })
  .passthrough();

export interface Frontier {
  source: string;
  chart: Chart;
  /** The spec as read, for drawing the live run on it (`withLiveRun`). */
  spec: TopLevelSpec;
  /** The spec's title and subtitle (load, seeds, knob), shown above the chart. */
  subtitle: string;
}

/** Reads and compiles the lab's frontier spec; `missingOk` returns undefined when the file does not exist. */
export async function readFrontier(source: string, missingOk = false): Promise<Frontier | undefined> {
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    if (missingOk && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FrontierSourceError(source, `cannot read it: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FrontierSourceError(source, 'not JSON (expected the spec npm run lab -- --frontier writes)', {
      cause: err,
    });
  }
  const parsed = Spec.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FrontierSourceError(
      source,
      `not a frontier spec: ${issue ? `${issue.path.join('.') || 'spec'} ${issue.message}` : 'invalid'}`,
    );
  }
  const title = (parsed.data as { title?: { subtitle?: unknown } }).title;
  let chart: Chart;
  try {
    chart = compileChart('chart-frontier', parsed.data as unknown as TopLevelSpec, ['points']);
  } catch (err) {
    throw new FrontierSourceError(source, (err as Error).message, { cause: err });
  }
  return {
    source,
    chart,
    spec: parsed.data as unknown as TopLevelSpec,
    subtitle: typeof title?.subtitle === 'string' ? title.subtitle : '',
  };
}

/** Where the live run sits: the frontier's fields (in-band rate, ratios, added latency) for one phase. */
export interface LivePoint {
  label: string;
  inBandRate: number;
  addedLatencyMean: number | null;
  addedLatencyP99: number | null;
  maxAvgP95: number | null;
  minAvgP50: number | null;
}

interface PanelLike {
  layer?: { encoding?: { x?: { field?: unknown }; y?: { field?: unknown } } }[];
}

/**
 * The frontier with the live run drawn on it: in every panel whose first layer plots two of the
 * live point's fields, a black diamond labelled with the phase, so a reader sees where this run
 * sits against what the lab measured.
 */
export function withLiveRun(frontier: Frontier, live: LivePoint): Chart {
  const spec = structuredClone(frontier.spec) as unknown as { concat?: PanelLike[]; datasets?: object };
  const fields = live as unknown as Record<string, unknown>;
  const numeric = (f: unknown) => typeof f === 'string' && typeof fields[f] === 'number';
  for (const panel of spec.concat ?? []) {
    const first = panel.layer?.[0]?.encoding;
    const x = first?.x?.field;
    const y = first?.y?.field;
    if (!panel.layer || !numeric(x) || !numeric(y)) continue;
    const encoding = { x: { field: x, type: 'quantitative' }, y: { field: y, type: 'quantitative' } };
    panel.layer.push(
      {
        data: { name: 'live' },
        mark: { type: 'point', shape: 'diamond', size: 150, filled: true, color: '#000' },
        encoding: {
          ...encoding,
          tooltip: [
            { field: 'label', type: 'nominal', title: 'live run' },
            { field: x, type: 'quantitative', format: '.2f' },
            { field: y, type: 'quantitative', format: '.3f' },
          ],
        },
      } as never,
      {
        data: { name: 'live' },
        mark: { type: 'text', align: 'left', dx: 9, fontSize: 10, fontWeight: 'bold' },
        encoding: { ...encoding, text: { field: 'label', type: 'nominal' } },
      } as never,
    );
  }
  spec.datasets = { ...spec.datasets, live: [live] };
  return compileChart('chart-frontier', spec as unknown as TopLevelSpec, ['points', 'live']);
}
